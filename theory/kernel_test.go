package theory

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/ntkharness/ntkharness/datasets/npyarray"
	"github.com/ntkharness/ntkharness/nets/spec"
)

// referenceCase is one case of testdata/kernels.json (copied from the
// project's independent reference values, computed outside this package).
type referenceCase struct {
	Arch    string      `json:"arch"`
	Act     string      `json:"act"`
	Depth   int         `json:"depth"`
	SW2     float64     `json:"sw2"`
	SB2     float64     `json:"sb2"`
	Filter  int         `json:"filter"`
	Padding string      `json:"padding"`
	X1Shape []int       `json:"x1_shape"`
	X1      []float64   `json:"x1"`
	X2Shape []int       `json:"x2_shape"`
	X2      []float64   `json:"x2"`
	NNGP    [][]float64 `json:"nngp"`
	NTK     [][]float64 `json:"ntk"`
}

func loadReference(t *testing.T) []referenceCase {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "kernels.json"))
	if err != nil {
		t.Fatal(err)
	}
	var f struct{ Cases []referenceCase }
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	if len(f.Cases) == 0 {
		t.Fatal("testdata/kernels.json has no cases")
	}
	return f.Cases
}

func (c referenceCase) spec() spec.Spec {
	s := spec.Spec{Arch: c.Arch, Act: c.Act, Depth: c.Depth, SW2: c.SW2, SB2: c.SB2}
	if s.IsConv() {
		s.Filter, s.Padding = c.Filter, c.Padding
	}
	return s
}

func (c referenceCase) name() string {
	return fmt.Sprintf("%s-%s-L%d-sw%g-sb%g", c.Arch, c.Act, c.Depth, c.SW2, c.SB2)
}

// maxRelErr returns max |got - want| / max|want| over the matrix: the error
// relative to the kernel's scale (entries near zero are not divided by
// themselves).
func maxRelErr(got *mat.Dense, want [][]float64) float64 {
	var scale, diff float64
	for i, row := range want {
		for j, w := range row {
			scale = math.Max(scale, math.Abs(w))
			diff = math.Max(diff, math.Abs(got.At(i, j)-w))
		}
	}
	return diff / scale
}

// TestComputeReference checks every case of the independent reference
// kernels. Tolerances: erf and relu are closed forms, so the only error is
// rounding, amplified by the depth of the recursion (1e-12). tanh uses
// Gauss-Hermite quadrature with 61 nodes per axis on both sides.
// The reference's cnn-f tanh kernel is itself asymmetric by 3.7e-6 (its
// entries (0,1) and (1,0) come from quadratures with the roles of the two
// inputs swapped), so no symmetric kernel can match it closer than 2e-6
// relative to its largest entry; 5e-6 allows that and still catches any
// convention error, which changes kernels at the percent level.
func TestComputeReference(t *testing.T) {
	for _, c := range loadReference(t) {
		t.Run(c.name(), func(t *testing.T) {
			x1 := npyarray.Array{Shape: c.X1Shape, Data: c.X1}
			var x2 npyarray.Array
			if c.X2 != nil {
				x2 = npyarray.Array{Shape: c.X2Shape, Data: c.X2}
			}
			k, err := Compute(c.spec(), x1, x2, Options{})
			if err != nil {
				t.Fatal(err)
			}
			tol := 1e-12
			if c.Act == "tanh" {
				tol = 5e-6
			}
			r, cc := k.NNGP.Dims()
			if r != len(c.NNGP) || cc != len(c.NNGP[0]) {
				t.Fatalf("kernel is %dx%d, want %dx%d", r, cc, len(c.NNGP), len(c.NNGP[0]))
			}
			if e := maxRelErr(k.NNGP, c.NNGP); e > tol {
				t.Errorf("NNGP relative error %.3g > %g\ngot  %v\nwant %v", e, tol, mat.Formatted(k.NNGP), c.NNGP)
			}
			if e := maxRelErr(k.NTK, c.NTK); e > tol {
				t.Errorf("NTK relative error %.3g > %g\ngot  %v\nwant %v", e, tol, mat.Formatted(k.NTK), c.NTK)
			}
		})
	}
}

// setTanhNodes makes ActivationByName use a fixed n-node rule for tanh and
// returns the function restoring the default.
func setTanhNodes(n int) func() {
	old := tanhNodes
	tanhNodes = n
	return func() { tanhNodes = old }
}
