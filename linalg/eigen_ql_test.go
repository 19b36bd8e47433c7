package linalg

import (
	"math"
	"testing"

	"gonum.org/v1/gonum/mat"
)

// symFrom builds the symmetric n x n matrix with entries f(i, j), i <= j.
func symFrom(n int, f func(i, j int) float64) *mat.SymDense {
	s := mat.NewSymDense(n, nil)
	for i := 0; i < n; i++ {
		for j := i; j < n; j++ {
			s.SetSym(i, j, f(i, j))
		}
	}
	return s
}

// normInf is the largest absolute row sum, an upper bound on ||A||_2.
func normInf(a mat.Matrix) float64 {
	r, c := a.Dims()
	var m float64
	for i := 0; i < r; i++ {
		var s float64
		for j := 0; j < c; j++ {
			s += math.Abs(a.At(i, j))
		}
		m = math.Max(m, s)
	}
	return m
}

// TestEigenSymQL checks the pure-Go eigensolver (used by the default build
// for eigenvectors) in every build: reconstruction, orthonormality and
// ascending order, and eigenvalues (with and without vectors) against
// gonum's Dsyev, an independent implementation (Householder reduction, then
// QL/QR in Dsteqr).
// Tolerances: both are backward stable, so eigenvalues agree and the
// reconstruction holds to O(n eps ||A||); 1e-14 n ||A|| leaves a factor ~50.
func TestEigenSymQL(t *testing.T) {
	rng := newRand(31)
	tests := []struct {
		name string
		a    *mat.SymDense
	}{
		{"2x2", mat.NewSymDense(2, []float64{2, 1, 1, 2})},
		{"2x2 diagonal", mat.NewSymDense(2, []float64{5, 0, 0, -1})},
		{"zero", mat.NewSymDense(6, nil)},
		{"3 I", symFrom(7, func(i, j int) float64 {
			if i == j {
				return 3
			}
			return 0
		})},
		{"unsorted diagonal", symFrom(5, func(i, j int) float64 {
			if i == j {
				return []float64{4, -1, 7, 0, 2}[i]
			}
			return 0
		})},
		{"block diagonal", symFrom(9, func(i, j int) float64 {
			if i/3 != j/3 {
				return 0
			}
			return 1 + float64(i+j)
		})},
		{"all ones (rank one)", symFrom(40, func(i, j int) float64 { return 1 })},
		{"graded", symFrom(12, func(i, j int) float64 { return math.Pow(10, -float64(i+j)) })},
		{"Wilkinson W21+", symFrom(21, func(i, j int) float64 {
			switch {
			case i == j:
				return math.Abs(float64(i - 10))
			case j == i+1:
				return 1
			}
			return 0
		})},
		{"ordered-phase like p 11^T + 1e-9 I", symFrom(60, func(i, j int) float64 {
			if i == j {
				return 2 + 1e-9
			}
			return 2
		})},
		{"tiny scale 1e-150", symFrom(20, func(i, j int) float64 { return 1e-150 * math.Cos(float64(3*i+j)) })},
		{"huge scale 1e150", symFrom(20, func(i, j int) float64 { return 1e150 * math.Sin(float64(i+2*j)) })},
		{"random 5", randSym(rng, 5)},
		{"random 17", randSym(rng, 17)},
		{"random 130 (parallel rows)", randSym(rng, 130)},
		{"random 300 (several batches)", randSym(rng, 300)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n := tc.a.SymmetricDim()
			tol := 1e-14 * float64(n) * normInf(tc.a)
			values, v, err := eigenSymQL(tc.a, true)
			if err != nil {
				t.Fatal(err)
			}
			checkEigen(t, tc.a, values, v, tol)
			only, nov, err := eigenSymQL(tc.a, false)
			if err != nil || nov != nil {
				t.Fatalf("values only: vecs %v, err %v", nov, err)
			}
			// gonum's values-only path (Dsterf) panics on tiny or huge
			// matrices; its vectors path (Dsteqr) does not.
			want, _, err := eigenSymGonum(tc.a, true)
			if err != nil {
				t.Fatal(err)
			}
			for i := range want {
				if math.Abs(values[i]-want[i]) > tol || math.Abs(only[i]-want[i]) > tol {
					t.Errorf("lambda[%d] = %.17g (values only %.17g), gonum Dsyev %.17g (tol %g)", i, values[i], only[i], want[i], tol)
				}
			}
		})
	}
}

