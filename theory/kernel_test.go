package theory

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/ntkharness/ntkharness/activation"
	"github.com/ntkharness/ntkharness/internal/reference"

	"gonum.org/v1/gonum/mat"

	"github.com/ntkharness/ntkharness/npy"
	"github.com/ntkharness/ntkharness/spec"
)

// referenceCase is one of the independent reference kernels (package
// theory/reference), with this file's helpers.
type referenceCase struct{ reference.KernelCase }

func loadReference(t *testing.T) []referenceCase {
	t.Helper()
	cases, err := reference.KernelCases()
	if err != nil {
		t.Fatal(err)
	}
	out := make([]referenceCase, len(cases))
	for i, c := range cases {
		out[i] = referenceCase{c}
	}
	return out
}

func (c referenceCase) spec() spec.Spec {
	s := spec.Spec{Arch: c.Arch, Act: c.Act, Depth: c.Depth, SW2: c.SW2, SB2: c.SB2}
	if s.IsConv() {
		s.Filter, s.Padding = c.Filter, c.Padding
	}
	return s
}

func (c referenceCase) name() string {
	return fmt.Sprintf("%s-%s-L%d-sw%g-sb%g", c.Arch, c.Act, c.Depth, c.SW2, c.SB2)
}

// maxRelErr returns max |got - want| / max|want| over the matrix: the error
// relative to the kernel's scale (entries near zero are not divided by
// themselves).
func maxRelErr(got *mat.Dense, want [][]float64) float64 {
	var scale, diff float64
	for i, row := range want {
		for j, w := range row {
			scale = math.Max(scale, math.Abs(w))
			diff = math.Max(diff, math.Abs(got.At(i, j)-w))
		}
	}
	return diff / scale
}

// TestComputeReference checks every case of the independent reference
// kernels. Tolerances: erf and relu are closed forms, so the only error is
// rounding, amplified by the depth of the recursion (1e-12). tanh: the
// reference integrates by a converged trapezoidal rule (to about 1e-13),
// the default strip rule is accurate to about 1e-12, so 1e-9 leaves room
// only for the depth of the recursion.
func TestComputeReference(t *testing.T) {
	for _, c := range loadReference(t) {
		t.Run(c.name(), func(t *testing.T) {
			x1 := npy.Array{Shape: c.X1Shape, Data: c.X1}
			var x2 npy.Array
			if c.X2 != nil {
				x2 = npy.Array{Shape: c.X2Shape, Data: c.X2}
			}
			k, err := Compute(c.spec(), x1, x2, Options{})
			if err != nil {
				t.Fatal(err)
			}
			tol := 1e-12
			if c.Act == "tanh" {
				tol = 1e-9
			}
			r, cc := k.NNGP.Dims()
			if r != len(c.NNGP) || cc != len(c.NNGP[0]) {
				t.Fatalf("kernel is %dx%d, want %dx%d", r, cc, len(c.NNGP), len(c.NNGP[0]))
			}
			if e := maxRelErr(k.NNGP, c.NNGP); e > tol {
				t.Errorf("NNGP relative error %.3g > %g\ngot  %v\nwant %v", e, tol, mat.Formatted(k.NNGP), c.NNGP)
			}
			if e := maxRelErr(k.NTK, c.NTK); e > tol {
				t.Errorf("NTK relative error %.3g > %g\ngot  %v\nwant %v", e, tol, mat.Formatted(k.NTK), c.NTK)
			}
		})
	}
}

// setTanhNodes makes ActivationByName use a fixed n-node rule for tanh and
// returns the function restoring the default.
func setTanhNodes(n int) func() {
	old := quadratureNodes
	quadratureNodes = n
	return func() { quadratureNodes = old }
}

// erfT and erfTdot are the erf closed forms, written out again here so that
// the hand recursions below do not depend on the code under test.
func erfT(k11, k12, k22 float64) float64 {
	return 2 / math.Pi * math.Asin(2*k12/math.Sqrt((1+2*k11)*(1+2*k22)))
}

func erfTdot(k11, k12, k22 float64) float64 {
	return 4 / math.Pi / math.Sqrt((1+2*k11)*(1+2*k22)-4*k12*k12)
}

