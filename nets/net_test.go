package nets

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/ntkharness/ntkharness/npy"
	"github.com/ntkharness/ntkharness/spec"
)

// testCase is a tiny network and input shape.
type testCase struct {
	name    string
	s       spec.Spec
	inShape []int
}

// tinyCases covers every architecture and activation, SAME and VALID
// padding, depth 1 and 2, non-square images and a 5x5 filter.
func tinyCases() []testCase {
	var cases []testCase
	for _, act := range spec.Acts {
		cases = append(cases,
			testCase{"fcn-" + act, spec.Spec{Arch: spec.FCN, Act: act, Depth: 2, Width: 7, SW2: 1.7, SB2: 0.3, Outputs: 3}, []int{5}},
			testCase{"fcn1-" + act, spec.Spec{Arch: spec.FCN, Act: act, Depth: 1, Width: 4, SW2: 1.2, SB2: 0.1, Outputs: 2}, []int{3}},
			testCase{"cnnf-" + act, spec.Spec{Arch: spec.CNNF, Act: act, Depth: 2, Width: 3, SW2: 1.5, SB2: 0.2, Outputs: 2}, []int{4, 5, 2}},
			testCase{"cnngap-" + act, spec.Spec{Arch: spec.CNNGAP, Act: act, Depth: 2, Width: 3, SW2: 1.5, SB2: 0.2, Outputs: 2}, []int{5, 4, 2}},
		)
	}
	cases = append(cases,
		testCase{"cnnf-valid", spec.Spec{Arch: spec.CNNF, Act: spec.Erf, Depth: 2, Width: 2, SW2: 1.3, SB2: 0.05, Outputs: 2, Padding: spec.Valid}, []int{6, 5, 1}},
		testCase{"cnngap-f5", spec.Spec{Arch: spec.CNNGAP, Act: spec.Tanh, Depth: 1, Width: 3, SW2: 2, SB2: 0.1, Outputs: 2, Filter: 5}, []int{4, 3, 2}},
	)
	return cases
}

// randInput returns n examples of the given shape with N(0,1) entries.
func randInput(rng *rand.Rand, n int, inShape []int) npy.Array {
	a := npy.New(append([]int{n}, inShape...)...)
	for i := range a.Data {
		a.Data[i] = rng.NormFloat64()
	}
	return a
}

// refForward is an independent plain-Go forward pass: direct convolution
// sums over the filter window (no patches), explicit flatten and pooling.
// params are in the documented layouts (dense W [n_in, n_out], conv W
// [f, f, C_in, C_out], biases [n_out]) in the order w1, b1, ..., w_out, b_out.
func refForward(s spec.Spec, inShape []int, params [][]float64, x npy.Array) [][]float64 {
	s = s.WithDefaults()
	sw, sb := math.Sqrt(s.SW2), math.Sqrt(s.SB2)
	phi := map[string]func(float64) float64{
		spec.Erf:  math.Erf,
		spec.Tanh: math.Tanh,
		spec.ReLU: func(u float64) float64 { return math.Max(u, 0) },
	}[s.Act]
	dense := func(h []float64, w, b []float64, nout int) []float64 {
		nin := len(h)
		z := make([]float64, nout)
		for o := 0; o < nout; o++ {
			acc := 0.0
			for i := 0; i < nin; i++ {
				acc += h[i] * w[i*nout+o]
			}
			z[o] = sw/math.Sqrt(float64(nin))*acc + sb*b[o]
		}
		return z
	}
	n := x.Shape[0]
	d := len(x.Data) / n
	var out [][]float64
	for e := 0; e < n; e++ {
		h := append([]float64(nil), x.Data[e*d:(e+1)*d]...)
		pi := 0
		if !s.IsConv() {
			for l := 0; l < s.Depth; l++ {
				z := dense(h, params[pi], params[pi+1], s.Width)
				pi += 2
				for i := range z {
					z[i] = phi(z[i])
				}
				h = z
			}
		} else {
			H, W, C := inShape[0], inShape[1], inShape[2]
			f := s.Filter
			pad := 0
			if s.Padding == spec.Same {
				pad = (f - 1) / 2
			}
			for l := 0; l < s.Depth; l++ {
				Ho, Wo := H+2*pad-f+1, W+2*pad-f+1
				w, b := params[pi], params[pi+1]
				pi += 2
				co := s.Width
				z := make([]float64, Ho*Wo*co)
				scale := sw / math.Sqrt(float64(C*f*f))
				for y := 0; y < Ho; y++ {
					for xx := 0; xx < Wo; xx++ {
						for o := 0; o < co; o++ {
							acc := 0.0
							for dy := 0; dy < f; dy++ {
								for dx := 0; dx < f; dx++ {
									iy, ix := y+dy-pad, xx+dx-pad
									if iy < 0 || iy >= H || ix < 0 || ix >= W {
										continue
									}
									for c := 0; c < C; c++ {
										acc += h[(iy*W+ix)*C+c] * w[((dy*f+dx)*C+c)*co+o]
									}
								}
							}
							z[(y*Wo+xx)*co+o] = phi(scale*acc + sb*b[o])
						}
					}
				}
				h, H, W, C = z, Ho, Wo, co
			}
			if s.Arch == spec.CNNGAP {
				pool := make([]float64, C)
				for p := 0; p < H*W; p++ {
					for c := 0; c < C; c++ {
						pool[c] += h[p*C+c] / float64(H*W)
					}
				}
				h = pool
			}
		}
		out = append(out, dense(h, params[pi], params[pi+1], s.Outputs))
	}
	return out
}

