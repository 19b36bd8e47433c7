//go:build openblas

package linalg

import (
	"math"
	"testing"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"
	"gonum.org/v1/gonum/mat"
)

const wantBackend = "openblas"

// The two builds must agree: in the openblas build, compare OpenBLAS and
// LAPACKE results with gonum's native routines on the same random input.
// Tolerance 1e-10, relative to the entries' O(1)..O(sqrt n) scale: both are
// backward stable, so they differ by O(n eps ||A||) ~ 1e-13 here.

func TestOpenBLASGemmMatchesGonum(t *testing.T) {
	rng := newRand(11)
	for _, tc := range []struct {
		m, k, n int
		tA, tB  bool
	}{{200, 150, 90, false, false}, {64, 300, 64, true, false}, {31, 17, 45, true, true}} {
		ar, ac := tc.m, tc.k
		if tc.tA {
			ar, ac = ac, ar
		}
		br, bc := tc.k, tc.n
		if tc.tB {
			br, bc = bc, br
		}
		a, b := strided(rng, ar, ac), strided(rng, br, bc)
		c0 := randomDense(rng, tc.m, tc.n)
		got := mat.DenseCopyOf(c0)
		Gemm(tc.tA, tc.tB, 1.25, a, b, -0.5, got)
		want := mat.DenseCopyOf(c0)
		wr := want.RawMatrix()
		gonum.Implementation{}.Dgemm(trans(tc.tA), trans(tc.tB), tc.m, tc.n, tc.k, 1.25,
			a.RawMatrix().Data, a.RawMatrix().Stride, b.RawMatrix().Data, b.RawMatrix().Stride, -0.5, wr.Data, wr.Stride)
		if d := maxAbsDiff(got, want); d > 1e-10 {
			t.Errorf("%+v: max |OpenBLAS - gonum| = %g", tc, d)
		}
	}
	a := strided(rng, 120, 77)
	got := randSym(rng, 120)
	want := mat.NewSymDense(120, nil)
	want.CopySym(got)
	Syrk(0.75, a, 2, got)
	wr := want.RawSymmetric()
	gonum.Implementation{}.Dsyrk(blas.Upper, blas.NoTrans, 120, 77, 0.75, a.RawMatrix().Data, a.RawMatrix().Stride, 2, wr.Data, wr.Stride)
	if d := maxAbsDiff(got, want); d > 1e-10 {
		t.Errorf("Syrk: max |OpenBLAS - gonum| = %g", d)
	}
}

func TestOpenBLASEigenMatchesGonum(t *testing.T) {
	rng := newRand(12)
	for _, n := range []int{5, 64, 200} {
		// Values: a Wigner matrix. Vectors: a known spectrum with unit gaps,
		// so that eigenvectors are unique up to sign and perturbed by only
		// O(eps ||A|| / gap) ~ 1e-13.
		for _, tc := range []struct {
			name    string
			a       *mat.SymDense
			vectors bool
		}{
			{"wigner", randSym(rng, n), false},
			{"unit gaps", func() *mat.SymDense {
				lambda := make([]float64, n)
				for i := range lambda {
					lambda[i] = float64(i - n/3)
				}
				a, _ := spdFromSpectrum(rng, lambda)
				return a
			}(), true},
		} {
			got, gv, err := EigenSym(tc.a, tc.vectors)
			if err != nil {
				t.Fatal(err)
			}
			want, wv, err := eigenSymGonum(tc.a, tc.vectors)
			if err != nil {
				t.Fatal(err)
			}
			for i := range want {
				if d := math.Abs(got[i] - want[i]); d > 1e-10 {
					t.Errorf("n=%d %s: lambda[%d]: LAPACKE %.17g, gonum %.17g", n, tc.name, i, got[i], want[i])
				}
			}
			if !tc.vectors {
				continue
			}
			for j := 0; j < n; j++ {
				var dot float64
				for i := 0; i < n; i++ {
					dot += gv.At(i, j) * wv.At(i, j)
				}
				sign := math.Copysign(1, dot)
				for i := 0; i < n; i++ {
					if d := math.Abs(gv.At(i, j) - sign*wv.At(i, j)); d > 1e-10 {
						t.Fatalf("n=%d %s: eigenvector %d entry %d: LAPACKE %.17g, gonum %.17g", n, tc.name, j, i, gv.At(i, j), sign*wv.At(i, j))
					}
				}
			}
		}
	}
}

func TestOpenBLASCholeskyMatchesReference(t *testing.T) {
	rng := newRand(13)
	n := 150
	g := randomDense(rng, n, n+20)
	a := mat.NewSymDense(n, nil)
	Syrk(1, g, 0, a) // SPD with probability one
	ch, err := Cholesky(a)
	if err != nil {
		t.Fatal(err)
	}
	var u mat.TriDense
	ch.UTo(&u)
	// Independent reference: the unblocked row-by-row recurrence for A = U^T U.
	want := make([]float64, n*n)
	for i := 0; i < n; i++ {
		for j := i; j < n; j++ {
			s := a.At(i, j)
			for k := 0; k < i; k++ {
				s -= want[k*n+i] * want[k*n+j]
			}
			if j == i {
				want[i*n+i] = math.Sqrt(s)
			} else {
				want[i*n+j] = s / want[i*n+i]
			}
		}
	}
	if d := maxAbsDiff(&u, mat.NewDense(n, n, want)); d > 1e-10 {
		t.Errorf("max |U(OpenBLAS) - U(reference)| = %g", d)
	}
}
