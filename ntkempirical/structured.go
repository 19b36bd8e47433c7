package ntkempirical

import (
	"fmt"

	"gonum.org/v1/gonum/mat"

	"github.com/ntkharness/ntkharness/linalg"
	"github.com/ntkharness/ntkharness/nets"
	"github.com/ntkharness/ntkharness/npy"
)

// maxBlock bounds the examples per backward pass of the structured path.
const maxBlock = 256

// Contractions of a convolutional layer (see structured).
const (
	convAuto      = iota // the cheaper of the two in FLOPs
	convPairs            // position pairs
	convPerSample        // per-example weight gradients
)

// structured computes the kernel from per-layer factors. For each affine
// layer l with Positions P (1 for dense layers) the layer inputs H_l
// ([N P, n_in], rows (example, position)) and, from one backward pass per
// logit a with the cotangent one-hot in column a for every example, the
// deltas D^a_l = d f_a / d z_l ([N P, n_out]) give (examples do not
// interact, so one pass serves the whole batch)
//
//	Theta_{(i,a),(j,b)} = sum_l sum_{p,q} F_l[(i,p),(j,q)] (D^a_l1 D^b_l2^T)[(i,p),(j,q)],
//	F_l = (sw2/n_in) H_l1 H_l2^T + sb2                     ([N1 P, N2 P]).
//
// For a dense layer this is F_l .* (D D^T). A convolution can instead
// form each example's weight gradient s_w H_i^T D^a_i ([n_in, n_out]) and
// bias gradient s_b sum_p D^a_i[p], and take their Gram matrix over
// examples. Position pairs cost about (N P)^2 (n_in + k n_out) operations
// and (N P)^2 values per layer; per-example gradients k N P n_in n_out +
// k N^2 n_in n_out operations and N n_in n_out values, and win for large
// images. The cheaper is used per layer. The traced kernel needs only
// a = b and streams over logits; the full kernel keeps every logit's
// factors. All products go through linalg.Gemm and linalg.Syrk.
func structured(net *nets.Net, x1, x2 npy.Array, same bool, opt Options) (Kernel, error) {
	layers := net.Layers()
	k := net.Outputs()
	n1 := x1.Shape[0]
	n2 := n1
	if !same {
		n2 = x2.Shape[0]
	}
	pl, err := planStructured(layers, k, net.MemoryEstimate, n1, n2, same, opt)
	if err != nil {
		return Kernel{}, err
	}
	batch, perSample, needInputs := pl.batch, pl.perSample, pl.needInputs

	blocks := func(n int) int { return (n + batch - 1) / batch }
	total := k * blocks(n1)
	if !same {
		total += k * blocks(n2)
	}
	done := 0
	step := func() {
		done++
		if opt.Progress != nil {
			opt.Progress(done, total)
		}
	}
	all := make([]bool, len(layers))
	for l := range all {
		all[l] = true
	}
	// An input set that fits in one block is run forward once for all
	// logits; a larger one block by block for each logit.
	var fp1, fp2 *nets.FactorPass
	if n1 <= batch {
		if fp1, err = net.ForwardFactors(x1); err != nil {
			return Kernel{}, err
		}
	}
	if !same && n2 <= batch {
		if fp2, err = net.ForwardFactors(x2); err != nil {
			return Kernel{}, err
		}
	}
	// pass returns the deltas and the inputs the contractions need for
	// logit a, for x1 and (unless same) x2.
	pass := func(a int) (fs [2]factorSet, err error) {
		want := needInputs
		if a == 0 {
			want = all
		}
		if fs[0].d, fs[0].h, err = collect(net, fp1, x1, a, batch, want, step); err != nil {
			return fs, err
		}
		if same {
			fs[1] = fs[0]
			return fs, nil
		}
		fs[1].d, fs[1].h, err = collect(net, fp2, x2, a, batch, want, step)
		return fs, err
	}
	// sampleGrads returns logit a's per-example gradients of the
	// per-sample layers, [N, n_in n_out + n_out] each (nil for others).
	sampleGrads := func(fs factorSet, n int) []*mat.Dense {
		g := make([]*mat.Dense, len(layers))
		for l, ly := range layers {
			if perSample[l] {
				g[l] = perExampleGrads(fs.h[l], fs.d[l], n, ly.Positions, ly.Scale, ly.BiasScale)
			}
		}
		return g
	}

	first, err := pass(0)
	if err != nil {
		return Kernel{}, err
	}
	// The logit-independent factors F_l of the position-pair layers.
	f := make([]*mat.Dense, len(layers))
	for l, ly := range layers {
		if perSample[l] {
			continue
		}
		var b *mat.Dense
		if !same {
			b = first[1].h[l]
		}
		g := gram(first[0].h[l], b)
		raw := g.RawMatrix()
		s2, b2 := ly.Scale*ly.Scale, ly.BiasScale*ly.BiasScale
		for i := 0; i < raw.Rows; i++ {
			row := raw.Data[i*raw.Stride : i*raw.Stride+raw.Cols]
			for j := range row {
				row[j] = s2*row[j] + b2
			}
		}
		f[l] = g
		first[0].h[l], first[1].h[l] = nil, nil
	}

	res := Kernel{NTK: mat.NewDense(n1, n2, nil)}
	if !opt.Full {
		for a := 0; a < k; a++ {
			fs := first
			if a > 0 {
				if fs, err = pass(a); err != nil {
					return Kernel{}, err
				}
			}
			g1 := sampleGrads(fs[0], n1)
			g2 := g1
			if !same {
				g2 = sampleGrads(fs[1], n2)
			}
			for l, ly := range layers {
				if perSample[l] {
					var b *mat.Dense
					if !same {
						b = g2[l]
					}
					res.NTK.Add(res.NTK, scaled(1/float64(k), gram(g1[l], b)))
					continue
				}
				var b *mat.Dense
				if !same {
					b = fs[1].d[l]
				}
				addBlockSum(res.NTK, f[l], gram(fs[0].d[l], b), ly.Positions, 1/float64(k), 1, 0, 1, 0)
			}
		}
		return res, nil
	}

	// Full kernel: keep every logit's deltas (and per-example gradients).
	sets := [][2]factorSet{first}
	for a := 1; a < k; a++ {
		fs, err := pass(a)
		if err != nil {
			return Kernel{}, err
		}
		sets = append(sets, fs)
	}
	res.Full = mat.NewDense(n1*k, n2*k, nil)
	g1 := make([][]*mat.Dense, k)
	g2 := make([][]*mat.Dense, k)
	for a := 0; a < k; a++ {
		g1[a] = sampleGrads(sets[a][0], n1)
		g2[a] = g1[a]
		if !same {
			g2[a] = sampleGrads(sets[a][1], n2)
		}
	}
	for l, ly := range layers {
		if perSample[l] {
			t := mat.NewDense(n1, n2, nil)
			one := ones(n1, n2)
			for a := 0; a < k; a++ {
				for b := 0; b < k; b++ {
					gramAdd(t, 1, g1[a][l], g2[b][l], 0)
					addBlockSum(res.Full, t, one, 1, 1, k, a, k, b)
				}
			}
			continue
		}
		t := mat.NewDense(n1*ly.Positions, n2*ly.Positions, nil)
		for a := 0; a < k; a++ {
			for b := 0; b < k; b++ {
				gramAdd(t, 1, sets[a][0].d[l], sets[b][1].d[l], 0)
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

// factorSet holds one logit's per-layer deltas and (where collected) layer
// inputs for one input set.
type factorSet struct {
	d, h []*mat.Dense
}

// perExampleGrads returns the [n, n_in n_out + n_out] matrix whose row i
// is example i's gradient: s_w H_i^T D_i ([n_in, n_out], row-major), then
// s_b sum_p D_i[p], with H_i and D_i the p rows of example i.
func perExampleGrads(h, d *mat.Dense, n, p int, sw, sb float64) *mat.Dense {
	_, fi := h.Dims()
	_, fo := d.Dims()
	g := mat.NewDense(n, fi*fo+fo, nil)
	for i := 0; i < n; i++ {
		row := g.RawRowView(i)
		hi := h.Slice(i*p, (i+1)*p, 0, fi).(*mat.Dense)
		di := d.Slice(i*p, (i+1)*p, 0, fo).(*mat.Dense)
		linalg.Gemm(true, false, sw, hi, di, 0, mat.NewDense(fi, fo, row[:fi*fo]))
		bias := row[fi*fo:]
		for q := 0; q < p; q++ {
			for j, v := range di.RawRowView(q) {
				bias[j] += sb * v
			}
		}
	}
	return g
}

// scaled returns s m (in place).
func scaled(s float64, m *mat.Dense) *mat.Dense {
	m.Scale(s, m)
	return m
}

// ones returns an r x c matrix of ones.
func ones(r, c int) *mat.Dense {
	d := make([]float64, r*c)
	for i := range d {
		d[i] = 1
	}
	return mat.NewDense(r, c, d)
}

// collect runs the network backward over all examples of x, in blocks of
// at most batch, with the cotangent one-hot in logit a. It returns per layer
// the deltas d f_a / d z_l, [N P, n_out], and for the layers with
// wantInputs[l] the layer inputs H_{l-1}, [N P, n_in] (nil for the
// others), rows (example, position). step is called after each backward
// pass. With fp, the forward pass of all of x, the factors come from it.
func collect(net *nets.Net, fp *nets.FactorPass, x npy.Array, a, batch int, wantInputs []bool, step func()) (deltas, inputs []*mat.Dense, err error) {
	layers := net.Layers()
	n := x.Shape[0]
	k := net.Outputs()
	in := net.InputShape()
	deltas = make([]*mat.Dense, len(layers))
	inputs = make([]*mat.Dense, len(layers))
	for l, ly := range layers {
		deltas[l] = mat.NewDense(n*ly.Positions, ly.FanOut, nil)
		if wantInputs[l] {
			inputs[l] = mat.NewDense(n*ly.Positions, ly.FanIn, nil)
		}
	}
	dv := make([]*mat.Dense, len(layers))
	iv := make([]*mat.Dense, len(layers))
	for lo := 0; lo < n; lo += batch {
		hi := min(n, lo+batch)
		for l, ly := range layers {
			r0, r1 := lo*ly.Positions, hi*ly.Positions
			dv[l] = deltas[l].Slice(r0, r1, 0, ly.FanOut).(*mat.Dense)
			if inputs[l] != nil {
				iv[l] = inputs[l].Slice(r0, r1, 0, ly.FanIn).(*mat.Dense)
			}
		}
		if fp != nil {
			err = fp.Factors(oneHot(n, k, a), iv, dv)
		} else {
			err = net.LayerFactors(slice(x, lo, hi, in), oneHot(hi-lo, k, a), iv, dv)
		}
		if err != nil {
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

// structuredPlan is the batch size, per-layer contractions and memory of a
// structured kernel.
type structuredPlan struct {
	batch                 int
	perSample, needInputs []bool
	bytes                 int64
}

// planStructured chooses the batch and each layer's contraction of the
// structured kernel of a network with the given layers, k logits and
// training-memory estimate memEst on n1 x n2 examples, and refuses a plan
// over opt.MaxMemory. It needs only the network's shape, so a plan can be
// refused before the network is built.
func planStructured(layers []nets.Layer, k int, memEst func(batch int) int64, n1, n2 int, same bool, opt Options) (structuredPlan, error) {
	nx := int64(n1)
	if !same {
		nx += int64(n2)
	}
	// The graph's parameter storage does not depend on the batch; its
	// activations take at most a quarter of the budget.
	batch := min(maxBlock, max(n1, n2))
	for batch > 1 && memEst(batch)-memEst(0) > opt.MaxMemory/4 {
		batch /= 2
	}

	// Choose each layer's contraction and plan the memory, in values.
	perSample := make([]bool, len(layers))
	needInputs := make([]bool, len(layers)) // at every logit, not only the first
	var factors, deltas, inputs, grads, temp int64
	for l, ly := range layers {
		p, fi, fo := int64(ly.Positions), int64(ly.FanIn), int64(ly.FanOut)
		r1, r2 := int64(n1)*p, int64(n2)*p
		if ly.Positions > 1 {
			pairs := r1 * r2 * (fi + int64(k)*fo)
			samples := int64(k) * (nx*p*fi*fo + int64(n1)*int64(n2)*fi*fo)
			switch opt.conv {
			case convAuto:
				perSample[l] = samples < pairs
			case convPerSample:
				perSample[l] = true
			}
		}
		inputs += nx * p * fi
		deltas += nx * p * fo
		if perSample[l] {
			needInputs[l] = true
			g := nx * (fi*fo + fo)
			if opt.Full {
				g *= int64(k)
			}
			grads += g
			temp = max(temp, int64(n1)*int64(n2))
		} else {
			factors += r1 * r2
			temp = max(temp, r1*r2)
		}
	}
	if opt.Full {
		deltas *= int64(k)
	}
	out := int64(n1) * int64(n2)
	if opt.Full {
		out += 2 * int64(n1*k) * int64(n2*k)
	}
	need := 8*(factors+deltas+inputs+grads+2*temp+out) + memEst(batch)
	if need > opt.MaxMemory {
		return structuredPlan{}, fmt.Errorf("ntkempirical: the structured NTK of %d x %d examples needs about %s (network %s, layer factors %s, deltas %s, per-example gradients %s), over the memory budget of %s: use fewer examples, smaller images, a smaller width, or a larger budget",
			n1, n2, bytesString(need), bytesString(memEst(batch)), bytesString(8*factors), bytesString(8*deltas), bytesString(8*grads), bytesString(opt.MaxMemory))
	}
	return structuredPlan{batch: batch, perSample: perSample, needInputs: needInputs, bytes: need}, nil
}