func paramData(n *Net) [][]float64 {
	var p [][]float64
	for _, q := range n.Params() {
		p = append(p, q.Data)
	}
	return p
}

func TestForwardMatchesReference(t *testing.T) {
	for _, tc := range tinyCases() {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(1, 2))
			n, err := New(tc.s, tc.inShape, rng)
			if err != nil {
				t.Fatal(err)
			}
			x := randInput(rng, 3, tc.inShape)
			got, err := n.Forward(x)
			if err != nil {
				t.Fatal(err)
			}
			checkForward(t, "Forward", got, tc, paramData(n), x)
			// Parameters are live: changing them changes the next output.
			for _, p := range n.Params() {
				for i := range p.Data {
					p.Data[i] *= 0.5
				}
			}
			got, err = n.Forward(x)
			if err != nil {
				t.Fatal(err)
			}
			checkForward(t, "after an in-place update", got, tc, paramData(n), x)
		})
	}
}

// checkForward compares outputs got with refForward on the same parameters
// and inputs. Same arithmetic in a different order: agreement to a few ulps
// of the O(1) outputs.
func checkForward(t *testing.T, what string, got *mat.Dense, tc testCase, params [][]float64, x npy.Array) {
	t.Helper()
	want := refForward(tc.s, tc.inShape, params, x)
	for i := range want {
		for j := range want[i] {
			if d := math.Abs(got.At(i, j) - want[i][j]); d > 1e-13 {
				t.Errorf("%s: f[%d][%d] = %.17g, reference %.17g", what, i, j, got.At(i, j), want[i][j])
			}
		}
	}
}

// refLoss is (1/(2Nk)) sum (f - y)^2 from refForward.
func refLoss(tc testCase, params [][]float64, x npy.Array, y *mat.Dense) float64 {
	f := refForward(tc.s, tc.inShape, params, x)
	r, c := y.Dims()
	l := 0.0
	for i := 0; i < r; i++ {
		for j := 0; j < c; j++ {
			d := f[i][j] - y.At(i, j)
			l += d * d
		}
	}
	return l / float64(2*r*c)
}

// Central differences with step 1e-5 on O(1) smooth functions have
// truncation error ~1e-10 and rounding error ~1e-16/1e-5 = 1e-11; 1e-7
// (relative to max(1, |g|)) leaves room and still catches any wrong factor.
// relu is not smooth at 0, but no pre-activation of these random draws
// lies within 1e-5 of the kink.
const (
	fdStep = 1e-5
	fdTol  = 1e-7
)

