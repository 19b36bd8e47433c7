package nets

import (
	"fmt"
	"math/rand/v2"

	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/mat"

	"github.com/ntkharness/ntkharness/npy"
	"github.com/ntkharness/ntkharness/spec"
)

// An Ensemble is S networks of one architecture (arch, activation, depth,
// width, filter, padding, outputs) evaluated together: member m has its own
// parameters theta_m and its own variances sw2_m, sb2_m, so its layer l is
//
//	z_l^m = (sigma_w^m / sqrt(n_in)) H_{l-1}^m W_l^m + sigma_b^m b_l^m,
//
// exactly the layer of a Net with spec m. The parameters of all members are
// stacked, parameter by parameter, member-major: tensor i of member m is
// the m-th of S equal-sized blocks of one slice, in the layout of the
// Net's Params()[i].
//
// One call of Forward, LossGrad or LayerFactors is one pass over the
// layers for all members: layer l is a batch of S matrix products, one
// BLAS call per member on its own stacked block (for convolutions, on row
// blocks of patches as in a Net). Members are independent, so the pass
// shares them out among goroutines, one per core, each running whole
// members (forward, loss, reverse) on single-threaded BLAS with no
// synchronization; a lone member instead uses threaded BLAS and splits its
// elementwise stages across cores. There is no Gorgonia graph: the passes
// are written out by hand (ensemble_pass.go), since a graph would only
// add its per-operation cost and a copy of every value without saving
// arithmetic. The arithmetic is that of the Net's operations, in the same
// order, so a member's loss, gradient and factors agree with those of its
// own Net to rounding (in tests, bit for bit).
//
// An Ensemble is not safe for concurrent use.
type Ensemble struct {
	specs   []spec.Spec
	inShape []int
	nets    []*Net      // per member: layout only (layers with the member's scales, geometry), no graphs
	layers  []Layer     // member 0's layers; FanIn, FanOut, Positions, Conv are common
	params  [][]float64 // per parameter tensor: S blocks of size[i], member-major
	size    []int       // per parameter tensor: values per member
	work    map[int]*ensWork
	act     ensAct // the members' common activation
}

// NewEnsemble returns the ensemble of S = len(specs) networks for examples
// of shape inShape; member m's parameters are drawn from rngs[m] in the
// same order as New(specs[m], inShape, rngs[m]) draws them, so they are
// equal to that network's. The specs must agree in everything but SW2 and
// SB2.
func NewEnsemble(specs []spec.Spec, inShape []int, rngs []*rand.Rand) (*Ensemble, error) {
	if len(specs) == 0 {
		return nil, fmt.Errorf("nets: ensemble of no networks: give at least one spec")
	}
	if len(rngs) != len(specs) {
		return nil, fmt.Errorf("nets: ensemble of %d specs has %d random sources, want one per member", len(specs), len(rngs))
	}
	e := &Ensemble{inShape: append([]int(nil), inShape...), work: map[int]*ensWork{}}
	for m, s := range specs {
		n, err := layout(s, inShape)
		if err != nil {
			return nil, fmt.Errorf("nets: ensemble member %d: %v", m, err)
		}
		if m > 0 {
			if err := sameArchitecture(e.specs[0], n.spec); err != nil {
				return nil, fmt.Errorf("nets: ensemble member %d: %v", m, err)
			}
		}
		if m == 0 {
			if e.act, err = ensActOf(n.spec.Act); err != nil {
				return nil, fmt.Errorf("nets: ensemble: %v", err)
			}
		}
		e.specs = append(e.specs, n.spec)
		e.nets = append(e.nets, n)
	}
	e.layers = e.nets[0].layers
	S := len(specs)
	for _, p := range e.nets[0].params {
		sz := npy.Size(p.Shape)
		e.size = append(e.size, sz)
		e.params = append(e.params, make([]float64, S*sz))
	}
	for m, rng := range rngs {
		for i, sz := range e.size {
			blk := e.params[i][m*sz : (m+1)*sz]
			for j := range blk {
				blk[j] = rng.NormFloat64()
			}
		}
	}
	return e, nil
}

// sameArchitecture reports how b differs from a in anything but the
// variances.
func sameArchitecture(a, b spec.Spec) error {
	a.SW2, a.SB2 = b.SW2, b.SB2
	if a != b {
		return fmt.Errorf("spec %+v differs from member 0's %+v in more than sw2 and sb2", b, a)
	}
	return nil
}

// Size returns S, the number of members.
func (e *Ensemble) Size() int { return len(e.specs) }

