package linalg

import (
	"math"
	"testing"

	"gonum.org/v1/gonum/mat"
)

// TestGemmGo checks the tiled pure-Go product (the default build's Gemm for
// large matrices) against the naive triple loop, in every build, on shapes
// that cross the tile edges (k > gemmKC, columns > gemmNB, transposed rows >
// gemmMB), on strided views, and on wide C (split by columns).
func TestGemmGo(t *testing.T) {
	tests := []struct {
		m, k, n     int
		alpha, beta float64
	}{
		{150, 300, 140, 1, 0},
		{129, 257, 131, 0.5, -1.5},
		{66, 280, 200, -2, 1}, // wide: split by columns
		{300, 64, 70, 1, 0.25},
		{8, 100, 1000, 1, 0}, // tall-thin dims take gonum's path except A^T B^T
	}
	rng := newRand(41)
	for _, tc := range tests {
		for _, tr := range [][2]bool{{false, false}, {false, true}, {true, false}, {true, true}} {
			tA, tB := tr[0], tr[1]
			ar, ac := tc.m, tc.k
			if tA {
				ar, ac = ac, ar
			}
			br, bc := tc.k, tc.n
			if tB {
				br, bc = bc, br
			}
			a, b, c := strided(rng, ar, ac), strided(rng, br, bc), strided(rng, tc.m, tc.n)
			if tc.beta == 0 {
				c.Set(0, 0, math.NaN()) // must not propagate
			}
			want := naiveGemm(tA, tB, tc.alpha, a, b, tc.beta, c)
			if tc.beta == 0 {
				c.Set(0, 0, 0)
				want = naiveGemm(tA, tB, tc.alpha, a, b, tc.beta, c)
				c.Set(0, 0, math.NaN())
			}
			gemmGo(tA, tB, tc.alpha, a.RawMatrix(), b.RawMatrix(), tc.beta, c.RawMatrix())
			// Sums of k products of N(0,1) entries, summed in another order:
			// rounding O(k eps) relative to sum |a||b| ~ k.
			tol := 1e-14 * float64(tc.k) * float64(tc.k)
			if d := maxAbsDiff(c, want); !(d <= tol) {
				t.Errorf("%dx%dx%d tA=%v tB=%v: max |gemmGo - naive| = %g > %g", tc.m, tc.k, tc.n, tA, tB, d, tol)
			}
		}
	}
}

// TestGemmGoLeavesOutsideAlone checks that writing a view of C touches no
// entry of the parent matrix outside the view.
func TestGemmGoLeavesOutsideAlone(t *testing.T) {
	rng := newRand(42)
	parent := mat.NewDense(140, 150, nil)
	for i := 0; i < 140; i++ {
		for j := 0; j < 150; j++ {
			parent.Set(i, j, 7)
		}
	}
	c := parent.Slice(3, 133, 5, 145).(*mat.Dense) // 130 x 140
	a, b := randomDense(rng, 130, 90), randomDense(rng, 90, 140)
	Gemm(false, false, 1, a, b, 0, c)
	for i := 0; i < 140; i++ {
		for j := 0; j < 150; j++ {
			inside := i >= 3 && i < 133 && j >= 5 && j < 145
			if !inside && parent.At(i, j) != 7 {
				t.Fatalf("entry (%d,%d) outside the view changed to %g", i, j, parent.At(i, j))
			}
		}
	}
}
