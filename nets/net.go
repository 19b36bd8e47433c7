package nets

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sync"

	"gonum.org/v1/gonum/mat"

	"github.com/ntkharness/ntkharness/npy"
	"github.com/ntkharness/ntkharness/spec"
)

// Layer describes affine layer l: z = Scale * H W + BiasScale * b.
type Layer struct {
	Name      string  // "1" ... "L", or "out" for the readout
	Conv      bool    // a convolution (rows of H are patches)
	FanIn     int     // n_in: units, or C_in f f for a convolution
	FanOut    int     // units or channels of z
	Positions int     // rows of H and z per example: Ho*Wo for a convolution, else 1
	Scale     float64 // sigma_w / sqrt(FanIn)
	BiasScale float64 // sigma_b
	W, B      int     // indices of the weight and bias in Params()
}

// Param is one trainable tensor. Data aliases the network's live values in
// row-major order: writing to it (between calls) changes the network.
type Param struct {
	Name  string
	Shape []int
	Data  []float64
}

// Net is a finite network with its parameters and its compiled graphs.
type Net struct {
	spec    spec.Spec
	inShape []int // per example: [d] for fcn, [H, W, C] for the CNNs
	layers  []Layer
	params  []Param
	geoms   []convGeom // per layer, per-example geometry (B = 1) of convolutions

	mu     sync.Mutex
	graphs map[graphKey]*graph

	facMu sync.Mutex
	fac   *Ensemble // LayerFactors' pass over the same parameters, built on first use
}

// InitStream is the PCG stream of initializations: network m of base seed
// S is drawn from PCG(S + m, InitStream).
const InitStream = 0x6e657473

// InitSource returns the random source of initialization sample m with base
// seed seed, PCG(seed + m, InitStream). Every initialization in the project
// comes from it, so nets.New(s, shape, InitSource(S, 0)) is the network that
// training with seed S starts from, and InitSource(S, m) is the m-th of the
// initializations an ensemble of seed S averages over.
func InitSource(seed uint64, m int) *rand.Rand {
	return rand.New(rand.NewPCG(seed+uint64(m), InitStream))
}

// New returns a network for s taking examples of shape inShape ([d] for
// fcn, [H, W, C] for cnn-f and cnn-gap), with every parameter drawn from
// N(0, 1) by rng.
//
// A float32 spec gives a float32 Net: its parameters are the same draws
// rounded to float32 (held in float64 slices, so Params and Save work as
// for any Net), and Forward, LayerFactors and LogitFactors run in
// float32 through a one-member float32 Ensemble holding them (rounded
// again on each call, so values written through Params are seen rounded).
// Its Gorgonia graphs are float64 only, so LossGrad, Backward and
// JacobianRows return an error: float32 networks train as an Ensemble.
func New(s spec.Spec, inShape []int, rng *rand.Rand) (*Net, error) {
	n, err := newNet(s, inShape)
	if err != nil {
		return nil, err
	}
	for _, p := range n.params {
		for i := range p.Data {
			p.Data[i] = rng.NormFloat64()
		}
	}
	n.roundParams()
	return n, nil
}

// roundParams rounds the parameters of a float32 network to float32.
func (n *Net) roundParams() {
	if n.spec.DType != spec.Float32 {
		return
	}
	for _, p := range n.params {
		for i, v := range p.Data {
			p.Data[i] = float64(float32(v))
		}
	}
}

// Spec returns the network's architecture, with defaults filled in.
func (n *Net) Spec() spec.Spec { return n.spec }

// InputShape returns the shape of one example.
func (n *Net) InputShape() []int { return append([]int(nil), n.inShape...) }

// Outputs returns k, the number of logits.
func (n *Net) Outputs() int { return n.spec.Outputs }

// Layers returns the affine layers, the readout last.
func (n *Net) Layers() []Layer { return append([]Layer(nil), n.layers...) }

// Params returns the trainable tensors in the order w1, b1, ..., w_out,
// b_out. Their Data alias the network's values.
func (n *Net) Params() []Param { return append([]Param(nil), n.params...) }

// ParamCount returns the number of trainable scalars.
func (n *Net) ParamCount() int {
	c := 0
	for _, p := range n.params {
		c += len(p.Data)
	}
	return c
}

