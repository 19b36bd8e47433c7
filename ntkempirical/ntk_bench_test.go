package ntkempirical

import (
	"math"
	"math/rand/v2"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"gonum.org/v1/gonum/mat"

	"github.com/ntkharness/ntkharness/linalg"
	"github.com/ntkharness/ntkharness/nets"
	"github.com/ntkharness/ntkharness/npy"
	"github.com/ntkharness/ntkharness/spec"
)

// Run the benchmarks one iteration at a time, e.g.
//
//	go test -tags openblas -run '^$' -bench . -benchtime 1x ./ntkempirical
//
// The timing benchmarks report the machine's GEMM rate measured in the same run
// (linalg.GemmFlopRate on 1024 x 1024 matrices, median of 5) next to its
// own numbers.

// skipUnlessLong skips a benchmark that takes minutes in the pure-Go
// build unless NTKHARNESS_BENCH_LONG is set (the project's convention).
func skipUnlessLong(b *testing.B) {
	if linalg.Backend() != "openblas" && os.Getenv("NTKHARNESS_BENCH_LONG") == "" {
		b.Skip("pure-Go build: minutes per run; set NTKHARNESS_BENCH_LONG=1")
	}
}

// gemmRate measures the GEMM rate; report it with reportGemm after the
// timed loop (b.ResetTimer drops metrics reported before it).
func gemmRate() float64 { return linalg.GemmFlopRate(1024, 5) }

func reportGemm(b *testing.B, r float64) { b.ReportMetric(r/1e9, "gemm-GFLOP/s") }

func median(v []float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func benchNet(b *testing.B, s spec.Spec, d, n int) (*nets.Net, npy.Array) {
	rng := rand.New(rand.NewPCG(1, 2))
	net, err := nets.New(s, []int{d}, rng)
	if err != nil {
		b.Fatal(err)
	}
	return net, randomInputs(rng, n, []int{d})
}

// structuredFlops counts the floating-point operations the structured
// method needs on a dense network with n examples (x2 = x1) and k logits,
// all logits in one pass (the default plan): the forward pass (2 n_in n_out
// per example and layer) once per block of maxBlock examples; the deltas
// of all logits (the same for every layer but the first); then the Syrk
// contractions, n^2 n_in per layer for the factors and n^2 k n_out per
// layer for the deltas. Weight gradients are not needed and not computed.
func structuredFlops(net *nets.Net, n, k int) float64 {
	var fwd, bwd, contract float64
	for l, ly := range net.Layers() {
		mn := 2 * float64(ly.FanIn) * float64(ly.FanOut) * float64(n)
		fwd += mn
		if l > 0 {
			bwd += mn
		}
		contract += float64(n) * float64(n) * (float64(ly.FanIn) + float64(k)*float64(ly.FanOut))
	}
	return fwd + float64(k)*bwd + contract
}

// structuredGemms returns the matrix products of the structured NTK of a
// dense network on n examples (n <= maxBlock) with k logits run alone, on
// scratch matrices of the same shapes, through the same threaded BLAS as
// Compute on one network: per layer the forward product [n, n_in] [n_in,
// n_out], but for the first layer the reverse product of all logits
// [k n, n_out] [n_out, n_in]^T, and the Syrks of the inputs [n, n_in] and
// of the deltas side by side [n, k n_out]. It does structuredFlops'
// operations, so its rate is the GEMM rate of the method's own shapes.
func structuredGemms(net *nets.Net, n, k int) func() {
	rng := rand.New(rand.NewPCG(3, 4))
	fill := func(r, c int) *mat.Dense {
		d := make([]float64, r*c)
		for i := range d {
			d[i] = rng.NormFloat64()
		}
		return mat.NewDense(r, c, d)
	}
	type prods struct{ h, w, z, g, dh, d *mat.Dense }
	var ps []prods
	for _, ly := range net.Layers() {
		ps = append(ps, prods{h: fill(n, ly.FanIn), w: fill(ly.FanIn, ly.FanOut), z: mat.NewDense(n, ly.FanOut, nil),
			g: fill(k*n, ly.FanOut), dh: mat.NewDense(k*n, ly.FanIn, nil), d: fill(n, k*ly.FanOut)})
	}
	s := mat.NewSymDense(n, nil)
	return func() {
		for l, p := range ps {
			linalg.Gemm(false, false, 1, p.h, p.w, 0, p.z)
			if l > 0 {
				linalg.Gemm(false, true, 1, p.g, p.w, 0, p.dh)
			}
			linalg.Syrk(1, p.h, 0, s)
			linalg.Syrk(1, p.d, 0, s)
		}
	}
}

// peakRSS returns the process's peak resident set size in bytes (Linux
// VmHWM), or 0 when unknown.
func peakRSS() float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmHWM:") {
			f := strings.Fields(line)
			if len(f) >= 2 {
				v, _ := strconv.ParseFloat(f[1], 64)
				return v * 1024
			}
		}
	}
	return 0
}

