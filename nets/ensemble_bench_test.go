package nets

import (
	"math/rand/v2"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/mat"

	"github.com/ntkharness/ntkharness/linalg"
	"github.com/ntkharness/ntkharness/npy"
	"github.com/ntkharness/ntkharness/spec"
)

// fcnBench is an FCN ensemble benchmark: S members of width and depth
// on n random points of dimension d, one full-batch GD step per iteration;
// erf unless act is set, float64 unless dtype is set.
type fcnBench struct {
	S, width, depth, n, d int
	act, dtype            string
}

func (c fcnBench) setup(b *testing.B) (*Ensemble, npy.Array, *mat.Dense) {
	if c.act == "" {
		c.act = spec.Erf
	}
	s := spec.Spec{Arch: spec.FCN, Act: c.act, Depth: c.depth, Width: c.width, SW2: 1.5, SB2: 0.05, Outputs: 10, DType: c.dtype}
	specs, rngs := ensembleOf(s, c.S, 1)
	for m := range specs { // stay near the critical line
		specs[m].SW2 = 1.2 + 0.6*float64(m)/float64(c.S)
	}
	e, err := NewEnsemble(specs, []int{c.d}, rngs)
	if err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	x := randInput(rng, c.n, []int{c.d})
	y := mat.NewDense(c.n, 10, nil)
	for i := 0; i < c.n; i++ {
		y.Set(i, i%10, 1)
	}
	return e, x, y
}

// gemmStep runs the matrix products of one ensemble training step alone,
// with the same shapes, transposes and BLAS, scheduled as the step
// schedules them (members shared out among goroutines on single-threaded
// BLAS, a lone member on threaded BLAS): per member and layer the forward
// product, the weight gradient and (but for the first layer) the input
// gradient, on scratch buffers.
type gemmStep[T float] struct {
	e     *Ensemble
	n     int
	a, bb []T
	out   [][]T // per goroutine
}

func newGemmStep[T float](e *Ensemble, n int) *gemmStep[T] {
	big := 0
	for _, ly := range e.layers {
		big = max(big, n*ly.FanIn, n*ly.FanOut, ly.FanIn*ly.FanOut)
	}
	g := &gemmStep[T]{e: e, n: n, a: make([]T, big), bb: make([]T, big)}
	for i := range g.a {
		g.a[i], g.bb[i] = T(1e-3*float64(i%7)), T(1e-3*float64(i%5))
	}
	for i := 0; i < runtime.GOMAXPROCS(0); i++ {
		g.out = append(g.out, make([]T, big))
	}
	return g
}

func (g *gemmStep[T]) member(out []T) {
	for l, ly := range g.e.layers {
		r, in, o := g.n, ly.FanIn, ly.FanOut
		gemm(blas.NoTrans, blas.NoTrans, r, o, in, g.a, in, g.bb, o, 0, out, o)
		gemm(blas.Trans, blas.NoTrans, in, o, r, g.a, in, g.bb, o, 0, out, o)
		if l > 0 {
			gemm(blas.NoTrans, blas.Trans, r, in, o, g.a, o, g.bb, o, 0, out, in)
		}
	}
}

func (g *gemmStep[T]) run() {
	S := g.e.Size()
	workers := min(len(g.out), S)
	if workers < 2 {
		for m := 0; m < S; m++ {
			g.member(g.out[0])
		}
		return
	}
	defer blasSingleThread()()
	var next atomic.Int64
	var wg sync.WaitGroup
	for i := 0; i < workers; i++ {
		wg.Add(1)
		go func(out []T) {
			defer wg.Done()
			for int(next.Add(1)) <= S {
				g.member(out)
			}
		}(g.out[i])
	}
	wg.Wait()
}

// benchEnsembleStep times full-batch GD steps (LossGrad and the update of
// every member) and, after each, the same step's matrix products alone
// (gemmStep); a 1024^3 product's rate is measured once before. It reports the medians: the step's
// GFLOP/s (FLOPs as Ensemble.FLOPs: 2 x multiply-adds of the forward
// products, weight gradients and input gradients), the same-shape GEMM
// rate and the step's fraction of it (%GEMM), and the fraction of the
// large-GEMM rate (%GEMM1024).
func benchEnsembleStep(b *testing.B, c fcnBench) {
	e, x, y := c.setup(b)
	lr := make([]float64, c.S)
	for m := range lr {
		lr[m] = 1e-3
	}
	step := func() {
		_, _, grads, err := e.LossGrad(x, y, nil)
		if err != nil {
			b.Fatal(err)
		}
		e.Update(grads, lr)
	}
	ref := newGemmStep[float64](e, c.n)
	// The 1024^3 products run on threaded BLAS, whose idle workers spin
	// for a while after each call; timed between steps they would take a
	// core from the next step, so they run before the steps and their warm-up.
	g1024 := medianOf([]float64{linalg.GemmFlopRate(1024, 1), linalg.GemmFlopRate(1024, 1), linalg.GemmFlopRate(1024, 1)})
	step()
	ref.run()
	flops := float64(c.S) * e.FLOPs(c.n)
	var rates, gemms, ratios []float64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		step()
		r := flops / time.Since(start).Seconds()
		b.StopTimer()
		start = time.Now()
		ref.run()
		g := flops / time.Since(start).Seconds()
		b.StartTimer()
		rates, gemms, ratios = append(rates, r), append(gemms, g), append(ratios, r/g)
	}
	b.StopTimer()
	b.ReportMetric(medianOf(rates)/1e9, "GFLOP/s")
	b.ReportMetric(medianOf(gemms)/1e9, "GEMM-GFLOP/s")
	b.ReportMetric(100*medianOf(ratios), "%GEMM")
	b.ReportMetric(100*medianOf(rates)/g1024, "%GEMM1024")
}