func TestLossGradFiniteDifferences(t *testing.T) {
	for _, tc := range tinyCases() {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(3, 4))
			n, err := New(tc.s, tc.inShape, rng)
			if err != nil {
				t.Fatal(err)
			}
			x := randInput(rng, 3, tc.inShape)
			y := cyclicTargets(3, n.Outputs())
			loss, out, grads, err := n.LossGrad(x, y)
			if err != nil {
				t.Fatal(err)
			}
			params := paramData(n)
			// The outputs survive the backward pass (no in-place reuse).
			checkForward(t, "LossGrad", out, tc, params, x)
			if want := refLoss(tc, params, x, y); math.Abs(loss-want) > 1e-13 {
				t.Errorf("loss %v, reference %v", loss, want)
			}
			for pi, p := range params {
				for i := range p {
					old := p[i]
					p[i] = old + fdStep
					lp := refLoss(tc, params, x, y)
					p[i] = old - fdStep
					lm := refLoss(tc, params, x, y)
					p[i] = old
					fd := (lp - lm) / (2 * fdStep)
					if d := math.Abs(grads[pi][i] - fd); d > fdTol*math.Max(1, math.Abs(fd)) {
						t.Errorf("%s[%d]: gradient %.10g, finite difference %.10g", n.Params()[pi].Name, i, grads[pi][i], fd)
					}
				}
			}
		})
	}
}

// TestJacobianRows checks the per-example, per-logit gradients assembled
// from the layer inputs and deltas of Backward against central differences
// of the reference forward pass, and their sum against the graph's own
// parameter gradient (the cotangent path).
func TestJacobianRows(t *testing.T) {
	for _, tc := range tinyCases() {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(5, 6))
			n, err := New(tc.s, tc.inShape, rng)
			if err != nil {
				t.Fatal(err)
			}
			x := randInput(rng, 2, tc.inShape)
			logit := n.Outputs() - 1
			jac, err := n.JacobianRows(x, logit)
			if err != nil {
				t.Fatal(err)
			}
			if _, c := jac.Dims(); c != n.ParamCount() {
				t.Fatalf("Jacobian has %d columns, want ParamCount %d", c, n.ParamCount())
			}
			params := paramData(n)
			col := 0
			for _, p := range params {
				for i := range p {
					old := p[i]
					p[i] = old + fdStep
					fp := refForward(tc.s, tc.inShape, params, x)
					p[i] = old - fdStep
					fm := refForward(tc.s, tc.inShape, params, x)
					p[i] = old
					for e := 0; e < 2; e++ {
						fd := (fp[e][logit] - fm[e][logit]) / (2 * fdStep)
						if d := math.Abs(jac.At(e, col) - fd); d > fdTol*math.Max(1, math.Abs(fd)) {
							t.Errorf("example %d, column %d: Jacobian %.10g, finite difference %.10g", e, col, jac.At(e, col), fd)
						}
					}
					col++
				}
			}
			cot := mat.NewDense(2, n.Outputs(), nil)
			cot.Set(0, logit, 1)
			cot.Set(1, logit, 1)
			tr, err := n.Backward(x, cot)
			if err != nil {
				t.Fatal(err)
			}
			checkForward(t, "Backward", tr.Out, tc, params, x)
			col = 0
			for pi, g := range tr.Grads {
				for i := range g {
					if s := jac.At(0, col) + jac.At(1, col); math.Abs(g[i]-s) > 1e-12*math.Max(1, math.Abs(s)) {
						t.Errorf("%s[%d]: Backward gradient %v, sum of Jacobian rows %v", n.Params()[pi].Name, i, g[i], s)
					}
					col++
				}
			}
		})
	}
}

// TestDeltasFiniteDifferences checks dS/dz_l of a hidden layer directly:
// adding eps to the bias of layer l shifts every row of z_l by
// eps*BiasScale, so dS/db_l = BiasScale * (column sums of Delta_l), and
// a single example's share follows from its own rows.
func TestDeltasFiniteDifferences(t *testing.T) {
	tc := tinyCases()[2] // cnn-f erf
	rng := rand.New(rand.NewPCG(7, 8))
	n, err := New(tc.s, tc.inShape, rng)
	if err != nil {
		t.Fatal(err)
	}
	x := randInput(rng, 2, tc.inShape)
	cot := mat.NewDense(2, n.Outputs(), []float64{0.3, -1.1, 0.7, 0.2})
	tr, err := n.Backward(x, cot)
	if err != nil {
		t.Fatal(err)
	}
	params := paramData(n)
	S := func() float64 {
		f := refForward(tc.s, tc.inShape, params, x)
		s := 0.0
		for i := range f {
			for j := range f[i] {
				s += cot.At(i, j) * f[i][j]
			}
		}
		return s
	}
	for l, ly := range n.Layers() {
		rows, _ := tr.Deltas[l].Dims()
		if rows != 2*ly.Positions {
			t.Errorf("layer %s: %d delta rows, want %d", ly.Name, rows, 2*ly.Positions)
		}
		for j := 0; j < ly.FanOut; j++ {
			b := params[ly.B]
			old := b[j]
			b[j] = old + fdStep
			sp := S()
			b[j] = old - fdStep
			sm := S()
			b[j] = old
			fd := (sp - sm) / (2 * fdStep)
			got := 0.0
			for r := 0; r < rows; r++ {
				got += ly.BiasScale * tr.Deltas[l].At(r, j)
			}
			if math.Abs(got-fd) > fdTol*math.Max(1, math.Abs(fd)) {
				t.Errorf("layer %s channel %d: BiasScale*sum(delta) = %.10g, finite difference %.10g", ly.Name, j, got, fd)
			}
		}
	}
}

