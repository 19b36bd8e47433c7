package nets

import (
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/mat"

	"github.com/ntkharness/ntkharness/activation"
	"github.com/ntkharness/ntkharness/internal/bigmem"
	"github.com/ntkharness/ntkharness/spec"
)

// The ensemble's forward and reverse passes, written out by hand with the
// arithmetic of the Net's graph operations (ops.go, gemm.go) in the same
// order, member by member for the matrix products and over all members at
// once, split across cores, for the elementwise stages.
//
// Forward, for layer l with input H (x for l = 0, shared by all members):
//
//	M = H W                         (conv: im2col(H) W, row block by row block)
//	z = Scale M + BiasScale b       (in place over M)
//	h = phi(z)                      (hidden layers; GAP then pools h)
//
// Reverse, from G = dL/dz_out = (1/(B k)) (f - y) down, for layer l:
//
//	db = BiasScale colsum(G)
//	G <- Scale G                    (dL/dM)
//	dW = H^T G                      (conv: im2col(H)^T G)
//	dH = G W^T                      (conv: col2im(G W^T); l > 0 only)
//	G_{l-1} = dH .* phi'(z_{l-1})   (tanh: 1 - h^2; GAP: spread dH first)

// ensWork holds the values of one batch size, in precision T: per layer
// the pre-activations z and the hidden activations h of every member,
// member-major.
type ensWork[T float] struct {
	e       *Ensemble
	v       *ensVals[T]
	B       int
	act     ensAct[T]
	geoms   []convGeom  // per layer, with B set
	zSize   []int       // per layer: B * Positions * FanOut
	inSize  []int       // per layer: values of the layer input per member (images for convolutions)
	z       [][]T       // per layer: S * zSize
	h       [][]T       // per hidden layer: phi(z), S * zSize
	pooled  []T         // cnn-gap: the readout input, S * B * C
	dPooled []T         // its gradient (of rev's batch)
	gA, gB  []T         // reverse-pass buffers, rev.maxSize per member
	maxSize int         // largest z of one member: a layer gradient or (layer l-1's z) an input gradient
	col     [][]T       // per goroutine, one block of patches (of rev's batch)
	grads   [][]T       // per parameter tensor, S blocks
	x       []T         // the batch of the last forward pass
	xBuf    []T         // float32: the batch rounded
	active  []int       // members of the last forward pass
	fac     *ensFactors // set: the reverse pass backpropagates a cotangent and copies factors
	// rev is the geometry of the reverse pass: w itself, or for a
	// workspace of c logits at once (LogitFactors) the shapes of B c
	// pseudo-examples (i, a), sharing w's buffers.
	rev *ensWork[T]
}

// ensFactors are the destinations of LayerFactors, per member and layer.
type ensFactors struct {
	inputs, deltas [][]*mat.Dense
}

// newEnsWork returns the buffers for batches of B examples whose reverse
// pass runs logits cotangents at once (1 but for LogitFactors); without
// weightGrads the weight gradients get no buffers (a pass that only
// computes layer factors never writes them).
func newEnsWork[T float](v *ensVals[T], B, logits int, weightGrads bool) *ensWork[T] {
	e := v.e
	S := e.Size()
	w := &ensWork[T]{e: e, v: v, act: v.act}
	w.setShapes(B)
	w.rev = w
	if logits > 1 {
		w.rev = &ensWork[T]{e: e, v: v, act: v.act}
		w.rev.setShapes(B * logits)
	}
	L := len(e.layers) - 1
	// The layers' values and the reverse buffers in one block, so that it
	// spans whole huge pages (bigmem).
	size := 2 * S * w.rev.maxSize
	for l := range e.layers {
		size += 2 * S * w.zSize[l]
	}
	buf := bigmem.Floats[T](size)
	next := func(n int) []T {
		s := buf[:n:n]
		buf = buf[n:]
		return s
	}
	for l := range e.layers {
		w.z = append(w.z, next(S*w.zSize[l]))
		if l < L {
			w.h = append(w.h, next(S*w.zSize[l]))
		}
	}
	if e.specs[0].Arch == spec.CNNGAP {
		w.pooled = make([]T, S*w.inSize[L])
		w.dPooled = make([]T, S*w.rev.inSize[L])
	}
	w.gA, w.gB = next(S*w.rev.maxSize), next(S*w.rev.maxSize)
	maxCol := 0
	for _, ly := range e.layers {
		if ly.Conv {
			maxCol = max(maxCol, min(w.rev.B*ly.Positions, convBlockRows)*ly.FanIn)
		}
	}
	w.col = [][]T{make([]T, maxCol)}
	isWeight := map[int]bool{}
	for _, ly := range e.layers {
		isWeight[ly.W] = true
	}
	for i, sz := range e.size {
		var g []T
		if weightGrads || !isWeight[i] {
			g = make([]T, S*sz)
		}
		w.grads = append(w.grads, g)
	}
	if w.rev != w {
		w.rev.pooled, w.rev.dPooled, w.rev.gA, w.rev.gB, w.rev.col = w.pooled, w.dPooled, w.gA, w.gB, w.col
	}
	return w
}