func randomArray(seed uint64, shape ...int) npy.Array {
	rng := rand.New(rand.NewPCG(seed, 99))
	a := npy.New(shape...)
	for i := range a.Data {
		a.Data[i] = rng.NormFloat64()
	}
	return a
}

// TestFCNDepthOne checks a depth-1 erf network against the recursion
// written out by hand: K1 = sw2 x.x'/d + sb2, NNGP = sw2 T(K1) + sb2,
// NTK = NNGP + sw2 Tdot(K1) K1. Tolerance 1e-14: a few roundings.
func TestFCNDepthOne(t *testing.T) {
	const sw2, sb2 = 1.7, 0.3
	x1, x2 := randomArray(1, 3, 5), randomArray(2, 4, 5)
	k, err := Compute(spec.Spec{Arch: "fcn", Act: "erf", Depth: 1, SW2: sw2, SB2: sb2}, x1, x2, Options{})
	if err != nil {
		t.Fatal(err)
	}
	dot := func(a, b []float64) float64 {
		var s float64
		for i := range a {
			s += a[i] * b[i]
		}
		return s / float64(len(a))
	}
	for i := range 3 {
		xi := x1.Data[i*5 : i*5+5]
		for j := range 4 {
			xj := x2.Data[j*5 : j*5+5]
			k11, k12, k22 := sw2*dot(xi, xi)+sb2, sw2*dot(xi, xj)+sb2, sw2*dot(xj, xj)+sb2
			nngp := sw2*erfT(k11, k12, k22) + sb2
			ntk := nngp + sw2*erfTdot(k11, k12, k22)*k12
			if !relClose(k.NNGP.At(i, j), nngp, 1e-14) || !relClose(k.NTK.At(i, j), ntk, 1e-14) {
				t.Errorf("(%d,%d): %v, %v; want %v, %v", i, j, k.NNGP.At(i, j), k.NTK.At(i, j), nngp, ntk)
			}
		}
	}
}