// BenchmarkEnsembleStepFCN32: 32 erf FCNs of width 128 and depth 20 on 64
// MNIST-sized (784) points, one full-batch GD step of all of them.
func BenchmarkEnsembleStepFCN32(b *testing.B) {
	benchEnsembleStep(b, fcnBench{S: 32, width: 128, depth: 20, n: 64, d: 784})
}

// BenchmarkEnsembleStepFCN32ReLU is BenchmarkEnsembleStepFCN32 with relu,
// whose elementwise stages cost next to nothing: the difference between
// the two is the cost of erf and its derivative's exponential (package
// activation's forms), which the ensemble shares with the Net's
// operations so that both give the same numbers.
func BenchmarkEnsembleStepFCN32ReLU(b *testing.B) {
	benchEnsembleStep(b, fcnBench{S: 32, width: 128, depth: 20, n: 64, d: 784, act: spec.ReLU})
}

// BenchmarkEnsembleStepFCN512: one erf FCN of width 512 and depth 20 on
// 256 points through the ensemble path.
func BenchmarkEnsembleStepFCN512(b *testing.B) {
	benchEnsembleStep(b, fcnBench{S: 1, width: 512, depth: 20, n: 256, d: 784})
}

// stepper returns one training step of the ensemble of c (Backward and
// Step, the gradients kept in the ensemble's dtype), the same-shape GEMM
// reference in that dtype, and the FLOPs of a step.
func (c fcnBench) stepper(b *testing.B) (step, ref func(), flops float64) {
	e, x, y := c.setup(b)
	lr := make([]float64, c.S)
	for m := range lr {
		lr[m] = 1e-3
	}
	step = func() {
		if _, _, err := e.Backward(x, y, nil); err != nil {
			b.Fatal(err)
		}
		e.Step(nil, lr)
	}
	if c.dtype == spec.Float32 {
		ref = newGemmStep[float32](e, c.n).run
	} else {
		ref = newGemmStep[float64](e, c.n).run
	}
	return step, ref, float64(c.S) * e.FLOPs(c.n)
}

// benchFloat32Step times full-batch GD steps of the float32 ensemble of c
// and, after each, the same step of the float64 ensemble of c and the
// same-shape GEMMs in both precisions, all in the same run. It reports
// the medians of the float32 step's GFLOP/s, the float64 step's
// (F64-GFLOP/s), their per-iteration ratio (x-F64, the throughput of
// float32 over float64), and the GEMM rates (GEMM32-, GEMM64-GFLOP/s).
func benchFloat32Step(b *testing.B, c fcnBench) {
	c.dtype = spec.Float32
	s32, g32, flops := c.stepper(b)
	c.dtype = spec.Float64
	s64, g64, _ := c.stepper(b)
	for _, f := range []func(){s32, s64, g32, g64} {
		f()
	}
	rate := func(f func()) float64 {
		start := time.Now()
		f()
		return flops / time.Since(start).Seconds()
	}
	var r32, r64, ratio, gm32, gm64 []float64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		a := rate(s32)
		b.StopTimer()
		d := rate(s64)
		r32, r64, ratio = append(r32, a), append(r64, d), append(ratio, a/d)
		gm32, gm64 = append(gm32, rate(g32)), append(gm64, rate(g64))
		b.StartTimer()
	}
	b.StopTimer()
	b.ReportMetric(medianOf(r32)/1e9, "GFLOP/s")
	b.ReportMetric(medianOf(r64)/1e9, "F64-GFLOP/s")
	b.ReportMetric(medianOf(ratio), "x-F64")
	b.ReportMetric(medianOf(gm32)/1e9, "GEMM32-GFLOP/s")
	b.ReportMetric(medianOf(gm64)/1e9, "GEMM64-GFLOP/s")
}

// BenchmarkEnsembleStepFCN32F32 is BenchmarkEnsembleStepFCN32 in float32,
// against the same ensemble in float64 in the same run.
func BenchmarkEnsembleStepFCN32F32(b *testing.B) {
	benchFloat32Step(b, fcnBench{S: 32, width: 128, depth: 20, n: 64, d: 784})
}

// BenchmarkEnsembleStepFCN512F32 is BenchmarkEnsembleStepFCN512 in
// float32, against float64 in the same run.
func BenchmarkEnsembleStepFCN512F32(b *testing.B) {
	benchFloat32Step(b, fcnBench{S: 1, width: 512, depth: 20, n: 256, d: 784})
}

// BenchmarkNetStepFCN128 is the Gorgonia graph baseline: one member of
// BenchmarkEnsembleStepFCN32 trained alone by Net.LossGrad. %GEMM is its
// FLOP rate as a percentage of a 1024^3 GEMM's in the same run.
func BenchmarkNetStepFCN128(b *testing.B) {
	e, x, y := fcnBench{S: 1, width: 128, depth: 20, n: 64, d: 784}.setup(b)
	n := e.Member(0)
	params := n.Params()
	step := func() {
		_, _, grads, err := n.LossGrad(x, y)
		if err != nil {
			b.Fatal(err)
		}
		for i, g := range grads {
			floats.AddScaled(params[i].Data, -1e-3, g)
		}
	}
	step()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		step()
	}
	b.StopTimer()
	rate := e.FLOPs(64) / (b.Elapsed().Seconds() / float64(b.N))
	gemm := linalg.GemmFlopRate(1024, 3)
	b.ReportMetric(rate/1e9, "GFLOP/s")
	b.ReportMetric(gemm/1e9, "GEMM-GFLOP/s")
	b.ReportMetric(100*rate/gemm, "%GEMM")
}

func medianOf(v []float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