// setShapes sets the per-layer geometry and sizes of batches of B
// examples.
func (w *ensWork[T]) setShapes(B int) {
	w.B = B
	for l, ly := range w.e.layers {
		var g convGeom // fcn layouts have no readout geometry
		if l < len(w.e.nets[0].geoms) {
			g = w.e.nets[0].geoms[l]
		}
		g.B = B
		w.geoms = append(w.geoms, g)
		zs := B * ly.Positions * ly.FanOut
		is := B * ly.FanIn
		if ly.Conv {
			is = B * g.H * g.W * g.C
		}
		w.zSize = append(w.zSize, zs)
		w.inSize = append(w.inSize, is)
		w.maxSize = max(w.maxSize, zs)
	}
}

// input returns layer l's input for member m: the batch for l = 0, else
// the previous layer's activations (pooled for the cnn-gap readout).
func (w *ensWork[T]) input(l, m int) []T {
	if l == 0 {
		return w.x
	}
	if w.pooled != nil && l == len(w.e.layers)-1 {
		return w.pooled[m*w.inSize[l]:][:w.inSize[l]]
	}
	return w.h[l-1][m*w.zSize[l-1]:][:w.zSize[l-1]]
}

// weight returns member m's weight of layer l and its gradient buffer
// (nil in a factors-only workspace).
func (w *ensWork[T]) weight(l, m int) (wt, grad []T) {
	i := w.e.layers[l].W
	sz := w.e.size[i]
	if w.grads[i] != nil {
		grad = w.grads[i][m*sz:][:sz]
	}
	return w.v.block(i, m), grad
}

func (w *ensWork[T]) bias(l, m int) (b, grad []T) {
	i := w.e.layers[l].B
	sz := w.e.size[i]
	return w.v.block(i, m), w.grads[i][m*sz:][:sz]
}

// run evaluates the members active in the mask on the batch x: the
// forward pass and, when y (the [B, k] targets) is not nil, the losses
// and the reverse pass. A float32 pass rounds x first.
func (w *ensWork[T]) run(x, y []float64, active []bool) []float64 {
	loss := make([]float64, w.e.Size())
	w.each(x, active, func(m int, col []T, split bool) {
		w.forwardMember(m, col, split)
		if y != nil {
			loss[m] = w.backwardMember(m, y, col, split)
		}
	})
	return loss
}

