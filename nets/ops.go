package nets

import (
	"fmt"
	"hash"
	"hash/fnv"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/ntkharness/ntkharness/activation"
)

// matOp is a Gorgonia operation on float64 matrices (2-D tensors) written in
// plain Go. Gorgonia v0.9.18 lacks erf, its Tanh overwrites its output
// when differentiated (destroying the layer inputs that Backward reports),
// and its pooling and convolution layouts are wrong or slow for this
// package (Sum and Mean over a middle axis of a 4-D tensor give wrong values
// and gradients, AveragePool2D divides by the input width,
// GlobalAveragePool2D has no gradient), so the network uses a few such
// operations:
//
//   - every activation phi, elementwise, and its chain rule g phi', built
//     from the activation's description (phiOp, chainOp);
//   - the layers' matrix products (gemm.go), a convolution being the product
//     of the [B*Ho*Wo, f*f*C] matrix of filter patches (im2col) of the
//     channels-last images, stored as a [B*H*W, C] matrix, with the filter;
//     the adjoint col2im sums patch gradients back onto the pixels;
//   - global average pooling of [B*P, C] rows to [B, C], whose adjoint
//     spreads each row back over the P positions divided by P.
//
// Every input and the output are 2-D. The name identifies the operation and
// its parameters: Gorgonia merges nodes with equal hashes.
type matOp struct {
	name  string
	arity int
	shape func(in []tensor.Shape) (tensor.Shape, error)
	// do writes the result into out, which has the inferred shape and may
	// hold stale values.
	do func(out []float64, in [][]float64, shapes []tensor.Shape)
	// grad returns the gradient nodes of the inputs given the output
	// gradient; nil makes the operation non-differentiable.
	grad func(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error)
	// wrt, if set, says which inputs grad differentiates (nil entries in
	// its result for the others); by default all of them.
	wrt []bool
}

var (
	_                    G.SDOp            = (*matOp)(nil)
	_                    G.UsePreallocDoer = (*matOp)(nil)
	_                    fmt.Stringer      = (*matOp)(nil)
	errNotDifferentiable                   = fmt.Errorf("nets: operation has no gradient")
)

func (op *matOp) Arity() int { return op.arity }

// Type returns a fresh function type on every call: type inference
// substitutes into it in place, so a shared value would become cyclic.
func (op *matOp) Type() hm.Type {
	ts := make([]hm.Type, op.arity+1)
	for i := range ts {
		ts[i] = G.TensorType{Dims: 2, Of: hm.TypeVariable('a')}
	}
	return hm.NewFnType(ts...)
}

func (op *matOp) InferShape(ds ...G.DimSizer) (tensor.Shape, error) {
	shapes := make([]tensor.Shape, len(ds))
	for i, d := range ds {
		s, ok := d.(tensor.Shape)
		if !ok {
			return nil, fmt.Errorf("nets: %s: input %d has no shape", op.name, i)
		}
		if len(s) != 2 {
			return nil, fmt.Errorf("nets: %s: input %d has shape %v, want a matrix", op.name, i, s)
		}
		shapes[i] = s
	}
	return op.shape(shapes)
}

func (op *matOp) Do(vals ...G.Value) (G.Value, error) {
	shapes, in, err := op.inputs(vals)
	if err != nil {
		return nil, err
	}
	s, err := op.shape(shapes)
	if err != nil {
		return nil, err
	}
	out := tensor.New(tensor.WithShape(s...), tensor.Of(tensor.Float64))
	op.do(out.Data().([]float64), in, shapes)
	return out, nil
}

func (op *matOp) UsePreallocDo(prealloc G.Value, vals ...G.Value) (G.Value, error) {
	shapes, in, err := op.inputs(vals)
	if err != nil {
		return nil, err
	}
	s, err := op.shape(shapes)
	if err != nil {
		return nil, err
	}
	t, ok := prealloc.(tensor.Tensor)
	if !ok || !t.Shape().Eq(s) {
		return op.Do(vals...)
	}
	out, ok := t.Data().([]float64)
	if !ok {
		return nil, fmt.Errorf("nets: %s: output is %T, want float64", op.name, t.Data())
	}
	op.do(out, in, shapes)
	return prealloc, nil
}