// jacobianOnce holds the one Jacobian timing of BenchmarkSpeedupFCN1024
// per process: it takes minutes, so repeated iterations (-benchtime,
// -count) reuse it and time only the structured method again.
var jacobianOnce struct {
	sync.Once
	seconds float64
	ntk     Kernel
	err     error
}

// BenchmarkSpeedupFCN1024 compares the two methods on an erf FCN of width
// 1024 and depth 5 on 64 MNIST-sized (784-d) inputs with 10 logits: the
// structured time is the median of 3 runs per iteration, the Jacobian one
// run per process (it contracts 640 Jacobian rows of 5.0M parameters, in
// chunks of a 4 GiB budget).
func BenchmarkSpeedupFCN1024(b *testing.B) {
	skipUnlessLong(b)
	rate := gemmRate()
	s := spec.Spec{Arch: spec.FCN, Act: spec.Erf, Depth: 5, Width: 1024, SW2: 1.5, SB2: 0.05, Outputs: 10}
	net, x := benchNet(b, s, 784, 64)
	defer net.Close()
	for i := 0; i < b.N; i++ {
		var ts []float64
		var st Kernel
		for r := 0; r < 3; r++ {
			start := time.Now()
			k, err := Compute(net, x, npy.Array{}, Options{})
			if err != nil {
				b.Fatal(err)
			}
			ts = append(ts, time.Since(start).Seconds())
			st = k
		}
		jacobianOnce.Do(func() {
			start := time.Now()
			jacobianOnce.ntk, jacobianOnce.err = Compute(net, x, npy.Array{}, Options{Method: Jacobian, MaxMemory: 4 << 30})
			jacobianOnce.seconds = time.Since(start).Seconds()
		})
		if jacobianOnce.err != nil {
			b.Fatal(jacobianOnce.err)
		}
		tj := jacobianOnce.seconds
		rel, _ := RelativeFrobenius(st.NTK, jacobianOnce.ntk.NTK)
		b.ReportMetric(median(ts), "structured-s")
		b.ReportMetric(tj, "jacobian-s")
		b.ReportMetric(tj/median(ts), "speedup")
		b.ReportMetric(rel*1e12, "rel-diff-x1e12")
		reportGemm(b, rate)
	}
}

// timeStructured resets the benchmark timer, computes the structured NTK of
// net on x b.N times and returns the median time in seconds.
func timeStructured(b *testing.B, net *nets.Net, x npy.Array) float64 {
	b.ResetTimer()
	var ts []float64
	for i := 0; i < b.N; i++ {
		start := time.Now()
		if _, err := Compute(net, x, npy.Array{}, Options{}); err != nil {
			b.Fatal(err)
		}
		ts = append(ts, time.Since(start).Seconds())
	}
	return median(ts)
}