// each sets the batch x and calls one for every member active in the
// mask. With two or more members to run and more than one core, the
// members are shared out among goroutines, each running whole members
// with single-threaded BLAS (blasSingleThread): members are independent,
// so there is nothing to synchronize, and small products run far faster
// side by side than one after another on threaded BLAS. A single member
// runs alone, with threaded BLAS and split true (its elementwise stages
// split across cores).
func (w *ensWork[T]) each(x []float64, active []bool, one func(m int, col []T, split bool)) {
	w.x = asT(&w.xBuf, x)
	w.active = w.active[:0]
	for m := 0; m < w.e.Size(); m++ {
		if isActive(active, m) {
			w.active = append(w.active, m)
		}
	}
	workers := min(runtime.GOMAXPROCS(0), len(w.active))
	if workers < 2 {
		for _, m := range w.active {
			one(m, w.col[0], true)
		}
		return
	}
	defer blasSingleThread()()
	for len(w.col) < workers {
		w.col = append(w.col, make([]T, len(w.col[0])))
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for i := 0; i < workers; i++ {
		wg.Add(1)
		go func(col []T) {
			defer wg.Done()
			for {
				j := int(next.Add(1)) - 1
				if j >= len(w.active) {
					return
				}
				one(w.active[j], col, false)
			}
		}(w.col[i])
	}
	wg.Wait()
}

// forwardMember runs member m through the layers.
func (w *ensWork[T]) forwardMember(m int, col []T, split bool) {
	L := len(w.e.layers) - 1
	for l, ly := range w.e.layers {
		zs := w.zSize[l]
		wt, _ := w.weight(l, m)
		z := w.z[l][m*zs:][:zs]
		if ly.Conv {
			w.convForward(l, w.input(l, m), wt, z, col)
		} else {
			rows := w.B * ly.Positions
			gemm(blas.NoTrans, blas.NoTrans, rows, ly.FanOut, ly.FanIn, w.input(l, m), ly.FanIn, wt, ly.FanOut, 0, z, ly.FanOut)
		}
		ml := w.e.nets[m].layers[l]
		scale, bscale := T(ml.Scale), T(ml.BiasScale)
		b, _ := w.bias(l, m)
		n := ly.FanOut
		parallel(split, zs/n, n, func(lo, hi int) {
			for r := lo; r < hi; r++ {
				zr := z[r*n:][:n]
				for j, v := range zr {
					zr[j] = scale*v + bscale*b[j]
				}
				if l < L {
					w.act.fwd(w.h[l][m*zs+r*n:][:n], zr)
				}
			}
		})
		if l == L-1 && w.pooled != nil {
			g := w.geoms[L]
			gapForward(w.pooled[m*w.inSize[L]:][:w.inSize[L]], w.h[l][m*zs:][:zs], g.H*g.W, g.C)
		}
	}
}

// convForward is convOp's product for one member: im2col(im) wt into out.
func (w *ensWork[T]) convForward(l int, im, wt, out, col []T) {
	g, k, m := w.geoms[l], w.e.layers[l].FanIn, w.e.layers[l].FanOut
	w.blocks(l, func(r0, r1 int) {
		im2colRows(g, col, im, r0, r1)
		gemm(blas.NoTrans, blas.NoTrans, r1-r0, m, k, col, k, wt, m, 0, out[r0*m:], m)
	})
}

// blocks calls f on the row blocks of layer l's patches, as convGeom.blocks.
func (w *ensWork[T]) blocks(l int, f func(r0, r1 int)) {
	rows := w.B * w.e.layers[l].Positions
	for r0 := 0; r0 < rows; r0 += convBlockRows {
		f(r0, min(rows, r0+convBlockRows))
	}
}

// backwardMember returns member m's loss against the targets y ([B, k])
// after its forward pass and sets its gradients, the loss accumulated in
// float64.
func (w *ensWork[T]) backwardMember(m int, y []float64, col []T, split bool) float64 {
	e := w.e
	L := len(e.layers) - 1
	k := e.layers[L].FanOut
	// mseOp and mseGradOp with output gradient 1.
	scale := 1 / (2 * float64(w.B*k))
	c := 2 * scale * 1
	f := w.z[L][m*w.zSize[L]:][:w.zSize[L]]
	g := w.gA[m*w.maxSize:][:w.maxSize]
	gNext := w.gB[m*w.maxSize:][:w.maxSize]
	s := 0.0
	if w.fac != nil {
		for i, v := range y { // the cotangent: dS/df
			g[i] = T(v)
		}
	} else {
		for i, v := range f {
			d := float64(v) - y[i]
			s += d * d
		}
		for i, v := range f {
			g[i] = T(c * (float64(v) - y[i]))
		}
	}
	loss := scale * s
	for l := L; l >= 0; l-- {
		ly := e.layers[l]
		zs := w.zSize[l]
		gl := g[:zs]
		rows := w.B * ly.Positions
		if w.fac != nil {
			if d := w.fac.deltas[m]; d != nil && d[l] != nil {
				copyInto(d[l], gl, rows, ly.FanOut)
			}
			if in := w.fac.inputs[m]; in != nil && in[l] != nil {
				w.copyInput(in[l], l, m)
			}
		}
		w.biasGrad(l, m, gl, split)
		wt, gw := w.weight(l, m)
		if w.fac != nil {
			// Factors need no weight gradients.
		} else if ly.Conv {
			w.convGradWeight(l, w.input(l, m), gl, gw, col)
		} else {
			gemm(blas.Trans, blas.NoTrans, ly.FanIn, ly.FanOut, rows, w.input(l, m), ly.FanIn, gl, ly.FanOut, 0, gw, ly.FanOut)
		}
		if l == 0 {
			break
		}
		// dH into gNext, laid out as h[l-1].
		ps := w.zSize[l-1]
		dh := gNext[:ps]
		w.inputGrad(l, m, gl, wt, dh, col)
		// Through phi of layer l-1.
		n := e.layers[l-1].FanOut
		zp, hp := w.z[l-1][m*ps:][:ps], w.h[l-1][m*ps:][:ps]
		parallel(split, ps/n, n, func(lo, hi int) {
			w.act.bwd(dh[lo*n:hi*n], zp[lo*n:hi*n], hp[lo*n:hi*n])
		})
		g, gNext = gNext, g
	}
	return loss
}

// inputGrad sets dh = dL/dH_{l-1} from member m's gradient g = dL/dM of
// layer l > 0 (already scaled) and its weight wt: g wt^T, for a
// convolution col2im(g wt^T), for the cnn-gap readout spread over the
// pooled positions.
func (w *ensWork[T]) inputGrad(l, m int, g, wt, dh, col []T) {
	ly := w.e.layers[l]
	L := len(w.e.layers) - 1
	switch {
	case ly.Conv:
		w.convGradInput(l, g, wt, dh, col)
	case w.pooled != nil && l == L:
		is := w.inSize[l]
		dp := w.dPooled[m*is:][:is]
		gemm(blas.NoTrans, blas.Trans, w.B, ly.FanIn, ly.FanOut, g, ly.FanOut, wt, ly.FanOut, 0, dp, ly.FanIn)
		gp := w.geoms[L]
		gapBackward(dh, dp, gp.H*gp.W, gp.C)
	default:
		rows := w.B * ly.Positions
		gemm(blas.NoTrans, blas.Trans, rows, ly.FanIn, ly.FanOut, g, ly.FanOut, wt, ly.FanOut, 0, dh, ly.FanIn)
	}
}

// copyInput writes member m's layer-l input H_{l-1} ([B*Positions,
// FanIn]) into dst, building the patches of a convolution row by row, as
// Net.copyLayerInput does.
func (w *ensWork[T]) copyInput(dst *mat.Dense, l, m int) {
	ly := w.e.layers[l]
	rows := w.B * ly.Positions
	if !ly.Conv {
		copyInto(dst, w.input(l, m), rows, ly.FanIn)
		return
	}
	if r, c := dst.Dims(); r != rows || c != ly.FanIn {
		panic(fmt.Sprintf("nets: layer %s input destination is %dx%d, want %dx%d", ly.Name, r, c, rows, ly.FanIn))
	}
	raw := dst.RawMatrix()
	row := make([]T, ly.FanIn)
	for r := 0; r < rows; r++ {
		im2colRows(w.geoms[l], row, w.input(l, m), r, r+1)
		toFloat64(raw.Data[r*raw.Stride:r*raw.Stride+ly.FanIn], row)
	}
}

// biasGrad sets member m's db = BiasScale colsum(G) and then G <- Scale G
// for layer l (colSumOp and scaleOp), by blocks of columns.
func (w *ensWork[T]) biasGrad(l, m int, g []T, split bool) {
	n := w.e.layers[l].FanOut
	rows := len(g) / n
	ml := w.e.nets[m].layers[l]
	scale, bscale := T(ml.Scale), T(ml.BiasScale)
	_, db := w.bias(l, m)
	const cb = 64
	parallel(split, (n+cb-1)/cb, rows*cb, func(lo, hi int) {
		j0, j1 := lo*cb, min(n, hi*cb)
		acc := db[j0:j1]
		clear(acc)
		for r := 0; r < rows; r++ {
			for j, v := range g[r*n+j0 : r*n+j1] {
				acc[j] += v
			}
		}
		for j := range acc {
			acc[j] *= bscale
		}
		for r := 0; r < rows; r++ {
			row := g[r*n+j0 : r*n+j1]
			for j, v := range row {
				row[j] = scale * v
			}
		}
	})
}

// convGradWeight is convGradWeightOp for one member.
func (w *ensWork[T]) convGradWeight(l int, im, g, out, col []T) {
	gm, k, m := w.geoms[l], w.e.layers[l].FanIn, w.e.layers[l].FanOut
	clear(out)
	w.blocks(l, func(r0, r1 int) {
		im2colRows(gm, col, im, r0, r1)
		gemm(blas.Trans, blas.NoTrans, k, m, r1-r0, col, k, g[r0*m:], m, 1, out, m)
	})
}

// convGradInput is convGradInputOp for one member.
func (w *ensWork[T]) convGradInput(l int, g, wt, out, col []T) {
	gm, k, m := w.geoms[l], w.e.layers[l].FanIn, w.e.layers[l].FanOut
	clear(out)
	w.blocks(l, func(r0, r1 int) {
		gemm(blas.NoTrans, blas.Trans, r1-r0, k, m, g[r0*m:], m, wt, m, 0, col, k)
		col2imRows(gm, out, col, r0, r1)
	})
}

// parallel calls f on contiguous ranges covering [0, units): when split
// and there is enough work (units * per values), on up to GOMAXPROCS
// goroutines, else at once.
func parallel(split bool, units, per int, f func(lo, hi int)) {
	workers := min(runtime.GOMAXPROCS(0), units)
	if !split || workers <= 1 || units*per < 1<<14 {
		f(0, units)
		return
	}
	var wg sync.WaitGroup
	for i := 1; i < workers; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			f(i*units/workers, (i+1)*units/workers)
		}(i)
	}
	f(0, units/workers)
	wg.Wait()
}

