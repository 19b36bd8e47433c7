package theory_test

import (
	"math"
	"testing"

	"github.com/ntkharness/ntkharness/internal/testshared"

	"gonum.org/v1/gonum/mat"

	"github.com/ntkharness/ntkharness/datasets"
	"github.com/ntkharness/ntkharness/linalg"
	"github.com/ntkharness/ntkharness/npy"
	"github.com/ntkharness/ntkharness/spec"
	"github.com/ntkharness/ntkharness/theory"
)

// sharedCIFAR returns the first n training images of the shared CIFAR-10
// subset, standardized by one global mean and standard deviation (as in the
// paper's experiments), or skips the test when the subset is absent.
func sharedCIFAR(t *testing.T, n int) *datasets.Set {
	t.Helper()
	path := testshared.File(t, testshared.CIFAR10)
	train, _, err := datasets.LoadCIFAR10(path)
	if err != nil {
		t.Fatal(err)
	}
	d := train.Dim()
	x := append([]float64(nil), train.X[:n*d]...)
	var mean, sq float64
	for _, v := range x {
		mean += v
	}
	mean /= float64(len(x))
	for _, v := range x {
		sq += (v - mean) * (v - mean)
	}
	std := math.Sqrt(sq / float64(len(x)))
	for i := range x {
		x[i] = (x[i] - mean) / std
	}
	return &datasets.Set{N: n, H: train.H, W: train.W, C: train.C, X: x, Labels: train.Labels[:n], Classes: train.Classes}
}

// minEigen returns the smallest and largest eigenvalues of a symmetric kernel.
func minEigen(t *testing.T, m *mat.Dense) (lo, hi float64) {
	t.Helper()
	n, _ := m.Dims()
	s := mat.NewSymDense(n, nil)
	for i := range n {
		for j := i; j < n; j++ {
			s.SetSym(i, j, m.At(i, j))
		}
	}
	v, _, err := linalg.EigenSym(s, false)
	if err != nil {
		t.Fatal(err)
	}
	return v[0], v[len(v)-1]
}

// TestCIFARKernels checks properties the theory guarantees on real images:
// every kernel is symmetric positive semi-definite (smallest eigenvalue
// above -1e-12 of the largest, rounding), and deep erf FCN kernels show the
// two mean-field phases. Ordered (sw2 = 1.0, sb2 = 0.18): all
// correlations tend to c* = 1. Chaotic (sw2 = 3.0): every off-diagonal
// correlation tends to the same c* < 1, the fixed point of the scalar
// correlation map computed here from the erf closed form; after 200 layers
// the distance to it (shrinking like chi_c*^l) is far below the 1e-6 allowed.
func TestCIFARKernels(t *testing.T) {
	set := sharedCIFAR(t, 40)
	flat := set.Flat()
	asin := func(q, k float64) float64 { return 2 / math.Pi * math.Asin(2*k/(1+2*q)) }
	for _, tt := range []struct {
		name string
		s    spec.Spec
		x    npy.Array
	}{
		{"fcn-erf-critical", spec.Spec{Arch: "fcn", Act: "erf", Depth: 20, SW2: 1.76, SB2: 0.18}, flat},
		{"fcn-relu", spec.Spec{Arch: "fcn", Act: "relu", Depth: 10, SW2: 2, SB2: 0.1}, flat},
		{"fcn-tanh", spec.Spec{Arch: "fcn", Act: "tanh", Depth: 5, SW2: 1.8, SB2: 0.05}, npy.Array{Shape: []int{8, flat.Shape[1]}, Data: flat.Data[:8*flat.Shape[1]]}},
		{"cnn-f-relu", spec.Spec{Arch: "cnn-f", Act: "relu", Depth: 3, SW2: 2, SB2: 0.1}, npy.Array{Shape: []int{8, 32, 32, 3}, Data: set.X[:8*set.Dim()]}},
		{"cnn-gap-erf", spec.Spec{Arch: "cnn-gap", Act: "erf", Depth: 2, SW2: 1.5, SB2: 0.1}, npy.Array{Shape: []int{4, 32, 32, 3}, Data: set.X[:4*set.Dim()]}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			k, err := theory.Compute(tt.s, tt.x, npy.Array{}, theory.Options{})
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range []*mat.Dense{k.NNGP, k.NTK} {
				if !mat.Equal(m, m.T()) {
					t.Fatal("kernel is not symmetric")
				}
				lo, hi := minEigen(t, m)
				if lo < -1e-12*hi || hi <= 0 {
					t.Errorf("eigenvalues in [%g, %g]: not positive semi-definite", lo, hi)
				}
			}
		})
	}
	for _, tt := range []struct {
		name string
		sw2  float64
	}{{"ordered", 1.0}, {"chaotic", 3.0}} {
		t.Run(tt.name, func(t *testing.T) {
			const sb2 = 0.18
			k, err := theory.Compute(spec.Spec{Arch: "fcn", Act: "erf", Depth: 200, SW2: tt.sw2, SB2: sb2}, flat, npy.Array{}, theory.Options{})
			if err != nil {
				t.Fatal(err)
			}
			q := 1.0
			for range 10000 {
				q = tt.sw2*asin(q, q) + sb2
			}
			c := 0.5
			for range 100000 {
				c = (tt.sw2*asin(q, c*q) + sb2) / q
			}
			if tt.name == "chaotic" && c > 0.99 {
				t.Fatalf("c* = %v: not the chaotic phase", c)
			}
			for i := range set.N {
				for j := range i {
					corr := k.NNGP.At(i, j) / math.Sqrt(k.NNGP.At(i, i)*k.NNGP.At(j, j))
					if math.Abs(corr-c) > 1e-6 {
						t.Fatalf("correlation (%d,%d) = %.9f, want c* = %.9f", i, j, corr, c)
					}
				}
			}
		})
	}
}