// TestErfOp checks the erf operation and its gradient inside a graph
// against math.Erf and central differences of math.Erf.
func TestErfOp(t *testing.T) {
	s := spec.Spec{Arch: spec.FCN, Act: spec.Erf, Depth: 1, Width: 1, SW2: 1, SB2: 0, Outputs: 1}
	n, err := New(s, []int{1}, rand.New(rand.NewPCG(1, 1)))
	if err != nil {
		t.Fatal(err)
	}
	// f(x) = w_out * erf(w1 x) with unit scales; d f / d w1 = w_out x erf'(w1 x).
	ps := n.Params()
	ps[0].Data[0], ps[2].Data[0] = 1, 1
	for _, u := range []float64{-3, -0.7, 0, 0.2, 1.5, 4} {
		x := npy.Array{Shape: []int{1, 1}, Data: []float64{u}}
		f, err := n.Forward(x)
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(f.At(0, 0)-math.Erf(u)) > 1e-15 {
			t.Errorf("erf(%v) = %v, math.Erf %v", u, f.At(0, 0), math.Erf(u))
		}
		jac, err := n.JacobianRows(x, 0)
		if err != nil {
			t.Fatal(err)
		}
		fd := (math.Erf(u+fdStep) - math.Erf(u-fdStep)) / (2 * fdStep) * u
		if math.Abs(jac.At(0, 0)-fd) > fdTol {
			t.Errorf("d erf(w x)/dw at x=%v: %v, finite difference %v", u, jac.At(0, 0), fd)
		}
	}
}

// TestAdjoints checks <A a, b> = <a, A^T b> for im2col/col2im and for
// global average pooling and its gradient, with random a and b.
func TestAdjoints(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 9))
	randv := func(n int) []float64 {
		v := make([]float64, n)
		for i := range v {
			v[i] = rng.NormFloat64()
		}
		return v
	}
	dot := func(a, b []float64) float64 {
		s := 0.0
		for i := range a {
			s += a[i] * b[i]
		}
		return s
	}
	for _, g := range []convGeom{{B: 2, H: 4, W: 3, C: 2, F: 3, Pad: 1}, {B: 1, H: 5, W: 5, C: 1, F: 3, Pad: 0}, {B: 2, H: 3, W: 4, C: 3, F: 5, Pad: 2}} {
		ho, wo := g.out()
		a := randv(g.B * g.H * g.W * g.C)
		b := randv(g.B * ho * wo * g.F * g.F * g.C)
		col := make([]float64, len(b))
		im := make([]float64, len(a))
		g.im2col(col, a)
		g.col2im(im, b)
		if l, r := dot(col, b), dot(a, im); math.Abs(l-r) > 1e-12*math.Abs(l) {
			t.Errorf("%v: <im2col a, b> = %v, <a, col2im b> = %v", g, l, r)
		}
	}
	const p, nc, nb = 6, 3, 2
	a, b := randv(nb*p*nc), randv(nb*nc)
	pa, gb := make([]float64, nb*nc), make([]float64, nb*p*nc)
	gapForward(pa, a, p, nc)
	gapBackward(gb, b, p, nc)
	if l, r := dot(pa, b), dot(a, gb); math.Abs(l-r) > 1e-12*math.Abs(l) {
		t.Errorf("<gap a, b> = %v, <a, gap' b> = %v", l, r)
	}
}