// ensAct is an activation for the ensemble: fwd sets h = phi(z); bwd
// multiplies the gradient g by phi'(z) (given z and h = phi(z)) in place.
// Both come from the activation's one description: in float64 its slice
// forms, which the Net's operations use too, so both give the same
// numbers; in float32 its float32 forms.
type ensAct[T float] struct {
	fwd func(h, z []T)
	bwd func(g, z, h []T)
}

// ensActOf returns the ensemble form of the activation named name.
func ensActOf[T float](name string) (ensAct[T], error) {
	a, err := activation.Lookup(name)
	if err != nil {
		return ensAct[T]{}, err
	}
	var act any
	if _, ok := any(T(0)).(float32); ok {
		bwd := func(g, z, _ []float32) { a.Chain32(g, z, g) }
		if a.ChainFromOutput {
			bwd = func(g, _, h []float32) { a.Chain32(g, h, g) }
		}
		act = ensAct[float32]{fwd: a.Forward32, bwd: bwd}
	} else {
		bwd := func(g, z, _ []float64) { a.Chain(g, z, g) }
		if a.ChainFromOutput {
			bwd = func(g, _, h []float64) { a.Chain(g, h, g) }
		}
		act = ensAct[float64]{fwd: a.Forward, bwd: bwd}
	}
	return act.(ensAct[T]), nil
}

// asT returns x as a []T: x itself for float64, else x rounded into *buf
// (grown as needed).
func asT[T float](buf *[]T, x []float64) []T {
	if t, ok := any(x).([]T); ok {
		return t
	}
	if cap(*buf) < len(x) {
		*buf = make([]T, len(x))
	}
	t := (*buf)[:len(x)]
	for i, v := range x {
		t[i] = T(v)
	}
	return t
}
