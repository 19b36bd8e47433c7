package ntkempirical

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/ntkharness/ntkharness/internal/reference"

	"gonum.org/v1/gonum/mat"

	"github.com/ntkharness/ntkharness/npy"
	"github.com/ntkharness/ntkharness/spec"
	"github.com/ntkharness/ntkharness/theory"
)

// refCase is one of the independent reference kernels (package
// theory/reference), with this file's helpers.
type refCase struct{ reference.KernelCase }

func loadRefCases(t testing.TB) []refCase {
	t.Helper()
	cases, err := reference.KernelCases()
	if err != nil {
		t.Fatal(err)
	}
	out := make([]refCase, len(cases))
	for i, c := range cases {
		out[i] = refCase{c}
	}
	return out
}

// findRef returns the first reference case of an architecture and
// activation.
func findRef(t testing.TB, arch, act string) refCase {
	t.Helper()
	for _, c := range loadRefCases(t) {
		if c.Arch == arch && c.Act == act {
			return c
		}
	}
	t.Fatalf("no reference kernel for %s/%s", arch, act)
	return refCase{}
}

func (c refCase) spec(width, outputs int) spec.Spec {
	return spec.Spec{Arch: c.Arch, Act: c.Act, Depth: c.Depth, Width: width, SW2: c.SW2, SB2: c.SB2,
		Filter: c.Filter, Padding: c.Padding, Outputs: outputs}
}

func (c refCase) inputs() (x1, x2 npy.Array, inShape []int) {
	x1 = npy.Array{Shape: c.X1Shape, Data: c.X1}
	if c.X2 != nil {
		x2 = npy.Array{Shape: c.X2Shape, Data: c.X2}
	}
	inShape = c.X1Shape[1:]
	return x1, x2, inShape
}

func (c refCase) ntk() *mat.Dense {
	r, cols := len(c.NTK), len(c.NTK[0])
	m := mat.NewDense(r, cols, nil)
	for i := range c.NTK {
		m.SetRow(i, c.NTK[i])
	}
	return m
}

// TestMeanConvergesToTheory averages empirical NTKs over independent
// initializations and compares them with the reference analytic NTK of
// the same Spec, against Neural Tangents' bounds on the relative Frobenius
// error: 5% for fcn and cnn-f, 8% for cnn-gap.
//
// Statistics: the traced kernel of one network deviates from the limit by
// a zero-mean fluctuation of relative size about c/sqrt(width) plus an
// O(1/width) bias; averaging M networks divides the fluctuation by
// sqrt(M), and tracing over k logits averages the readout's part of it.
// The fcn cases run at width 1024, where single networks with 2 logits
// are off by 4.5% (erf), 5.8% (tanh) and 6.5% (relu) RMS
// (BenchmarkTheoryAgreement), so they average M = 4 networks (erf) or
// M = 8 (tanh, whose mean keeps a bias of about 1.1% at this width: 48
// networks are off by 1.1%; relu, whose fluctuations have heavier tails:
// means of 4 were off by up to 7% over five seeds). The convolutional cases run at width
// 256 with k = 2 logits and M = 4 (a few seconds); their observed errors
// over five seeds stay below 2%, a third of the bounds or less. cnn-f with
// relu, whose tails are heavier still, is left to BenchmarkTheoryAgreement.
func TestMeanConvergesToTheory(t *testing.T) {
	tests := []struct {
		arch, act               string
		width, outputs, samples int
		bound                   float64
	}{
		{spec.FCN, spec.Erf, 1024, 10, 4, 0.05},
		{spec.FCN, spec.Tanh, 1024, 10, 8, 0.05},
		{spec.FCN, spec.ReLU, 1024, 10, 8, 0.05},
		{spec.CNNF, spec.Erf, 256, 2, 4, 0.05},
		{spec.CNNF, spec.Tanh, 256, 2, 4, 0.05},
		{spec.CNNGAP, spec.Erf, 256, 2, 4, 0.08},
		{spec.CNNGAP, spec.Tanh, 256, 2, 4, 0.08},
	}
	for _, tc := range tests {
		c := findRef(t, tc.arch, tc.act)
		x1, x2, shape := c.inputs()
		got, err := Mean(c.spec(tc.width, tc.outputs), shape, x1, x2, 1, tc.samples, Options{})
		if err != nil {
			t.Fatalf("%s/%s: %v", tc.arch, tc.act, err)
		}
		rel, err := RelativeFrobenius(got.NTK, c.ntk())
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s/%s depth %d width %d, %d samples: relative error %.4f (bound %.2f)", tc.arch, tc.act, c.Depth, tc.width, tc.samples, rel, tc.bound)
		if rel > tc.bound {
			t.Errorf("%s/%s: mean empirical NTK is %.3f (relative Frobenius) from theory, bound %.2f", tc.arch, tc.act, rel, tc.bound)
		}
	}
}

