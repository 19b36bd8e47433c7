package linalg

import (
	"flag"
	"fmt"
	"os"
	"testing"

	"gonum.org/v1/gonum/mat"
)

var longFlag = flag.Bool("long", false, "run the largest linalg benchmarks even in the pure-Go build (minutes each); NTKHARNESS_BENCH_LONG=1 does the same")

// long reports whether the slow benchmark sizes were asked for, by -long or
// by the NTKHARNESS_BENCH_LONG environment variable the other packages'
// benchmarks also read.
func long() bool { return *longFlag || os.Getenv("NTKHARNESS_BENCH_LONG") != "" }

// BenchmarkGemm times C = op(A) op(B) on n x n matrices and reports
// GFLOP/s (2 n^3 operations per product).
func BenchmarkGemm(b *testing.B) {
	cases := []struct {
		n      int
		tA, tB bool
	}{{512, false, false}, {1024, false, false}, {1024, false, true}, {1024, true, false}, {1024, true, true}}
	for _, tc := range cases {
		b.Run(fmt.Sprintf("n=%d/op=%s%s", tc.n, opName(tc.tA), opName(tc.tB)), func(b *testing.B) {
			n := tc.n
			rng := newRand(21)
			x, y := randomDense(rng, n, n), randomDense(rng, n, n)
			c := mat.NewDense(n, n, nil)
			for b.Loop() {
				Gemm(tc.tA, tc.tB, 1, x, y, 0, c)
			}
			b.ReportMetric(2*float64(n)*float64(n)*float64(n)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}

func opName(t bool) string {
	if t {
		return "T"
	}
	return "N"
}

// BenchmarkSyrk times C = A A^T with A n x n (n^3 operations) and reports
// GFLOP/s and gemm-ratio, the rate over that of a same-size GEMM of the run.
func BenchmarkSyrk(b *testing.B) {
	for _, n := range []int{512, 1024} {
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			rng := newRand(22)
			x := randomDense(rng, n, n)
			c := mat.NewSymDense(n, nil)
			for b.Loop() {
				Syrk(1, x, 0, c)
			}
			rate := float64(n) * float64(n) * float64(n) * float64(b.N) / b.Elapsed().Seconds()
			b.ReportMetric(rate/1e9, "GFLOP/s")
			b.ReportMetric(rate/GemmFlopRate(n, 3), "gemm-ratio")
		})
	}
}

// BenchmarkEigenSym times the full eigendecomposition (values and vectors)
// of a random symmetric n x n matrix, and values only at n = 1024. n = 2048
// runs in the openblas build, or with -long or NTKHARNESS_BENCH_LONG=1
// (about a minute per call in pure Go).
func BenchmarkEigenSym(b *testing.B) {
	cases := []struct {
		n       int
		vectors bool
	}{{256, true}, {1024, false}, {1024, true}, {2048, true}}
	for _, tc := range cases {
		b.Run(fmt.Sprintf("n=%d/vectors=%v", tc.n, tc.vectors), func(b *testing.B) {
			if tc.n > 1024 && Backend() != "openblas" && !long() {
				b.Skip("pure-Go build: n > 1024 takes many seconds per call; pass -long or set NTKHARNESS_BENCH_LONG=1")
			}
			a := randSym(newRand(23), tc.n)
			for b.Loop() {
				if _, _, err := EigenSym(a, tc.vectors); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkEigenSymGonumDsyev is the reference for BenchmarkEigenSym:
// gonum's own Dsyev (values and vectors), which the pure-Go build replaced.
// n = 1024 runs with -long or NTKHARNESS_BENCH_LONG=1 (many seconds per call).
func BenchmarkEigenSymGonumDsyev(b *testing.B) {
	for _, n := range []int{256, 1024} {
		b.Run(fmt.Sprintf("n=%d/vectors=true", n), func(b *testing.B) {
			if n > 256 && !long() {
				b.Skip("gonum Dsyev at n > 256 takes many seconds per call; pass -long or set NTKHARNESS_BENCH_LONG=1")
			}
			a := randSym(newRand(23), n)
			for b.Loop() {
				if _, _, err := eigenSymGonum(a, true); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkCholesky times the factorization of an SPD n x n matrix and
// reports GFLOP/s (n^3/3 operations) and gemm-ratio, the rate over that of
// a GEMM of the run of the same size (capped at 1024: a pure-Go 2048^3
// product takes seconds, and the rate no longer grows with n by then).
func BenchmarkCholesky(b *testing.B) {
	for _, n := range []int{512, 1024, 2048} {
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			g := randomDense(newRand(24), n, n+16)
			a := mat.NewSymDense(n, nil)
			Syrk(1, g, 0, a)
			for b.Loop() {
				if _, err := Cholesky(a); err != nil {
					b.Fatal(err)
				}
			}
			rate := float64(n) * float64(n) * float64(n) / 3 * float64(b.N) / b.Elapsed().Seconds()
			b.ReportMetric(rate/1e9, "GFLOP/s")
			b.ReportMetric(rate/GemmFlopRate(min(n, 1024), 3), "gemm-ratio")
		})
	}
}

// BenchmarkSolveSPD times solving A X = B with A n x n SPD and B n x 10
// (a one-hot label matrix's shape), condition estimate included.
func BenchmarkSolveSPD(b *testing.B) {
	for _, n := range []int{512, 1024, 2048} {
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			rng := newRand(25)
			g := randomDense(rng, n, n+16)
			a := mat.NewSymDense(n, nil)
			Syrk(1, g, 0, a)
			y := randomDense(rng, n, 10)
			for b.Loop() {
				if _, err := SolveSPD(a, y); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
