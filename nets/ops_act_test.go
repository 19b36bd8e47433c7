package nets

import (
	"math"
	"slices"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/ntkharness/ntkharness/activation"
)

// TestActivationOpsScalarPath checks that a description without slice
// forms (Forward, Chain nil) gives the layers of the built-in one: phi
// exactly (both evaluate Phi) and g phi' to a few roundings (the slice form
// may group the product differently and may read phi(x) instead of x).
func TestActivationOpsScalarPath(t *testing.T) {
	x := []float64{-2.5, -0.8, -0.1, 0, 0.3, 1.1, 3.2}
	g := []float64{0.7, -1.3, 2, 0.4, -0.9, 1.6, -2.2}
	shape := tensor.WithShape(1, len(x))
	run := func(op *matOp, in ...[]float64) []float64 {
		vals := make([]G.Value, len(in))
		for i, v := range in {
			vals[i] = tensor.New(shape, tensor.WithBacking(slices.Clone(v)))
		}
		out, err := op.Do(vals...)
		if err != nil {
			t.Fatal(err)
		}
		return out.(tensor.Tensor).Data().([]float64)
	}
	for _, d := range activation.All() {
		if d.Forward == nil || d.Chain == nil {
			t.Fatalf("%s: the built-in description has no slice forms; this test compares against them", d.Name)
		}
		plain := *d
		plain.Forward, plain.Chain, plain.ChainFromOutput = nil, nil, false
		y := run(phiOp(d), x)
		if got := run(phiOp(&plain), x); !slices.Equal(got, y) {
			t.Errorf("%s: phi from Phi %v, from Forward %v", d.Name, got, y)
		}
		v := x
		if d.ChainFromOutput {
			v = y
		}
		want := run(chainOp(d), v, g)
		got := run(chainOp(&plain), x, g)
		for i := range x {
			if math.Abs(got[i]-want[i]) > 4e-16*math.Abs(want[i]) {
				t.Errorf("%s: g phi' at x=%g from DPhi %.17g, from Chain %.17g", d.Name, x[i], got[i], want[i])
			}
		}
	}
}
