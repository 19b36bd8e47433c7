package nets

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/ntkharness/ntkharness/spec"
)

// u32 is float32's unit roundoff, 2^-24.
const u32 = 1.0 / (1 << 24)

// float32Tol is the normwise relative tolerance for a float32 pass of
// spec s against float64: each of its L+1 affine layers adds at most
// about (fan-in + 16) u32 (the rounded parameters and inputs, a sum of
// fan-in products, the affine map, and the activation's approximation,
// within 4 units of 2^-23), and layers pass earlier errors on with gains
// near 1 at these variances.
func float32Tol(layers []Layer) float64 {
	tol := 0.0
	for _, ly := range layers {
		tol += float64(ly.FanIn+16) * u32
	}
	return tol
}

// maxRelDiff returns max |a - b| / max |b| over the entries.
func maxRelDiff(a, b []float64) float64 {
	d, n := 0.0, 0.0
	for i := range b {
		d = math.Max(d, math.Abs(a[i]-b[i]))
		n = math.Max(n, math.Abs(b[i]))
	}
	return d / n
}

func dtypeOf(specs []spec.Spec, dtype string) []spec.Spec {
	out := append([]spec.Spec(nil), specs...)
	for m := range out {
		out[m].DType = dtype
	}
	return out
}

// f32Cases are tinyCases with a wider, deeper fcn.
func f32Cases() []testCase {
	return append(tinyCases(), testCase{"fcn-deep", spec.Spec{Arch: spec.FCN, Act: spec.Erf, Depth: 10, Width: 32, SW2: 1.6, SB2: 0.1, Outputs: 3}, []int{8}})
}

// TestFloat32EnsembleTracksFloat64: a float32 ensemble drawn from the same
// sources as a float64 one starts from the float64 parameters rounded to
// float32, exactly, and then over 100 full-batch GD steps its outputs and
// losses stay within the float32 tolerance of the float64 ensemble's
// (float32Tol at the start, growing with the steps: each step adds its own
// rounding, which stable GD does not amplify).
func TestFloat32EnsembleTracksFloat64(t *testing.T) {
	for _, tc := range f32Cases() {
		specs, _ := ensembleOf(tc.s, 3, 41)
		_, rngs64 := ensembleOf(tc.s, 3, 41)
		_, rngs32 := ensembleOf(tc.s, 3, 41)
		e64, err := NewEnsemble(dtypeOf(specs, spec.Float64), tc.inShape, rngs64)
		if err != nil {
			t.Fatal(err)
		}
		e32, err := NewEnsemble(dtypeOf(specs, spec.Float32), tc.inShape, rngs32)
		if err != nil {
			t.Fatal(err)
		}
		if e32.DType() != spec.Float32 || e64.DType() != spec.Float64 {
			t.Fatalf("dtypes %s, %s", e32.DType(), e64.DType())
		}
		for m := range specs {
			p32, p64 := e32.Params(m), e64.Params(m)
			for i := range p64 {
				for j, v := range p64[i].Data {
					if p32[i].Data[j] != float64(float32(v)) {
						t.Fatalf("%s member %d %s[%d]: float32 %v, float64 %v rounded %v", tc.name, m, p64[i].Name, j, p32[i].Data[j], v, float32(v))
					}
				}
			}
		}
		rng := rand.New(rand.NewPCG(7, 8))
		const n = 6
		x := randInput(rng, n, tc.inShape)
		y := cyclicTargets(n, e64.Outputs())
		lr := []float64{0.05, 0.1, 0.2}
		tol0 := float32Tol(e64.Layers(0))
		worst := 0.0
		var first, last []float64
		for step := 0; step <= 100; step++ {
			l64, o64, err := e64.Backward(x, y, nil)
			if err != nil {
				t.Fatal(err)
			}
			l32, o32, err := e32.Backward(x, y, nil)
			if err != nil {
				t.Fatal(err)
			}
			if step == 0 {
				first = l64
			}
			last = l64
			tol := tol0 * (1 + float64(step)/10)
			for m := range specs {
				d := maxRelDiff(o32[m].RawMatrix().Data, o64[m].RawMatrix().Data)
				dl := math.Abs(l32[m]-l64[m]) / l64[m]
				worst = math.Max(worst, d/tol)
				if d > tol || dl > 2*tol {
					t.Fatalf("%s member %d step %d: outputs differ by %.3g, losses %.3g (relative), tolerance %.3g", tc.name, m, step, d, dl, tol)
				}
			}
			e64.Step(nil, lr)
			e32.Step(nil, lr)
		}
		t.Logf("%s: worst difference %.2g of the tolerance (%.2g at step 0); losses from %.3g to %.3g", tc.name, worst, tol0, first, last)
	}
}

