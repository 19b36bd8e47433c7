package nets

import (
	"fmt"

	"gonum.org/v1/gonum/mat"

	"github.com/ntkharness/ntkharness/npy"
)

// LayerFactors is Backward without the parameter gradients and without
// allocation: it runs x forward, backpropagates the cotangent cot ([B, k])
// and copies, for every layer l whose destination is not nil, the layer
// input H_{l-1} into inputs[l] ([B*Positions_l, FanIn_l]) and dS/dz_l into
// deltas[l] ([B*Positions_l, FanOut_l]), rows (example, position). The
// destinations may be views into larger matrices. Structured NTKs need
// only these factors, and skipping the copies of every parameter gradient
// saves a pass over all parameters per call.
func (n *Net) LayerFactors(x npy.Array, cot *mat.Dense, inputs, deltas []*mat.Dense) error {
	nx, err := n.checkInput(x)
	if err != nil {
		return err
	}
	if r, c := cot.Dims(); r != nx || c != n.spec.Outputs {
		return fmt.Errorf("nets: cotangent is %dx%d, want %dx%d (examples x outputs)", r, c, nx, n.spec.Outputs)
	}
	if (inputs != nil && len(inputs) != len(n.layers)) || (deltas != nil && len(deltas) != len(n.layers)) {
		panic(fmt.Sprintf("nets: LayerFactors: %d input and %d delta destinations for %d layers", len(inputs), len(deltas), len(n.layers)))
	}
	gr, err := n.graph(kindVJP, nx)
	if err != nil {
		return err
	}
	if err := gr.run(n.rows(x, 0, nx), denseData(cot)); err != nil {
		return err
	}
	np := len(n.params)
	for l, ly := range n.layers {
		rows := nx * ly.Positions
		if inputs != nil && inputs[l] != nil {
			n.copyLayerInput(inputs[l], gr, l, nx)
		}
		if deltas != nil && deltas[l] != nil {
			if l < len(n.layers)-1 {
				copyInto(deltas[l], valueData(gr.grads[np+l]), rows, ly.FanOut)
			} else {
				deltas[l].Copy(cot)
			}
		}
	}
	return nil
}

// copyInto copies the row-major r x c values src into dst, which must be
// r x c.
func copyInto(dst *mat.Dense, src []float64, r, c int) {
	if dr, dc := dst.Dims(); dr != r || dc != c {
		panic(fmt.Sprintf("nets: LayerFactors: destination is %dx%d, want %dx%d", dr, dc, r, c))
	}
	raw := dst.RawMatrix()
	for i := 0; i < r; i++ {
		copy(raw.Data[i*raw.Stride:i*raw.Stride+c], src[i*c:(i+1)*c])
	}
}