func TestParamCount(t *testing.T) {
	tests := []struct {
		s       spec.Spec
		inShape []int
		want    int
	}{
		// fcn: (d+1)w + (L-1)(w+1)w + (w+1)k
		{spec.Spec{Arch: spec.FCN, Act: spec.Erf, Depth: 3, Width: 10, SW2: 1, SB2: 0, Outputs: 4}, []int{7}, 8*10 + 2*11*10 + 11*4},
		// cnn-f SAME: (9C+1)w + (9w+1)w + (HWw+1)k
		{spec.Spec{Arch: spec.CNNF, Act: spec.Erf, Depth: 2, Width: 4, SW2: 1, SB2: 0, Outputs: 3}, []int{5, 6, 2}, 19*4 + 37*4 + (120+1)*3},
		// cnn-gap VALID 5x5 on 9x9: (25C+1)w + (w+1)k
		{spec.Spec{Arch: spec.CNNGAP, Act: spec.Erf, Depth: 1, Width: 4, SW2: 1, SB2: 0, Outputs: 3, Filter: 5, Padding: spec.Valid}, []int{9, 9, 1}, 26*4 + 5*3},
	}
	for _, tt := range tests {
		n, err := New(tt.s, tt.inShape, rand.New(rand.NewPCG(1, 1)))
		if err != nil {
			t.Fatal(err)
		}
		if got := n.ParamCount(); got != tt.want {
			t.Errorf("%s: ParamCount %d, want %d", tt.s.Arch, got, tt.want)
		}
	}
}

// TestInitStatistics checks the N(0,1) draw: mean and variance of 40000
// parameters within 5 standard errors (0.005*5 and 0.007*5).
func TestInitStatistics(t *testing.T) {
	s := spec.Spec{Arch: spec.FCN, Act: spec.ReLU, Depth: 1, Width: 200, SW2: 2, SB2: 0.1, Outputs: 1}
	n, err := New(s, []int{199}, rand.New(rand.NewPCG(11, 12)))
	if err != nil {
		t.Fatal(err)
	}
	w := n.Params()[0].Data
	m, v := 0.0, 0.0
	for _, u := range w {
		m += u
	}
	m /= float64(len(w))
	for _, u := range w {
		v += (u - m) * (u - m)
	}
	v /= float64(len(w))
	if math.Abs(m) > 0.025 || math.Abs(v-1) > 0.035 {
		t.Errorf("w1 mean %v variance %v, want 0 and 1", m, v)
	}
	// Same seed, same numbers.
	n2, _ := New(s, []int{199}, rand.New(rand.NewPCG(11, 12)))
	if n2.Params()[0].Data[123] != w[123] {
		t.Error("same seed gave different parameters")
	}
}

func TestSaveLoad(t *testing.T) {
	tc := tinyCases()[3] // cnn-gap erf
	rng := rand.New(rand.NewPCG(1, 2))
	n, err := New(tc.s, tc.inShape, rng)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := n.Save(dir); err != nil {
		t.Fatal(err)
	}
	m, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	x := randInput(rng, 2, tc.inShape)
	a, _ := n.Forward(x)
	b, err := m.Forward(x)
	if err != nil {
		t.Fatal(err)
	}
	if !mat.Equal(a, b) {
		t.Errorf("loaded network computes %v, saved one %v", b, a)
	}

	// Faults a user can cause.
	bad := func(name string, edit func(dir string), want string) {
		t.Helper()
		d := t.TempDir()
		if err := n.Save(d); err != nil {
			t.Fatal(err)
		}
		edit(d)
		_, err := Load(d)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want one containing %q", name, err, want)
		}
	}
	bad("missing tensor", func(d string) { os.Remove(filepath.Join(d, "w2.npy")) }, "w2.npy is missing")
	bad("wrong shape", func(d string) {
		npy.Save(filepath.Join(d, "b_out.npy"), npy.New(5))
	}, "b_out.npy has shape [5], the spec needs [2]")
	bad("other spec", func(d string) {
		s := tc.s
		s.Width = 4
		s.Save(filepath.Join(d, SpecFile))
	}, "w1.npy has shape [3 3 2 3], the spec needs [3 3 2 4]")
	bad("bad spec", func(d string) {
		os.WriteFile(filepath.Join(d, SpecFile), []byte(`{"arch":"mlp"}`), 0o644)
	}, `unknown arch "mlp"`)
	bad("no input shape", func(d string) { os.Remove(filepath.Join(d, InputFile)) }, InputFile)
}