// TestApplyRows checks the batched, row-streamed rotation update against
// applying each rotation to all rows at once, in sweep order.
func TestApplyRows(t *testing.T) {
	rng := newRand(32)
	for _, n := range []int{1, 3, 4, 7, 33} {
		rb := newRotBatch(n)
		z := randomDense(rng, n, n).RawMatrix().Data
		want := append([]float64(nil), z...)
		// Sweeps of assorted lengths ending at assorted tops.
		for sw := 0; sw < 3*n; sw++ {
			if n < 2 {
				break
			}
			top := rng.IntN(n - 1)
			cnt := 1 + rng.IntN(top+1)
			cs, ss := rb.begin(top)
			for q := 0; q < cnt; q++ {
				th := rng.Float64() * 2 * math.Pi
				c, s := math.Cos(th), math.Sin(th)
				cs, ss = append(cs, c), append(ss, s)
				i := top - q
				for k := 0; k < n; k++ {
					f := want[k*n+i+1]
					want[k*n+i+1] = s*want[k*n+i] + c*f
					want[k*n+i] = c*want[k*n+i] - s*f
				}
			}
			rb.c, rb.s = cs, ss // keep pending: apply all at the end
			rb.cnt = append(rb.cnt, cnt)
		}
		rb.flush(z)
		// Same operations in the same order per entry: equal to rounding
		// of a few hundred rotations of unit-norm data.
		if d := maxAbsDiff(mat.NewDense(n, n, z), mat.NewDense(n, n, want)); d > 1e-12 {
			t.Errorf("n=%d: max |batched - one at a time| = %g", n, d)
		}
	}
}

// TestEigenSymQLRandomStructures runs many small seeded matrices with random
// sparsity patterns (exact zeros split the tridiagonal form into blocks),
// repeated entries and mixed magnitudes through the same checks as
// TestEigenSymQL, and through the build's EigenSym.
func TestEigenSymQLRandomStructures(t *testing.T) {
	rng := newRand(33)
	for trial := 0; trial < 300; trial++ {
		n := 1 + rng.IntN(24)
		pZero := rng.Float64()
		spread := rng.Float64() * 6 // entries span up to 1e-3..1e3
		a := symFrom(n, func(i, j int) float64 {
			switch r := rng.Float64(); {
			case r < pZero:
				return 0
			case r < pZero+0.1:
				return 1 // repeated values
			}
			return rng.NormFloat64() * math.Pow(10, spread*(rng.Float64()-0.5))
		})
		tol := 1e-14 * float64(n+1) * normInf(a)
		values, v, err := eigenSymQL(a, true)
		if err != nil {
			t.Fatalf("trial %d (n=%d): %v", trial, n, err)
		}
		checkEigen(t, a, values, v, tol)
		want, _, err := eigenSymGonum(a, true)
		if err != nil {
			t.Fatal(err)
		}
		for i := range want {
			if math.Abs(values[i]-want[i]) > tol {
				t.Fatalf("trial %d (n=%d): lambda[%d] = %.17g, gonum Dsyev %.17g", trial, n, i, values[i], want[i])
			}
		}
		// The build's EigenSym (LAPACKE dsyevd in the openblas build).
		bv, bvec, err := EigenSym(a, true)
		if err != nil {
			t.Fatal(err)
		}
		checkEigen(t, a, bv, bvec, tol)
		if t.Failed() {
			t.Fatalf("trial %d (n=%d) failed", trial, n)
		}
	}
}
