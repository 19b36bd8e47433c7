package nets

import (
	"testing"

	"gorgonia.org/tensor"

	"github.com/ntkharness/ntkharness/activation"
)

// BenchmarkActivationOps times the elementwise layers of every built-in
// activation, phi and its chain rule g phi', on a 512 x 512 matrix of
// pre-activations in [-2, 2] (the range of a layer at moderate variance).
func BenchmarkActivationOps(b *testing.B) {
	const r, c = 512, 512
	x := make([]float64, r*c)
	g := make([]float64, r*c)
	for i := range x {
		x[i] = float64(i%2001)/500 - 2
		g[i] = float64(i%7) - 3
	}
	xt := tensor.New(tensor.WithShape(r, c), tensor.WithBacking(x))
	gt := tensor.New(tensor.WithShape(r, c), tensor.WithBacking(g))
	out := tensor.New(tensor.WithShape(r, c), tensor.Of(tensor.Float64))
	for _, d := range activation.All() {
		fwd, chain := phiOp(d), chainOp(d)
		b.Run(d.Name+"/phi", func(b *testing.B) {
			for b.Loop() {
				if _, err := fwd.UsePreallocDo(out, xt); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(d.Name+"/chain", func(b *testing.B) {
			for b.Loop() {
				if _, err := chain.UsePreallocDo(out, xt, gt); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
