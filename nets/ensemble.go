package nets

import (
	"fmt"
	"math/rand/v2"

	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/mat"

	"github.com/ntkharness/ntkharness/internal/bigmem"
	"github.com/ntkharness/ntkharness/npy"
	"github.com/ntkharness/ntkharness/spec"
)

// An Ensemble is S networks of one architecture (arch, activation, depth,
// width, filter, padding, outputs, dtype) evaluated together: member m has
// its own parameters theta_m and its own variances sw2_m, sb2_m, so its
// layer l is
//
//	z_l^m = (sigma_w^m / sqrt(n_in)) H_{l-1}^m W_l^m + sigma_b^m b_l^m,
//
// exactly the layer of a Net with spec m. The parameters of all members are
// stacked, parameter by parameter, member-major: tensor i of member m is
// the m-th of S equal-sized blocks of one slice (each starting on a
// 32-byte boundary), in the layout of the Net's Params()[i].
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
// The members share one dtype (spec.DType). A float32 ensemble holds its
// parameters and every intermediate value in float32, runs its products
// in float32 GEMM (sgemm) and its activations in float32 (package
// activation's Forward32 and Chain32); its losses are accumulated in
// float64, and its boundary (inputs, targets, outputs, gradients handed
// out) is float64, rounded on the way in. A member then agrees with the
// same member in float64 to about sum_l (n_in_l + 16) 2^-24 relative (see
// the package's Precision), and a float32 member run alone or in any
// ensemble gives the same values, bit for bit.
//
// An Ensemble is not safe for concurrent use.
type Ensemble struct {
	specs   []spec.Spec
	inShape []int
	nets    []*Net  // per member: layout only (layers with the member's scales, geometry), no graphs
	layers  []Layer // member 0's layers; FanIn, FanOut, Positions, Conv are common
	size    []int   // per parameter tensor: values per member
	vals    ensValues
}

// ensValues is the part of an Ensemble that depends on its dtype: an
// *ensVals[float64] or an *ensVals[float32].
type ensValues interface {
	dtype() string
	memberParams(m int) [][]float64        // member m's tensors, aliased (float64) or copied
	setMemberParams(m int, ps [][]float64) // sets member m's tensors, rounded to the dtype
	drawMember(m int, rng *rand.Rand)      // draws member m's tensors from N(0, 1), rounded to the dtype
	forward(x []float64, B int, active []bool) func(m int, dst []float64)
	backward(x, y []float64, B int, active []bool) []float64
	grads(active []bool) [][][]float64 // of the last backward
	factors(x, cot []float64, B int, active []bool, f *ensFactors)
	logitFactors(x []float64, B, a0, a1 int, active, inputs []bool, f FactorFunc)
	update(grads [][][]float64, lr []float64) // theta_m -= lr_m grads_m
	step(which []bool, lr []float64)          // the same with the last backward's gradients
	close()
}

// ensVals holds an ensemble's values in precision T.
type ensVals[T float] struct {
	e      *Ensemble
	params [][]T // per parameter tensor: S blocks of stride[i] >= size[i] values, member-major
	stride []int
	work   map[int]*ensWork[T]
	// logitWork holds LogitFactors' workspaces, by batch size and logits.
	logitWork map[[2]int]*ensWork[T]
	act       ensAct[T]     // the members' common activation
	last      *ensWork[T]   // the workspace of the last backward, whose gradients Step takes
	ran       []bool        // the members of the last backward
	g64       [][][]float64 // float32: the last gradients in float64, per member
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
	e := &Ensemble{inShape: append([]int(nil), inShape...)}
	for m, s := range specs {
		n, err := layout(s, inShape)
		if err != nil {
			return nil, fmt.Errorf("nets: ensemble member %d: %v", m, err)
		}
		if m > 0 {
			if n.spec.DType != e.specs[0].DType {
				return nil, fmt.Errorf("nets: ensemble member %d has dtype %s, member 0 %s: the members of an ensemble share one dtype", m, n.spec.DType, e.specs[0].DType)
			}
			if err := sameArchitecture(e.specs[0], n.spec); err != nil {
				return nil, fmt.Errorf("nets: ensemble member %d: %v", m, err)
			}
		}
		e.specs = append(e.specs, n.spec)
		e.nets = append(e.nets, n)
	}
	e.layers = e.nets[0].layers
	for _, p := range e.nets[0].params {
		e.size = append(e.size, npy.Size(p.Shape))
	}
	var err error
	if e.specs[0].DType == spec.Float32 {
		e.vals, err = newEnsVals[float32](e, nil)
	} else {
		e.vals, err = newEnsVals[float64](e, nil)
	}
	if err != nil {
		return nil, fmt.Errorf("nets: ensemble: %v", err)
	}
	// Each member has its own source, so drawing members side by side
	// gives the same values.
	parallel(true, len(rngs), e.ParamCount(), func(lo, hi int) {
		for m := lo; m < hi; m++ {
			e.vals.drawMember(m, rngs[m])
		}
	})
	return e, nil
}

