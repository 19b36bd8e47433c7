package nets

import (
	"fmt"

	"gonum.org/v1/gonum/mat"

	"github.com/ntkharness/ntkharness/npy"
	"github.com/ntkharness/ntkharness/spec"
)

// LogitFactors gives the layer factors of a structured NTK for the logits
// a0..a1-1 (c = a1 - a0 of them) of every active member m (active nil:
// all), in one pass: x (B examples) runs forward once, and the one-hot
// cotangents of the c logits run backward together, as B c
// pseudo-examples (i, a), so the reverse pass's products have c times the
// rows of one logit's. Since examples do not interact, row (i, a, p) of
// layer l's reverse values is d f_{a0+a}(x_i) / d z_l at position p.
// For every layer l whose destination is not nil it copies member m's
// layer input H_{l-1} into inputs[m][l] ([B P_l, FanIn_l], rows (i, p))
// and the deltas into deltas[m][l] ([B c P_l, FanOut_l], rows (i, a, p)).
// Destinations may be views into larger matrices. The deltas are those
// of LayerFactors with a one-hot cotangent, to rounding: the reverse pass
// multiplies by phi'(z), computed once per pass, rather than applying the
// activation's chain rule per logit. No parameter gradient is formed.
func (e *Ensemble) LogitFactors(x npy.Array, a0, a1 int, active []bool, inputs, deltas [][]*mat.Dense) error {
	inputs, deltas = e.factorDestinations("LogitFactors", inputs, deltas)
	want := make([]bool, len(e.layers))
	for m := range inputs {
		for l := range want {
			want[l] = want[l] || (inputs[m] != nil && inputs[m][l] != nil)
		}
	}
	return e.LogitFactorsFunc(x, a0, a1, active, want, func(m, l int, h, d *mat.Dense) {
		if dst := inputs[m]; dst != nil && dst[l] != nil {
			copyFactor(dst[l], h)
		}
		if dst := deltas[m]; dst != nil && dst[l] != nil {
			copyFactor(dst[l], d)
		}
	})
}

// A FactorFunc receives member m's factors of layer l from a
// LogitFactorsFunc pass: the layer input H_{l-1} ([B P_l, FanIn_l]; nil
// unless asked for) and the deltas ([B c P_l, FanOut_l], rows (i, a, p)),
// both contiguous. They are valid only during the call and must not be
// written: for a float64 network they are the pass's own values.
type FactorFunc func(m, l int, h, d *mat.Dense)

// LogitFactorsFunc is LogitFactors handing the factors to f, layer by
// layer from the readout down, instead of copying them: the inputs of the
// layers l with inputs[l] (inputs nil: none), and the deltas. Calls for
// different members may run at once, on goroutines whose BLAS is
// single-threaded (see Ensemble); a lone member's on threaded BLAS.
func (e *Ensemble) LogitFactorsFunc(x npy.Array, a0, a1 int, active, inputs []bool, f FactorFunc) error {
	nx, err := e.check(x, active)
	if err != nil {
		return err
	}
	if k := e.Outputs(); a0 < 0 || a1 > k || a0 >= a1 {
		return fmt.Errorf("nets: logits %d..%d: want a range within 0..%d", a0, a1-1, k-1)
	}
	if inputs != nil && len(inputs) != len(e.layers) {
		panic(fmt.Sprintf("nets: LogitFactorsFunc: inputs of %d layers asked for, the network has %d", len(inputs), len(e.layers)))
	}
	if inputs == nil {
		inputs = make([]bool, len(e.layers))
	}
	e.vals.logitFactors(x.Data, nx, a0, a1, active, inputs, f)
	return nil
}

// LogitFactors is Ensemble.LogitFactors for the network (through its
// one-member view): inputs[l] is [B P_l, FanIn_l], deltas[l]
// [B c P_l, FanOut_l] with rows (i, a, p).
func (n *Net) LogitFactors(x npy.Array, a0, a1 int, inputs, deltas []*mat.Dense) error {
	return n.withView(x, func(e *Ensemble) error {
		return e.LogitFactors(x, a0, a1, nil, [][]*mat.Dense{inputs}, [][]*mat.Dense{deltas})
	})
}

// LogitFactorsFunc is Ensemble.LogitFactorsFunc for the network; f's
// member is always 0.
func (n *Net) LogitFactorsFunc(x npy.Array, a0, a1 int, inputs []bool, f FactorFunc) error {
	return n.withView(x, func(e *Ensemble) error { return e.LogitFactorsFunc(x, a0, a1, nil, inputs, f) })
}

// withView checks x and calls run with the network's ensemble view.
func (n *Net) withView(x npy.Array, run func(e *Ensemble) error) error {
	if _, err := n.checkInput(x); err != nil {
		return err
	}
	n.facMu.Lock()
	defer n.facMu.Unlock()
	e, err := n.view()
	if err != nil {
		return err
	}
	return run(e)
}

// copyFactor copies src into dst of the same shape (possibly a view).
func copyFactor(dst, src *mat.Dense) {
	if dr, dc := dst.Dims(); dr != src.RawMatrix().Rows || dc != src.RawMatrix().Cols {
		r, c := src.Dims()
		panic(fmt.Sprintf("nets: LogitFactors: destination is %dx%d, want %dx%d", dr, dc, r, c))
	}
	dst.Copy(src)
}

