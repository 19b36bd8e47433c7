package nets

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/ntkharness/ntkharness/spec"
)

// ensembleOf returns S specs equal to s but for their variances, which
// vary around s's, and a fresh random source per member.
func ensembleOf(s spec.Spec, S int, seed uint64) ([]spec.Spec, []*rand.Rand) {
	var specs []spec.Spec
	var rngs []*rand.Rand
	for m := 0; m < S; m++ {
		sm := s
		sm.SW2 = s.SW2 * (1 + 0.25*float64(m))
		sm.SB2 = s.SB2 + 0.05*float64(m)
		specs = append(specs, sm)
		rngs = append(rngs, memberSource(seed, m))
	}
	return specs, rngs
}

func memberSource(seed uint64, m int) *rand.Rand { return rand.New(rand.NewPCG(seed+uint64(m), 99)) }

// TestEnsembleInitMatchesNew: member m's parameters are those of New with
// member m's spec and random source, exactly.
func TestEnsembleInitMatchesNew(t *testing.T) {
	for _, tc := range tinyCases() {
		specs, rngs := ensembleOf(tc.s, 3, 5)
		e, err := NewEnsemble(specs, tc.inShape, rngs)
		if err != nil {
			t.Fatal(err)
		}
		for m := range specs {
			n, err := New(specs[m], tc.inShape, memberSource(5, m))
			if err != nil {
				t.Fatal(err)
			}
			got, want := e.Params(m), n.Params()
			if len(got) != len(want) {
				t.Fatalf("%s member %d: %d tensors, New has %d", tc.name, m, len(got), len(want))
			}
			for i := range want {
				if got[i].Name != want[i].Name || !equalInts(got[i].Shape, want[i].Shape) {
					t.Errorf("%s member %d tensor %d: %s %v, New has %s %v", tc.name, m, i, got[i].Name, got[i].Shape, want[i].Name, want[i].Shape)
				}
				for j := range want[i].Data {
					if got[i].Data[j] != want[i].Data[j] {
						t.Fatalf("%s member %d %s[%d] = %v, New drew %v", tc.name, m, want[i].Name, j, got[i].Data[j], want[i].Data[j])
					}
				}
			}
			if l := e.Layers(m); l[0].Scale != n.Layers()[0].Scale || l[0].BiasScale != n.Layers()[0].BiasScale {
				t.Errorf("%s member %d: layer scales %v, %v; New has %v, %v", tc.name, m, l[0].Scale, l[0].BiasScale, n.Layers()[0].Scale, n.Layers()[0].BiasScale)
			}
		}
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestEnsembleMatchesNets: the ensemble's outputs agree with the
// independent reference forward pass (refForward) to a few ulps, and its
// losses and gradients with each member's own Net graph to 1e-13 relative
// (same arithmetic in the same order, so in practice exactly); an
// inactive member gets nothing. Small patch blocks make the convolutions
// run over several blocks.
func TestEnsembleMatchesNets(t *testing.T) {
	for _, blockRows := range []int{convBlockRows, 7} {
		old := convBlockRows
		convBlockRows = blockRows
		for _, tc := range tinyCases() {
			specs, rngs := ensembleOf(tc.s, 3, 11)
			e, err := NewEnsemble(specs, tc.inShape, rngs)
			if err != nil {
				t.Fatal(err)
			}
			rng := rand.New(rand.NewPCG(1, 2))
			x := randInput(rng, 4, tc.inShape)
			y := cyclicTargets(4, e.Outputs())
			for _, active := range [][]bool{nil, {true, false, true}} {
				fs, err := e.Forward(x, active)
				if err != nil {
					t.Fatal(err)
				}
				loss, out, grads, err := e.LossGrad(x, y, active)
				if err != nil {
					t.Fatal(err)
				}
				for m := range specs {
					if !isActive(active, m) {
						if fs[m] != nil || out[m] != nil || grads[m] != nil || loss[m] != 0 {
							t.Errorf("%s: inactive member %d has results", tc.name, m)
						}
						continue
					}
					mc := tc
					mc.s = specs[m]
					member := e.Member(m)
					checkForward(t, tc.name+" Forward", fs[m], mc, paramData(member), x)
					checkForward(t, tc.name+" LossGrad", out[m], mc, paramData(member), x)
					wl, _, wg, err := member.LossGrad(x, y)
					if err != nil {
						t.Fatal(err)
					}
					if !close(loss[m], wl, 1e-13) {
						t.Errorf("%s member %d: loss %.17g, Net %.17g", tc.name, m, loss[m], wl)
					}
					for i := range wg {
						for j := range wg[i] {
							if !close(grads[m][i][j], wg[i][j], 1e-13) {
								t.Fatalf("%s blocks %d member %d: %s[%d] gradient %.17g, Net %.17g", tc.name, blockRows, m, member.Params()[i].Name, j, grads[m][i][j], wg[i][j])
							}
						}
					}
					member.Close()
				}
			}
		}
		convBlockRows = old
	}
}

// close reports |a - b| <= tol max(|a|, |b|, 1e-300).
func close(a, b, tol float64) bool {
	return math.Abs(a-b) <= tol*math.Max(math.Max(math.Abs(a), math.Abs(b)), 1e-300)
}

// TestEnsembleGradientFiniteDifferences checks one member's gradient in a
// mixed-variance ensemble against central differences of the reference
// forward pass, independently of the Net's graph.
func TestEnsembleGradientFiniteDifferences(t *testing.T) {
	tc := testCase{"cnngap", spec.Spec{Arch: spec.CNNGAP, Act: spec.Tanh, Depth: 2, Width: 3, SW2: 1.5, SB2: 0.2, Outputs: 2}, []int{4, 3, 2}}
	specs, rngs := ensembleOf(tc.s, 2, 21)
	e, err := NewEnsemble(specs, tc.inShape, rngs)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	x := randInput(rng, 3, tc.inShape)
	y := mat.NewDense(3, 2, []float64{1, 0, 0, 1, 1, 0})
	_, _, grads, err := e.LossGrad(x, y, nil)
	if err != nil {
		t.Fatal(err)
	}
	m := 1
	mc := tc
	mc.s = specs[m]
	params := paramData(e.Member(m))
	for pi, p := range params {
		for i := range p {
			old := p[i]
			p[i] = old + fdStep
			lp := refLoss(mc, params, x, y)
			p[i] = old - fdStep
			lm := refLoss(mc, params, x, y)
			p[i] = old
			fd := (lp - lm) / (2 * fdStep)
			if d := math.Abs(grads[m][pi][i] - fd); d > fdTol*math.Max(1, math.Abs(fd)) {
				t.Errorf("param %d[%d]: gradient %.10g, finite difference %.10g", pi, i, grads[m][pi][i], fd)
			}
		}
	}
}

func TestEnsembleErrors(t *testing.T) {
	s := spec.Spec{Arch: spec.FCN, Act: spec.Erf, Depth: 2, Width: 4, SW2: 1.5, SB2: 0.1, Outputs: 2}
	wider := s
	wider.Width = 5
	bad := s
	bad.SW2 = -1
	src := func(n int) []*rand.Rand {
		var r []*rand.Rand
		for i := 0; i < n; i++ {
			r = append(r, memberSource(1, i))
		}
		return r
	}
	tests := []struct {
		specs []spec.Spec
		rngs  []*rand.Rand
		want  string
	}{
		{nil, nil, "no networks"},
		{[]spec.Spec{s, s}, src(1), "2 specs has 1 random sources"},
		{[]spec.Spec{s, wider}, src(2), "member 1: spec"},
		{[]spec.Spec{s, bad}, src(2), "member 1: spec: sw2 -1"},
	}
	for _, tt := range tests {
		_, err := NewEnsemble(tt.specs, []int{3}, tt.rngs)
		if err == nil || !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("NewEnsemble(%d specs): error %v, want one line containing %q", len(tt.specs), err, tt.want)
		}
	}
	e, err := NewEnsemble([]spec.Spec{s, s}, []int{3}, src(2))
	if err != nil {
		t.Fatal(err)
	}
	x := randInput(rand.New(rand.NewPCG(1, 1)), 2, []int{3})
	if _, err := e.Forward(x, []bool{true}); err == nil || !strings.Contains(err.Error(), "1 entries for 2 members") {
		t.Errorf("short mask: error %v", err)
	}
	if _, _, _, err := e.LossGrad(x, mat.NewDense(2, 3, nil), nil); err == nil || !strings.Contains(err.Error(), "targets are 2x3, want 2x2") {
		t.Errorf("bad targets: error %v", err)
	}
	if _, err := e.Forward(randInput(rand.New(rand.NewPCG(1, 1)), 2, []int{4}), nil); err == nil || !strings.Contains(err.Error(), "does not fit fcn") {
		t.Errorf("bad input: error %v", err)
	}
}

// TestEnsembleLayerFactors: the layer inputs and deltas of every active
// member agree with its own Net's LayerFactors (the Gorgonia graph's
// reverse mode) to 1e-13 relative, including patches of convolutions;
// destinations left nil and inactive members are not written.
func TestEnsembleLayerFactors(t *testing.T) {
	for _, tc := range tinyCases() {
		specs, rngs := ensembleOf(tc.s, 3, 31)
		e, err := NewEnsemble(specs, tc.inShape, rngs)
		if err != nil {
			t.Fatal(err)
		}
		rng := rand.New(rand.NewPCG(5, 6))
		x := randInput(rng, 3, tc.inShape)
		cot := mat.NewDense(3, e.Outputs(), nil)
		for i := 0; i < 3; i++ {
			for j := 0; j < e.Outputs(); j++ {
				cot.Set(i, j, rng.NormFloat64())
			}
		}
		layers := e.Layers(0)
		alloc := func(skip int) ([]*mat.Dense, []*mat.Dense) {
			var in, d []*mat.Dense
			for l, ly := range layers {
				if l == skip {
					in, d = append(in, nil), append(d, nil)
					continue
				}
				in = append(in, mat.NewDense(3*ly.Positions, ly.FanIn, nil))
				d = append(d, mat.NewDense(3*ly.Positions, ly.FanOut, nil))
			}
			return in, d
		}
		inputs := make([][]*mat.Dense, 3)
		deltas := make([][]*mat.Dense, 3)
		for m := range inputs {
			inputs[m], deltas[m] = alloc(m) // member m skips layer m
		}
		if err := e.LayerFactors(x, cot, []bool{true, false, true}, inputs, deltas); err != nil {
			t.Fatal(err)
		}
		for m := range specs {
			wantIn, wantD := alloc(-1)
			member := e.Member(m)
			if err := member.LayerFactors(x, cot, wantIn, wantD); err != nil {
				t.Fatal(err)
			}
			for l := range layers {
				if inputs[m][l] == nil {
					continue
				}
				for _, pair := range [][2]*mat.Dense{{inputs[m][l], wantIn[l]}, {deltas[m][l], wantD[l]}} {
					got, want := pair[0].RawMatrix().Data, pair[1].RawMatrix().Data
					for i := range want {
						switch {
						case m == 1 && got[i] != 0:
							t.Fatalf("%s: inactive member 1 layer %d written", tc.name, l)
						case m != 1 && !close(got[i], want[i], 1e-13):
							t.Fatalf("%s member %d layer %d: factor %d = %.17g, Net %.17g", tc.name, m, l, i, got[i], want[i])
						}
					}
				}
			}
			member.Close()
		}
	}
}

// cyclicTargets returns n one-hot targets of k classes, example i of class
// i mod k.
func cyclicTargets(n, k int) *mat.Dense {
	y := mat.NewDense(n, k, nil)
	for i := 0; i < n; i++ {
		y.Set(i, i%k, 1)
	}
	return y
}
