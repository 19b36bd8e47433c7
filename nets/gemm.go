package nets

import (
	"fmt"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"
	"gonum.org/v1/gonum/blas/blas64"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// The affine layers' matrix products are operations of their own, calling
// BLAS (gonum's blas64, which the openblas build routes to OpenBLAS) with
// transpose flags instead of materializing transposed copies, and, for
// convolutions, building the patch matrix in row blocks so that it never
// exists whole:
//
//	matmul:  (h [R, n], w [n, m])        -> h w
//	conv:    (h [B*H*W, C], w [f f C, m]) -> im2col(h) w, [B*Ho*Wo, m]
//
// Gradients: d h = g w^T (conv: col2im(g w^T)), d w = h^T g (conv:
// im2col(h)^T g), for the output gradient g.

// float is the precision of a network's values.
type float interface{ float32 | float64 }

// gemm is C = op(A) op(B) + beta C: Dgemm, or Sgemm for float32, of the
// build's BLAS (gonum's blas64 and blas32, which the openblas build
// routes to OpenBLAS).
func gemm[T float](tA, tB blas.Transpose, m, n, k int, a []T, lda int, b []T, ldb int, beta T, c []T, ldc int) {
	if m == 0 || n == 0 {
		return
	}
	switch a := any(a).(type) {
	case []float64:
		blas64.Implementation().Dgemm(tA, tB, m, n, k, 1, a, lda, any(b).([]float64), ldb, float64(beta), any(c).([]float64), ldc)
	case []float32:
		blas32.Implementation().Sgemm(tA, tB, m, n, k, 1, a, lda, any(b).([]float32), ldb, float32(beta), any(c).([]float32), ldc)
	}
}

// matmulOp is h w for h [R, n] and w [n, m]. Without needInput only w is
// differentiated: the first layer needs no gradient w.r.t. the data, and
// skipping it saves a matrix product per step.
func matmulOp(needInput bool) *matOp {
	return &matOp{
		name:  fmt.Sprintf("matmul(%v)", needInput),
		arity: 2,
		wrt:   []bool{needInput, true},
		shape: func(in []tensor.Shape) (tensor.Shape, error) {
			if in[0][1] != in[1][0] {
				return nil, fmt.Errorf("nets: matmul: shapes %v and %v do not chain", in[0], in[1])
			}
			return tensor.Shape{in[0][0], in[1][1]}, nil
		},
		do: func(out []float64, in [][]float64, s []tensor.Shape) {
			r, n, m := s[0][0], s[0][1], s[1][1]
			gemm(blas.NoTrans, blas.NoTrans, r, m, n, in[0], n, in[1], m, 0, out, m)
		},
		grad: func(inputs G.Nodes, _, grad *G.Node) (G.Nodes, error) {
			var dh *G.Node
			if needInput {
				var err error
				if dh, err = G.ApplyOp(matmulGradInputOp, grad, inputs[1]); err != nil {
					return nil, err
				}
			}
			dw, err := G.ApplyOp(matmulGradWeightOp, inputs[0], grad)
			return G.Nodes{dh, dw}, err
		},
	}
}

// matmulGradInputOp is g w^T for g [R, m] and w [n, m].
var matmulGradInputOp = &matOp{
	name:  "matmul'h",
	arity: 2,
	shape: func(in []tensor.Shape) (tensor.Shape, error) {
		return tensor.Shape{in[0][0], in[1][0]}, nil
	},
	do: func(out []float64, in [][]float64, s []tensor.Shape) {
		r, m, n := s[0][0], s[0][1], s[1][0]
		gemm(blas.NoTrans, blas.Trans, r, n, m, in[0], m, in[1], m, 0, out, n)
	},
}

// matmulGradWeightOp is h^T g for h [R, n] and g [R, m].
var matmulGradWeightOp = &matOp{
	name:  "matmul'w",
	arity: 2,
	shape: func(in []tensor.Shape) (tensor.Shape, error) {
		return tensor.Shape{in[0][1], in[1][1]}, nil
	},
	do: func(out []float64, in [][]float64, s []tensor.Shape) {
		r, n, m := s[0][0], s[0][1], s[1][1]
		gemm(blas.Trans, blas.NoTrans, n, m, r, in[0], n, in[1], m, 0, out, m)
	},
}

// convBlockRows is the number of output pixels whose patches are built at a
// time: a block holds convBlockRows * f*f*C values. (A variable so that
// tests can exercise many blocks on small images.)
var convBlockRows = 2048

// im2colRows writes the patches of output pixels r0..r1-1 (rows of the full
// im2col matrix) to col.
func im2colRows[T float](g convGeom, col, im []T, r0, r1 int) {
	ho, wo := g.out()
	k := g.F * g.F * g.C
	for r := r0; r < r1; r++ {
		b, y, x := r/(ho*wo), (r/wo)%ho, r%wo
		row := col[(r-r0)*k:][:k]
		for dy := 0; dy < g.F; dy++ {
			iy := y + dy - g.Pad
			seg := row[dy*g.F*g.C:][:g.F*g.C]
			if iy < 0 || iy >= g.H {
				clear(seg)
				continue
			}
			for dx := 0; dx < g.F; dx++ {
				ix := x + dx - g.Pad
				dst := seg[dx*g.C:][:g.C]
				if ix < 0 || ix >= g.W {
					clear(dst)
					continue
				}
				copy(dst, im[((b*g.H+iy)*g.W+ix)*g.C:][:g.C])
			}
		}
	}
}

// col2imRows adds the patch rows r0..r1-1 in col back onto the pixels of im.
func col2imRows[T float](g convGeom, im, col []T, r0, r1 int) {
	ho, wo := g.out()
	k := g.F * g.F * g.C
	for r := r0; r < r1; r++ {
		b, y, x := r/(ho*wo), (r/wo)%ho, r%wo
		row := col[(r-r0)*k:][:k]
		for dy := 0; dy < g.F; dy++ {
			iy := y + dy - g.Pad
			if iy < 0 || iy >= g.H {
				continue
			}
			for dx := 0; dx < g.F; dx++ {
				ix := x + dx - g.Pad
				if ix < 0 || ix >= g.W {
					continue
				}
				src := row[(dy*g.F+dx)*g.C:][:g.C]
				dst := im[((b*g.H+iy)*g.W+ix)*g.C:][:g.C]
				for c, v := range src {
					dst[c] += v
				}
			}
		}
	}
}

// blocks calls f on consecutive ranges of at most convBlockRows output
// pixels with a patch buffer for them.
func (g convGeom) blocks(f func(r0, r1 int, col []float64)) {
	ho, wo := g.out()
	rows := g.B * ho * wo
	col := make([]float64, min(rows, convBlockRows)*g.F*g.F*g.C)
	for r0 := 0; r0 < rows; r0 += convBlockRows {
		f(r0, min(rows, r0+convBlockRows), col)
	}
}

func (g convGeom) checkIn(op string, s tensor.Shape) error {
	if s[0] != g.B*g.H*g.W || s[1] != g.C {
		return fmt.Errorf("nets: %s: input shape %v, want (%d, %d)", op, s, g.B*g.H*g.W, g.C)
	}
	return nil
}

// convOp is im2col(h) w: the stride-1 convolution of the channels-last
// images h with the HWIO filter w, without the scale and bias.
// Without needInput only the filter is differentiated (first layer).
func (g convGeom) convOp(needInput bool) *matOp {
	ho, wo := g.out()
	k := g.F * g.F * g.C
	return &matOp{
		name:  fmt.Sprintf("conv%s(%v)", g, needInput),
		arity: 2,
		wrt:   []bool{needInput, true},
		shape: func(in []tensor.Shape) (tensor.Shape, error) {
			if err := g.checkIn("conv", in[0]); err != nil {
				return nil, err
			}
			if in[1][0] != k {
				return nil, fmt.Errorf("nets: conv: filter shape %v, want %d rows", in[1], k)
			}
			return tensor.Shape{g.B * ho * wo, in[1][1]}, nil
		},
		do: func(out []float64, in [][]float64, s []tensor.Shape) {
			m := s[1][1]
			g.blocks(func(r0, r1 int, col []float64) {
				im2colRows(g, col, in[0], r0, r1)
				gemm(blas.NoTrans, blas.NoTrans, r1-r0, m, k, col, k, in[1], m, 0, out[r0*m:], m)
			})
		},
		grad: func(inputs G.Nodes, _, grad *G.Node) (G.Nodes, error) {
			var dh *G.Node
			if needInput {
				var err error
				if dh, err = G.ApplyOp(g.convGradInputOp(), grad, inputs[1]); err != nil {
					return nil, err
				}
			}
			dw, err := G.ApplyOp(g.convGradWeightOp(), inputs[0], grad)
			return G.Nodes{dh, dw}, err
		},
	}
}

// convGradInputOp is col2im(g w^T) for g [B*Ho*Wo, m] and w [f f C, m].
func (g convGeom) convGradInputOp() *matOp {
	k := g.F * g.F * g.C
	return &matOp{
		name:  "conv'h" + g.String(),
		arity: 2,
		shape: func(in []tensor.Shape) (tensor.Shape, error) {
			return tensor.Shape{g.B * g.H * g.W, g.C}, nil
		},
		do: func(out []float64, in [][]float64, s []tensor.Shape) {
			m := s[0][1]
			clear(out)
			g.blocks(func(r0, r1 int, col []float64) {
				gemm(blas.NoTrans, blas.Trans, r1-r0, k, m, in[0][r0*m:], m, in[1], m, 0, col, k)
				col2imRows(g, out, col, r0, r1)
			})
		},
	}
}

// convGradWeightOp is im2col(h)^T g for h [B*H*W, C] and g [B*Ho*Wo, m].
func (g convGeom) convGradWeightOp() *matOp {
	k := g.F * g.F * g.C
	return &matOp{
		name:  "conv'w" + g.String(),
		arity: 2,
		shape: func(in []tensor.Shape) (tensor.Shape, error) {
			return tensor.Shape{k, in[1][1]}, nil
		},
		do: func(out []float64, in [][]float64, s []tensor.Shape) {
			m := s[1][1]
			clear(out)
			g.blocks(func(r0, r1 int, col []float64) {
				im2colRows(g, col, in[0], r0, r1)
				gemm(blas.Trans, blas.NoTrans, k, m, r1-r0, col, k, in[1][r0*m:], m, 1, out, m)
			})
		},
	}
}
