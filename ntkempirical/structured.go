package ntkempirical

import (
	"fmt"

	"gonum.org/v1/gonum/mat"

	"github.com/ntkharness/ntkharness/datasets/npyarray"
	"github.com/ntkharness/ntkharness/nets"
)

// maxBlock bounds the examples per backward pass of the structured path.
const maxBlock = 256

// structured computes the kernel from per-layer factors. For each affine
// layer l with Positions P (1 for dense layers), the layer inputs H_l
// ([N P, n_in], rows (example, position)) give the logit-independent factor
//
//	F_l = (sw2/n_in) H_l1 H_l2^T + sb2                     ([N1 P, N2 P])
//
// and one backward pass per logit a with the cotangent one-hot in column a
// for every example gives the deltas D^a_l = d f_a / d z_l ([N P, n_out]);
// examples do not interact, so one pass serves the whole batch. Then
//
//	Theta_{(i,a),(j,b)} = sum_l sum_{p,q} F_l[(i,p),(j,q)] (D^a_l1 D^b_l2^T)[(i,p),(j,q)].
//
// The traced kernel needs only a = b and streams over logits; the full
// kernel keeps the deltas of every logit. All products go through
// linalg.Gemm and linalg.Syrk.
func structured(net *nets.Net, x1, x2 npyarray.Array, same bool, opt Options) (Kernel, error) {
	layers := net.Layers()
	k := net.Outputs()
	n1 := x1.Shape[0]
	n2 := n1
	if !same {
		n2 = x2.Shape[0]
	}
	batch := min(maxBlock, max(n1, n2))
	for batch > 1 && net.MemoryEstimate(batch) > opt.MaxMemory/4 {
		batch /= 2
	}

	// Memory plan, in float64 values.
	var factors, deltas, inputs, temp int64
	for _, ly := range layers {
		r1, r2 := int64(n1*ly.Positions), int64(n2*ly.Positions)
		factors += r1 * r2
		temp = max(temp, r1*r2)
		rows := r1
		if !same {
			rows += r2
		}
		deltas += rows * int64(ly.FanOut)
		inputs += rows * int64(ly.FanIn)
	}
	if opt.Full {
		deltas *= int64(k)
	}
	out := int64(n1 * n2)
	if opt.Full {
		out += int64(n1*k) * int64(n2*k)
	}
	need := 8*(factors+deltas+inputs+2*temp+out) + net.MemoryEstimate(batch)
	if need > opt.MaxMemory {
		return Kernel{}, fmt.Errorf("ntkempirical: the structured NTK of %d x %d examples needs about %s (layer factors %s, deltas %s), over the memory budget of %s: use fewer examples, smaller images, or a larger budget",
			n1, n2, bytesString(need), bytesString(8*factors), bytesString(8*deltas), bytesString(opt.MaxMemory))
	}

	blocks := func(n int) int { return (n + batch - 1) / batch }
	total := k * blocks(n1)
	if !same {
		total += k * blocks(n2)
	}
	done := 0
	progress := func() {
		done++
		if opt.Progress != nil {
			opt.Progress(done, total)
		}
	}

	// Logit 0 also yields the layer inputs, hence the factors F_l.
	d1, h1, err := collect(net, x1, 0, batch, true, progress)
	if err != nil {
		return Kernel{}, err
	}
	var d2, h2 []*mat.Dense
	if !same {
		if d2, h2, err = collect(net, x2, 0, batch, true, progress); err != nil {
			return Kernel{}, err
		}
	}
	f := make([]*mat.Dense, len(layers))
	for l, ly := range layers {
		var b *mat.Dense
		if !same {
			b = h2[l]
		}
		g := gram(h1[l], b)
		raw := g.RawMatrix()
		s2, b2 := ly.Scale*ly.Scale, ly.BiasScale*ly.BiasScale
		for i := 0; i < raw.Rows; i++ {
			row := raw.Data[i*raw.Stride : i*raw.Stride+raw.Cols]
			for j := range row {
				row[j] = s2*row[j] + b2
			}
		}
		f[l] = g
		h1[l] = nil
		if !same {
			h2[l] = nil
		}
	}
	h1, h2 = nil, nil

	res := Kernel{NTK: mat.NewDense(n1, n2, nil)}
	if !opt.Full {
		for a := 0; a < k; a++ {
			if a > 0 {
				if d1, _, err = collect(net, x1, a, batch, false, progress); err != nil {
					return Kernel{}, err
				}
				if !same {
					if d2, _, err = collect(net, x2, a, batch, false, progress); err != nil {
						return Kernel{}, err
					}
				}
			}
			for l, ly := range layers {
				var b *mat.Dense
				if !same {
					b = d2[l]
				}
				addBlockSum(res.NTK, f[l], gram(d1[l], b), ly.Positions, 1/float64(k), 1, 0, 1, 0)
			}
		}
		return res, nil
	}

	all1 := [][]*mat.Dense{d1}
	all2 := [][]*mat.Dense{d2}
	for a := 1; a < k; a++ {
		if d1, _, err = collect(net, x1, a, batch, false, progress); err != nil {
			return Kernel{}, err
		}
		all1 = append(all1, d1)
		if !same {
			if d2, _, err = collect(net, x2, a, batch, false, progress); err != nil {
				return Kernel{}, err
			}
			all2 = append(all2, d2)
		}
	}
	if same {
		all2 = all1
	}
	res.Full = mat.NewDense(n1*k, n2*k, nil)
	for l, ly := range layers {
		t := mat.NewDense(n1*ly.Positions, n2*ly.Positions, nil)
		for a := 0; a < k; a++ {
			for b := 0; b < k; b++ {
				gramAdd(t, 1, all1[a][l], all2[b][l], 0)
				addBlockSum(res.Full, f[l], t, ly.Positions, 1, k, a, k, b)
			}
		}
	}
	for a := 0; a < k; a++ {
		for i := 0; i < n1; i++ {
			for j := 0; j < n2; j++ {
				res.NTK.Set(i, j, res.NTK.At(i, j)+res.Full.At(i*k+a, j*k+a)/float64(k))
			}
		}
	}
	return res, nil
}

