package ntkempirical

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/ntkharness/ntkharness/nets"
	"github.com/ntkharness/ntkharness/npy"
	"github.com/ntkharness/ntkharness/spec"
)

// tinyCase is a small network and inputs for method comparisons.
type tinyCase struct {
	name    string
	s       spec.Spec
	inShape []int
	n1, n2  int // n2 == 0: x2 = x1
}

func tinyCases() []tinyCase {
	var cs []tinyCase
	for _, act := range spec.Acts {
		cs = append(cs,
			tinyCase{"fcn-" + act, spec.Spec{Arch: spec.FCN, Act: act, Depth: 2, Width: 7, SW2: 1.7, SB2: 0.1, Outputs: 3}, []int{5}, 4, 0},
			tinyCase{"fcn-x2-" + act, spec.Spec{Arch: spec.FCN, Act: act, Depth: 3, Width: 6, SW2: 1.3, SB2: 0.2, Outputs: 2}, []int{4}, 3, 2},
			tinyCase{"cnn-f-" + act, spec.Spec{Arch: spec.CNNF, Act: act, Depth: 2, Width: 3, SW2: 1.5, SB2: 0.1, Outputs: 2}, []int{4, 3, 2}, 3, 0},
			tinyCase{"cnn-gap-" + act, spec.Spec{Arch: spec.CNNGAP, Act: act, Depth: 2, Width: 3, SW2: 2.0, SB2: 0.05, Outputs: 3}, []int{3, 4, 1}, 2, 3},
		)
	}
	cs = append(cs, tinyCase{"cnn-f-valid", spec.Spec{Arch: spec.CNNF, Act: spec.Erf, Depth: 1, Width: 4, SW2: 1.5, SB2: 0.1, Outputs: 2, Padding: spec.Valid}, []int{4, 4, 1}, 3, 0})
	return cs
}

// randomInputs returns n seeded Gaussian examples of the given shape.
func randomInputs(rng *rand.Rand, n int, shape []int) npy.Array {
	a := npy.Array{Shape: append([]int{n}, shape...)}
	a.Data = make([]float64, npy.Size(a.Shape))
	for i := range a.Data {
		a.Data[i] = rng.NormFloat64()
	}
	return a
}

func (tc tinyCase) build(t *testing.T, seed uint64) (*nets.Net, npy.Array, npy.Array) {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 99))
	net, err := nets.New(tc.s, tc.inShape, rng)
	if err != nil {
		t.Fatalf("%s: %v", tc.name, err)
	}
	x1 := randomInputs(rng, tc.n1, tc.inShape)
	var x2 npy.Array
	if tc.n2 > 0 {
		x2 = randomInputs(rng, tc.n2, tc.inShape)
	}
	return net, x1, x2
}

// maxRelDiff returns max |a-b| / max |b|.
func maxRelDiff(a, b *mat.Dense) float64 {
	var d, s float64
	r, c := b.Dims()
	for i := 0; i < r; i++ {
		for j := 0; j < c; j++ {
			d = math.Max(d, math.Abs(a.At(i, j)-b.At(i, j)))
			s = math.Max(s, math.Abs(b.At(i, j)))
		}
	}
	return d / s
}

// TestStructuredMatchesJacobian checks that the two methods give the same
// traced and full kernels on every architecture and activation. Both are
// exact; they differ only in the order of floating-point sums, so 1e-10
// relative is a rounding bound with a wide margin. The Jacobian is also
// run with a memory budget that forces several parameter chunks.
func TestStructuredMatchesJacobian(t *testing.T) {
	for _, tc := range tinyCases() {
		net, x1, x2 := tc.build(t, 1)
		st, err := Compute(net, x1, x2, Options{Method: Structured, Full: true})
		if err != nil {
			t.Fatalf("%s structured: %v", tc.name, err)
		}
		rows := tc.n1 * tc.s.Outputs
		if tc.n2 > 0 {
			rows += tc.n2 * tc.s.Outputs
		}
		// Room for about a third of the parameters per chunk.
		budget := int64(8*rows*net.ParamCount()/3) + net.MemoryEstimate(1) + 8*3*int64(rows*rows)
		for _, mem := range []int64{0, budget} {
			jc, err := Compute(net, x1, x2, Options{Method: Jacobian, Full: true, MaxMemory: mem})
			if err != nil {
				t.Fatalf("%s jacobian (budget %d): %v", tc.name, mem, err)
			}
			if d := maxRelDiff(st.NTK, jc.NTK); d > 1e-10 {
				t.Errorf("%s (budget %d): traced kernels differ by %.3g relative", tc.name, mem, d)
			}
			if d := maxRelDiff(st.Full, jc.Full); d > 1e-10 {
				t.Errorf("%s (budget %d): full kernels differ by %.3g relative", tc.name, mem, d)
			}
		}
		// The traced kernel without Full is the same computation with
		// fewer products; convolutions have two contractions (position
		// pairs, per-example gradients) that must agree with each other;
		// blocks of 2 examples keep every block's factors rather than
		// contract one pass's as it runs.
		for _, conv := range []int{convAuto, convPairs, convPerSample} {
			for _, full := range []bool{false, true} {
				for _, block := range []int{0, 2} {
					o, err := Compute(net, x1, x2, Options{Full: full, conv: conv, block: block})
					if err != nil {
						t.Fatal(err)
					}
					if d := maxRelDiff(o.NTK, st.NTK); d > 1e-10 {
						t.Errorf("%s (conv mode %d, full %v, block %d): traced kernel differs by %.3g", tc.name, conv, full, block, d)
					}
					if full {
						if d := maxRelDiff(o.Full, st.Full); d > 1e-10 {
							t.Errorf("%s (conv mode %d, block %d): full kernel differs by %.3g", tc.name, conv, block, d)
						}
					}
				}
			}
		}
		net.Close()
	}
}