func (op *matOp) inputs(vals []G.Value) ([]tensor.Shape, [][]float64, error) {
	if len(vals) != op.arity {
		return nil, nil, fmt.Errorf("nets: %s: got %d inputs, want %d", op.name, len(vals), op.arity)
	}
	shapes := make([]tensor.Shape, len(vals))
	in := make([][]float64, len(vals))
	for i, v := range vals {
		t, ok := v.(tensor.Tensor)
		if !ok {
			return nil, nil, fmt.Errorf("nets: %s: input %d is %T, want a tensor", op.name, i, v)
		}
		d, ok := t.Data().([]float64)
		if !ok {
			return nil, nil, fmt.Errorf("nets: %s: input %d is %T, want float64", op.name, i, t.Data())
		}
		shapes[i], in[i] = t.Shape(), d
	}
	return shapes, in, nil
}

func (op *matOp) ReturnsPtr() bool     { return false }
func (op *matOp) CallsExtern() bool    { return false }
func (op *matOp) OverwritesInput() int { return -1 }
func (op *matOp) WriteHash(h hash.Hash) {
	h.Write([]byte(op.name))
}
func (op *matOp) Hashcode() uint32 {
	h := fnv.New32a()
	op.WriteHash(h)
	return h.Sum32()
}
func (op *matOp) String() string { return op.name }

func (op *matOp) DiffWRT(n int) []bool {
	d := make([]bool, n)
	if op.wrt != nil {
		copy(d, op.wrt)
		return d
	}
	if op.grad != nil {
		for i := range d {
			d[i] = true
		}
	}
	return d
}

func (op *matOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	if op.grad == nil {
		return nil, errNotDifferentiable
	}
	return op.grad(inputs, output, grad)
}

func sameShape(in []tensor.Shape) (tensor.Shape, error) {
	for _, s := range in[1:] {
		if !s.Eq(in[0]) {
			return nil, fmt.Errorf("nets: shapes %v and %v differ", in[0], s)
		}
	}
	return in[0].Clone(), nil
}

// phiOp applies the activation d elementwise: out = phi(x), by d.Forward
// when given, else by d.Phi. Its gradient is chainOp(d).
func phiOp(d *activation.Activation) *matOp {
	fwd := d.Forward
	if fwd == nil {
		fwd = func(out, x []float64) {
			for i, v := range x {
				out[i] = d.Phi(v)
			}
		}
	}
	return &matOp{
		name:  d.Name,
		arity: 1,
		shape: sameShape,
		do:    func(out []float64, in [][]float64, _ []tensor.Shape) { fwd(out, in[0]) },
		grad: func(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
			v := inputs[0]
			if d.ChainFromOutput {
				v = output
			}
			g, err := G.ApplyOp(chainOp(d), v, grad)
			return G.Nodes{g}, err
		},
	}
}

// chainOp maps (v, g) to g * phi'(x), the chain rule through phiOp(d), where
// v is the input x of phi, or its output y = phi(x) when
// d.ChainFromOutput. It has no gradient itself (no second order).
func chainOp(d *activation.Activation) *matOp {
	chain := d.Chain
	if chain == nil {
		chain = func(out, x, g []float64) {
			for i := range out {
				out[i] = g[i] * d.DPhi(x[i])
			}
		}
	}
	return &matOp{
		name:  d.Name + "'",
		arity: 2,
		shape: sameShape,
		do:    func(out []float64, in [][]float64, _ []tensor.Shape) { chain(out, in[0], in[1]) },
	}
}

// convGeom is the geometry of a stride-1 convolution with an f x f filter on
// a batch of B images of H x W pixels and C channels, channels last.
type convGeom struct {
	B, H, W, C int
	F          int
	Pad        int // zero padding on each side: (F-1)/2 for SAME, 0 for VALID
}

// out returns the output height and width: H + 2 pad - F + 1.
func (g convGeom) out() (int, int) { return g.H + 2*g.Pad - g.F + 1, g.W + 2*g.Pad - g.F + 1 }

func (g convGeom) String() string {
	return fmt.Sprintf("B%dH%dW%dC%dF%dP%d", g.B, g.H, g.W, g.C, g.F, g.Pad)
}

// im2col copies image patches into rows: row (b, y, x) of the result holds,
// at column (dy*F + dx)*C + c, the pixel (y+dy-pad, x+dx-pad) of channel c of
// image b, or 0 outside the image. Multiplying by the filter stored as
// [F, F, C, C_out] (HWIO, row-major) gives the convolution output in
// channels-last order.
func (g convGeom) im2col(col, im []float64) {
	ho, wo := g.out()
	im2colRows(g, col, im, 0, g.B*ho*wo)
}