// Forward returns f(x), one row of k logits per example of x.
func (n *Net) Forward(x npy.Array) (*mat.Dense, error) {
	nx, err := n.checkInput(x)
	if err != nil {
		return nil, err
	}
	if n.spec.DType == spec.Float32 {
		n.facMu.Lock()
		defer n.facMu.Unlock()
		e, err := n.view()
		if err != nil {
			return nil, err
		}
		out, err := e.Forward(x, nil)
		if err != nil {
			return nil, err
		}
		return out[0], nil
	}
	out := mat.NewDense(nx, n.spec.Outputs, nil)
	err = n.batches(nx, func(lo, hi int) error {
		gr, err := n.graph(kindForward, hi-lo)
		if err != nil {
			return err
		}
		if err := gr.run(n.rows(x, lo, hi), nil); err != nil {
			return err
		}
		copy(out.RawMatrix().Data[lo*n.spec.Outputs:hi*n.spec.Outputs], valueData(gr.out))
		return nil
	})
	return out, err
}

// LossGrad evaluates, on a batch, the mean squared error
//
//	L = (1/(2 B k)) sum_{i,j} (f_j(x_i) - y_ij)^2
//
// its gradient dL/dtheta for every parameter (in Params() order, aliasing
// memory that the next call overwrites) and the outputs f(x).
func (n *Net) LossGrad(x npy.Array, y *mat.Dense) (loss float64, out *mat.Dense, grads [][]float64, err error) {
	nx, err := n.checkInput(x)
	if err != nil {
		return 0, nil, nil, err
	}
	if r, c := y.Dims(); r != nx || c != n.spec.Outputs {
		return 0, nil, nil, fmt.Errorf("nets: targets are %dx%d, want %dx%d (examples x outputs)", r, c, nx, n.spec.Outputs)
	}
	gr, err := n.graph(kindTrain, nx)
	if err != nil {
		return 0, nil, nil, err
	}
	if err := gr.run(n.rows(x, 0, nx), denseData(y)); err != nil {
		return 0, nil, nil, err
	}
	grads = make([][]float64, len(n.params))
	for i := range grads {
		grads[i] = valueData(gr.grads[i])
	}
	out = mat.NewDense(nx, n.spec.Outputs, append([]float64(nil), valueData(gr.out)...))
	return valueData(gr.loss)[0], out, grads, nil
}

// Trace is one backward pass of S = sum_{i,j} cot_ij f_j(x_i) through a
// batch of B examples. Since examples do not interact, with cot one-hot in
// logit j on every example the rows of example i hold d f_j(x_i)/d z_l, and
// the per-example gradient of f_j(x_i) w.r.t. W_l is
// Scale_l * H_i^T Delta_i (sum over the example's Positions rows) and w.r.t.
// b_l is BiasScale_l * (column sums of Delta_i).
type Trace struct {
	Out    *mat.Dense   // f(x), [B, k]
	Inputs []*mat.Dense // per layer l, H_{l-1}: [B*Positions_l, FanIn_l], rows (example, position)
	Deltas []*mat.Dense // per layer l, dS/dz_l: [B*Positions_l, FanOut_l]
	Grads  [][]float64  // dS/dtheta in Params() order
}

// Backward runs x forward and backpropagates the cotangent cot ([B, k]) to
// every layer's pre-activation and to every parameter.
func (n *Net) Backward(x npy.Array, cot *mat.Dense) (*Trace, error) {
	nx, err := n.checkInput(x)
	if err != nil {
		return nil, err
	}
	if r, c := cot.Dims(); r != nx || c != n.spec.Outputs {
		return nil, fmt.Errorf("nets: cotangent is %dx%d, want %dx%d (examples x outputs)", r, c, nx, n.spec.Outputs)
	}
	gr, err := n.graph(kindVJP, nx)
	if err != nil {
		return nil, err
	}
	if err := gr.run(n.rows(x, 0, nx), denseData(cot)); err != nil {
		return nil, err
	}
	t := &Trace{Out: copyDense(gr.out)}
	np := len(n.params)
	for l := range n.layers {
		in := mat.NewDense(nx*n.layers[l].Positions, n.layers[l].FanIn, nil)
		n.copyLayerInput(in, gr, l, nx)
		t.Inputs = append(t.Inputs, in)
		if l < len(n.layers)-1 {
			t.Deltas = append(t.Deltas, copyDense(gr.grads[np+l]))
		} else {
			t.Deltas = append(t.Deltas, mat.DenseCopyOf(cot))
		}
	}
	for i := 0; i < np; i++ {
		t.Grads = append(t.Grads, append([]float64(nil), valueData(gr.grads[i])...))
	}
	return t, nil
}

