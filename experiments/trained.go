package experiments

import (
	"context"
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"

	"github.com/ntkharness/ntkharness/linalg"
	"github.com/ntkharness/ntkharness/nets"
	"github.com/ntkharness/ntkharness/npy"
	"github.com/ntkharness/ntkharness/ntkempirical"
	"github.com/ntkharness/ntkharness/spec"
	"github.com/ntkharness/ntkharness/theory"
	"github.com/ntkharness/ntkharness/train"
)

// TrainedGrid is the grid of finite erf FCNs trained by full-batch gradient
// descent at eta = EtaFrac * eta_crit, with eta_crit = 2 N k / lambda_max of
// the analytic NTK on the training inputs (the same step rule as the theory
// maps, so the time axes agree).
type TrainedGrid struct {
	TrainabilityGrid
	Width int
	Steps int // the last of Times that is <= Steps is the last one run
}

// trainedGrid is the finite-network grid of a scale: coarse enough that
// the whole grid trains in a couple of minutes on 2 cores at quick scale.
func trainedGrid(scale string, base TrainabilityGrid) TrainedGrid {
	g := TrainedGrid{TrainabilityGrid: base, Width: 128, Steps: 512}
	g.SW2 = linspace(0.5, 3, 5)
	g.Depths = []int{1, 4, 10, 20}
	g.NTrain, g.NTest = 64, 64
	if scale == Paper {
		g.Width, g.Steps = 512, 4096
		g.SW2 = linspace(0.5, 3, 11)
		g.Depths = []int{1, 2, 4, 8, 12, 16, 24, 32, 48}
		g.NTrain, g.NTest = 256, 256
	}
	return g
}

// analyticLambdaMax is the largest eigenvalue of the analytic per-logit
// NTK of the network's spec on x.
func analyticLambdaMax(net *nets.Net, x npy.Array) (float64, error) {
	k, err := theory.Compute(net.Spec(), x, npy.Array{}, theory.Options{})
	if err != nil {
		return 0, fmt.Errorf("analytic NTK: %w", err)
	}
	n, _ := k.NTK.Dims()
	vals, _, err := linalg.EigenSym(mat.NewSymDense(n, k.NTK.RawMatrix().Data), false)
	if err != nil {
		return 0, fmt.Errorf("analytic NTK: %w", err)
	}
	return vals[len(vals)-1], nil
}

// TrainedTrainability trains one network per (depth, sw2) cell, drawn from
// ntkempirical.SeedSource(seed, 0), and records its train and test accuracy
// at each of g.Times up to g.Steps (NaN beyond, and after a divergence).
func TrainedTrainability(ctx context.Context, g TrainedGrid, xTr, xTe npy.Array, y, yTest *mat.Dense, seed uint64, progress func(done, total int)) (TrainabilityMaps, error) {
	_, k := y.Dims()
	maps := TrainabilityMaps{Grid: g.TrainabilityGrid, Chance: 1 / float64(k)}
	maps.Train = nanCube(len(g.Times), len(g.Depths), len(g.SW2))
	maps.Test = nanCube(len(g.Times), len(g.Depths), len(g.SW2))
	total := len(g.Depths) * len(g.SW2)
	done := 0
	for id, depth := range g.Depths {
		for is, sw2 := range g.SW2 {
			s := spec.Spec{Arch: spec.FCN, Act: spec.Erf, Depth: depth, Width: g.Width, SW2: sw2, SB2: g.SB2, Outputs: k}
			net, err := nets.New(s, xTr.Shape[1:], ntkempirical.SeedSource(seed, 0))
			if err != nil {
				return maps, fmt.Errorf("depth %d sw2 %g: %w", depth, sw2, err)
			}
			h, err := train.Run(ctx, net, train.Data{XTrain: xTr, YTrain: y, XTest: xTe, YTest: yTest},
				train.Options{Steps: g.Steps, LRFactor: g.EtaFrac, LambdaMax: analyticLambdaMax, Seed: seed}, nil)
			if err != nil {
				return maps, fmt.Errorf("training depth %d sw2 %g: %w", depth, sw2, err)
			}
			for it, t := range g.Times {
				for _, p := range h.Points {
					if float64(p.Step) == t {
						maps.Train[it][id][is] = finiteOrNaN(float64(p.TrainAcc))
						maps.Test[it][id][is] = finiteOrNaN(float64(p.TestAcc))
					}
				}
			}
			done++
			if progress != nil {
				progress(done, total)
			}
		}
	}
	return maps, nil
}

func finiteOrNaN(v float64) float64 {
	if math.IsInf(v, 0) {
		return math.NaN()
	}
	return v
}

// oneHot returns the one-hot targets of labels.
func oneHot(labels []int, k int) *mat.Dense {
	y := mat.NewDense(len(labels), k, nil)
	for i, l := range labels {
		y.Set(i, l, 1)
	}
	return y
}
