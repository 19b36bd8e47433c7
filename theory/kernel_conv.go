package theory

import (
	"math"
	"sync"

	"gonum.org/v1/gonum/mat"

	"github.com/ntkharness/ntkharness/activation"
	"github.com/ntkharness/ntkharness/spec"
)

// geometry is the spatial size of every layer of a convolutional network.
type geometry struct {
	c      int   // input channels
	h, w   []int // h[l], w[l]: spatial size of K^l; l = 0 is the input
	f, lo  int   // filter size and offset of its first tap (SAME: -(f-1)/2, VALID: 0)
	layers int
}

func newGeometry(s spec.Spec, in inputs) geometry {
	g := geometry{c: in.c, f: s.Filter, layers: s.Depth}
	g.h = make([]int, s.Depth+1)
	g.w = make([]int, s.Depth+1)
	g.h[0], g.w[0] = in.h, in.w
	if s.Padding == spec.Same {
		g.lo = -(s.Filter - 1) / 2
	}
	for l := 1; l <= s.Depth; l++ {
		g.h[l], g.w[l] = g.h[l-1], g.w[l-1]
		if s.Padding == spec.Valid {
			g.h[l] -= s.Filter - 1
			g.w[l] -= s.Filter - 1
		}
	}
	return g
}

func (g geometry) pixels(l int) int { return g.h[l] * g.w[l] }

// convDiag applies A on the pixel diagonal: dst[a] = (1/f^2) sum_b src[a+b]
// (zero outside the image), from layer l-1 to layer l.
func (g geometry) convDiag(dst, src []float64, l int) {
	hi, wi, ho, wo := g.h[l-1], g.w[l-1], g.h[l], g.w[l]
	inv := 1 / float64(g.f*g.f)
	for y := range ho {
		for x := range wo {
			var s float64
			for by := range g.f {
				yy := y + g.lo + by
				if yy < 0 || yy >= hi {
					continue
				}
				for bx := range g.f {
					xx := x + g.lo + bx
					if xx < 0 || xx >= wi {
						continue
					}
					s += src[yy*wi+xx]
				}
			}
			dst[y*wo+x] = s * inv
		}
	}
}

// convPair applies A to the pixel-pair matrices srcK and srcT, stored as
// [y][x][y'][x'], from layer l-1 to layer l, followed by the layer's affine
// maps: dstK = sw2 A(srcK) + sb2 and dstT = dstK + sw2 A(srcT), or
// dstT = dstK when srcT is nil (the first layer). A is
// A(src)[a, a'] = (1/f^2) sum_b src[a+b, a'+b], a separable sum done one
// output row y at a time in the buffers of a convSlab, which stay in cache:
// the slab sums the row shifts of the input rows y+lo+by, then the column
// shifts of the slab give row y of the outputs.
func (g geometry) convPair(dstK, dstT, srcK, srcT []float64, sl *convSlab, l int, sw2, sb2 float64) {
	hi, wi, ho, wo := g.h[l-1], g.w[l-1], g.h[l], g.w[l]
	both := srcT != nil
	inv := 1 / float64(g.f*g.f)
	// The slabs are [x][y'][x'] with x and x' padded by zeros, pad = -lo
	// before and f-1-pad after: a row of the slab has stride S, a plane of
	// one x stride P = ho S. Shifting x and x' together by b is then a
	// shift of the flat index by b (P + 1), and out-of-image taps read the
	// zeros.
	pad := -g.lo
	S := wi + g.f - 1
	P := ho * S
	n := (wi+g.f-1)*P + g.f
	slabK, slabT := sl.slabK[:n], sl.slabT[:n]
	clear(slabK)
	if both {
		clear(slabT)
	}
	m := wo * P
	accK, accT := sl.accK[:m], sl.accT[:m]
	for y := range ho {
		// slab[x][y'][x'] = sum_by src[y+lo+by][x][y'+lo+by][x'], y' < ho; x, x' < wi.
		for x := range wi {
			for y2 := range ho {
				o := (x+pad)*P + y2*S + pad
				rk, rt := slabK[o:o+wi], slabT[o:o+wi]
				clear(rk)
				if both {
					clear(rt)
				}
				for by := range g.f {
					yy, yy2 := y+g.lo+by, y2+g.lo+by
					if yy < 0 || yy >= hi || yy2 < 0 || yy2 >= hi {
						continue
					}
					s := ((yy*wi+x)*hi + yy2) * wi
					for x2, v := range srcK[s : s+wi] {
						rk[x2] += v
					}
					if both {
						for x2, v := range srcT[s : s+wi] {
							rt[x2] += v
						}
					}
				}
			}
		}
		// acc[x][y'][x'] = sum_bx slab[x+lo+bx][y'][x'+lo+bx], one flat
		// shift per tap (x, x' < wo; the columns from wo to S are unused).
		clear(accK)
		for bx := range g.f {
			src := slabK[bx*(P+1) : bx*(P+1)+m]
			for i, v := range src {
				accK[i] += v
			}
		}
		if both {
			clear(accT)
			for bx := range g.f {
				src := slabT[bx*(P+1) : bx*(P+1)+m]
				for i, v := range src {
					accT[i] += v
				}
			}
		}
		// Row y of the outputs, with the affine maps.
		for x := range wo {
			for y2 := range ho {
				o := ((y*wo+x)*ho + y2) * wo
				ok, ot := dstK[o:o+wo], dstT[o:o+wo]
				a := x*P + y2*S
				ak := accK[a : a+wo]
				if both {
					at := accT[a : a+wo]
					for x2, v := range ak {
						k := sw2*(v*inv) + sb2
						ok[x2] = k
						ot[x2] = k + sw2*(at[x2]*inv)
					}
				} else {
					for x2, v := range ak {
						k := sw2*(v*inv) + sb2
						ok[x2] = k
						ot[x2] = k
					}
				}
			}
		}
	}
}