// collect runs the network backward over all examples of x, in blocks of
// at most batch, with the cotangent one-hot in logit a. It returns per layer
// the deltas d f_a / d z_l, [N P, n_out], and when withInputs the layer
// inputs H_{l-1}, [N P, n_in], rows (example, position). step is called
// after each backward pass.
func collect(net *nets.Net, x npyarray.Array, a, batch int, withInputs bool, step func()) (deltas, inputs []*mat.Dense, err error) {
	layers := net.Layers()
	n := x.Shape[0]
	k := net.Outputs()
	in := net.InputShape()
	deltas = make([]*mat.Dense, len(layers))
	if withInputs {
		inputs = make([]*mat.Dense, len(layers))
	}
	for l, ly := range layers {
		deltas[l] = mat.NewDense(n*ly.Positions, ly.FanOut, nil)
		if withInputs {
			inputs[l] = mat.NewDense(n*ly.Positions, ly.FanIn, nil)
		}
	}
	dv := make([]*mat.Dense, len(layers))
	var iv []*mat.Dense
	if withInputs {
		iv = make([]*mat.Dense, len(layers))
	}
	for lo := 0; lo < n; lo += batch {
		hi := min(n, lo+batch)
		for l, ly := range layers {
			r0, r1 := lo*ly.Positions, hi*ly.Positions
			dv[l] = deltas[l].Slice(r0, r1, 0, ly.FanOut).(*mat.Dense)
			if withInputs {
				iv[l] = inputs[l].Slice(r0, r1, 0, ly.FanIn).(*mat.Dense)
			}
		}
		if err := net.LayerFactors(slice(x, lo, hi, in), oneHot(hi-lo, k, a), iv, dv); err != nil {
			return nil, nil, err
		}
		step()
	}
	return deltas, inputs, nil
}

// addBlockSum adds to dst, at (i*rs + ro, j*cs + co), scale times the sum
// over the p x p block (i, j) of f .* t:
//
//	dst[i*rs+ro, j*cs+co] += scale * sum_{u,v < p} f[i p + u, j p + v] t[i p + u, j p + v].
func addBlockSum(dst, f, t *mat.Dense, p int, scale float64, rs, ro, cs, co int) {
	fr, fc := f.Dims()
	fraw, traw, draw := f.RawMatrix(), t.RawMatrix(), dst.RawMatrix()
	ni, nj := fr/p, fc/p
	for i := 0; i < ni; i++ {
		drow := draw.Data[(i*rs+ro)*draw.Stride:]
		for u := 0; u < p; u++ {
			r := i*p + u
			frow := fraw.Data[r*fraw.Stride : r*fraw.Stride+fc]
			trow := traw.Data[r*traw.Stride : r*traw.Stride+fc]
			if p == 1 {
				for j, fv := range frow {
					drow[j*cs+co] += scale * fv * trow[j]
				}
				continue
			}
			for j := 0; j < nj; j++ {
				s := 0.0
				for v := j * p; v < (j+1)*p; v++ {
					s += frow[v] * trow[v]
				}
				drow[j*cs+co] += scale * s
			}
		}
	}
}

// bytesString formats a byte count in MiB or GiB.
func bytesString(b int64) string {
	if b >= 1<<30 {
		return fmt.Sprintf("%.1f GiB", float64(b)/(1<<30))
	}
	return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20))
}