func TestBadInput(t *testing.T) {
	fcn := spec.Spec{Arch: spec.FCN, Act: spec.Erf, Depth: 1, Width: 3, SW2: 1, SB2: 0}
	cnn := spec.Spec{Arch: spec.CNNF, Act: spec.Erf, Depth: 1, Width: 3, SW2: 1, SB2: 0}
	rng := rand.New(rand.NewPCG(1, 1))
	newErrs := []struct {
		name    string
		s       spec.Spec
		inShape []int
		want    string
	}{
		{"no width", spec.Spec{Arch: spec.FCN, Act: spec.Erf, Depth: 1, SW2: 1}, []int{3}, "width 0"},
		{"bad sw2", spec.Spec{Arch: spec.FCN, Act: spec.Erf, Depth: 1, Width: 2, SW2: -1}, []int{3}, "sw2 -1"},
		{"flat images for cnn", cnn, []int{784}, "want [H, W, C]"},
		{"valid too deep", spec.Spec{Arch: spec.CNNF, Act: spec.Erf, Depth: 3, Width: 2, SW2: 1, Padding: spec.Valid}, []int{5, 5, 1}, "too small"},
	}
	for _, tt := range newErrs {
		_, err := New(tt.s, tt.inShape, rng)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %v, want one containing %q", tt.name, err, tt.want)
		}
	}
	// A float32 Net has no graphs: the graph-only operations say so.
	f32 := fcn
	f32.DType = spec.Float32
	n32, err := New(f32, []int{4}, rng)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := n32.LossGrad(npy.New(1, 4), mat.NewDense(1, 10, nil)); err == nil || !strings.Contains(err.Error(), "dtype float32") {
		t.Errorf("LossGrad of a float32 Net: error %v, want one about dtype float32", err)
	}
	if _, err := n32.JacobianRows(npy.New(1, 4), 0); err == nil || !strings.Contains(err.Error(), "dtype float32") {
		t.Errorf("JacobianRows of a float32 Net: error %v, want one about dtype float32", err)
	}
	nf, _ := New(fcn, []int{4}, rng)
	nc, _ := New(cnn, []int{2, 2, 1}, rng)
	nan := npy.New(1, 4)
	nan.Data[2] = math.NaN()
	runErrs := []struct {
		name string
		n    *Net
		x    npy.Array
		want string
	}{
		{"fcn wrong d", nf, npy.New(2, 5), "want [N, 4]"},
		{"cnn flat input", nc, npy.New(2, 4), "want [N, 2, 2, 1] images"},
		{"no examples", nf, npy.New(0, 4), "N >= 1"},
		{"nan", nf, nan, "NaN"},
	}
	for _, tt := range runErrs {
		_, err := tt.n.Forward(tt.x)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %v, want one containing %q", tt.name, err, tt.want)
		}
	}
	// fcn accepts images and flattens them.
	if _, err := nf.Forward(npy.New(2, 2, 2, 1)); err != nil {
		t.Errorf("fcn on [2,2,2,1] images: %v", err)
	}
	if _, _, _, err := nf.LossGrad(npy.New(2, 4), mat.NewDense(2, 3, nil)); err == nil || !strings.Contains(err.Error(), "targets are 2x3") {
		t.Errorf("wrong target shape: error %v", err)
	}
	if _, err := nf.JacobianRows(npy.New(2, 4), 10); err == nil {
		t.Error("logit 10 of 10 outputs: no error")
	}
}

// TestForwardBatches runs more examples than one graph batch holds.
func TestForwardBatches(t *testing.T) {
	s := spec.Spec{Arch: spec.FCN, Act: spec.Tanh, Depth: 1, Width: 3, SW2: 1, SB2: 0.1, Outputs: 2}
	rng := rand.New(rand.NewPCG(1, 1))
	n, _ := New(s, []int{2}, rng)
	x := randInput(rng, maxBatch+3, []int{2})
	got, err := n.Forward(x)
	if err != nil {
		t.Fatal(err)
	}
	want := refForward(s, []int{2}, paramData(n), x)
	for _, i := range []int{0, maxBatch - 1, maxBatch, maxBatch + 2} {
		if d := math.Abs(got.At(i, 1) - want[i][1]); d > 1e-13 {
			t.Errorf("example %d: %v, reference %v", i, got.At(i, 1), want[i][1])
		}
	}
}