// TestFiniteDifferences checks the kernel against an independent
// computation that uses only the forward pass: the Jacobian by central
// differences J[(i,a), p] = (f_a(x_i; theta + h e_p) - f_a(x_i; theta - h e_p)) / 2h.
// With h = 1e-5 the truncation error is O(h^2) times the third derivative, ~1e-10, and the
// rounding error O(eps/h) ~ 1e-11 per entry, so 1e-7 relative on the
// kernel leaves a wide margin.
func TestFiniteDifferences(t *testing.T) {
	for _, tc := range tinyCases() {
		if tc.s.Act == spec.ReLU {
			continue // kinks make central differences unreliable
		}
		net, x1, x2 := tc.build(t, 2)
		k := tc.s.Outputs
		fd := func(x npy.Array) *mat.Dense {
			n := x.Shape[0]
			j := mat.NewDense(n*k, net.ParamCount(), nil)
			col := 0
			const h = 1e-5
			for _, p := range net.Params() {
				for q := range p.Data {
					old := p.Data[q]
					p.Data[q] = old + h
					fp, err := net.Forward(x)
					if err != nil {
						t.Fatal(err)
					}
					p.Data[q] = old - h
					fm, err := net.Forward(x)
					if err != nil {
						t.Fatal(err)
					}
					p.Data[q] = old
					for i := 0; i < n; i++ {
						for a := 0; a < k; a++ {
							j.Set(i*k+a, col, (fp.At(i, a)-fm.At(i, a))/(2*h))
						}
					}
					col++
				}
			}
			return j
		}
		j1 := fd(x1)
		j2 := j1
		if x2.Data != nil {
			j2 = fd(x2)
		}
		var full mat.Dense
		full.Mul(j1, j2.T())
		got, err := Compute(net, x1, x2, Options{Full: true})
		if err != nil {
			t.Fatal(err)
		}
		if d := maxRelDiff(got.Full, &full); d > 1e-7 {
			t.Errorf("%s: full kernel differs from finite differences by %.3g relative", tc.name, d)
		}
		net.Close()
	}
}