// col2im is the adjoint of im2col: every patch entry is added back onto the
// pixel it was copied from.
func (g convGeom) col2im(im, col []float64) {
	clear(im)
	ho, wo := g.out()
	col2imRows(g, im, col, 0, g.B*ho*wo)
}

// gapOp averages each group of p consecutive rows: [B*p, C] -> [B, C]. With
// rows ordered (image, pixel) this is global average pooling.
func gapOp(p int) *matOp {
	return &matOp{
		name:  fmt.Sprintf("gap%d", p),
		arity: 1,
		shape: func(in []tensor.Shape) (tensor.Shape, error) {
			if in[0][0]%p != 0 {
				return nil, fmt.Errorf("nets: gap: %d rows is not a multiple of %d positions", in[0][0], p)
			}
			return tensor.Shape{in[0][0] / p, in[0][1]}, nil
		},
		do: func(out []float64, in [][]float64, s []tensor.Shape) { gapForward(out, in[0], p, s[0][1]) },
		grad: func(_ G.Nodes, _, grad *G.Node) (G.Nodes, error) {
			d, err := G.ApplyOp(gapGradOp(p), grad)
			return G.Nodes{d}, err
		},
	}
}

// gapGradOp is the adjoint of gapOp: [B, C] -> [B*p, C], every row copied p
// times and divided by p.
func gapGradOp(p int) *matOp {
	return &matOp{
		name:  fmt.Sprintf("gap'%d", p),
		arity: 1,
		shape: func(in []tensor.Shape) (tensor.Shape, error) {
			return tensor.Shape{in[0][0] * p, in[0][1]}, nil
		},
		do: func(out []float64, in [][]float64, s []tensor.Shape) { gapBackward(out, in[0], p, s[0][1]) },
		// The adjoint of "copy p times and divide by p" is the mean over
		// the p copies, gapOp itself.
		grad: func(_ G.Nodes, _, grad *G.Node) (G.Nodes, error) {
			d, err := G.ApplyOp(gapOp(p), grad)
			return G.Nodes{d}, err
		},
	}
}

// gapForward sets out[b, c] = (1/p) sum_{i<p} in[b*p+i, c] for c < nc.
func gapForward[T float](out, in []T, p, nc int) {
	clear(out)
	inv := 1 / T(p)
	for r := 0; r < len(in)/nc; r++ {
		dst := out[(r/p)*nc:][:nc]
		for c, v := range in[r*nc:][:nc] {
			dst[c] += v * inv
		}
	}
}

// gapBackward sets out[b*p+i, c] = in[b, c]/p, the adjoint of gapForward.
func gapBackward[T float](out, in []T, p, nc int) {
	inv := 1 / T(p)
	for r := 0; r < len(out)/nc; r++ {
		src := in[(r/p)*nc:][:nc]
		for c, v := range src {
			out[r*nc+c] = v * inv
		}
	}
}

// affineOp maps (m, b) with m of shape [R, n] and b of shape [1, n] to
// scale*m + bscale*b (b added to every row): the NTK-parameterized layer
// z = (sigma_w/sqrt(n_in)) h W + sigma_b b once m = h W.
func affineOp(scale, bscale float64) *matOp {
	return &matOp{
		name:  fmt.Sprintf("affine(%v,%v)", scale, bscale),
		arity: 2,
		shape: func(in []tensor.Shape) (tensor.Shape, error) {
			if in[1][0] != 1 || in[1][1] != in[0][1] {
				return nil, fmt.Errorf("nets: affine: bias shape %v does not match %v", in[1], in[0])
			}
			return in[0].Clone(), nil
		},
		do: func(out []float64, in [][]float64, s []tensor.Shape) {
			m, b := in[0], in[1]
			n := s[0][1]
			for r := 0; r < s[0][0]; r++ {
				o, mr := out[r*n:][:n], m[r*n:][:n]
				for j, v := range mr {
					o[j] = scale*v + bscale*b[j]
				}
			}
		},
		grad: func(_ G.Nodes, _, grad *G.Node) (G.Nodes, error) {
			dm, err := G.ApplyOp(scaleOp(scale), grad)
			if err != nil {
				return nil, err
			}
			db, err := G.ApplyOp(colSumOp(bscale), grad)
			return G.Nodes{dm, db}, err
		},
	}
}