// TestWidthScaling checks that the error of one network's kernel shrinks
// like width^-1/2. For widths 64, 256 and 1024 it takes the root mean
// square, over M = 16 independent networks, of the relative Frobenius
// error against the reference kernel, and fits the slope of log error
// against log width by least squares. The RMS of M draws has a relative
// standard deviation of about 1/sqrt(2M) = 0.18, which over the factor 16
// in width gives a standard error of about 0.09 on the slope; the O(1/W)
// bias steepens the slope slightly at small widths. The test accepts
// slopes in [-0.75, -0.25].
func TestWidthScaling(t *testing.T) {
	c := findRef(t, spec.FCN, spec.Erf)
	x1, x2, shape := c.inputs()
	widths := []int{64, 256, 1024}
	const m = 16
	var lx, ly []float64
	for _, w := range widths {
		ss := 0.0
		for s := 0; s < m; s++ {
			k, err := Mean(c.spec(w, 2), shape, x1, x2, uint64(1000*w+s), 1, Options{})
			if err != nil {
				t.Fatal(err)
			}
			rel, err := RelativeFrobenius(k.NTK, c.ntk())
			if err != nil {
				t.Fatal(err)
			}
			ss += rel * rel
		}
		rms := math.Sqrt(ss / m)
		t.Logf("width %d: RMS relative error %.4f", w, rms)
		lx = append(lx, math.Log(float64(w)))
		ly = append(ly, math.Log(rms))
	}
	var mx, my float64
	for i := range lx {
		mx += lx[i] / float64(len(lx))
		my += ly[i] / float64(len(ly))
	}
	var sxy, sxx float64
	for i := range lx {
		sxy += (lx[i] - mx) * (ly[i] - my)
		sxx += (lx[i] - mx) * (lx[i] - mx)
	}
	slope := sxy / sxx
	t.Logf("fitted slope %.3f (theory -0.5)", slope)
	if slope < -0.75 || slope > -0.25 {
		t.Errorf("error shrinks like width^%.3f, want about width^-0.5", slope)
	}
}

// TestCompareTheory checks agreement with theory.Compute (not only the
// stored reference) on specs and inputs outside the reference file: a
// chaotic-phase fcn (sw2 = 2, depth 4, whose single networks fluctuate by
// about 4%) on random 8-d inputs at width 1024 averaged over 4 networks,
// and a cnn-gap on random 4x4x1 images at width 256 averaged over 4
// networks with 2 logits, with Neural
// Tangents' bounds (5% and 8%; see TestMeanConvergesToTheory for the
// statistics).
func TestCompareTheory(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 21))
	tests := []struct {
		s       spec.Spec
		shape   []int
		n       int
		samples int
		bound   float64
	}{
		{spec.Spec{Arch: spec.FCN, Act: spec.Erf, Depth: 4, Width: 1024, SW2: 2.0, SB2: 0.1, Outputs: 10}, []int{8}, 5, 4, 0.05},
		{spec.Spec{Arch: spec.CNNGAP, Act: spec.Erf, Depth: 2, Width: 256, SW2: 1.5, SB2: 0.1, Outputs: 2}, []int{4, 4, 1}, 3, 4, 0.08},
	}
	for _, tc := range tests {
		x := randomInputs(rng, tc.n, tc.shape)
		c, err := CompareTheory(tc.s, tc.shape, x, npy.Array{}, 3, tc.samples, Options{}, theory.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: relative error %.4f (bound %.2f)", tc.s.Arch, c.Relative, tc.bound)
		if c.Relative > tc.bound {
			t.Errorf("%s: mean empirical NTK is %.3f from theory.Compute, bound %.2f", tc.s.Arch, c.Relative, tc.bound)
		}
	}
}