// LogitFactorsMemory returns the bytes a network of spec s on examples of
// shape inShape holds for LogitFactors of c logits on batch examples, per
// member: its parameters, the forward values (z and phi(z) of every
// layer) and the two reverse buffers of batch c rows. It allocates
// nothing.
func LogitFactorsMemory(s spec.Spec, inShape []int, batch, c int) (int64, error) {
	n, err := layout(s, inShape)
	if err != nil {
		return 0, err
	}
	return n.LogitFactorsMemory(batch, c), nil
}

// LogitFactorsMemory is the package function LogitFactorsMemory for this
// network.
func (n *Net) LogitFactorsMemory(batch, c int) int64 {
	var v int64
	for _, p := range n.params {
		v += int64(npy.Size(p.Shape))
	}
	maxSize := int64(0)
	for _, ly := range n.layers {
		rows := int64(batch) * int64(ly.Positions)
		v += 2 * rows * int64(ly.FanOut) // z, phi(z)
		if ly.Conv {
			v += min(rows*int64(c), int64(convBlockRows)) * int64(ly.FanIn) // patch block
		}
		maxSize = max(maxSize, rows*int64(ly.FanOut))
	}
	return 8 * (v + 2*int64(c)*maxSize)
}

func (v *ensVals[T]) logitFactors(x []float64, B, a0, a1 int, active, inputs []bool, f FactorFunc) {
	c := a1 - a0
	key := [2]int{B, c}
	w, ok := v.logitWork[key]
	if !ok {
		if len(v.logitWork) >= 2 { // a block size and the last block's
			clear(v.logitWork)
		}
		w = newEnsWork(v, B, c, false)
		v.logitWork[key] = w
	}
	w.each(x, active, func(m int, col []T, split bool) {
		w.forwardMember(m, col, split)
		w.logitBackward(m, a0, a1, col, split, inputs, f)
	})
}

// logitBackward runs member m's reverse pass from the one-hot cotangents
// of logits a0..a1-1 on the B c pseudo-examples (i, a) of w.rev, handing
// the factors to f (the inputs of the layers in inputs). It overwrites z
// of the hidden layers with phi'(z).
func (w *ensWork[T]) logitBackward(m, a0, a1 int, col []T, split bool, inputs []bool, f FactorFunc) {
	e, r := w.e, w.rev
	L := len(e.layers) - 1
	c := a1 - a0
	k := e.layers[L].FanOut
	g := w.gA[m*r.maxSize:][:r.maxSize]
	gNext := w.gB[m*r.maxSize:][:r.maxSize]
	clear(g[:r.zSize[L]])
	for i := 0; i < r.B; i++ {
		g[i*k+a0+i%c] = 1
	}
	for l := L; l >= 0; l-- {
		ly := e.layers[l]
		gl := g[:r.zSize[l]]
		var h *mat.Dense
		if inputs[l] {
			if in, ok := any(w.input(l, m)).([]float64); ok && !ly.Conv {
				h = mat.NewDense(w.B*ly.Positions, ly.FanIn, in)
			} else {
				h = mat.NewDense(w.B*ly.Positions, ly.FanIn, nil)
				w.copyInput(h, l, m)
			}
		}
		f(m, l, h, denseOf(gl, r.B*ly.Positions, ly.FanOut))
		if l == 0 {
			break
		}
		scale := T(e.nets[m].layers[l].Scale)
		parallel(split, len(gl)/ly.FanOut, ly.FanOut, func(lo, hi int) {
			for j := lo * ly.FanOut; j < hi*ly.FanOut; j++ {
				gl[j] *= scale
			}
		})
		wt, _ := w.weight(l, m)
		dh := gNext[:r.zSize[l-1]]
		r.inputGrad(l, m, gl, wt, dh, col)
		// Through phi of layer l-1: phi'(z) once per example, then
		// every logit's rows.
		n := e.layers[l-1].FanOut
		ps := w.zSize[l-1]
		per := ps / w.B // values of one example
		zp, hp := w.z[l-1][m*ps:][:ps], w.h[l-1][m*ps:][:ps]
		parallel(split, w.B, per*(c+1), func(lo, hi int) {
			ones := make([]T, n)
			for j := lo * per; j < hi*per; j += n {
				for u := range ones {
					ones[u] = 1
				}
				w.act.bwd(ones, zp[j:j+n], hp[j:j+n])
				copy(zp[j:j+n], ones)
			}
			for i := lo; i < hi; i++ {
				d := zp[i*per:][:per]
				for a := 0; a < c; a++ {
					blk := dh[(i*c+a)*per:][:per]
					for u, v := range d {
						blk[u] *= v
					}
				}
			}
		})
		g, gNext = gNext, g
	}
}

// denseOf returns the r x c row-major values v as a matrix: v itself for
// float64, else a float64 copy.
func denseOf[T float](v []T, r, c int) *mat.Dense {
	if d, ok := any(v).([]float64); ok {
		return mat.NewDense(r, c, d[:r*c:r*c])
	}
	return mat.NewDense(r, c, toFloat64(nil, v[:r*c]))
}