// BenchmarkStructuredFCN512 is a small structured run that every build
// benchmarks: an erf FCN of width 512 and depth 3 on 128 784-d inputs with
// 10 logits. Each iteration times the method's own products alone
// (structuredGemms, median of 5) and then the method; frac-of-gemm is the
// median over iterations of the method's rate (structuredFlops) over the
// products' rate, gemm-GFLOP/s the products' median rate. For reference
// frac-of-gemm1024 compares the method's median rate with a 1024 x 1024
// GEMM (gemmRate) of the same run.
func BenchmarkStructuredFCN512(b *testing.B) {
	s := spec.Spec{Arch: spec.FCN, Act: spec.Erf, Depth: 3, Width: 512, SW2: 1.5, SB2: 0.05, Outputs: 10}
	n := 128
	net, x := benchNet(b, s, 784, n)
	defer net.Close()
	total := structuredFlops(net, n, s.Outputs)
	rate := gemmRate()
	ref := structuredGemms(net, n, s.Outputs)
	ref()
	b.ResetTimer()
	var ts, refs, fracs []float64
	for i := 0; i < b.N; i++ {
		var rs []float64
		for r := 0; r < 5; r++ {
			start := time.Now()
			ref()
			rs = append(rs, time.Since(start).Seconds())
		}
		start := time.Now()
		if _, err := Compute(net, x, npy.Array{}, Options{}); err != nil {
			b.Fatal(err)
		}
		t := time.Since(start).Seconds()
		ts, refs, fracs = append(ts, t), append(refs, median(rs)), append(fracs, median(rs)/t)
	}
	b.ReportMetric(median(ts), "s")
	b.ReportMetric(median(fracs), "frac-of-gemm")
	b.ReportMetric(total/median(refs)/1e9, "gemm-GFLOP/s")
	b.ReportMetric(total/median(ts)/rate, "frac-of-gemm1024")
	b.ReportMetric(rate/1e9, "gemm1024-GFLOP/s")
}

// BenchmarkMeanFCN256 compares the mean NTK of 8 initializations of an erf
// FCN of width 256 and depth 5 on 64 784-d inputs with 10 logits through
// Mean (the networks as members of one ensemble, their factors in one pass,
// members in parallel) with the loop it replaces (nets.New and Compute,
// one network after another), alternating the two within each iteration:
// speedup is the median over iterations of loop time over Mean time.
func BenchmarkMeanFCN256(b *testing.B) {
	s := spec.Spec{Arch: spec.FCN, Act: spec.Erf, Depth: 5, Width: 256, SW2: 1.5, SB2: 0.05, Outputs: 10}
	const samples, n = 8, 64
	x := randomInputs(rand.New(rand.NewPCG(1, 2)), n, []int{784})
	rate := gemmRate()
	loop := func() *mat.Dense {
		acc := mat.NewDense(n, n, nil)
		for m := 0; m < samples; m++ {
			net, err := nets.New(s, []int{784}, nets.InitSource(9, m))
			if err != nil {
				b.Fatal(err)
			}
			k, err := Compute(net, x, npy.Array{}, Options{})
			if err != nil {
				b.Fatal(err)
			}
			net.Close()
			acc.Add(acc, k.NTK)
		}
		acc.Scale(1.0/samples, acc)
		return acc
	}
	b.ResetTimer()
	var tl, te, ratios []float64
	for i := 0; i < b.N; i++ {
		start := time.Now()
		want := loop()
		l := time.Since(start).Seconds()
		start = time.Now()
		got, err := Mean(s, []int{784}, x, npy.Array{}, 9, samples, Options{})
		if err != nil {
			b.Fatal(err)
		}
		e := time.Since(start).Seconds()
		if d := maxRelDiff(got.NTK, want); d > 1e-12 {
			b.Fatalf("Mean differs from the loop by %.3g", d)
		}
		tl, te, ratios = append(tl, l), append(te, e), append(ratios, l/e)
	}
	b.ReportMetric(median(tl), "loop-s")
	b.ReportMetric(median(te), "mean-s")
	b.ReportMetric(median(ratios), "speedup")
	reportGemm(b, rate)
}

