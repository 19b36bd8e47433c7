package experiments

import (
	"context"
	"testing"

	"github.com/ntkharness/ntkharness/datasets"
	"github.com/ntkharness/ntkharness/nets"
	"github.com/ntkharness/ntkharness/spec"
)

// BenchmarkTheoryTrainability times the quick-scale theory heat maps (12 sw2
// x 19 depths to 64, 64 + 64 MNIST points of 14x14, 5 times): one kernel pass per
// sw2 and one eigendecomposition per cell.
func BenchmarkTheoryTrainability(b *testing.B) {
	train, test, err := datasets.LoadMNISTEmbedded()
	if err != nil {
		b.Fatal(err)
	}
	g := trainabilityGrid(Quick)
	xTr, xTe, y, lTr, lTe, err := prepareImages(train, test, g.NTrain, g.NTest, g.Downsample, 0)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := TheoryTrainability(g, xTr, xTe, y, lTr, lTe, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkTrainedTrainability times the quick trainability figure's
// trained networks (trainedGrid: 12 sw2 x 4 seeds per depth, depths 1-32,
// width 64, 64 + 64 MNIST points of 14x14) for 64 steps, in float64 and float32,
// and reports the time of the figure's steps at that rate, the time of
// 1024 steps, and the FLOP rate of the training steps (nets.StepFLOPs per
// example, member and step).
func BenchmarkTrainedTrainability(b *testing.B) {
	for _, dt := range []string{spec.Float64, spec.Float32} {
		b.Run(dt, func(b *testing.B) { benchTrainedTrainability(b, dt) })
	}
}

func benchTrainedTrainability(b *testing.B, dtype string) {
	train, test, err := datasets.LoadMNISTEmbedded()
	if err != nil {
		b.Fatal(err)
	}
	tg := trainedGrid(Quick, trainabilityGrid(Quick))
	xTr, xTe, y, _, lTe, err := prepareImages(train, test, tg.NTrain, tg.NTest, tg.Downsample, 0)
	if err != nil {
		b.Fatal(err)
	}
	_, k := y.Dims()
	steps := tg.Steps
	tg.Steps, tg.StopRelChange, tg.DType = 64, 0, dtype
	flops := 0.0
	for _, d := range tg.Depths {
		s := spec.Spec{Arch: spec.FCN, Act: spec.Erf, Depth: d, Width: tg.Width, SW2: 1, SB2: tg.SB2, Outputs: k}
		f, err := nets.StepFLOPs(s, xTr.Shape[1:])
		if err != nil {
			b.Fatal(err)
		}
		flops += f * float64(tg.NTrain) * float64(len(tg.SW2)*tg.Seeds*tg.Steps)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := TrainedTrainability(context.Background(), tg, xTr, xTe, y, datasets.OneHot(lTe, k, false), 0, nil); err != nil {
			b.Fatal(err)
		}
	}
	sec := b.Elapsed().Seconds() / float64(b.N)
	b.ReportMetric(sec*float64(steps)/float64(tg.Steps), "s-figure-steps")
	b.ReportMetric(sec*1024/float64(tg.Steps), "s-1024-steps")
	b.ReportMetric(flops/sec/1e9, "GFLOP/s")
}
