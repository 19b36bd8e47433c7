package ntkempirical

import (
	"fmt"

	"gonum.org/v1/gonum/mat"

	"github.com/ntkharness/ntkharness/nets"
	"github.com/ntkharness/ntkharness/npy"
)

// jacobian computes the kernel as J1 J2^T from whole Jacobians. Row (a, i)
// of J is d f_a(x_i) / d theta, read from the parameter gradients of
// Gorgonia's reverse mode for one example with the cotangent one-hot in
// logit a; the graph is differentiated once and only the cotangent changes.
// The parameter axis is cut into chunks so that the Jacobian rows of all
// examples fit the memory budget; each chunk repeats the backward passes
// and adds its contribution J1[:, c] J2[:, c]^T. The traced kernel is
// (1/k) sum_a J1^a J2^a^T, the full one all k^2 blocks.
func jacobian(net *nets.Net, x1, x2 npy.Array, same bool, opt Options) (Kernel, error) {
	params := net.Params()
	offsets := make([]int, len(params)+1)
	for i, p := range params {
		offsets[i+1] = offsets[i] + len(p.Data)
	}
	np := offsets[len(params)]
	k := net.Outputs()
	n1 := x1.Shape[0]
	n2 := n1
	if !same {
		n2 = x2.Shape[0]
	}
	cols, err := planJacobian(k, net.MemoryEstimate, n1, n2, same, opt)
	if err != nil {
		return Kernel{}, err
	}
	chunk := int(min(cols, int64(np)))
	chunks := (np + chunk - 1) / chunk
	passes := n1 * k
	if !same {
		passes += n2 * k
	}
	total, done := chunks*passes, 0
	step := func() {
		done++
		if opt.Progress != nil {
			opt.Progress(done, total)
		}
	}

	res := Kernel{NTK: mat.NewDense(n1, n2, nil)}
	var g *mat.Dense
	if opt.Full {
		res.Full = mat.NewDense(n1*k, n2*k, nil)
		g = mat.NewDense(n1*k, n2*k, nil)
	}
	for c0 := 0; c0 < np; c0 += chunk {
		c1 := min(np, c0+chunk)
		j1, err := jacobianRows(net, x1, c0, c1, offsets, step)
		if err != nil {
			return Kernel{}, err
		}
		j2 := j1
		if !same {
			if j2, err = jacobianRows(net, x2, c0, c1, offsets, step); err != nil {
				return Kernel{}, err
			}
		}
		for a := 0; a < k; a++ {
			ja := j1.Slice(a*n1, (a+1)*n1, 0, c1-c0).(*mat.Dense)
			jb := j2.Slice(a*n2, (a+1)*n2, 0, c1-c0).(*mat.Dense)
			gramAdd(res.NTK, 1/float64(k), ja, jb, 1)
		}
		if opt.Full {
			gramAdd(g, 1, j1, j2, 0)
			for a := 0; a < k; a++ {
				for i := 0; i < n1; i++ {
					for b := 0; b < k; b++ {
						for j := 0; j < n2; j++ {
							res.Full.Set(i*k+a, j*k+b, res.Full.At(i*k+a, j*k+b)+g.At(a*n1+i, b*n2+j))
						}
					}
				}
			}
		}
	}
	return res, nil
}

// jacobianRows returns the [k N, c1-c0] matrix whose row a*N + i holds
// d f_a(x_i) / d theta_c for the flattened parameters c0 <= c < c1, from
// one backward pass per example and logit.
func jacobianRows(net *nets.Net, x npy.Array, c0, c1 int, offsets []int, step func()) (*mat.Dense, error) {
	n := x.Shape[0]
	k := net.Outputs()
	in := net.InputShape()
	j := mat.NewDense(k*n, c1-c0, nil)
	for i := 0; i < n; i++ {
		xi := slice(x, i, i+1, in)
		for a := 0; a < k; a++ {
			tr, err := net.Backward(xi, oneHot(1, k, a))
			if err != nil {
				return nil, err
			}
			row := j.RawRowView(a*n + i)
			for p, gp := range tr.Grads {
				lo, hi := max(c0, offsets[p]), min(c1, offsets[p+1])
				if lo >= hi {
					continue
				}
				copy(row[lo-c0:hi-c0], gp[lo-offsets[p]:hi-offsets[p]])
			}
			step()
		}
	}
	return j, nil
}

// planJacobian returns the parameter columns of the Jacobian that fit the
// memory budget at once, or an error when not even one does. Like
// planStructured it needs only the network's shape.
func planJacobian(k int, memEst func(batch int) int64, n1, n2 int, same bool, opt Options) (int64, error) {
	rows := int64(n1 * k)
	if !same {
		rows += int64(n2 * k)
	}
	out := int64(n1 * n2)
	if opt.Full {
		out += 2 * int64(n1*k) * int64(n2*k)
	}
	avail := opt.MaxMemory - 8*out - memEst(1)
	cols := int64(0)
	if avail > 0 {
		cols = avail / (8 * rows)
	}
	if cols < 1 {
		return 0, fmt.Errorf("ntkempirical: the Jacobian NTK of %d x %d examples with %d logits does not fit the memory budget of %s even one parameter at a time",
			n1, n2, k, bytesString(opt.MaxMemory))
	}
	return cols, nil
}