// BenchmarkStructuredFCN2048 times the structured NTK of an erf FCN of
// width 2048 and depth 10 on 512 MNIST-sized inputs with 10 logits and
// reports its FLOP rate (see structuredFlops) as a fraction of the GEMM
// rate, and the process's peak resident memory.
func BenchmarkStructuredFCN2048(b *testing.B) {
	skipUnlessLong(b)
	s := spec.Spec{Arch: spec.FCN, Act: spec.Erf, Depth: 10, Width: 2048, SW2: 1.5, SB2: 0.05, Outputs: 10}
	n := 512
	net, x := benchNet(b, s, 784, n)
	defer net.Close()
	total := structuredFlops(net, n, s.Outputs)
	rate := gemmRate()
	t := timeStructured(b, net, x)
	b.ReportMetric(t, "s")
	b.ReportMetric(total/1e9, "GFLOP")
	b.ReportMetric(total/t/1e9, "GFLOP/s")
	b.ReportMetric(total/t/rate, "frac-of-gemm")
	reportGemm(b, rate)
	b.ReportMetric(peakRSS()/(1<<20), "peak-RSS-MiB")
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	b.ReportMetric(float64(ms.HeapSys)/(1<<20), "heap-sys-MiB")
}

// agreementOnce holds BenchmarkTheoryAgreement's measurements, made once
// per process (they are statistics, not timings).
var agreementOnce sync.Map // arch-act -> [2]float64{rel-err@1024, slope}

// BenchmarkTheoryAgreement measures the relative Frobenius error of
// single-network empirical NTKs against the reference analytic kernels at
// widths 128 to 1024 for every architecture (RMS over M = 4 networks with
// k = 2 logits), and the slope of log error against log width (theory:
// -1/2), on the reference inputs. The measurements are made once per
// process; the timing of the first iteration is the cost of the sweep.
func BenchmarkTheoryAgreement(b *testing.B) {
	skipUnlessLong(b)
	widths := []int{128, 256, 512, 1024}
	for _, rc := range []struct{ arch, act string }{
		{spec.FCN, spec.Erf}, {spec.FCN, spec.ReLU}, {spec.FCN, spec.Tanh},
		{spec.CNNF, spec.Erf}, {spec.CNNF, spec.ReLU}, {spec.CNNGAP, spec.Erf},
	} {
		c := findRef(b, rc.arch, rc.act)
		x1, x2, shape := c.inputs()
		name := rc.arch + "-" + rc.act
		b.Run(name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				if v, ok := agreementOnce.Load(name); ok {
					r := v.([2]float64)
					b.ReportMetric(r[0], "rel-err@1024")
					b.ReportMetric(r[1], "slope")
					continue
				}
				var lx, ly []float64
				var at1024 float64
				for _, w := range widths {
					ss := 0.0
					const m = 4
					for s := 0; s < m; s++ {
						k, err := Mean(c.spec(w, 2), shape, x1, x2, uint64(7919*w+s), 1, Options{})
						if err != nil {
							b.Fatal(err)
						}
						rel, err := RelativeFrobenius(k.NTK, c.ntk())
						if err != nil {
							b.Fatal(err)
						}
						ss += rel * rel
					}
					rms := math.Sqrt(ss / m)
					b.Logf("%s width %d: RMS relative error of one network %.4f", name, w, rms)
					lx = append(lx, math.Log(float64(w)))
					ly = append(ly, math.Log(rms))
					at1024 = rms
				}
				var mx, my, sxy, sxx float64
				for j := range lx {
					mx += lx[j] / float64(len(lx))
					my += ly[j] / float64(len(ly))
				}
				for j := range lx {
					sxy += (lx[j] - mx) * (ly[j] - my)
					sxx += (lx[j] - mx) * (lx[j] - mx)
				}
				agreementOnce.Store(name, [2]float64{at1024, sxy / sxx})
				b.ReportMetric(at1024, "rel-err@1024")
				b.ReportMetric(sxy/sxx, "slope")
			}
		})
	}
}