// Spec returns member m's spec, with defaults filled in.
func (e *Ensemble) Spec(m int) spec.Spec { return e.specs[m] }

// InputShape returns the shape of one example.
func (e *Ensemble) InputShape() []int { return append([]int(nil), e.inShape...) }

// Outputs returns k, the number of logits of every member.
func (e *Ensemble) Outputs() int { return e.specs[0].Outputs }

// Layers returns member m's affine layers (Scale and BiasScale are the
// member's), the readout last.
func (e *Ensemble) Layers(m int) []Layer { return append([]Layer(nil), e.nets[m].layers...) }

// Params returns member m's trainable tensors in the order of a Net's
// Params(); their Data alias the ensemble's stacked values.
func (e *Ensemble) Params(m int) []Param {
	ps := make([]Param, len(e.params))
	for i, p := range e.nets[0].params {
		sz := e.size[i]
		ps[i] = Param{Name: p.Name, Shape: append([]int(nil), p.Shape...), Data: e.params[i][m*sz : (m+1)*sz : (m+1)*sz]}
	}
	return ps
}

// ParamCount returns the number of trainable scalars of one member.
func (e *Ensemble) ParamCount() int {
	c := 0
	for _, sz := range e.size {
		c += sz
	}
	return c
}

// Member returns member m as a stand-alone Net holding a copy of its
// parameters (for saving, or for the Net-only tools such as Jacobians).
func (e *Ensemble) Member(m int) *Net {
	n, err := newNet(e.specs[m], e.inShape)
	if err != nil {
		panic(fmt.Sprintf("nets: member %d of a valid ensemble: %v", m, err))
	}
	for i, p := range e.Params(m) {
		copy(n.params[i].Data, p.Data)
	}
	return n
}

// Forward returns f_m(x) for every member m ([N, k] each); members with
// active[m] false (active nil: all are active) are skipped and get nil.
// Like a Net it runs at most 256 examples at a time.
func (e *Ensemble) Forward(x npy.Array, active []bool) ([]*mat.Dense, error) {
	nx, err := e.check(x, active)
	if err != nil {
		return nil, err
	}
	k := e.Outputs()
	out := make([]*mat.Dense, e.Size())
	for m := range out {
		if isActive(active, m) {
			out[m] = mat.NewDense(nx, k, nil)
		}
	}
	_, d := x.Rows()
	for lo := 0; lo < nx; lo += maxBatch {
		hi := min(nx, lo+maxBatch)
		w := e.workspace(hi - lo)
		w.run(x.Data[lo*d:hi*d], nil, active)
		zo := w.z[len(e.layers)-1]
		for m, o := range out {
			if o != nil {
				copy(o.RawMatrix().Data[lo*k:hi*k], zo[m*w.zSize[len(e.layers)-1]:][:(hi-lo)*k])
			}
		}
	}
	return out, nil
}

// LossGrad evaluates, for every active member m (active nil: all) on one
// batch, the mean squared error
//
//	L_m = (1/(2 B k)) sum_{i,j} (f_j(x_i; theta_m) - y_ij)^2,
//
// its gradient dL_m/dtheta_m and the outputs f(x; theta_m), in one forward
// and one reverse pass over the layers for all members. grads[m] lists the
// member's gradients in Params() order; they alias memory the next call
// overwrites. Inactive members get loss 0 and nil outputs and
// gradients, and cost nothing.
func (e *Ensemble) LossGrad(x npy.Array, y *mat.Dense, active []bool) (loss []float64, out []*mat.Dense, grads [][][]float64, err error) {
	nx, err := e.check(x, active)
	if err != nil {
		return nil, nil, nil, err
	}
	k := e.Outputs()
	if r, c := y.Dims(); r != nx || c != k {
		return nil, nil, nil, fmt.Errorf("nets: targets are %dx%d, want %dx%d (examples x outputs)", r, c, nx, k)
	}
	w := e.workspace(nx)
	loss = w.run(x.Data, denseData(y), active)
	S := e.Size()
	out = make([]*mat.Dense, S)
	grads = make([][][]float64, S)
	L := len(e.layers) - 1
	for m := 0; m < S; m++ {
		if !isActive(active, m) {
			continue
		}
		out[m] = mat.NewDense(nx, k, append([]float64(nil), w.z[L][m*w.zSize[L]:][:nx*k]...))
		grads[m] = make([][]float64, len(e.size))
		for i, sz := range e.size {
			grads[m][i] = w.grads[i][m*sz : (m+1)*sz : (m+1)*sz]
		}
	}
	return loss, out, grads, nil
}

