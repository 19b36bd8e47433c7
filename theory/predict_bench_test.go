package theory

import (
	"fmt"
	"math/rand/v2"
	"os"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/ntkharness/ntkharness/linalg"
)

// benchProblem returns a full-rank Wishart train kernel G G^T/N (N x N), a
// test-train kernel (M x N) and one-hot targets with k classes.
func benchProblem(n, m, k int) (*mat.SymDense, *mat.Dense, *mat.Dense) {
	rng := rand.New(rand.NewPCG(11, uint64(n)))
	g := mat.NewDense(n, n, nil)
	for i := 0; i < n; i++ {
		row := g.RawRowView(i)
		for j := range row {
			row[j] = rng.NormFloat64()
		}
	}
	theta := mat.NewSymDense(n, nil)
	linalg.Syrk(1/float64(n), g, 0, theta)
	h := mat.NewDense(m, n, nil)
	linalg.Gemm(false, true, 1/float64(n), g.Slice(0, m, 0, n).(*mat.Dense), g, 0, h)
	y := mat.NewDense(n, k, nil)
	for i := 0; i < n; i++ {
		y.Set(i, rng.IntN(k), 1)
	}
	return theta, h, y
}

// BenchmarkPredict times one eigendecomposition of the N x N train kernel
// plus 5 evaluations (flow at t = 1, 8, 64, 512, 4096; M = 256 test points,
// k = 10), the unit of work of one cell of the paper's heat maps. It reports
// this machine's GEMM rate (n = N, median of 3, the build's backend) as a
// same-run reference and gemm-ratio, the time of one N x N x N GEMM over
// the time of one call (the call's speed in units of a same-size product).
// N = 2048 takes about a minute per call in the pure-Go build; it is skipped
// there unless NTKHARNESS_BENCH_LONG=1.
func BenchmarkPredict(b *testing.B) {
	for _, n := range []int{256, 1024, 2048} {
		b.Run(fmt.Sprintf("N=%d", n), func(b *testing.B) {
			if n > 1024 && linalg.Backend() != "openblas" && os.Getenv("NTKHARNESS_BENCH_LONG") == "" {
				b.Skip("pure-Go build: N > 1024 takes about a minute per call; set NTKHARNESS_BENCH_LONG=1")
			}
			gemm := linalg.GemmFlopRate(n, 3)
			theta, td, y := benchProblem(n, 256, 10)
			b.ResetTimer()
			for b.Loop() {
				p, err := NewPredictor(theta, td, y, nil)
				if err != nil {
					b.Fatal(err)
				}
				eta := 0.5 * p.EtaCrit()
				for _, t := range []float64{1, 8, 64, 512, 4096} {
					if _, _, err := p.At(Flow, eta, t); err != nil {
						b.Fatal(err)
					}
				}
			}
			sec := b.Elapsed().Seconds() / float64(b.N)
			b.ReportMetric(gemm/1e9, "gemm-GFLOP/s")
			b.ReportMetric(2*float64(n)*float64(n)*float64(n)/gemm/sec, "gemm-ratio")
		})
	}
}

// BenchmarkPredictEvaluate times one evaluation (train and test outputs at
// one time) after the eigendecomposition, N = 1024, M = 256, k = 10.
func BenchmarkPredictEvaluate(b *testing.B) {
	theta, td, y := benchProblem(1024, 256, 10)
	p, err := NewPredictor(theta, td, y, nil)
	if err != nil {
		b.Fatal(err)
	}
	eta := 0.5 * p.EtaCrit()
	b.ResetTimer()
	for b.Loop() {
		if _, _, err := p.At(Steps, eta, 64); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkMeanField times the mean-field solve and the critical line, the
// per-cell cost of a theory heat map (tanh goes through quadrature).
func BenchmarkMeanField(b *testing.B) {
	for _, name := range []string{"erf", "tanh"} {
		act := mustAct(b, name)
		b.Run(name+"/solve", func(b *testing.B) {
			for b.Loop() {
				if _, err := SolveMeanField(act, 2, 0.18); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(name+"/critical", func(b *testing.B) {
			for b.Loop() {
				if _, err := CriticalSW2(act, 0.18); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