// newEnsVals returns e's values in precision T: the given tensors (one
// member's, shared) or zeros for all members.
func newEnsVals[T float](e *Ensemble, shared [][]T) (*ensVals[T], error) {
	act, err := ensActOf[T](e.specs[0].Act)
	if err != nil {
		return nil, err
	}
	v := &ensVals[T]{e: e, params: shared, work: map[int]*ensWork[T]{}, logitWork: map[[2]int]*ensWork[T]{}, act: act, stride: e.size}
	if shared == nil {
		// Member blocks start on 32-byte boundaries, so every member's
		// tensors have one alignment: gonum's float32 dot kernel sums
		// the values before a 16-byte boundary first, so its rounding
		// depends on where a block starts.
		v.stride = nil
		total := 0
		for _, sz := range e.size {
			st := (sz + 7) &^ 7
			v.stride = append(v.stride, st)
			total += e.Size() * st
		}
		// One block, so that it spans whole huge pages (bigmem).
		buf := bigmem.Floats[T](total)
		for _, st := range v.stride {
			n := e.Size() * st
			v.params, buf = append(v.params, buf[:n:n]), buf[n:]
		}
	}
	return v, nil
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

// DType returns the members' dtype, spec.Float64 or spec.Float32.
func (e *Ensemble) DType() string { return e.vals.dtype() }

// Params returns member m's trainable tensors in the order of a Net's
// Params(). For a float64 ensemble their Data alias the ensemble's
// stacked values; for a float32 one they are float64 copies (write them
// back with SetParams).
func (e *Ensemble) Params(m int) []Param {
	data := e.vals.memberParams(m)
	ps := make([]Param, len(e.size))
	for i, p := range e.nets[0].params {
		ps[i] = Param{Name: p.Name, Shape: append([]int(nil), p.Shape...), Data: data[i]}
	}
	return ps
}

// SetParams sets member m's tensors to ps (in Params() order and shapes),
// rounded to the ensemble's dtype.
func (e *Ensemble) SetParams(m int, ps []Param) error {
	if len(ps) != len(e.size) {
		return fmt.Errorf("nets: %d parameter tensors for a member with %d", len(ps), len(e.size))
	}
	data := make([][]float64, len(ps))
	for i, p := range ps {
		if len(p.Data) != e.size[i] {
			return fmt.Errorf("nets: parameter %s has %d values, want %d", p.Name, len(p.Data), e.size[i])
		}
		data[i] = p.Data
	}
	e.vals.setMemberParams(m, data)
	return nil
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
// parameters (for saving, or for the Net-only tools such as Jacobians;
// a float32 member is a float32 Net, see New).
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
		get := e.vals.forward(x.Data[lo*d:hi*d], hi-lo, active)
		for m, o := range out {
			if o != nil {
				get(m, o.RawMatrix().Data[lo*k:hi*k])
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
// overwrites (for a float32 ensemble, float64 copies of its gradients,
// which Backward and Step avoid). Inactive members get loss 0 and nil outputs and
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
	loss, out = e.backward(x.Data, denseData(y), nx, active)
	return loss, out, e.vals.grads(active), nil
}

// Backward is LossGrad without handing out the gradients: it keeps them,
// in the ensemble's dtype, for Step (or Grads). Training a float32
// ensemble this way spares converting every gradient to float64 and back.
func (e *Ensemble) Backward(x npy.Array, y *mat.Dense, active []bool) (loss []float64, out []*mat.Dense, err error) {
	nx, err := e.check(x, active)
	if err != nil {
		return nil, nil, err
	}
	if r, c := y.Dims(); r != nx || c != e.Outputs() {
		return nil, nil, fmt.Errorf("nets: targets are %dx%d, want %dx%d (examples x outputs)", r, c, nx, e.Outputs())
	}
	loss, out = e.backward(x.Data, denseData(y), nx, active)
	return loss, out, nil
}

// Grads returns the gradients of the last LossGrad or Backward as
// LossGrad does (float64 copies for a float32 ensemble).
func (e *Ensemble) Grads(active []bool) [][][]float64 { return e.vals.grads(active) }

func (e *Ensemble) backward(x, y []float64, nx int, active []bool) ([]float64, []*mat.Dense) {
	loss := e.vals.backward(x, y, nx, active)
	get := e.vals.forward(nil, nx, nil) // the outputs of the pass just run
	out := make([]*mat.Dense, e.Size())
	for m := range out {
		if isActive(active, m) {
			out[m] = mat.NewDense(nx, e.Outputs(), nil)
			get(m, out[m].RawMatrix().Data)
		}
	}
	return loss, out
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
	inputs, deltas = e.factorDestinations("LayerFactors", inputs, deltas)
	e.vals.factors(x.Data, denseData(cot), nx, active, &ensFactors{inputs: inputs, deltas: deltas})
	return nil
}

// factorDestinations returns the per-member, per-layer destinations of
// the factor passes with nil lists made empty ones of S members; it
// panics, naming the method, when a list does not fit the ensemble.
func (e *Ensemble) factorDestinations(method string, inputs, deltas [][]*mat.Dense) ([][]*mat.Dense, [][]*mat.Dense) {
	S, L := e.Size(), len(e.layers)
	if inputs == nil {
		inputs = make([][]*mat.Dense, S)
	}
	if deltas == nil {
		deltas = make([][]*mat.Dense, S)
	}
	if len(inputs) != S || len(deltas) != S {
		panic(fmt.Sprintf("nets: %s: input and delta destinations for %d and %d members, want %d", method, len(inputs), len(deltas), S))
	}
	for m := 0; m < S; m++ {
		if (inputs[m] != nil && len(inputs[m]) != L) || (deltas[m] != nil && len(deltas[m]) != L) {
			panic(fmt.Sprintf("nets: %s: member %d has %d input and %d delta destinations for %d layers", method, m, len(inputs[m]), len(deltas[m]), L))
		}
	}
	return inputs, deltas
}

// Update takes a gradient step for every member m with grads[m] != nil:
//
//	theta_m <- theta_m - lr[m] grads[m],
//
// grads[m] in Params() order (as LossGrad returns them), members updated
// side by side on the available cores. It panics if the lengths do not fit.
// A float32 ensemble computes each new value in float64 and rounds it once.
func (e *Ensemble) Update(grads [][][]float64, lr []float64) {
	if len(grads) != e.Size() || len(lr) != e.Size() {
		panic(fmt.Sprintf("nets: Update of %d members with %d gradients and %d step sizes", e.Size(), len(grads), len(lr)))
	}
	e.vals.update(grads, lr)
}

// Step is Update with the gradients of the last LossGrad or Backward, for
// the members m with which[m] (which nil: all the pass ran), in the
// ensemble's dtype: it gives the parameters Update(Grads(nil), lr) gives.
// Forward passes in between do not disturb it; a LayerFactors pass over
// the same batch size does (Step then panics).
func (e *Ensemble) Step(which []bool, lr []float64) {
	if (which != nil && len(which) != e.Size()) || len(lr) != e.Size() {
		panic(fmt.Sprintf("nets: Step of %d members with %d flags and %d step sizes", e.Size(), len(which), len(lr)))
	}
	e.vals.step(which, lr)
}

// FLOPs returns the floating-point operations of one LossGrad step of one
// member on batch examples, counting 2 multiply-adds per product entry:
// the forward products, the weight gradients, and the input gradients of
// every layer but the first (which a step does not need).
func (e *Ensemble) FLOPs(batch int) float64 { return stepFLOPs(e.layers, batch) }

// Close releases the work buffers; the Ensemble stays usable.
func (e *Ensemble) Close() { e.vals.close() }

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
func (v *ensVals[T]) workspace(nx int) *ensWork[T] {
	if w, ok := v.work[nx]; ok {
		return w
	}
	if len(v.work) >= 3 {
		clear(v.work) // v.last keeps its workspace alive for Step
	}
	w := newEnsWork(v, nx, 1, true)
	v.work[nx] = w
	return w
}

func (v *ensVals[T]) dtype() string {
	if _, ok := any(v.params).([][]float32); ok {
		return spec.Float32
	}
	return spec.Float64
}

func (v *ensVals[T]) block(i, m int) []T {
	st, sz := v.stride[i], v.e.size[i]
	return v.params[i][m*st : m*st+sz : m*st+sz]
}

func (v *ensVals[T]) memberParams(m int) [][]float64 {
	out := make([][]float64, len(v.params))
	for i := range v.params {
		blk := v.block(i, m)
		if b, ok := any(blk).([]float64); ok {
			out[i] = b
		} else {
			out[i] = toFloat64(nil, blk)
		}
	}
	return out
}

func (v *ensVals[T]) drawMember(m int, rng *rand.Rand) {
	for i := range v.params {
		blk := v.block(i, m)
		for j := range blk {
			blk[j] = T(rng.NormFloat64())
		}
	}
}

func (v *ensVals[T]) setMemberParams(m int, ps [][]float64) {
	for i, p := range ps {
		blk := v.block(i, m)
		for j, x := range p {
			blk[j] = T(x)
		}
	}
}

// forward runs the active members on the batch x of B examples (x nil:
// reads the outputs of the last pass over B examples) and returns the
// function that copies member m's outputs into dst.
func (v *ensVals[T]) forward(x []float64, B int, active []bool) func(m int, dst []float64) {
	w := v.workspace(B)
	if x != nil {
		w.run(x, nil, active)
	}
	L := len(v.e.layers) - 1
	return func(m int, dst []float64) {
		toFloat64(dst, w.z[L][m*w.zSize[L]:][:len(dst)])
	}
}

func (v *ensVals[T]) backward(x, y []float64, B int, active []bool) []float64 {
	w := v.workspace(B)
	v.last, v.ran = w, make([]bool, v.e.Size())
	for m := range v.ran {
		v.ran[m] = isActive(active, m)
	}
	return w.run(x, y, active)
}

func (v *ensVals[T]) grads(active []bool) [][][]float64 {
	w, S := v.last, v.e.Size()
	if w == nil {
		panic("nets: Grads without a LossGrad or Backward before it")
	}
	grads := make([][][]float64, S)
	if v.g64 == nil {
		v.g64 = make([][][]float64, S)
	}
	for m := 0; m < S; m++ {
		if !isActive(active, m) {
			continue
		}
		grads[m] = make([][]float64, len(v.e.size))
		for i, sz := range v.e.size {
			g := w.grads[i][m*sz : (m+1)*sz : (m+1)*sz]
			if g64, ok := any(g).([]float64); ok {
				grads[m][i] = g64
				continue
			}
			if v.g64[m] == nil {
				v.g64[m] = make([][]float64, len(v.e.size))
			}
			v.g64[m][i] = toFloat64(v.g64[m][i], g)
			grads[m][i] = v.g64[m][i]
		}
	}
	return grads
}

func (v *ensVals[T]) factors(x, cot []float64, B int, active []bool, f *ensFactors) {
	w := v.workspace(B)
	if w == v.last {
		v.last = nil // the factors pass overwrites the bias gradients
	}
	w.fac = f
	defer func() { w.fac = nil }()
	w.run(x, cot, active)
}

func (v *ensVals[T]) update(grads [][][]float64, lr []float64) {
	parallel(true, v.e.Size(), v.e.ParamCount(), func(lo, hi int) {
		for m := lo; m < hi; m++ {
			if grads[m] != nil {
				for i := range v.e.size {
					addScaled(v.block(i, m), -lr[m], grads[m][i])
				}
			}
		}
	})
}

func (v *ensVals[T]) step(which []bool, lr []float64) {
	w := v.last
	if w == nil {
		panic("nets: Step without a LossGrad or Backward before it")
	}
	do := make([]bool, v.e.Size())
	for m, r := range v.ran {
		do[m] = r && isActive(which, m)
	}
	parallel(true, v.e.Size(), v.e.ParamCount(), func(lo, hi int) {
		for m := lo; m < hi; m++ {
			if do[m] {
				for i, sz := range v.e.size {
					addScaled(v.block(i, m), -lr[m], w.grads[i][m*sz:(m+1)*sz])
				}
			}
		}
	})
}

func (v *ensVals[T]) close() {
	clear(v.work)
	clear(v.logitWork)
	v.last, v.ran, v.g64 = nil, nil, nil
}

// addScaled sets dst[i] += alpha s[i], in float64 (floats.AddScaled) and
// for float32 destinations rounded once.
func addScaled[T, S float](dst []T, alpha float64, s []S) {
	if d, ok := any(dst).([]float64); ok {
		if s64, ok := any(s).([]float64); ok {
			floats.AddScaled(d, alpha, s64)
			return
		}
	}
	for i, x := range s {
		dst[i] = T(float64(dst[i]) + alpha*float64(x))
	}
}

// toFloat64 returns src in float64, in dst (grown to len(src) if needed).
func toFloat64[T float](dst []float64, src []T) []float64 {
	if len(dst) < len(src) {
		dst = make([]float64, len(src))
	}
	dst = dst[:len(src)]
	if s, ok := any(src).([]float64); ok {
		copy(dst, s)
		return dst
	}
	for i, x := range src {
		dst[i] = float64(x)
	}
	return dst
}