// convSlab is convPair's scratch for layers of input size h x w and filter
// f: the padded slabs and the accumulators of one output row.
type convSlab struct {
	slabK, slabT, accK, accT []float64
}

func newConvSlab(h, w, f int) *convSlab {
	S := w + f - 1
	n := (w+f-1)*h*S + f
	m := w * h * S
	return &convSlab{slabK: make([]float64, n), slabT: make([]float64, n), accK: make([]float64, m), accT: make([]float64, m)}
}

// pairFunc returns a function computing T and Tdot at one covariance: for
// the description activation.Erf both closed forms inlined with one clamp of
// the covariance, for other closed forms the description's T and Tdot, else
// quadrature (one pass for both when the activation can).
func pairFunc(act Activation) func(k11, k12, k22 float64) (float64, float64) {
	if c, ok := act.(closedForm); ok {
		if c.d == activation.Erf {
			return func(k11, k12, k22 float64) (float64, float64) {
				k11, k12, k22 = activation.ClampCov(k11, k12, k22)
				r := 2 * k12 / math.Sqrt((1+2*k11)*(1+2*k22))
				det := 1 + 2*(k11+k22) + 4*math.Max(0, k11*k22-k12*k12)
				return 2 / math.Pi * math.Asin(clamp1(r)), 4 / math.Pi / math.Sqrt(det)
			}
		}
		t, td := c.d.T, c.d.Tdot
		return func(k11, k12, k22 float64) (float64, float64) { return t(k11, k12, k22), td(k11, k12, k22) }
	}
	return func(k11, k12, k22 float64) (float64, float64) { return expectBoth(act, k11, k12, k22) }
}

// pixelVariances returns v[l-1][a] = K^l(x, x)[a, a] for l = 1..L, the
// per-pixel variances of one example at every layer (the diagonal recursion
// needs only the diagonal).
func pixelVariances(s spec.Spec, g geometry, pf func(k11, k12, k22 float64) (float64, float64), x []float64) [][]float64 {
	k0 := make([]float64, g.pixels(0))
	for a := range k0 {
		var sum float64
		for _, v := range x[a*g.c : (a+1)*g.c] {
			sum += v * v
		}
		k0[a] = sum / float64(g.c)
	}
	v := make([][]float64, g.layers)
	t := make([]float64, g.pixels(0))
	prev := k0
	for l := 1; l <= g.layers; l++ {
		cur := make([]float64, g.pixels(l))
		if l == 1 {
			g.convDiag(cur, prev, 1)
		} else {
			for a, q := range prev {
				t[a], _ = pf(q, q, q)
			}
			g.convDiag(cur, t[:len(prev)], l)
		}
		for a := range cur {
			cur[a] = s.SW2*cur[a] + s.SB2
		}
		v[l-1] = cur
		prev = cur
	}
	return v
}