// TestFloat32MemberAlone: a float32 member trained alone (S = 1) ends bit
// for bit where the same member of an ensemble of 3 ends, after 20 GD
// steps, for every architecture, in both builds: a member's arithmetic is
// the same whichever goroutine runs it (a lone member runs threaded BLAS
// and splits its elementwise stages, but every value is computed by the
// same operations in the same order: the BLAS splits the output matrix
// among its threads, not the sums), and its tensors have the same
// alignment in any ensemble (on which the order of gonum's float32 dot
// products depends).
func TestFloat32MemberAlone(t *testing.T) {
	for _, tc := range f32Cases() {
		specs, rngs := ensembleOf(tc.s, 3, 51)
		specs = dtypeOf(specs, spec.Float32)
		e, err := NewEnsemble(specs, tc.inShape, rngs)
		if err != nil {
			t.Fatal(err)
		}
		rng := rand.New(rand.NewPCG(9, 10))
		x := randInput(rng, 5, tc.inShape)
		y := cyclicTargets(5, e.Outputs())
		lr := []float64{0.05, 0.1, 0.2}
		for step := 0; step < 20; step++ {
			if _, _, err := e.Backward(x, y, nil); err != nil {
				t.Fatal(err)
			}
			e.Step(nil, lr)
		}
		for m := range specs {
			alone, err := NewEnsemble(specs[m:m+1], tc.inShape, []*rand.Rand{memberSource(51, m)})
			if err != nil {
				t.Fatal(err)
			}
			for step := 0; step < 20; step++ {
				if _, _, err := alone.Backward(x, y, nil); err != nil {
					t.Fatal(err)
				}
				alone.Step(nil, lr[m:m+1])
			}
			want, got := alone.Params(0), e.Params(m)
			for i := range want {
				for j, v := range want[i].Data {
					if got[i].Data[j] != v {
						t.Fatalf("%s member %d %s[%d]: %v in the ensemble, %v alone", tc.name, m, want[i].Name, j, got[i].Data[j], v)
					}
				}
			}
		}
	}
}