// JacobianRows returns the [B, ParamCount()] matrix whose row i is
// d f_logit(x_i) / d theta, parameters flattened in Params() order.
func (n *Net) JacobianRows(x npy.Array, logit int) (*mat.Dense, error) {
	nx, err := n.checkInput(x)
	if err != nil {
		return nil, err
	}
	if logit < 0 || logit >= n.spec.Outputs {
		return nil, fmt.Errorf("nets: logit %d out of range [0, %d)", logit, n.spec.Outputs)
	}
	cot := mat.NewDense(nx, n.spec.Outputs, nil)
	for i := 0; i < nx; i++ {
		cot.Set(i, logit, 1)
	}
	t, err := n.Backward(x, cot)
	if err != nil {
		return nil, err
	}
	offsets := make([]int, len(n.params)+1)
	for i, p := range n.params {
		offsets[i+1] = offsets[i] + len(p.Data)
	}
	jac := mat.NewDense(nx, offsets[len(n.params)], nil)
	for l, ly := range n.layers {
		for i := 0; i < nx; i++ {
			lo, hi := i*ly.Positions, (i+1)*ly.Positions
			h := t.Inputs[l].Slice(lo, hi, 0, ly.FanIn)
			d := t.Deltas[l].Slice(lo, hi, 0, ly.FanOut)
			row := jac.RawRowView(i)
			gw := mat.NewDense(ly.FanIn, ly.FanOut, row[offsets[ly.W]:offsets[ly.W+1]])
			gw.Mul(h.T(), d)
			gw.Scale(ly.Scale, gw)
			gb := row[offsets[ly.B]:offsets[ly.B+1]]
			for p := 0; p < ly.Positions; p++ {
				for j := range gb {
					gb[j] += ly.BiasScale * d.At(p, j)
				}
			}
		}
	}
	return jac, nil
}

// MemoryEstimate returns an estimate in bytes of the memory a network of
// spec s on examples of shape inShape needs to train on batches of the
// given size: parameters, gradients, and the values and gradients of every
// layer's inputs (patches for convolutions) and outputs. It allocates
// nothing, so a plan can be refused before it is tried; it fails on the
// same faults as New.
func MemoryEstimate(s spec.Spec, inShape []int, batch int) (int64, error) {
	n, err := layout(s, inShape)
	if err != nil {
		return 0, err
	}
	return n.MemoryEstimate(batch), nil
}

// LayersOf returns the affine layers of a network of spec s on examples of
// shape inShape, as Layers does, without allocating its parameters.
func LayersOf(s spec.Spec, inShape []int) ([]Layer, error) {
	n, err := layout(s, inShape)
	if err != nil {
		return nil, err
	}
	return n.layers, nil
}

// ForwardFLOPs returns the multiply-adds times two of one example's forward
// pass through a network of spec s, sum over layers of
// 2 Positions FanIn FanOut; a training step costs about three times that
// per example. Like MemoryEstimate it allocates nothing.
func ForwardFLOPs(s spec.Spec, inShape []int) (float64, error) {
	n, err := layout(s, inShape)
	if err != nil {
		return 0, err
	}
	f := 0.0
	for _, ly := range n.layers {
		f += 2 * float64(ly.Positions) * float64(ly.FanIn) * float64(ly.FanOut)
	}
	return f, nil
}

// StepFLOPs returns the floating-point operations of one gradient-descent
// step per example of a network of spec s, as Ensemble.FLOPs counts them:
// 2 per multiply-add of the forward products and the weight gradients of
// every layer and of the input gradients of every layer but the first.
func StepFLOPs(s spec.Spec, inShape []int) (float64, error) {
	n, err := layout(s, inShape)
	if err != nil {
		return 0, err
	}
	return stepFLOPs(n.layers, 1), nil
}

func stepFLOPs(layers []Layer, batch int) float64 {
	f := 0.0
	for l, ly := range layers {
		mac := float64(batch) * float64(ly.Positions) * float64(ly.FanIn) * float64(ly.FanOut)
		f += 2 * mac * 2
		if l > 0 {
			f += 2 * mac
		}
	}
	return f
}