// computeConv runs the convolutional recursions pair by pair: each worker
// takes a row i of the output and streams the pairs (i, j) through all
// layers in its own scratch (per-pixel vectors for cnn-f, pixel-pair
// matrices for cnn-gap), so memory is bounded by the workers' scratch, the
// per-example variances and the outputs, whatever the number of pairs.
func computeConv(s spec.Spec, act Activation, in inputs, _ plan, opt Options) (Kernels, error) {
	g := newGeometry(s, in)
	pf := pairFunc(act)
	n1, n2 := in.n1, in.n2
	v1 := make([][][]float64, n1)
	v2 := v1
	if !in.sym {
		v2 = make([][][]float64, n2)
	}
	d0 := g.pixels(0) * g.c
	parallelRows(n1, opt.Workers, func(i int) { v1[i] = pixelVariances(s, g, pf, in.x1[i*d0:(i+1)*d0]) })
	if !in.sym {
		parallelRows(n2, opt.Workers, func(j int) { v2[j] = pixelVariances(s, g, pf, in.x2[j*d0:(j+1)*d0]) })
	}
	nngp := mat.NewDense(n1, n2, nil)
	ntk := mat.NewDense(n1, n2, nil)
	var depthK, depthT [][]float64 // per-depth readouts for EachDepth
	if opt.EachDepth != nil {
		depthK = make([][]float64, s.Depth)
		depthT = make([][]float64, s.Depth)
		for l := range depthK {
			depthK[l] = make([]float64, n1*n2)
			depthT[l] = make([]float64, n1*n2)
		}
	}
	gap := s.Arch == spec.CNNGAP
	var mu sync.Mutex
	done, total := 0, n1*n2 // progress in pairs
	if in.sym {
		total = n1 * (n1 + 1) / 2
	}
	scratch := sync.Pool{New: func() any { return newConvScratch(g, gap) }}
	parallelRows(n1, opt.Workers, func(i int) {
		sc := scratch.Get().(*convScratch)
		defer scratch.Put(sc)
		j0 := 0
		if in.sym {
			j0 = i
		}
		xi := in.x1[i*d0 : (i+1)*d0]
		for j := j0; j < n2; j++ {
			xj := in.x2[j*d0 : (j+1)*d0]
			var outK, outT float64
			record := func(l int, k, t float64) {
				if depthK != nil {
					depthK[l-1][i*n2+j] = k
					depthT[l-1][i*n2+j] = t
				}
				outK, outT = k, t
			}
			if gap {
				sc.pairGAP(s, g, act, xi, xj, v1[i], v2[j], depthK != nil, record)
			} else {
				sc.pairFlatten(s, g, pf, xi, xj, v1[i], v2[j], depthK != nil, record)
			}
			nngp.Set(i, j, outK)
			ntk.Set(i, j, outT)
		}
		if opt.Progress != nil {
			mu.Lock()
			done += n2 - j0
			opt.Progress(done, total)
			mu.Unlock()
		}
	})
	if in.sym {
		mirror(nngp)
		mirror(ntk)
	}
	if opt.EachDepth != nil {
		for l := 1; l <= s.Depth; l++ {
			k := mat.NewDense(n1, n2, depthK[l-1])
			t := mat.NewDense(n1, n2, depthT[l-1])
			if in.sym {
				mirror(k)
				mirror(t)
			}
			if err := checkFinite(s, l, Kernels{NNGP: k, NTK: t}); err != nil {
				return Kernels{}, err
			}
			opt.EachDepth(l, Kernels{NNGP: k, NTK: t})
			depthK[l-1], depthT[l-1] = nil, nil
		}
	}
	out := Kernels{NNGP: nngp, NTK: ntk}
	if err := checkFinite(s, s.Depth, out); err != nil {
		return Kernels{}, err
	}
	return out, nil
}

// convScratch is one worker's buffers, sized for the largest layer: for
// cnn-gap, pixel-pair matrices and the slabs of convPair.
type convScratch struct {
	k, th, t, td []float64
	slab         *convSlab
}