// TestDepthOneReadout checks a closed form: for an fcn of depth 1 the
// readout contributes (sw2/n) phi(z_i).phi(z_j) + sb2 to every logit's
// kernel and the first layer
// (sw2/d x_i.x_j + sb2) (sw2/n) sum_u w_ua^2 phi'(z_iu) phi'(z_ju),
// averaged over logits a.
func TestDepthOneReadout(t *testing.T) {
	s := spec.Spec{Arch: spec.FCN, Act: spec.Tanh, Depth: 1, Width: 5, SW2: 1.4, SB2: 0.3, Outputs: 2}
	d, n := 3, 4
	rng := rand.New(rand.NewPCG(4, 4))
	net, err := nets.New(s, []int{d}, rng)
	if err != nil {
		t.Fatal(err)
	}
	x := randomInputs(rng, n, []int{d})
	ps := net.Params() // w1 [d, width], b1, w_out [width, k], b_out
	w1, b1, wo := ps[0].Data, ps[1].Data, ps[2].Data
	z := make([][]float64, n)
	for i := 0; i < n; i++ {
		z[i] = make([]float64, s.Width)
		for u := 0; u < s.Width; u++ {
			v := 0.0
			for c := 0; c < d; c++ {
				v += x.Data[i*d+c] * w1[c*s.Width+u]
			}
			z[i][u] = math.Sqrt(s.SW2/float64(d))*v + math.Sqrt(s.SB2)*b1[u]
		}
	}
	got, err := Compute(net, x, npy.Array{}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i++ {
		for j := 0; j < n; j++ {
			xx := 0.0
			for c := 0; c < d; c++ {
				xx += x.Data[i*d+c] * x.Data[j*d+c]
			}
			var hh float64
			for u := 0; u < s.Width; u++ {
				hh += math.Tanh(z[i][u]) * math.Tanh(z[j][u])
			}
			want := s.SW2/float64(s.Width)*hh + s.SB2
			for a := 0; a < s.Outputs; a++ {
				var dd float64
				for u := 0; u < s.Width; u++ {
					gi := 1 - math.Pow(math.Tanh(z[i][u]), 2)
					gj := 1 - math.Pow(math.Tanh(z[j][u]), 2)
					dd += wo[u*s.Outputs+a] * wo[u*s.Outputs+a] * gi * gj
				}
				want += (s.SW2/float64(d)*xx + s.SB2) * s.SW2 / float64(s.Width) * dd / float64(s.Outputs)
			}
			if g := got.NTK.At(i, j); math.Abs(g-want) > 1e-12*math.Abs(want) {
				t.Errorf("Theta(%d,%d) = %.15g, want %.15g", i, j, g, want)
			}
		}
	}
}

func TestComputeErrors(t *testing.T) {
	s := spec.Spec{Arch: spec.FCN, Act: spec.Erf, Depth: 1, Width: 4, SW2: 1, SB2: 0.1, Outputs: 2}
	net, err := nets.New(s, []int{3}, rand.New(rand.NewPCG(1, 1)))
	if err != nil {
		t.Fatal(err)
	}
	good := npy.Array{Shape: []int{2, 3}, Data: make([]float64, 6)}
	tests := []struct {
		name   string
		x1, x2 npy.Array
		opt    Options
		want   string
	}{
		{"wrong width", npy.Array{Shape: []int{2, 4}, Data: make([]float64, 8)}, npy.Array{}, Options{}, "x1 has examples of shape [4]"},
		{"x2 wrong", good, npy.Array{Shape: []int{1, 2}, Data: make([]float64, 2)}, Options{}, "x2 has examples"},
		{"NaN", npy.Array{Shape: []int{1, 3}, Data: []float64{0, math.NaN(), 0}}, npy.Array{}, Options{}, "x1 value 1 is NaN"},
		{"no examples", npy.Array{Shape: []int{0, 3}}, npy.Array{}, Options{}, "N >= 1"},
		{"method", good, npy.Array{}, Options{Method: "forward"}, `unknown method "forward"`},
		{"structured memory", good, npy.Array{}, Options{MaxMemory: 100}, "over the memory budget"},
		{"jacobian memory", good, npy.Array{}, Options{Method: Jacobian, MaxMemory: 100}, "does not fit the memory budget"},
	}
	for _, tc := range tests {
		_, err := Compute(net, tc.x1, tc.x2, tc.opt)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one containing %q", tc.name, err, tc.want)
		}
	}
	if _, err := Mean(s, []int{3}, good, npy.Array{}, 1, 0, Options{}); err == nil {
		t.Error("Mean accepted zero samples")
	}
}

// TestBlockPlan checks that the structured method runs one pass per
// block of up to 256 examples for all logits at once even when the
// parameters take most of the memory budget (the parameters' storage does
// not grow with the batch, so it must not shrink the blocks: it once cut
// them to single examples, 100x slower), one pass per logit and block
// when only one logit's factors fit, and the same kernel either way.
func TestBlockPlan(t *testing.T) {
	s := spec.Spec{Arch: spec.FCN, Act: spec.Erf, Depth: 2, Width: 512, SW2: 1.5, SB2: 0.1, Outputs: 2}
	rng := rand.New(rand.NewPCG(5, 6))
	net, err := nets.New(s, []int{10}, rng)
	if err != nil {
		t.Fatal(err)
	}
	x := randomInputs(rng, 300, []int{10})
	full, err := EstimateMemory(s, []int{10}, 300, 0, Options{})
	if err != nil {
		t.Fatal(err)
	}
	// The parameters and pass buffers, and 16 MiB for the kernel
	// factors (about 9 MiB here).
	budget := net.LogitFactorsMemory(256, 2) + 16<<20
	var want *mat.Dense
	for _, tc := range []struct {
		mem    int64
		passes int
	}{
		{0, 2},            // default budget: blocks of 256 and 44, both logits
		{budget, 2},       // parameters dominate the budget
		{full - 1, 2 * 2}, // one logit per pass
	} {
		total := 0
		k, err := Compute(net, x, npy.Array{}, Options{MaxMemory: tc.mem, Progress: func(done, tot int) { total = tot }})
		if err != nil {
			t.Fatal(err)
		}
		if total != tc.passes {
			t.Errorf("budget %d: %d passes, want %d", tc.mem, total, tc.passes)
		}
		if want == nil {
			want = k.NTK
		} else if d := maxRelDiff(k.NTK, want); d > 1e-12 {
			t.Errorf("budget %d: kernel differs from the default plan's by %.3g", tc.mem, d)
		}
	}
}