func ExampleNet_Forward() {
	s := spec.Spec{Arch: spec.FCN, Act: spec.Erf, Depth: 2, Width: 16, SW2: 1.5, SB2: 0.05, Outputs: 3}
	n, err := New(s, []int{4}, rand.New(rand.NewPCG(1, 2)))
	if err != nil {
		fmt.Println(err)
		return
	}
	f, _ := n.Forward(npy.New(5, 4))
	r, c := f.Dims()
	fmt.Println(r, c, n.ParamCount())
	// Output: 5 3 403
}

// TestCotangentLinearity: the graph is differentiated once and reused with
// new cotangents (a second Gorgonia Grad on one graph would silently reuse
// the first derivatives). Backward must be linear in the cotangent:
// grads(a c1 + c2) = a grads(c1) + grads(c2), to rounding (1e-12).
func TestCotangentLinearity(t *testing.T) {
	tc := tinyCases()[3] // cnn-gap erf
	rng := rand.New(rand.NewPCG(2, 3))
	n, err := New(tc.s, tc.inShape, rng)
	if err != nil {
		t.Fatal(err)
	}
	x := randInput(rng, 3, tc.inShape)
	c1 := mat.NewDense(3, 2, []float64{1, 0, 0, 2, -1, 0.5})
	c2 := mat.NewDense(3, 2, []float64{0, 1, 3, 0, 0.2, -2})
	sum := mat.NewDense(3, 2, nil)
	sum.Scale(1.5, c1)
	sum.Add(sum, c2)
	var grads [3][][]float64
	var deltas [3]*mat.Dense
	for i, c := range []*mat.Dense{c1, c2, sum} {
		tr, err := n.Backward(x, c)
		if err != nil {
			t.Fatal(err)
		}
		grads[i], deltas[i] = tr.Grads, tr.Deltas[0]
	}
	for p := range grads[0] {
		for j := range grads[0][p] {
			want := 1.5*grads[0][p][j] + grads[1][p][j]
			if math.Abs(grads[2][p][j]-want) > 1e-12*math.Max(1, math.Abs(want)) {
				t.Fatalf("param %d[%d]: %v, want %v", p, j, grads[2][p][j], want)
			}
		}
	}
	var want mat.Dense
	want.Scale(1.5, deltas[0])
	want.Add(&want, deltas[1])
	if !mat.EqualApprox(&want, deltas[2], 1e-12) {
		t.Error("layer-1 deltas are not linear in the cotangent")
	}
}

// TestConvBlocks reruns the reference and finite-difference checks of the
// convolutional cases with patch blocks of 7 rows, so that every
// convolution and its gradients span many blocks with ragged ends.
func TestConvBlocks(t *testing.T) {
	old := convBlockRows
	convBlockRows = 7
	defer func() { convBlockRows = old }()
	for _, tc := range tinyCases() {
		if !tc.s.IsConv() {
			continue
		}
		rng := rand.New(rand.NewPCG(13, 14))
		n, err := New(tc.s, tc.inShape, rng)
		if err != nil {
			t.Fatal(err)
		}
		x := randInput(rng, 2, tc.inShape)
		y := mat.NewDense(2, n.Outputs(), nil)
		y.Set(0, 0, 1)
		y.Set(1, 1, 1)
		_, out, grads, err := n.LossGrad(x, y)
		if err != nil {
			t.Fatal(err)
		}
		params := paramData(n)
		checkForward(t, tc.name, out, tc, params, x)
		// First-layer filter: its gradient sums over every block.
		w := params[0]
		for i := range w {
			old := w[i]
			w[i] = old + fdStep
			lp := refLoss(tc, params, x, y)
			w[i] = old - fdStep
			lm := refLoss(tc, params, x, y)
			w[i] = old
			fd := (lp - lm) / (2 * fdStep)
			if d := math.Abs(grads[0][i] - fd); d > fdTol*math.Max(1, math.Abs(fd)) {
				t.Errorf("%s: w1[%d]: gradient %.10g, finite difference %.10g", tc.name, i, grads[0][i], fd)
			}
		}
	}
}
