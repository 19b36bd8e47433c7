package ntkempirical

import (
	"math"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/ntkharness/ntkharness/nets"
	"github.com/ntkharness/ntkharness/spec"
)

// TestKernelChange moves only the readout weights, w_out -> c w_out, in a
// network saved and reloaded through nets.Save/nets.Load. The readout's
// own term of Theta (its inputs and bias) does not depend on w_out, while
// every hidden layer's deltas are scaled by c, so its terms by c^2:
// Theta(c) = Theta_out + c^2 Theta_hidden. Hence Theta_hidden =
// Theta(1) - Theta(0), and the relative change at c is
// |c^2 - 1| ||Theta(1) - Theta(0)||_F / ||Theta(1)||_F, an identity the
// test checks to rounding (1e-10).
func TestKernelChange(t *testing.T) {
	for _, arch := range spec.Archs {
		s := spec.Spec{Arch: arch, Act: spec.Erf, Depth: 2, Width: 4, SW2: 1.6, SB2: 0.1, Outputs: 2}
		shape := []int{5}
		if s.IsConv() {
			shape = []int{3, 3, 2}
		}
		rng := rand.New(rand.NewPCG(8, 8))
		net0, err := nets.New(s, shape, rng)
		if err != nil {
			t.Fatal(err)
		}
		x := randomInputs(rng, 3, shape)
		dir := t.TempDir()
		scaled := func(c float64) *nets.Net {
			d := filepath.Join(dir, "c")
			if err := net0.Save(d); err != nil {
				t.Fatal(err)
			}
			n, err := nets.Load(d)
			if err != nil {
				t.Fatal(err)
			}
			ps := n.Params()
			w := ps[len(ps)-2]
			if w.Name != "w_out" {
				t.Fatalf("parameter %s where w_out was expected", w.Name)
			}
			for i := range w.Data {
				w.Data[i] *= c
			}
			return n
		}
		same, err := KernelChange(net0, scaled(1), x, x, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if same.Relative != 0 {
			t.Errorf("%s: a reloaded, unchanged network moved its kernel by %g", arch, same.Relative)
		}
		zero, err := KernelChange(net0, scaled(0), x, x, Options{})
		if err != nil {
			t.Fatal(err)
		}
		var hidden mat.Dense
		hidden.Sub(zero.Initial.NTK, zero.Trained.NTK)
		for _, c := range []float64{0.5, 2, 3} {
			ch, err := KernelChange(net0, scaled(c), x, x, Options{})
			if err != nil {
				t.Fatal(err)
			}
			want := math.Abs(c*c-1) * mat.Norm(&hidden, 2) / mat.Norm(ch.Initial.NTK, 2)
			if math.Abs(ch.Relative-want) > 1e-10*want {
				t.Errorf("%s, c=%g: relative change %.15g, want %.15g", arch, c, ch.Relative, want)
			}
		}
	}
	a, _ := nets.New(spec.Spec{Arch: spec.FCN, Act: spec.Erf, Depth: 1, Width: 3, SW2: 1, SB2: 0}, []int{2}, rand.New(rand.NewPCG(1, 1)))
	b, _ := nets.New(spec.Spec{Arch: spec.FCN, Act: spec.Erf, Depth: 2, Width: 3, SW2: 1, SB2: 0}, []int{2}, rand.New(rand.NewPCG(1, 1)))
	x := randomInputs(rand.New(rand.NewPCG(1, 1)), 2, []int{2})
	if _, err := KernelChange(a, b, x, x, Options{}); err == nil {
		t.Error("KernelChange accepted networks of different depths")
	}
}
