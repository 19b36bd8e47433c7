package train

import (
	"math/rand/v2"
	"os"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/mat"

	"github.com/ntkharness/ntkharness/linalg"
	"github.com/ntkharness/ntkharness/nets"
	"github.com/ntkharness/ntkharness/npy"
	"github.com/ntkharness/ntkharness/spec"
)

// stepFlops counts the floating-point operations of one training step
// analytically: 2 B n_in n_out per affine layer and position forward, twice
// that backward (the input and the weight gradients).
func stepFlops(net *nets.Net, batch int) float64 {
	f := 0.0
	for _, ly := range net.Layers() {
		f += 2 * float64(batch) * float64(ly.Positions) * float64(ly.FanIn) * float64(ly.FanOut)
	}
	return 3 * f
}

// peakRSS returns the process's peak resident set (VmHWM) in bytes, or 0
// where /proc is not available.
func peakRSS() float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmHWM:") {
			f := strings.Fields(line)
			kb, _ := strconv.ParseFloat(f[1], 64)
			return kb * 1024
		}
	}
	return 0
}

// benchStep times training steps (loss, gradient, update) of net on a
// random batch and reports the median step rate in GFLOP/s, as a fraction
// of the GEMM rate of this machine measured in the same run, and the
// process's peak memory.
func benchStep(b *testing.B, s spec.Spec, inShape []int, batch int) {
	rng := rand.New(rand.NewPCG(1, 2))
	net, err := nets.New(s, inShape, rng)
	if err != nil {
		b.Fatal(err)
	}
	x := npy.New(append([]int{batch}, inShape...)...)
	for i := range x.Data {
		x.Data[i] = rng.NormFloat64()
	}
	y := mat.NewDense(batch, s.Outputs, nil)
	for i := 0; i < batch; i++ {
		y.Set(i, i%s.Outputs, 1)
	}
	params := net.Params()
	step := func() {
		_, _, grads, err := net.LossGrad(x, y)
		if err != nil {
			b.Fatal(err)
		}
		for i, g := range grads {
			floats.AddScaled(params[i].Data, -1e-3, g)
		}
	}
	step() // build the graph, warm up
	flops := stepFlops(net, batch)
	// Each timed step is paired with a GEMM rate measured right after it
	// (1024 x 1024 products), so that a machine shared with other work
	// compares like with like; the medians are reported.
	var rates, gemms, ratios []float64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		step()
		r := flops / time.Since(start).Seconds()
		b.StopTimer()
		g := linalg.GemmFlopRate(1024, 1)
		b.StartTimer()
		rates, gemms, ratios = append(rates, r), append(gemms, g), append(ratios, r/g)
	}
	b.StopTimer()
	b.ReportMetric(median(rates)/1e9, "GFLOP/s")
	b.ReportMetric(median(gemms)/1e9, "GEMM-GFLOP/s")
	b.ReportMetric(100*median(ratios), "%GEMM")
	b.ReportMetric(peakRSS()/(1<<30), "peak-GiB")
	b.ReportMetric(float64(net.MemoryEstimate(batch))/(1<<30), "est-GiB")
}

// BenchmarkFCNStep: width-1024, depth-10 erf FCN, 256 MNIST-sized (784)
// inputs, float64.
func BenchmarkFCNStep(b *testing.B) {
	s := spec.Spec{Arch: spec.FCN, Act: spec.Erf, Depth: 10, Width: 1024, SW2: 1.5, SB2: 0.05, Outputs: 10}
	benchStep(b, s, []int{784}, 256)
}

// BenchmarkCNNStep: 3x3 CNN-F with 64 channels, depth 5, 28x28x1 inputs,
// batch 64, float64.
func BenchmarkCNNStep(b *testing.B) {
	s := spec.Spec{Arch: spec.CNNF, Act: spec.ReLU, Depth: 5, Width: 64, SW2: 2, SB2: 0.05, Outputs: 10}
	benchStep(b, s, []int{28, 28, 1}, 64)
}

func median(v []float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
