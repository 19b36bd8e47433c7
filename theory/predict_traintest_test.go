package theory

import (
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/ntkharness/ntkharness/npy"
	"github.com/ntkharness/ntkharness/spec"
)

// TestNewTrainTestPredictor checks the predictor of one joint kernel
// computation on [xTrain; xTest] against the predictor built from two
// separate computations, Theta on the training inputs alone and Theta_td
// between the test and training inputs. The kernels take different code
// paths (symmetric and rectangular), so the outputs agree to rounding:
// 1e-9 relative to the largest output.
func TestNewTrainTestPredictor(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	const n, m, d, k = 12, 7, 5, 3
	xTr, xTe := npy.New(n, d), npy.New(m, d)
	for _, a := range []npy.Array{xTr, xTe} {
		for i := range a.Data {
			a.Data[i] = rng.NormFloat64()
		}
	}
	y := mat.NewDense(n, k, nil)
	for i := 0; i < n; i++ {
		y.Set(i, i%k, 1)
	}
	s := spec.Spec{Arch: spec.FCN, Act: spec.Erf, Depth: 4, SW2: 1.5, SB2: 0.05}

	all := StackTrainTest(xTr, xTe)
	if want := []int{n + m, d}; all.Shape[0] != want[0] || all.Shape[1] != want[1] {
		t.Fatalf("stacked shape %v, want %v", all.Shape, want)
	}
	joint, err := Compute(s, all, npy.Array{}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := NewTrainTestPredictor(joint.NTK, n, y, nil)
	if err != nil {
		t.Fatal(err)
	}

	tr, err := Compute(s, xTr, npy.Array{}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	te, err := Compute(s, xTe, xTr, Options{})
	if err != nil {
		t.Fatal(err)
	}
	want, err := NewPredictor(mat.NewSymDense(n, tr.NTK.RawMatrix().Data), te.NTK, y, nil)
	if err != nil {
		t.Fatal(err)
	}
	if gn, gm, gk := got.Dims(); gn != n || gm != m || gk != k {
		t.Fatalf("dims %d %d %d, want %d %d %d", gn, gm, gk, n, m, k)
	}
	eta := 0.5 * want.EtaCrit()
	for _, tm := range []float64{1, 16, math.Inf(1)} {
		gtr, gte, err := got.At(Steps, eta, tm)
		if err != nil {
			t.Fatal(err)
		}
		wtr, wte, err := want.At(Steps, eta, tm)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range [][2]*mat.Dense{{gtr, wtr}, {gte, wte}} {
			if !mat.EqualApprox(p[0], p[1], 1e-9*mat.Norm(p[1], math.Inf(1))) {
				t.Errorf("t = %g: joint predictor %v, separate %v", tm, mat.Formatted(p[0]), mat.Formatted(p[1]))
			}
		}
	}
}

// TestNewTrainTestPredictorSymmetrizes checks that an asymmetric leading
// block enters as its symmetric part: the eigenvalues are those of
// (K + K^T)/2 built by hand, and the converged training outputs are the
// targets. Without test rows the predictor has no test outputs.
func TestNewTrainTestPredictorSymmetrizes(t *testing.T) {
	k := mat.NewDense(3, 3, []float64{
		2, 0.3, 0.1,
		0.5, 3, 0.2,
		0.1, 0.4, 4,
	})
	y := mat.NewDense(3, 1, []float64{1, -1, 0.5})
	p, err := NewTrainTestPredictor(k, 3, y, nil)
	if err != nil {
		t.Fatal(err)
	}
	sym := mat.NewSymDense(3, []float64{
		2, 0.4, 0.1,
		0.4, 3, 0.3,
		0.1, 0.3, 4,
	})
	var es mat.EigenSym
	if !es.Factorize(sym, false) {
		t.Fatal("eigendecomposition failed")
	}
	want := es.Values(nil)
	for i, v := range p.Eigenvalues() {
		if math.Abs(v-want[i]) > 1e-12 {
			t.Errorf("eigenvalue %d: %g, want %g", i, v, want[i])
		}
	}
	if _, m, _ := p.Dims(); m != 0 {
		t.Errorf("test points: %d, want 0", m)
	}
	ftr, fte, err := p.At(Flow, 1, math.Inf(1))
	if err != nil {
		t.Fatal(err)
	}
	if fte != nil || !mat.EqualApprox(ftr, y, 1e-12) {
		t.Errorf("converged outputs %v (test %v), want the targets", mat.Formatted(ftr), fte)
	}
	if _, err := NewTrainTestPredictor(k, 4, y, nil); err == nil {
		t.Error("n larger than the kernel: no error")
	}
}