// TestFloat32UpdateIsStep: Update with LossGrad's float64 gradients gives
// a float32 ensemble the parameters Step gives it, and LossGrad's
// gradients are Backward's rounded to nothing (float32 values in
// float64).
func TestFloat32UpdateIsStep(t *testing.T) {
	tc := f32Cases()[2] // cnn-f
	specs, _ := ensembleOf(tc.s, 2, 61)
	specs = dtypeOf(specs, spec.Float32)
	_, ra := ensembleOf(tc.s, 2, 61)
	_, rb := ensembleOf(tc.s, 2, 61)
	a, _ := NewEnsemble(specs, tc.inShape, ra)
	b, _ := NewEnsemble(specs, tc.inShape, rb)
	x := randInput(rand.New(rand.NewPCG(1, 1)), 3, tc.inShape)
	y := mat.NewDense(3, a.Outputs(), nil)
	lr := []float64{0.1, 0.3}
	_, _, grads, err := a.LossGrad(x, y, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range grads[1] {
		for _, v := range g {
			if float64(float32(v)) != v {
				t.Fatalf("gradient %v is not a float32 value", v)
			}
		}
	}
	a.Update(grads, lr)
	if _, _, err := b.Backward(x, y, nil); err != nil {
		t.Fatal(err)
	}
	b.Step(nil, lr)
	for m := range specs {
		pa, pb := a.Params(m), b.Params(m)
		for i := range pa {
			for j := range pa[i].Data {
				if pa[i].Data[j] != pb[i].Data[j] {
					t.Fatalf("member %d %s[%d]: Update %v, Step %v", m, pa[i].Name, j, pa[i].Data[j], pb[i].Data[j])
				}
			}
		}
	}
}

// TestFloat32Net: a float32 Net (New with a float32 spec) holds the draws
// of its float64 twin rounded to float32, and its Forward and layer
// factors are those of the same member in a float32 ensemble, bit for
// bit, and within float32Tol of the float64 Net's.
func TestFloat32Net(t *testing.T) {
	for _, tc := range f32Cases() {
		s32 := tc.s
		s32.DType = spec.Float32
		n32, err := New(s32, tc.inShape, memberSource(71, 0))
		if err != nil {
			t.Fatal(err)
		}
		n64, err := New(tc.s, tc.inShape, memberSource(71, 0))
		if err != nil {
			t.Fatal(err)
		}
		e32, err := NewEnsemble([]spec.Spec{s32}, tc.inShape, []*rand.Rand{memberSource(71, 0)})
		if err != nil {
			t.Fatal(err)
		}
		for i, p := range n64.Params() {
			for j, v := range p.Data {
				if n32.Params()[i].Data[j] != float64(float32(v)) {
					t.Fatalf("%s %s[%d]: float32 Net %v, float64 Net %v", tc.name, p.Name, j, n32.Params()[i].Data[j], v)
				}
			}
		}
		rng := rand.New(rand.NewPCG(11, 12))
		x := randInput(rng, 3, tc.inShape)
		f32, err := n32.Forward(x)
		if err != nil {
			t.Fatal(err)
		}
		f64, err := n64.Forward(x)
		if err != nil {
			t.Fatal(err)
		}
		fe, err := e32.Forward(x, nil)
		if err != nil {
			t.Fatal(err)
		}
		if !mat.Equal(f32, fe[0]) {
			t.Errorf("%s: float32 Net and ensemble outputs differ", tc.name)
		}
		tol := float32Tol(n64.Layers())
		if d := maxRelDiff(f32.RawMatrix().Data, f64.RawMatrix().Data); d > tol {
			t.Errorf("%s: float32 outputs differ from float64 by %.3g, tolerance %.3g", tc.name, d, tol)
		}
		cot := mat.NewDense(3, tc.s.WithDefaults().Outputs, nil)
		for i := range cot.RawMatrix().Data {
			cot.RawMatrix().Data[i] = rng.NormFloat64()
		}
		factors := func(n *Net) (in, d []*mat.Dense) {
			for _, ly := range n.Layers() {
				in = append(in, mat.NewDense(3*ly.Positions, ly.FanIn, nil))
				d = append(d, mat.NewDense(3*ly.Positions, ly.FanOut, nil))
			}
			if err := n.LayerFactors(x, cot, in, d); err != nil {
				t.Fatal(err)
			}
			return in, d
		}
		in32, d32 := factors(n32)
		in64, d64 := factors(n64)
		for l := range in64 {
			// Deltas carry the reverse pass's errors too: twice the tolerance.
			if di, dd := maxRelDiff(in32[l].RawMatrix().Data, in64[l].RawMatrix().Data), maxRelDiff(d32[l].RawMatrix().Data, d64[l].RawMatrix().Data); di > tol || dd > 2*tol {
				t.Errorf("%s layer %d: float32 factors differ from float64 by %.3g (inputs), %.3g (deltas), tolerance %.3g", tc.name, l, di, dd, tol)
			}
		}
	}
}

// TestFloat32Errors: an ensemble mixing dtypes and the graph-only
// operations of a float32 Net fail with one line naming dtype float32.
func TestFloat32Errors(t *testing.T) {
	s := spec.Spec{Arch: spec.FCN, Act: spec.Erf, Depth: 2, Width: 4, SW2: 1.5, SB2: 0.1, Outputs: 2}
	s32 := s
	s32.DType = spec.Float32
	_, err := NewEnsemble([]spec.Spec{s, s32}, []int{3}, []*rand.Rand{memberSource(1, 0), memberSource(1, 1)})
	if err == nil || !strings.Contains(err.Error(), "member 1 has dtype float32, member 0 float64") || strings.Contains(err.Error(), "\n") {
		t.Errorf("mixed dtypes: error %v", err)
	}
	n, err := New(s32, []int{3}, memberSource(1, 0))
	if err != nil {
		t.Fatal(err)
	}
	x := randInput(rand.New(rand.NewPCG(1, 1)), 2, []int{3})
	if _, err := n.Backward(x, mat.NewDense(2, 2, nil)); err == nil || !strings.Contains(err.Error(), "spec dtype float32") || strings.Contains(err.Error(), "\n") {
		t.Errorf("Backward of a float32 Net: error %v", err)
	}
}

// TestSetParams: SetParams writes a member's tensors, rounded to float32
// in a float32 ensemble and exactly in a float64 one, and leaves the other
// members alone; wrong sizes are errors.
func TestSetParams(t *testing.T) {
	tc := f32Cases()[3] // cnn-gap
	for _, dtype := range []string{spec.Float64, spec.Float32} {
		specs, rngs := ensembleOf(tc.s, 2, 81)
		e, err := NewEnsemble(dtypeOf(specs, dtype), tc.inShape, rngs)
		if err != nil {
			t.Fatal(err)
		}
		var before [][]float64 // member 0's values, copied (float64 Params alias them)
		for _, p := range e.Params(0) {
			before = append(before, append([]float64(nil), p.Data...))
		}
		ps := e.Params(1)
		for i := range ps {
			ps[i].Data = append([]float64(nil), ps[i].Data...)
			for j := range ps[i].Data {
				ps[i].Data[j] = 0.1 + float64(j)/3
			}
		}
		if err := e.SetParams(1, ps); err != nil {
			t.Fatal(err)
		}
		for i, p := range e.Params(1) {
			for j, v := range p.Data {
				want := ps[i].Data[j]
				if dtype == spec.Float32 {
					want = float64(float32(want))
				}
				if v != want || e.Params(0)[i].Data[j] != before[i][j] {
					t.Fatalf("%s %s[%d] = %v, want %v (or member 0 changed)", dtype, p.Name, j, v, want)
				}
			}
		}
		ps[0].Data = ps[0].Data[1:]
		if err := e.SetParams(1, ps); err == nil || !strings.Contains(err.Error(), "values, want") {
			t.Errorf("%s: short tensor: error %v", dtype, err)
		}
	}
}