// LayerFactors is Net.LayerFactors for every active member m, in one
// pass: it runs x forward, backpropagates the cotangent cot ([B, k]) and
// copies member m's layer inputs H_{l-1} into inputs[m][l]
// ([B*Positions_l, FanIn_l]) and its dS/dz_l into deltas[m][l]
// ([B*Positions_l, FanOut_l]), S = sum_ij cot_ij f_j(x_i; theta_m), for
// the destinations that are not nil (inputs or deltas may be nil, as may
// a member's list). The destinations may be views into larger matrices.
func (e *Ensemble) LayerFactors(x npy.Array, cot *mat.Dense, active []bool, inputs, deltas [][]*mat.Dense) error {
	nx, err := e.check(x, active)
	if err != nil {
		return err
	}
	if r, c := cot.Dims(); r != nx || c != e.Outputs() {
		return fmt.Errorf("nets: cotangent is %dx%d, want %dx%d (examples x outputs)", r, c, nx, e.Outputs())
	}
	S, L := e.Size(), len(e.layers)
	if inputs == nil {
		inputs = make([][]*mat.Dense, S)
	}
	if deltas == nil {
		deltas = make([][]*mat.Dense, S)
	}
	if len(inputs) != S || len(deltas) != S {
		panic(fmt.Sprintf("nets: LayerFactors: input and delta destinations for %d and %d members, want %d", len(inputs), len(deltas), S))
	}
	for m := 0; m < S; m++ {
		if (inputs[m] != nil && len(inputs[m]) != L) || (deltas[m] != nil && len(deltas[m]) != L) {
			panic(fmt.Sprintf("nets: LayerFactors: member %d has %d input and %d delta destinations for %d layers", m, len(inputs[m]), len(deltas[m]), L))
		}
	}
	w := e.workspace(nx)
	w.fac = &ensFactors{inputs: inputs, deltas: deltas}
	defer func() { w.fac = nil }()
	w.run(x.Data, denseData(cot), active)
	return nil
}

// Update takes a gradient step for every member m with grads[m] != nil:
//
//	theta_m <- theta_m - lr[m] grads[m],
//
// grads[m] in Params() order (as LossGrad returns them), members updated
// side by side on the available cores. It panics if the lengths do not fit.
func (e *Ensemble) Update(grads [][][]float64, lr []float64) {
	if len(grads) != e.Size() || len(lr) != e.Size() {
		panic(fmt.Sprintf("nets: Update of %d members with %d gradients and %d step sizes", e.Size(), len(grads), len(lr)))
	}
	parallel(true, e.Size(), e.ParamCount(), func(lo, hi int) {
		for m := lo; m < hi; m++ {
			if grads[m] == nil {
				continue
			}
			for i, sz := range e.size {
				floats.AddScaled(e.params[i][m*sz:(m+1)*sz], -lr[m], grads[m][i])
			}
		}
	})
}

// FLOPs returns the floating-point operations of one LossGrad step of one
// member on batch examples, counting 2 multiply-adds per product entry:
// the forward products, the weight gradients, and the input gradients of
// every layer but the first (which a step does not need).
func (e *Ensemble) FLOPs(batch int) float64 {
	f := 0.0
	for l, ly := range e.layers {
		mac := float64(batch) * float64(ly.Positions) * float64(ly.FanIn) * float64(ly.FanOut)
		f += 2 * mac * 2
		if l > 0 {
			f += 2 * mac
		}
	}
	return f
}

// Close releases the work buffers; the Ensemble stays usable.
func (e *Ensemble) Close() { clear(e.work) }

func isActive(active []bool, m int) bool { return active == nil || active[m] }

// check validates x (as a Net would) and the mask.
func (e *Ensemble) check(x npy.Array, active []bool) (int, error) {
	if active != nil && len(active) != e.Size() {
		return 0, fmt.Errorf("nets: active mask has %d entries for %d members", len(active), e.Size())
	}
	return e.nets[0].checkInput(x)
}

// workspace returns the buffers for batches of nx examples, keeping at
// most three batch sizes (say training set, test set and minibatch).
func (e *Ensemble) workspace(nx int) *ensWork {
	if w, ok := e.work[nx]; ok {
		return w
	}
	if len(e.work) >= 3 {
		clear(e.work)
	}
	w := newEnsWork(e, nx, true)
	e.work[nx] = w
	return w
}
