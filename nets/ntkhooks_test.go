package nets

import (
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/ntkharness/ntkharness/npy"
	"github.com/ntkharness/ntkharness/spec"
)

// TestLayerFactors checks that LayerFactors writes exactly the inputs and
// deltas of Backward (the graph's arithmetic in the same order, so bit for
// bit), into views of larger matrices, leaves nil destinations alone, and
// follows a change of the parameters made after its first call.
func TestLayerFactors(t *testing.T) {
	for _, tc := range []struct {
		s     spec.Spec
		shape []int
	}{
		{spec.Spec{Arch: spec.FCN, Act: spec.Erf, Depth: 2, Width: 5, SW2: 1.5, SB2: 0.1, Outputs: 3}, []int{4}},
		{spec.Spec{Arch: spec.CNNF, Act: spec.ReLU, Depth: 2, Width: 3, SW2: 2, SB2: 0.1, Outputs: 2}, []int{3, 3, 2}},
		{spec.Spec{Arch: spec.CNNGAP, Act: spec.Tanh, Depth: 1, Width: 3, SW2: 1.7, SB2: 0.1, Outputs: 2}, []int{4, 3, 1}},
	} {
		rng := rand.New(rand.NewPCG(3, 3))
		net, err := New(tc.s, tc.shape, rng)
		if err != nil {
			t.Fatal(err)
		}
		b := 3
		x := npy.Array{Shape: append([]int{b}, tc.shape...)}
		x.Data = make([]float64, npy.Size(x.Shape))
		for i := range x.Data {
			x.Data[i] = rng.NormFloat64()
		}
		cot := mat.NewDense(b, tc.s.Outputs, nil)
		for i := 0; i < b; i++ {
			for j := 0; j < tc.s.Outputs; j++ {
				cot.Set(i, j, rng.NormFloat64())
			}
		}
		tr, err := net.Backward(x, cot)
		if err != nil {
			t.Fatal(err)
		}
		layers := net.Layers()
		ins := make([]*mat.Dense, len(layers))
		ds := make([]*mat.Dense, len(layers))
		for l, ly := range layers {
			r := b * ly.Positions
			// Views with a stride wider than the row.
			ins[l] = mat.NewDense(r+1, ly.FanIn+2, nil).Slice(1, r+1, 1, ly.FanIn+1).(*mat.Dense)
			if l != 0 {
				ds[l] = mat.NewDense(r, ly.FanOut+1, nil).Slice(0, r, 0, ly.FanOut).(*mat.Dense)
			}
		}
		if err := net.LayerFactors(x, cot, ins, ds); err != nil {
			t.Fatal(err)
		}
		for l := range layers {
			if !mat.Equal(ins[l], tr.Inputs[l]) {
				t.Errorf("%s layer %d: inputs differ from Backward's", tc.s.Arch, l)
			}
			if l != 0 && !mat.Equal(ds[l], tr.Deltas[l]) {
				t.Errorf("%s layer %d: deltas differ from Backward's", tc.s.Arch, l)
			}
		}
		if ds[0] != nil {
			t.Error("nil destination was replaced")
		}
		for _, p := range net.Params() {
			for i := range p.Data {
				p.Data[i] *= 1.25
			}
		}
		if tr, err = net.Backward(x, cot); err != nil {
			t.Fatal(err)
		}
		if err := net.LayerFactors(x, cot, ins, ds); err != nil {
			t.Fatal(err)
		}
		for l := 1; l < len(layers); l++ {
			if !mat.Equal(ins[l], tr.Inputs[l]) || !mat.Equal(ds[l], tr.Deltas[l]) {
				t.Errorf("%s layer %d: after a parameter change, factors differ from Backward's", tc.s.Arch, l)
			}
		}
		if err := net.LayerFactors(x, mat.NewDense(b+1, tc.s.Outputs, nil), nil, ds); err == nil {
			t.Error("LayerFactors accepted a cotangent of the wrong shape")
		}
	}
}
