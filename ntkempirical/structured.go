package ntkempirical

import (
	"fmt"

	"gonum.org/v1/gonum/mat"

	"github.com/ntkharness/ntkharness/internal/bigmem"
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
// ([N P, n_in], rows (example, position)) and the deltas
// D^a_l = d f_a / d z_l ([N P, n_out]) of every logit a give (examples do
// not interact, so one pass serves the whole batch)
//
//	Theta_{(i,a),(j,b)} = sum_l sum_{p,q} F_l[(i,p),(j,q)] (D^a_l1 D^b_l2^T)[(i,p),(j,q)],
//	F_l = (sw2/n_in) H_l1 H_l2^T + sb2                     ([N1 P, N2 P]).
//
// The deltas of c logits come from one reverse pass (nets LogitFactors,
// rows (i, a, p)). For the traced kernel the logits' terms add up to one
// product: with D~_l = [D^a0_l | ... | D^a_{c-1}_l] ([N P, c n_out], for a
// dense layer the pass's rows read as they are),
//
//	sum_a D^a_l1 D^a_l2^T = D~_l1 D~_l2^T.
//
// A convolution can instead form each example's weight gradient
// s_w H_i^T D^a_i ([n_in, n_out]) and bias gradient s_b sum_p D^a_i[p], and
// take their Gram matrix over examples. Position pairs cost about
// (N P)^2 (n_in + k n_out) operations and (N P)^2 values per layer;
// per-example gradients k N P n_in n_out + k N^2 n_in n_out operations and
// N n_in n_out values, and win for large images. The cheaper is used per
// layer. All products go through linalg.Gemm and linalg.Syrk.
func structured(net *nets.Net, x1, x2 npy.Array, same bool, opt Options) (Kernel, error) {
	n2 := 0
	if !same {
		n2 = x2.Shape[0]
	}
	pl, err := planStructured(net.Layers(), net.Outputs(), net.LogitFactorsMemory, x1.Shape[0], n2, 1, opt)
	if err != nil {
		return Kernel{}, err
	}
	run := func(x npy.Array, a0, a1 int, in []bool, f nets.FactorFunc) error {
		return net.LogitFactorsFunc(x, a0, a1, in, f)
	}
	var res Kernel
	err = structuredMembers(net.Layers(), net.Outputs(), 1, run, x1, x2, same, pl, opt, func(_ int, k Kernel) { res = k })
	return res, err
}

// factorRun hands the layer factors of logits a0..a1-1 on the examples x
// of each of a set of networks to f (nets LogitFactorsFunc: the inputs of
// the layers in inputs, the deltas with rows (i, a, p)).
type factorRun func(x npy.Array, a0, a1 int, inputs []bool, f nets.FactorFunc) error

// structuredMembers computes the structured kernels of S networks with the
// given layers and k logits, whose factors run gives, and calls add with
// each (member m, kernel), following the plan pl.
func structuredMembers(layers []nets.Layer, k, S int, run factorRun, x1, x2 npy.Array, same bool, pl structuredPlan, opt Options, add func(m int, k Kernel)) error {
	n1 := x1.Shape[0]
	n2 := n1
	if !same {
		n2 = x2.Shape[0]
	}
	batch, c := pl.batch, pl.logits
	blocks := func(n int) int { return (n + batch - 1) / batch }
	chunks := (k + c - 1) / c
	total := chunks
	if !pl.stream {
		total = chunks * blocks(n1)
		if !same {
			total += chunks * blocks(n2)
		}
	}
	done := 0
	step := func() {
		done++
		if opt.Progress != nil {
			opt.Progress(done, total)
		}
	}
	res := make([]Kernel, S)
	f := make([][]*mat.Dense, S) // per member, the factors F_l of the position-pair layers
	for m := range res {
		res[m].NTK = mat.NewDense(n1, n2, nil)
		if opt.Full {
			res[m].Full = mat.NewDense(n1*k, n2*k, nil)
		}
		f[m] = make([]*mat.Dense, len(layers))
	}
	// contract adds member m's layer-l terms for logits a0..a1-1 from the
	// factors of x1 (h1, d1) and x2 (h2, d2), first forming F_l at a0 = 0.
	contract := func(m, l, a0, a1 int, h1, h2, d1, d2 *mat.Dense) {
		ly, cc := layers[l], a1-a0
		var b *mat.Dense
		if a0 == 0 && !pl.perSample[l] {
			if !same {
				b = h2
			}
			f[m][l] = pairFactor(ly, h1, b)
		}
		switch {
		case opt.Full: // the plan runs all logits at once
			fullLayer(res[m].Full, ly, pl.perSample[l], k, f[m][l], h1, h2, d1, d2, same)
		case pl.perSample[l]:
			for a := 0; a < cc; a++ {
				g1 := perExampleGrads(h1, logitRows(d1, n1, cc, ly.Positions, a), n1, ly.Positions, ly.Scale, ly.BiasScale)
				if !same {
					b = perExampleGrads(h2, logitRows(d2, n2, cc, ly.Positions, a), n2, ly.Positions, ly.Scale, ly.BiasScale)
				}
				res[m].NTK.Add(res[m].NTK, scaled(1/float64(k), gram(g1, b)))
			}
		default:
			if !same {
				b = byExample(d2, n2, cc, ly.Positions)
			}
			addBlockSum(res[m].NTK, f[m][l], gram(byExample(d1, n1, cc, ly.Positions), b), ly.Positions, 1/float64(k), 1, 0, 1, 0)
		}
	}
	all := make([]bool, len(layers))
	for l := range all {
		all[l] = true
	}
	x := x1
	if pl.stream && !same { // x1 and x2 in one pass
		x = npy.Array{Shape: append([]int{n1 + n2}, x1.Shape[1:]...), Data: append(x1.Data[:len(x1.Data):len(x1.Data)], x2.Data...)}
	}
	for a0 := 0; a0 < k; a0 += c {
		a1 := min(k, a0+c)
		want := pl.needInputs
		if a0 == 0 {
			want = all
		}
		if pl.stream {
			// Contract each layer's factors as the pass hands them out.
			err := run(x, a0, a1, want, func(m, l int, h, d *mat.Dense) {
				h1, h2, d1, d2 := h, h, d, d
				if !same {
					r1, rd := n1*layers[l].Positions, n1*(a1-a0)*layers[l].Positions
					if h != nil {
						h1, h2 = rows(h, 0, r1), rows(h, r1, -1)
					}
					d1, d2 = rows(d, 0, rd), rows(d, rd, -1)
				}
				contract(m, l, a0, a1, h1, h2, d1, d2)
			})
			if err != nil {
				return err
			}
			step()
			continue
		}
		h1, d1, err := collect(layers, S, run, x1, a0, a1, batch, want, step)
		if err != nil {
			return err
		}
		h2, d2 := h1, d1
		if !same {
			if h2, d2, err = collect(layers, S, run, x2, a0, a1, batch, want, step); err != nil {
				return err
			}
		}
		for m := 0; m < S; m++ {
			for l := range layers {
				contract(m, l, a0, a1, h1[m][l], h2[m][l], d1[m][l], d2[m][l])
			}
		}
	}
	for m := 0; m < S; m++ {
		if opt.Full {
			for a := 0; a < k; a++ {
				for i := 0; i < n1; i++ {
					for j := 0; j < n2; j++ {
						res[m].NTK.Set(i, j, res[m].NTK.At(i, j)+res[m].Full.At(i*k+a, j*k+a)/float64(k))
					}
				}
			}
		}
		add(m, res[m])
	}
	return nil
}

// rows returns rows r0..r1-1 of a (r1 < 0: to the end) as a view.
func rows(a *mat.Dense, r0, r1 int) *mat.Dense {
	r, c := a.Dims()
	if r1 < 0 {
		r1 = r
	}
	return a.Slice(r0, r1, 0, c).(*mat.Dense)
}

// collect returns, per network, the inputs (of the layers in want) and
// the deltas of logits a0..a1-1 on all examples of x, from passes over
// blocks of at most batch examples; step is called after each.
func collect(layers []nets.Layer, S int, run factorRun, x npy.Array, a0, a1, batch int, want []bool, step func()) (h, d [][]*mat.Dense, err error) {
	n, cc := x.Shape[0], a1-a0
	// All of them in one block (see bigmem).
	size := 0
	for l, ly := range layers {
		size += n * cc * ly.Positions * ly.FanOut
		if want[l] {
			size += n * ly.Positions * ly.FanIn
		}
	}
	buf := bigmem.Floats[float64](S * size)
	next := func(r, c int) *mat.Dense {
		m := mat.NewDense(r, c, buf[:r*c:r*c])
		buf = buf[r*c:]
		return m
	}
	h, d = make([][]*mat.Dense, S), make([][]*mat.Dense, S)
	for m := 0; m < S; m++ {
		h[m], d[m] = make([]*mat.Dense, len(layers)), make([]*mat.Dense, len(layers))
		for l, ly := range layers {
			d[m][l] = next(n*cc*ly.Positions, ly.FanOut)
			if want[l] {
				h[m][l] = next(n*ly.Positions, ly.FanIn)
			}
		}
	}
	in := x.Shape[1:]
	for lo := 0; lo < n; lo += batch {
		hi := min(n, lo+batch)
		err := run(slice(x, lo, hi, in), a0, a1, want, func(m, l int, hb, db *mat.Dense) {
			p := layers[l].Positions
			rows(d[m][l], lo*cc*p, hi*cc*p).Copy(db)
			if hb != nil {
				rows(h[m][l], lo*p, hi*p).Copy(hb)
			}
		})
		if err != nil {
			return nil, nil, err
		}
		step()
	}
	return h, d, nil
}

// pairFactor returns layer ly's F = s_w^2 h1 h2^T + s_b^2 (h2 nil: h1).
func pairFactor(ly nets.Layer, h1, h2 *mat.Dense) *mat.Dense {
	g := gram(h1, h2)
	raw := g.RawMatrix()
	s2, b2 := ly.Scale*ly.Scale, ly.BiasScale*ly.BiasScale
	for i := 0; i < raw.Rows; i++ {
		row := raw.Data[i*raw.Stride : i*raw.Stride+raw.Cols]
		for j := range row {
			row[j] = s2*row[j] + b2
		}
	}
	return g
}

// fullLayer adds layer ly's terms to the full kernel from the factors of
// all k logits (deltas d1, d2 with rows (i, a, p); for a per-sample layer
// the inputs h1, h2, else F_l = f).
func fullLayer(full *mat.Dense, ly nets.Layer, perSample bool, k int, f, h1, h2, d1, d2 *mat.Dense, same bool) {
	r1, r2 := full.Dims()
	n1, n2, p := r1/k, r2/k, ly.Positions
	// Per logit: the deltas, or the per-example gradients.
	e1, e2 := make([]*mat.Dense, k), make([]*mat.Dense, k)
	for a := 0; a < k; a++ {
		e1[a] = logitRows(d1, n1, k, p, a)
		if perSample {
			e1[a] = perExampleGrads(h1, e1[a], n1, p, ly.Scale, ly.BiasScale)
		}
		e2[a] = e1[a]
		if !same {
			e2[a] = logitRows(d2, n2, k, p, a)
			if perSample {
				e2[a] = perExampleGrads(h2, e2[a], n2, p, ly.Scale, ly.BiasScale)
			}
		}
	}
	t := mat.NewDense(n1*p, n2*p, nil)
	if perSample {
		f, t, p = ones(n1, n2), mat.NewDense(n1, n2, nil), 1
	}
	for a := 0; a < k; a++ {
		for b := 0; b < k; b++ {
			gramAdd(t, 1, e1[a], e2[b], 0)
			addBlockSum(full, f, t, p, 1, k, a, k, b)
		}
	}
}

// logitRows returns the rows (i, p) of logit a of the deltas d, rows
// (i, a, p) of n examples, c logits and p positions: [n p, n_out].
func logitRows(d *mat.Dense, n, c, p, a int) *mat.Dense {
	if c == 1 {
		return d
	}
	_, fo := d.Dims()
	out := mat.NewDense(n*p, fo, nil)
	for i := 0; i < n; i++ {
		r0 := (i*c + a) * p
		out.Slice(i*p, (i+1)*p, 0, fo).(*mat.Dense).Copy(d.Slice(r0, r0+p, 0, fo))
	}
	return out
}

// byExample returns D~ = [D^a0 | ... | D^a_{c-1}] ([n p, c n_out], rows
// (i, p)) from the deltas d (rows (i, a, p), contiguous): for p = 1 the
// same values read as n rows, else a copy.
func byExample(d *mat.Dense, n, c, p int) *mat.Dense {
	_, fo := d.Dims()
	raw := d.RawMatrix()
	if p == 1 {
		return mat.NewDense(n, c*fo, raw.Data[:n*c*fo])
	}
	out := mat.NewDense(n*p, c*fo, nil)
	for i := 0; i < n; i++ {
		for a := 0; a < c; a++ {
			for q := 0; q < p; q++ {
				copy(out.RawRowView(i*p + q)[a*fo:(a+1)*fo], raw.Data[((i*c+a)*p+q)*raw.Stride:][:fo])
			}
		}
	}
	return out
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

// structuredPlan is the batch size, logits per reverse pass, networks at
// once, per-layer contractions and memory of structured kernels.
type structuredPlan struct {
	batch, logits, members int
	// stream: all examples (x1 and x2) fit in one block, whose factors
	// are contracted as the pass hands them out, not kept.
	stream                bool
	perSample, needInputs []bool
	bytes                 int64
}

// planStructured plans the structured kernels of `members` networks with
// the given layers and k logits on n1 x n2 examples (n2 = 0: x2 = x1),
// where memEst(batch, c) is one network's memory for LogitFactors of c
// logits on batch examples, and refuses a plan over opt.MaxMemory. It
// needs only the networks' shape, so a plan can be refused before they
// are built.
//
// Each network holds its parameters and pass buffers, its factors F_l and
// its kernel, and unless all nx = n1 + n2 examples fit in one block (then
// the pass's factors are contracted as they come), its layer inputs and
// the deltas of c logits for all its examples (nx c P_l rows per layer);
// the mean's sum is shared. The plan starts from all k logits per pass
// (the full kernel needs them all), blocks of min(256, nx) examples and
// all networks at once, and while the memory exceeds the budget halves
// the logits per pass, then the block; the networks at once are then as
// many as fit.
func planStructured(layers []nets.Layer, k int, memEst func(batch, c int) int64, n1, n2, members int, opt Options) (structuredPlan, error) {
	same := n2 == 0
	if same {
		n2 = n1
	}
	nx := int64(n1)
	if !same {
		nx += int64(n2)
	}
	// Choose each layer's contraction.
	perSample := make([]bool, len(layers))
	needInputs := make([]bool, len(layers)) // at every logit, not only the first
	for l, ly := range layers {
		p, fi, fo := int64(ly.Positions), int64(ly.FanIn), int64(ly.FanOut)
		if ly.Positions > 1 {
			pairs := int64(n1) * p * int64(n2) * p * (fi + int64(k)*fo)
			samples := int64(k) * (nx*p*fi*fo + int64(n1)*int64(n2)*fi*fo)
			switch opt.conv {
			case convAuto:
				perSample[l] = samples < pairs
			case convPerSample:
				perSample[l] = true
			}
		}
		needInputs[l] = perSample[l]
	}
	out := int64(n1) * int64(n2)
	if opt.Full {
		out += int64(n1*k) * int64(n2*k)
	}
	// perNet returns one network's memory in bytes and its parts.
	perNet := func(batch, c int, stream bool) (need, network, factors, deltas, grads int64) {
		var inputs, temp int64
		for l, ly := range layers {
			p, fi, fo := int64(ly.Positions), int64(ly.FanIn), int64(ly.FanOut)
			r1, r2 := int64(n1)*p, int64(n2)*p
			copies := int64(0) // per-logit or per-example rearrangements of the deltas
			if opt.Full || p > 1 {
				copies = nx * p * fo * int64(c)
			}
			if stream { // but a float32 pass's, or patches, are copies
				copies += nx * p * (fi + fo*int64(c))
			} else {
				inputs += nx * p * fi
				deltas += nx * p * fo * int64(c)
			}
			if perSample[l] {
				g := nx * (fi*fo + fo)
				if opt.Full {
					g *= int64(k)
				}
				grads += g
				temp = max(temp, copies+2*int64(n1)*int64(n2))
			} else {
				factors += r1 * r2
				temp = max(temp, copies+2*r1*r2)
			}
		}
		network = memEst(batch, c)
		return 8*(factors+deltas+inputs+grads+temp+out) + network, network, 8 * factors, 8 * deltas, 8 * grads
	}
	shared := int64(0) // the mean's sum
	if members > 1 {
		shared = 8 * out
	}
	batch, c := int(min(maxBlock, nx)), k
	if opt.block > 0 {
		batch = min(batch, opt.block)
	}
	for {
		stream := nx <= int64(batch)
		need, network, factors, deltas, grads := perNet(batch, c, stream)
		if shared+need <= opt.MaxMemory {
			g := min(int64(members), (opt.MaxMemory-shared)/need)
			return structuredPlan{batch: batch, logits: c, members: int(g), stream: stream, perSample: perSample, needInputs: needInputs, bytes: shared + g*need}, nil
		}
		switch {
		case c > 1 && !opt.Full:
			c = (c + 1) / 2
		case batch > 1:
			batch = (batch + 1) / 2
		default:
			need += shared
			return structuredPlan{}, fmt.Errorf("ntkempirical: the structured NTK of %d x %d examples needs about %s (network %s, layer factors %s, deltas %s, per-example gradients %s), over the memory budget of %s: use fewer examples, smaller images, a smaller width, or a larger budget",
				n1, n2, bytesString(need), bytesString(network), bytesString(factors), bytesString(deltas), bytesString(grads), bytesString(opt.MaxMemory))
		}
	}
}