// TestZeroInput: an all-zero input has K^0 = 0. With relu and sb2 = 0 every
// kernel entry involving it stays exactly 0 at every depth (T and the NTK
// recursion are both proportional to K); with erf and sb2 > 0 its diagonal
// follows the scalar recursion from K^1 = sb2.
func TestZeroInput(t *testing.T) {
	x := randomArray(3, 3, 4)
	clear(x.Data[4:8]) // example 1 is zero
	k, err := Compute(spec.Spec{Arch: "fcn", Act: "relu", Depth: 6, SW2: 2}, x, npy.Array{}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for j := range 3 {
		for _, v := range []float64{k.NNGP.At(1, j), k.NNGP.At(j, 1), k.NTK.At(1, j), k.NTK.At(j, 1)} {
			if v != 0 {
				t.Errorf("relu, sb2 = 0: entry of the zero input %v, want 0", v)
			}
		}
	}
	const sw2, sb2, depth = 1.4, 0.2, 5
	k, err = Compute(spec.Spec{Arch: "fcn", Act: "erf", Depth: depth, SW2: sw2, SB2: sb2}, x, npy.Array{}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	q, th := sb2, sb2
	for range depth {
		qn := sw2*erfT(q, q, q) + sb2
		th = qn + sw2*erfTdot(q, q, q)*th
		q = qn
	}
	if !relClose(k.NNGP.At(1, 1), q, 1e-14) || !relClose(k.NTK.At(1, 1), th, 1e-14) {
		t.Errorf("erf zero input: %v, %v; want %v, %v", k.NNGP.At(1, 1), k.NTK.At(1, 1), q, th)
	}
}

// TestDeepPhases runs depth 1000 in the ordered (erf sw2 = 1.25, sb2 = 0.05)
// and chaotic (sw2 = 2.5) phases. Both must stay finite. Ordered: every
// NNGP entry tends to q* and every NTK entry to p* = q*/(1 - chi_1) (c* = 1,
// Theta^l -> p* 1 1^T in the ordered phase), with q* and chi_1 from a scalar
// fixed-point iteration written here; the kernel is numerically singular,
// which Cond must report. Chaotic: the NNGP diagonal tends to q* and the
// NTK condition number stays moderate. Tolerances: after 1000 layers the
// transients (chi_1^1000 ~ 1e-17) are gone, so the limits hold to rounding
// amplified by the recursion (1e-9).
func TestDeepPhases(t *testing.T) {
	x := randomArray(4, 6, 8)
	for _, tt := range []struct {
		name     string
		sw2      float64
		ordered  bool
		minCond  float64
		maxCond  float64
		nntkTol  float64
		fixedTol float64
	}{
		{"ordered", 1.25, true, 1e9, math.Inf(1), 1e-9, 1e-9},
		{"chaotic", 2.5, false, 1, 100, 0, 1e-9},
	} {
		t.Run(tt.name, func(t *testing.T) {
			const sb2 = 0.05
			k, err := Compute(spec.Spec{Arch: "fcn", Act: "erf", Depth: 1000, SW2: tt.sw2, SB2: sb2}, x, npy.Array{}, Options{})
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range []*mat.Dense{k.NNGP, k.NTK} {
				for _, v := range m.RawMatrix().Data {
					if math.IsNaN(v) || math.IsInf(v, 0) {
						t.Fatalf("non-finite kernel entry %v", v)
					}
				}
			}
			q := 1.0
			for range 100000 {
				q = tt.sw2*erfT(q, q, q) + sb2
			}
			chi1 := tt.sw2 * erfTdot(q, q, q)
			for i := range 6 {
				if !relClose(k.NNGP.At(i, i), q, tt.fixedTol) {
					t.Errorf("NNGP[%d][%d] = %v, want q* = %v", i, i, k.NNGP.At(i, i), q)
				}
				if tt.ordered {
					p := q / (1 - chi1)
					for j := range 6 {
						if !relClose(k.NTK.At(i, j), p, tt.nntkTol) {
							t.Errorf("NTK[%d][%d] = %v, want p* = %v", i, j, k.NTK.At(i, j), p)
						}
					}
				}
			}
			_, c, err := k.Cond()
			if err != nil {
				t.Fatal(err)
			}
			if !(c >= tt.minCond && c <= tt.maxCond) {
				t.Errorf("NTK condition number %v, want in [%g, %g]", c, tt.minCond, tt.maxCond)
			}
		})
	}
}

// TestEachDepth checks that the per-depth callback gives the kernels of the
// truncated networks, computed separately, for every architecture, and
// that the symmetric computation equals the cross computation with x2 = x1
// and does not depend on the number of workers. Tolerance 1e-13: the same
// arithmetic except for the order of a few sums.
func TestEachDepth(t *testing.T) {
	tests := []struct {
		s  spec.Spec
		x1 npy.Array
	}{
		{spec.Spec{Arch: "fcn", Act: "erf", Depth: 4, SW2: 1.6, SB2: 0.1}, randomArray(5, 5, 7)},
		{spec.Spec{Arch: "fcn", Act: "tanh", Depth: 3, SW2: 1.8, SB2: 0.1}, randomArray(6, 4, 7)},
		{spec.Spec{Arch: "cnn-f", Act: "relu", Depth: 3, SW2: 2, SB2: 0.1}, randomArray(7, 3, 4, 4, 2)},
		{spec.Spec{Arch: "cnn-gap", Act: "erf", Depth: 3, SW2: 1.5, SB2: 0.2, Padding: "VALID"}, randomArray(8, 3, 8, 7, 1)},
	}
	for _, tt := range tests {
		t.Run(tt.s.Arch+"-"+tt.s.Act, func(t *testing.T) {
			var got []Kernels
			opt := Options{Workers: 2, EachDepth: func(depth int, k Kernels) {
				if depth != len(got)+1 {
					t.Errorf("EachDepth called with depth %d after %d calls", depth, len(got))
				}
				got = append(got, Kernels{NNGP: mat.DenseCopyOf(k.NNGP), NTK: mat.DenseCopyOf(k.NTK)})
			}}
			full, err := Compute(tt.s, tt.x1, npy.Array{}, opt)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != tt.s.Depth {
				t.Fatalf("EachDepth called %d times, want %d", len(got), tt.s.Depth)
			}
			for l := 1; l <= tt.s.Depth; l++ {
				s := tt.s
				s.Depth = l
				want, err := Compute(s, tt.x1, npy.Array{}, Options{Workers: 1})
				if err != nil {
					t.Fatal(err)
				}
				if !mat.EqualApprox(got[l-1].NNGP, want.NNGP, 1e-13) || !mat.EqualApprox(got[l-1].NTK, want.NTK, 1e-13) {
					t.Errorf("depth %d: EachDepth kernels differ from a depth-%d Compute", l, l)
				}
			}
			cross, err := Compute(tt.s, tt.x1, tt.x1, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if !mat.EqualApprox(cross.NNGP, full.NNGP, 1e-13) || !mat.EqualApprox(cross.NTK, full.NTK, 1e-13) {
				t.Errorf("x2 = x1 given explicitly differs from the symmetric computation:\n%v\n%v", mat.Formatted(cross.NTK), mat.Formatted(full.NTK))
			}
			if !mat.Equal(full.NTK, full.NTK.T()) {
				t.Error("symmetric NTK is not symmetric")
			}
		})
	}
}

// TestTanhTable compares the tabulated fast path (inputs of equal norm) with
// direct quadrature at every entry (the same activation hidden behind a
// wrapper, which disables the table). Tolerance 1e-9 per layer map, times
// the depth's amplification (sw2 Tdot <= 2 per layer over 4 layers): 1e-8.
func TestTanhTable(t *testing.T) {
	x := randomArray(9, 6, 5)
	for i := range 6 {
		row := x.Data[i*5 : i*5+5]
		var n float64
		for _, v := range row {
			n += v * v
		}
		for j := range row {
			row[j] *= math.Sqrt(5 / n) // |x|^2 / d = 1
		}
	}
	s := spec.Spec{Arch: "fcn", Act: "tanh", Depth: 4, SW2: 2.2, SB2: 0.1}
	for _, act := range []Activation{tanhGH61, tanhStrip} {
		fast, err := Compute(s, x, npy.Array{}, Options{Activation: act})
		if err != nil {
			t.Fatal(err)
		}
		slow, err := Compute(s, x, npy.Array{}, Options{Activation: struct{ Activation }{act}})
		if err != nil {
			t.Fatal(err)
		}
		if !mat.EqualApprox(fast.NNGP, slow.NNGP, 1e-8) || !mat.EqualApprox(fast.NTK, slow.NTK, 1e-8) {
			t.Errorf("table and direct quadrature differ:\n%v\n%v", mat.Formatted(fast.NTK), mat.Formatted(slow.NTK))
		}
	}
}

// naiveConv is an independent, deliberately plain implementation of the
// convolutional recursions for erf on full pixel-pair tensors
// [y][x][y'][x'] of one pair of images (and of each image with itself),
// with the filter sum written as all f^2 taps. It returns the cnn-f
// (diagonal mean) and cnn-gap (full mean) readouts.
func naiveConv(sw2, sb2 float64, depth, f int, valid bool, h, w, c int, xa, xb []float64) (flatK, flatT, gapK, gapT float64) {
	type tensor struct {
		h, w int
		v    []float64
	}
	at := func(t tensor, y, x, y2, x2 int) float64 { return t.v[((y*t.w+x)*t.h+y2)*t.w+x2] }
	input := func(p, q []float64) tensor {
		t := tensor{h, w, make([]float64, h*w*h*w)}
		for y := range h {
			for x := range w {
				for y2 := range h {
					for x2 := range w {
						var s float64
						for ch := range c {
							s += p[(y*w+x)*c+ch] * q[(y2*w+x2)*c+ch]
						}
						t.v[((y*w+x)*h+y2)*w+x2] = s / float64(c)
					}
				}
			}
		}
		return t
	}
	conv := func(t tensor) tensor {
		lo, ho, wo := -(f-1)/2, t.h, t.w
		if valid {
			lo, ho, wo = 0, t.h-f+1, t.w-f+1
		}
		o := tensor{ho, wo, make([]float64, ho*wo*ho*wo)}
		for y := range ho {
			for x := range wo {
				for y2 := range ho {
					for x2 := range wo {
						var s float64
						for by := range f {
							for bx := range f {
								p, q, p2, q2 := y+lo+by, x+lo+bx, y2+lo+by, x2+lo+bx
								if p >= 0 && p < t.h && q >= 0 && q < t.w && p2 >= 0 && p2 < t.h && q2 >= 0 && q2 < t.w {
									s += at(t, p, q, p2, q2)
								}
							}
						}
						o.v[((y*wo+x)*ho+y2)*wo+x2] = s / float64(f*f)
					}
				}
			}
		}
		return o
	}
	affine := func(t tensor) tensor {
		for i := range t.v {
			t.v[i] = sw2*t.v[i] + sb2
		}
		return t
	}
	// apply returns T (or Tdot) of the pair tensor k, with the variances of
	// the pixels taken from the diagonals of the self tensors va and vb.
	apply := func(fn func(a, b, c float64) float64, va, k, vb tensor) tensor {
		o := tensor{k.h, k.w, make([]float64, len(k.v))}
		for y := range k.h {
			for x := range k.w {
				for y2 := range k.h {
					for x2 := range k.w {
						o.v[((y*k.w+x)*k.h+y2)*k.w+x2] = fn(at(va, y, x, y, x), at(k, y, x, y2, x2), at(vb, y2, x2, y2, x2))
					}
				}
			}
		}
		return o
	}
	va := affine(conv(input(xa, xa)))
	vb := affine(conv(input(xb, xb)))
	k := affine(conv(input(xa, xb)))
	th := tensor{k.h, k.w, append([]float64(nil), k.v...)}
	for l := 1; l <= depth; l++ {
		t := apply(erfT, va, k, vb)
		td := apply(erfTdot, va, k, vb)
		for i := range td.v {
			td.v[i] *= th.v[i]
		}
		if l == depth {
			n := k.h * k.w
			var dT, dD, aT, aD float64
			for a := range n {
				dT += t.v[a*n+a]
				dD += td.v[a*n+a]
			}
			for i := range t.v {
				aT += t.v[i]
				aD += td.v[i]
			}
			flatK = sw2*dT/float64(n) + sb2
			gapK = sw2*aT/float64(n*n) + sb2
			return flatK, flatK + sw2*dD/float64(n), gapK, gapK + sw2*aD/float64(n*n)
		}
		nva := affine(conv(apply(erfT, va, va, va)))
		nvb := affine(conv(apply(erfT, vb, vb, vb)))
		k = affine(conv(t))
		a := conv(td)
		th = tensor{k.h, k.w, make([]float64, len(k.v))}
		for i := range k.v {
			th.v[i] = k.v[i] + sw2*a.v[i]
		}
		va, vb = nva, nvb
	}
	panic("unreachable")
}

// TestConvNaive compares cnn-f and cnn-gap, SAME and VALID, with the plain
// implementation above (which also checks that cnn-f needs only the pixel
// diagonal). Tolerance 1e-13: the same sums in different orders.
func TestConvNaive(t *testing.T) {
	const sw2, sb2 = 1.6, 0.15
	for _, tt := range []struct {
		padding    string
		h, w, c, L int
	}{{"SAME", 4, 3, 2, 3}, {"VALID", 7, 6, 1, 2}, {"SAME", 2, 5, 3, 1}} {
		x1, x2 := randomArray(11, 2, tt.h, tt.w, tt.c), randomArray(12, 3, tt.h, tt.w, tt.c)
		for _, arch := range []string{"cnn-f", "cnn-gap"} {
			s := spec.Spec{Arch: arch, Act: "erf", Depth: tt.L, SW2: sw2, SB2: sb2, Padding: tt.padding}
			k, err := Compute(s, x1, x2, Options{})
			if err != nil {
				t.Fatal(err)
			}
			d := tt.h * tt.w * tt.c
			for i := range 2 {
				for j := range 3 {
					fk, ft, gk, gt := naiveConv(sw2, sb2, tt.L, 3, tt.padding == "VALID", tt.h, tt.w, tt.c, x1.Data[i*d:(i+1)*d], x2.Data[j*d:(j+1)*d])
					wk, wt := fk, ft
					if arch == "cnn-gap" {
						wk, wt = gk, gt
					}
					if !relClose(k.NNGP.At(i, j), wk, 1e-13) || !relClose(k.NTK.At(i, j), wt, 1e-13) {
						t.Errorf("%s %s %dx%dx%d L=%d (%d,%d): %v, %v; naive %v, %v", arch, tt.padding, tt.h, tt.w, tt.c, tt.L, i, j, k.NNGP.At(i, j), k.NTK.At(i, j), wk, wt)
					}
				}
			}
		}
	}
}

// TestConvFilterOne: a 1x1 convolution on 1x1 images is a dense layer, so
// cnn-f and cnn-gap equal the fcn kernel of the channel vectors. Tolerance
// 1e-14.
func TestConvFilterOne(t *testing.T) {
	x := randomArray(13, 4, 1, 1, 6)
	flat := npy.Array{Shape: []int{4, 6}, Data: x.Data}
	want, err := Compute(spec.Spec{Arch: "fcn", Act: "relu", Depth: 3, SW2: 1.9, SB2: 0.1}, flat, npy.Array{}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, arch := range []string{"cnn-f", "cnn-gap"} {
		k, err := Compute(spec.Spec{Arch: arch, Act: "relu", Depth: 3, SW2: 1.9, SB2: 0.1, Filter: 1}, x, npy.Array{}, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if !mat.EqualApprox(k.NNGP, want.NNGP, 1e-14) || !mat.EqualApprox(k.NTK, want.NTK, 1e-14) {
			t.Errorf("%s with 1x1 filter and images differs from fcn", arch)
		}
	}
}

// TestComputeErrors checks that every fault a user can cause gives one
// error naming the input. Overflows: relu with sw2 = 4 doubles the fcn
// kernel per layer (its closed form needs K11 K22, finite up to K ~ 1e154,
// so about 510 layers); erf with sw2 = 1e6 multiplies the NTK by
// sw2 Tdot ~ 600 per layer; relu cnn-f with sw2 = 50 grows by far more than
// the zero padding loses.
func TestComputeErrors(t *testing.T) {
	flat := randomArray(1, 3, 4)
	img := randomArray(2, 3, 5, 5, 1)
	nan := randomArray(3, 3, 4)
	nan.Data[6] = math.NaN()
	inf := randomArray(3, 2, 4)
	inf.Data[1] = math.Inf(-1)
	big := randomArray(4, 64, 16, 16, 1)
	good := spec.Spec{Arch: "fcn", Act: "erf", Depth: 2, SW2: 1.5, SB2: 0.1}
	with := func(f func(*spec.Spec)) spec.Spec { s := good; f(&s); return s }
	tests := []struct {
		name   string
		s      spec.Spec
		x1, x2 npy.Array
		opt    Options
		want   string
	}{
		{"unknown arch", with(func(s *spec.Spec) { s.Arch = "rnn" }), flat, npy.Array{}, Options{}, `unknown arch "rnn"`},
		{"unknown act", with(func(s *spec.Spec) { s.Act = "gelu" }), flat, npy.Array{}, Options{}, `unknown activation "gelu"`},
		{"depth 0", with(func(s *spec.Spec) { s.Depth = 0 }), flat, npy.Array{}, Options{}, "depth 0"},
		{"negative sw2", with(func(s *spec.Spec) { s.SW2 = -1 }), flat, npy.Array{}, Options{}, "sw2 -1"},
		{"inf sb2", with(func(s *spec.Spec) { s.SB2 = math.Inf(1) }), flat, npy.Array{}, Options{}, "sb2 +Inf"},
		{"shapes disagree", good, flat, randomArray(5, 2, 5), Options{}, "x1 shape [3 4] and x2 shape [2 5] disagree"},
		{"cnn on flat", with(func(s *spec.Spec) { s.Arch = "cnn-f" }), flat, npy.Array{}, Options{}, "needs images [N, H, W, C], got x1 shape [3 4]"},
		{"nan x1", good, nan, npy.Array{}, Options{}, "x1 has NaN at example 1, value 2"},
		{"inf x2", good, flat, inf, Options{}, "x2 has -Inf at example 0, value 1"},
		{"short data", good, npy.Array{Shape: []int{3, 4}, Data: make([]float64, 11)}, npy.Array{}, Options{}, "x1 has 11 values for shape [3 4]"},
		{"rank 1", good, npy.Array{Shape: []int{4}, Data: make([]float64, 4)}, npy.Array{}, Options{}, "x1 shape [4]"},
		{"no examples", good, npy.Array{Shape: []int{0, 4}}, npy.Array{}, Options{}, "every axis must be positive"},
		{"valid too small", with(func(s *spec.Spec) { s.Arch, s.Padding, s.Depth = "cnn-gap", "VALID", 3 }), img, npy.Array{}, Options{}, "5x5 images are too small for 3 VALID convolutions"},
		{"relu overflow", with(func(s *spec.Spec) { s.Act, s.SW2, s.Depth = "relu", 4, 1100 }), flat, npy.Array{}, Options{}, "relu NNGP kernel overflows float64 at depth"},
		{"erf NTK overflow", with(func(s *spec.Spec) { s.SW2, s.Depth = 1e6, 200 }), flat, npy.Array{}, Options{}, "erf NTK kernel overflows float64 at depth 200"},
		{"erf NTK overflow per depth", with(func(s *spec.Spec) { s.SW2, s.Depth = 1e6, 200 }), flat, npy.Array{}, Options{EachDepth: func(int, Kernels) {}}, "erf NTK kernel overflows float64 at depth 1"},
		{"cnn overflow", with(func(s *spec.Spec) { s.Arch, s.Act, s.SW2, s.Depth = "cnn-f", "relu", 50, 1100 }), randomArray(6, 2, 3, 3, 1), npy.Array{}, Options{}, "relu NNGP kernel overflows float64 at depth 1100"},
		{"huge input", good, npy.Array{Shape: []int{1, 2}, Data: []float64{1, 1e200}}, npy.Array{}, Options{}, "x1 has 1e+200 at example 0, value 1: inputs must be below"},
		{"over memory", with(func(s *spec.Spec) { s.Arch = "cnn-gap" }), big, npy.Array{}, Options{MemLimit: 1 << 20}, "needs an estimated"},
	}
	for _, tt := range tests {
		_, err := Compute(tt.s, tt.x1, tt.x2, tt.opt)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %v, want one containing %q", tt.name, err, tt.want)
		}
	}
}

// TestProgress checks that the progress callback counts up to its total for
// both code paths (layers for fcn, input pairs for convolutions).
func TestProgress(t *testing.T) {
	for _, tt := range []struct {
		s     spec.Spec
		x     npy.Array
		total int
	}{
		{spec.Spec{Arch: "fcn", Act: "erf", Depth: 7, SW2: 1.5}, randomArray(1, 5, 3), 7},
		{spec.Spec{Arch: "cnn-f", Act: "erf", Depth: 2, SW2: 1.5}, randomArray(2, 5, 3, 3, 1), 15},
	} {
		last, calls := -1, 0
		_, err := Compute(tt.s, tt.x, npy.Array{}, Options{Progress: func(done, total int) {
			calls++
			if done <= last || total != tt.total || done > total {
				t.Errorf("%s: progress (%d, %d) after %d", tt.s.Arch, done, total, last)
			}
			last = done
		}})
		if err != nil {
			t.Fatal(err)
		}
		if last != tt.total || calls == 0 {
			t.Errorf("%s: progress ended at %d after %d calls, want %d", tt.s.Arch, last, calls, tt.total)
		}
	}
}

// TestComputeReferenceHermite checks that the approximate 61-node
// Gauss-Hermite rule, kept as an option, is still what it was: off the
// reference's cnn-f tanh kernel by about 3e-4 (pixel variances near 4),
// and within 1e-6 of the fcn tanh kernel (variances near 2).
func TestComputeReferenceHermite(t *testing.T) {
	gh := HermiteQuadrature(activation.Tanh, DefaultQuadratureNodes)
	for _, c := range loadReference(t) {
		if c.Act != "tanh" {
			continue
		}
		x1 := npy.Array{Shape: c.X1Shape, Data: c.X1}
		var x2 npy.Array
		if c.X2 != nil {
			x2 = npy.Array{Shape: c.X2Shape, Data: c.X2}
		}
		k, err := Compute(c.spec(), x1, x2, Options{Activation: gh})
		if err != nil {
			t.Fatal(err)
		}
		e := math.Max(maxRelErr(k.NNGP, c.NNGP), maxRelErr(k.NTK, c.NTK))
		t.Logf("%s: Gauss-Hermite 61 relative error %.3g", c.name(), e)
		if e > 5e-4 || e < 1e-9 {
			t.Errorf("%s: Gauss-Hermite 61 relative error %.3g, want within (1e-9, 5e-4)", c.name(), e)
		}
	}
}

// TestSameInputsDeepChaotic: passing x1 again as x2 must give the symmetric
// kernel, whose diagonal follows the variance map to q*, even deep in the
// chaotic phase where the c = 1 fixed point of the correlation map is
// unstable (a cross-pair computation of K(x, x) drifts to q* c* there).
func TestSameInputsDeepChaotic(t *testing.T) {
	s := spec.Spec{Arch: spec.FCN, Act: spec.Erf, Depth: 300, SW2: 2.5, SB2: 0.05}
	const n, d = 3, 8
	x := npy.New(n, d)
	for i := range x.Data {
		x.Data[i] = math.Sin(float64(i*i+1)) * 2
	}
	for i := 0; i < n; i++ { // norm sqrt(d): every input starts at variance 1
		row := x.Data[i*d : (i+1)*d]
		var ss float64
		for _, v := range row {
			ss += v * v
		}
		for j := range row {
			row[j] *= math.Sqrt(d / ss)
		}
	}
	sym, err := Compute(s, x, npy.Array{}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	again, err := Compute(s, x, x, Options{})
	if err != nil {
		t.Fatal(err)
	}
	// Independent: the scalar variance map q -> sw2 (2/pi) asin(2q/(1+2q)) + sb2
	// from q = sw2 + sb2 (the first layer) through depth more layers.
	q := s.SW2*1 + s.SB2
	for l := 0; l < s.Depth; l++ {
		q = s.SW2*(2/math.Pi)*math.Asin(2*q/(1+2*q)) + s.SB2
	}
	for i := 0; i < n; i++ {
		for _, k := range []*mat.Dense{sym.NNGP, again.NNGP} {
			if got := k.At(i, i); math.Abs(got-q) > 1e-12*q {
				t.Errorf("NNGP(%d,%d) = %.15g, want the variance map's %.15g", i, i, got, q)
			}
		}
	}
}

// TestCrossKernelCauchySchwarz: a cross kernel between inputs that differ only
// by rounding must stay within |K12| <= sqrt(K11 K22) at every depth (a
// clamp at the wrong place once froze such pairs at T = 1, K12 = sw2 + sb2).
func TestCrossKernelCauchySchwarz(t *testing.T) {
	s := spec.Spec{Arch: spec.FCN, Act: spec.Erf, Depth: 300, SW2: 2.5, SB2: 0.05}
	x := npy.New(2, 4)
	for i := range x.Data {
		x.Data[i] = 1 + float64(i%3)
	}
	y := npy.New(2, 4)
	for i := range y.Data {
		y.Data[i] = x.Data[i] * (1 + 1e-15)
	}
	sx, err := Compute(s, x, npy.Array{}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	sy, err := Compute(s, y, npy.Array{}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	cross, err := Compute(s, x, y, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		for j := 0; j < 2; j++ {
			bound := math.Sqrt(sx.NNGP.At(i, i) * sy.NNGP.At(j, j))
			if got := cross.NNGP.At(i, j); math.Abs(got) > bound*(1+1e-12) {
				t.Errorf("K(%d,%d) = %.15g exceeds the Cauchy-Schwarz bound %.15g", i, j, got, bound)
			}
		}
	}
}
