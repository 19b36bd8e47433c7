package nets

import (
	"fmt"

	"gonum.org/v1/gonum/mat"

	"github.com/ntkharness/ntkharness/npy"
	"github.com/ntkharness/ntkharness/spec"
)

// LayerFactors is Backward without the parameter gradients: it runs x
// forward, backpropagates the cotangent cot ([B, k]) and copies, for every
// layer l whose destination is not nil, the layer input H_{l-1} into
// inputs[l] ([B*Positions_l, FanIn_l]) and dS/dz_l into deltas[l]
// ([B*Positions_l, FanOut_l]), rows (example, position). The destinations
// may be views into larger matrices. Structured NTKs need only these
// factors. They come from the hand-written pass of a one-member Ensemble
// that shares the network's parameters (the arithmetic of the graph's
// operations, in the same order, without the graph's per-operation cost
// and without the weight gradients the graph would compute).
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
	n.facMu.Lock()
	defer n.facMu.Unlock()
	e, err := n.view()
	if err != nil {
		return err
	}
	return e.LayerFactors(x, cot, nil, [][]*mat.Dense{inputs}, [][]*mat.Dense{deltas})
}

// ensembleView returns a one-member Ensemble over the network's
// parameters: for float64 the network's own values (shared, not copied),
// so it follows every change of the network; for float32 a float32 copy,
// which syncView brings up to date.
func (n *Net) ensembleView() (*Ensemble, error) {
	ly, err := layout(n.spec, n.inShape)
	if err != nil {
		return nil, err
	}
	e := &Ensemble{specs: []spec.Spec{n.spec}, inShape: n.InputShape(), nets: []*Net{ly}, layers: ly.layers}
	shared := make([][]float64, len(n.params))
	for i, p := range n.params {
		e.size = append(e.size, len(p.Data))
		shared[i] = p.Data
	}
	if n.spec.DType == spec.Float32 {
		e.vals, err = newEnsVals[float32](e, nil)
	} else {
		e.vals, err = newEnsVals(e, shared)
	}
	return e, err
}

// syncView sets the parameters of a float32 view to the network's (a
// float64 view shares them).
func (n *Net) syncView(e *Ensemble) {
	if e.DType() != spec.Float32 {
		return
	}
	ps := make([][]float64, len(n.params))
	for i, p := range n.params {
		ps[i] = p.Data
	}
	e.vals.setMemberParams(0, ps)
}

// view returns the network's cached ensemble view, up to date; the caller
// holds facMu.
func (n *Net) view() (*Ensemble, error) {
	if n.fac == nil {
		var err error
		if n.fac, err = n.ensembleView(); err != nil {
			return nil, err
		}
	}
	n.syncView(n.fac)
	return n.fac, nil
}

// copyInto copies the row-major r x c values src into dst, which must be
// r x c.
func copyInto[T float](dst *mat.Dense, src []T, r, c int) {
	if dr, dc := dst.Dims(); dr != r || dc != c {
		panic(fmt.Sprintf("nets: LayerFactors: destination is %dx%d, want %dx%d", dr, dc, r, c))
	}
	raw := dst.RawMatrix()
	for i := 0; i < r; i++ {
		toFloat64(raw.Data[i*raw.Stride:i*raw.Stride+c], src[i*c:(i+1)*c])
	}
}