// scaleOp multiplies a matrix by a constant.
func scaleOp(scale float64) *matOp {
	op := &matOp{
		name:  fmt.Sprintf("scale(%v)", scale),
		arity: 1,
		shape: sameShape,
		do: func(out []float64, in [][]float64, _ []tensor.Shape) {
			for i, v := range in[0] {
				out[i] = scale * v
			}
		},
	}
	op.grad = func(_ G.Nodes, _, grad *G.Node) (G.Nodes, error) {
		d, err := G.ApplyOp(op, grad)
		return G.Nodes{d}, err
	}
	return op
}

// colSumOp maps [R, n] to the [1, n] row of its column sums times scale.
// It is the adjoint of adding scale*b to every row; it has no gradient.
func colSumOp(scale float64) *matOp {
	return &matOp{
		name:  fmt.Sprintf("colsum(%v)", scale),
		arity: 1,
		shape: func(in []tensor.Shape) (tensor.Shape, error) {
			return tensor.Shape{1, in[0][1]}, nil
		},
		do: func(out []float64, in [][]float64, s []tensor.Shape) {
			clear(out)
			n := s[0][1]
			for r := 0; r < s[0][0]; r++ {
				for j, v := range in[0][r*n:][:n] {
					out[j] += v
				}
			}
			for j := range out {
				out[j] *= scale
			}
		},
	}
}

// mseOp maps (f, y) to the [1, 1] matrix scale * sum (f - y)^2; with
// scale = 1/(2 B k) it is the training loss. Gorgonia's Sub would
// overwrite f in place and lose the outputs, hence this op.
func mseOp(scale float64) *matOp {
	return &matOp{
		name:  fmt.Sprintf("mse(%v)", scale),
		arity: 2,
		shape: func(in []tensor.Shape) (tensor.Shape, error) {
			if !in[0].Eq(in[1]) {
				return nil, fmt.Errorf("nets: mse: shapes %v and %v differ", in[0], in[1])
			}
			return tensor.Shape{1, 1}, nil
		},
		do: func(out []float64, in [][]float64, _ []tensor.Shape) {
			s := 0.0
			for i, f := range in[0] {
				d := f - in[1][i]
				s += d * d
			}
			out[0] = scale * s
		},
		wrt: []bool{true, false},
		grad: func(inputs G.Nodes, _, grad *G.Node) (G.Nodes, error) {
			d, err := G.ApplyOp(mseGradOp(scale), inputs[0], inputs[1], grad)
			return G.Nodes{d, nil}, err
		},
	}
}

// mseGradOp maps (f, y, g) to 2 scale g (f - y), the gradient of mseOp
// w.r.t. f times the [1, 1] output gradient g.
func mseGradOp(scale float64) *matOp {
	return &matOp{
		name:  fmt.Sprintf("mse'(%v)", scale),
		arity: 3,
		shape: func(in []tensor.Shape) (tensor.Shape, error) { return in[0].Clone(), nil },
		do: func(out []float64, in [][]float64, _ []tensor.Shape) {
			c := 2 * scale * in[2][0]
			for i, f := range in[0] {
				out[i] = c * (f - in[1][i])
			}
		},
	}
}

// dotOp maps (c, f) to the [1, 1] matrix sum_ij c_ij f_ij. Its gradient
// w.r.t. f is c times the output gradient; c is not differentiated.
var dotOp = &matOp{
	name:  "dot",
	arity: 2,
	shape: func(in []tensor.Shape) (tensor.Shape, error) {
		if !in[0].Eq(in[1]) {
			return nil, fmt.Errorf("nets: dot: shapes %v and %v differ", in[0], in[1])
		}
		return tensor.Shape{1, 1}, nil
	},
	do: func(out []float64, in [][]float64, _ []tensor.Shape) {
		s := 0.0
		for i, c := range in[0] {
			s += c * in[1][i]
		}
		out[0] = s
	},
	wrt: []bool{false, true},
	grad: func(inputs G.Nodes, _, grad *G.Node) (G.Nodes, error) {
		d, err := G.ApplyOp(timesScalarOp, inputs[0], grad)
		return G.Nodes{nil, d}, err
	},
}

// timesScalarOp maps (c, g) with g of shape [1, 1] to c * g.
var timesScalarOp = &matOp{
	name:  "times",
	arity: 2,
	shape: func(in []tensor.Shape) (tensor.Shape, error) { return in[0].Clone(), nil },
	do: func(out []float64, in [][]float64, _ []tensor.Shape) {
		for i, c := range in[0] {
			out[i] = c * in[1][0]
		}
	},
}