func newConvScratch(g geometry, gap bool) *convScratch {
	n := g.pixels(0)
	if gap {
		m := n * n
		return &convScratch{k: make([]float64, m), th: make([]float64, m), t: make([]float64, m), td: make([]float64, m),
			slab: newConvSlab(g.h[0], g.w[0], g.f)}
	}
	return &convScratch{k: make([]float64, n), th: make([]float64, n), t: make([]float64, n), td: make([]float64, n)}
}

// pairFlatten runs the cnn-f recursion of one pair on the pixel diagonal and
// calls record(l, nngp, ntk) with the readout at depth l (every depth when
// all is set, else only l = L).
func (sc *convScratch) pairFlatten(s spec.Spec, g geometry, pf func(k11, k12, k22 float64) (float64, float64), xi, xj []float64, vi, vj [][]float64, all bool, record func(l int, k, t float64)) {
	n0 := g.pixels(0)
	k0 := sc.t[:n0]
	for a := range k0 {
		var sum float64
		for c := range g.c {
			sum += xi[a*g.c+c] * xj[a*g.c+c]
		}
		k0[a] = sum / float64(g.c)
	}
	n := g.pixels(1)
	k, th := sc.k[:n], sc.th[:n]
	g.convDiag(k, k0, 1)
	for a := range k {
		k[a] = s.SW2*k[a] + s.SB2
		th[a] = k[a]
	}
	for l := 1; l <= g.layers; l++ {
		n = g.pixels(l)
		t, td := sc.t[:n], sc.td[:n]
		k, th = sc.k[:n], sc.th[:n]
		qi, qj := vi[l-1], vj[l-1]
		var st, sd float64
		for a := range k {
			ta, da := pf(qi[a], k[a], qj[a])
			t[a] = ta
			td[a] = da * th[a]
			st += ta
			sd += td[a]
		}
		if all || l == g.layers {
			kk := s.SW2*st/float64(n) + s.SB2
			record(l, kk, kk+s.SW2*sd/float64(n))
		}
		if l == g.layers {
			return
		}
		m := g.pixels(l + 1)
		g.convDiag(sc.k[:m], t, l+1)
		g.convDiag(sc.th[:m], td, l+1)
		for a := range m {
			sc.k[a] = s.SW2*sc.k[a] + s.SB2
			sc.th[a] = sc.k[a] + s.SW2*sc.th[a]
		}
	}
}

// pairGAP runs the cnn-gap recursion of one pair on the full pixel-pair
// matrix and calls record like pairFlatten. Each row a of the matrix is a
// row block of the dense-layer maps, with the pixel variances of x_i as row
// constants and those of x_j as column constants.
func (sc *convScratch) pairGAP(s spec.Spec, g geometry, act Activation, xi, xj []float64, vi, vj [][]float64, all bool, record func(l int, k, t float64)) {
	n0 := g.pixels(0)
	k0 := sc.t[:n0*n0]
	for a := range n0 {
		ra := xi[a*g.c : (a+1)*g.c]
		for b := range n0 {
			rb := xj[b*g.c : (b+1)*g.c]
			var sum float64
			for c, v := range ra {
				sum += v * rb[c]
			}
			k0[a*n0+b] = sum / float64(g.c)
		}
	}
	n := g.pixels(1)
	g.convPair(sc.k[:n*n], sc.th[:n*n], k0, nil, sc.slab, 1, s.SW2, s.SB2)
	for l := 1; l <= g.layers; l++ {
		n = g.pixels(l)
		k, th := sc.k[:n*n], sc.th[:n*n]
		lay := newFCNLayer(act, vi[l-1], vj[l-1], false)
		var st, sd float64
		for a := range n {
			kr, tr := k[a*n:(a+1)*n], th[a*n:(a+1)*n]
			lay.maps(a, 0, kr, tr)
			for b, v := range kr {
				st += v
				sd += tr[b]
			}
		}
		if all || l == g.layers {
			nn := float64(n) * float64(n)
			kk := s.SW2*st/nn + s.SB2
			record(l, kk, kk+s.SW2*sd/nn)
		}
		if l == g.layers {
			return
		}
		m := g.pixels(l + 1)
		g.convPair(sc.t[:m*m], sc.td[:m*m], k, th, sc.slab, l+1, s.SW2, s.SB2)
		sc.k, sc.t = sc.t, sc.k
		sc.th, sc.td = sc.td, sc.th
	}
}