// MemoryEstimate is the package function MemoryEstimate for this network.
func (n *Net) MemoryEstimate(batch int) int64 {
	var e int64
	for _, p := range n.params {
		e += 3 * int64(npy.Size(p.Shape)) // value, gradient, update temporaries
	}
	for l, ly := range n.layers {
		rows := int64(batch) * int64(ly.Positions)
		if ly.Conv {
			g := n.geoms[l]
			e += 2 * int64(batch) * int64(g.H*g.W*g.C)                        // images and their gradient
			e += 2 * int64(min(rows, int64(convBlockRows))) * int64(ly.FanIn) // patch blocks
		} else {
			e += 2 * rows * int64(ly.FanIn) // H and its gradient
		}
		e += 6 * rows * int64(ly.FanOut) // h W, z, phi(z) and their gradients
	}
	return 8 * e
}

// maxBatch bounds the examples per graph run of Forward.
const maxBatch = 256

// batches calls f on consecutive ranges of at most maxBatch examples.
func (n *Net) batches(nx int, f func(lo, hi int) error) error {
	for lo := 0; lo < nx; lo += maxBatch {
		if err := f(lo, min(nx, lo+maxBatch)); err != nil {
			return err
		}
	}
	return nil
}

// checkInput returns the number of examples in x or an error if x does not
// fit the network.
func (n *Net) checkInput(x npy.Array) (int, error) {
	if len(x.Shape) < 2 || x.Shape[0] < 1 {
		return 0, fmt.Errorf("nets: input shape %v: want [N, %s] with N >= 1", x.Shape, shapeString(n.inShape))
	}
	if len(x.Data) != npy.Size(x.Shape) {
		return 0, fmt.Errorf("nets: input has %d values for shape %v", len(x.Data), x.Shape)
	}
	if n.spec.IsConv() {
		if len(x.Shape) != 4 || x.Shape[1] != n.inShape[0] || x.Shape[2] != n.inShape[1] || x.Shape[3] != n.inShape[2] {
			return 0, fmt.Errorf("nets: input shape %v does not fit %s: want [N, %s] images, channels last", x.Shape, n.spec.Arch, shapeString(n.inShape))
		}
	} else if _, d := x.Rows(); d != n.inShape[0] {
		return 0, fmt.Errorf("nets: input shape %v does not fit fcn: want [N, %d] (or images of %d values)", x.Shape, n.inShape[0], n.inShape[0])
	}
	for i, v := range x.Data {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return 0, fmt.Errorf("nets: input value %d is %v", i, v)
		}
	}
	return x.Shape[0], nil
}

// rows returns the data of examples lo..hi-1 of x.
func (n *Net) rows(x npy.Array, lo, hi int) []float64 {
	_, d := x.Rows()
	return x.Data[lo*d : hi*d]
}

func shapeString(s []int) string {
	str := ""
	for i, v := range s {
		if i > 0 {
			str += ", "
		}
		str += fmt.Sprint(v)
	}
	return str
}

// BLASBackend names the BLAS behind the networks' matrix products: "gonum"
// (pure Go) or "openblas" (the openblas build tag).
func BLASBackend() string { return blasBackend }

// copyLayerInput writes H_{l-1} of the last run of gr on nx examples into
// dst ([nx*Positions, FanIn], possibly a view): the layer's input rows, or
// for a convolution the patches, built from the images row by row.
func (n *Net) copyLayerInput(dst *mat.Dense, gr *graph, l, nx int) {
	ly := n.layers[l]
	rows := nx * ly.Positions
	if !ly.Conv {
		copyInto(dst, valueData(gr.ins[l]), rows, ly.FanIn)
		return
	}
	if r, c := dst.Dims(); r != rows || c != ly.FanIn {
		panic(fmt.Sprintf("nets: layer %s input destination is %dx%d, want %dx%d", ly.Name, r, c, rows, ly.FanIn))
	}
	geom := n.geoms[l]
	geom.B = nx
	im := valueData(gr.ins[l])
	raw := dst.RawMatrix()
	for r := 0; r < rows; r++ {
		im2colRows(geom, raw.Data[r*raw.Stride:r*raw.Stride+ly.FanIn], im, r, r+1)
	}
}
