package theory

import (
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/ntkharness/ntkharness/npy"
	"github.com/ntkharness/ntkharness/spec"
)

// direct hides the quadrature type of an activation, so the kernels
// evaluate it at every entry (genericLayer) instead of through tables.
type direct struct{ Activation }

// TestVarTableAccuracy checks the variance-pair table against direct
// quadrature at random variance pairs and correlations, over ranges from
// narrow to a factor 100, relative to sqrt(T(q1,q1,q1) T(q2,q2,q2)) (and
// the same for Tdot). Bar 1e-10; the table's build check is 1e-11.
func TestVarTableAccuracy(t *testing.T) {
	act := mustAct(t, "tanh").(*Quadrature)
	rng := rand.New(rand.NewPCG(5, 6))
	worst := 0.0
	for _, r := range [][2]float64{{0.5, 0.5000001}, {0.3, 0.36}, {0.6, 2.8}, {0.05, 0.5}} {
		vt, ok := newVarTable(act, r[0], r[1], 2)
		if !ok {
			t.Errorf("range %v: table did not converge", r)
			continue
		}
		g := len(vt.x)
		w1, w2 := make([]float64, g), make([]float64, g)
		for range 60 {
			q1 := r[0] + (r[1]-r[0])*rng.Float64()
			q2 := r[0] + (r[1]-r[0])*rng.Float64()
			c := 2*rng.Float64() - 1
			if rng.IntN(4) == 0 {
				c = math.Copysign(1-math.Pow(10, -1-6*rng.Float64()), c)
			}
			vt.weights(q1, w1)
			vt.weights(q2, w2)
			gt, gd := vt.eval(w1, w2, c)
			wt, wd := act.expectBoth(q1, c*math.Sqrt(q1*q2), q2)
			a1, b1 := act.expectBoth(q1, q1, q1)
			a2, b2 := act.expectBoth(q2, q2, q2)
			e := math.Max(math.Abs(gt-wt)/math.Sqrt(a1*a2), math.Abs(gd-wd)/math.Sqrt(b1*b2))
			worst = math.Max(worst, e)
			if e > 1e-10 {
				t.Errorf("range %v (G=%d): q1=%v q2=%v c=%v: T %v vs %v, Tdot %v vs %v", r, g, q1, q2, c, gt, wt, gd, wd)
			}
		}
		t.Logf("range %v: %d nodes", r, g)
	}
	t.Logf("largest error relative to the scale: %.3g", worst)
}

// TestKernelTablesUnnormalized compares the tabulated kernels with direct
// quadrature at every entry on inputs of unequal norms (a spread of a
// factor ~3, and one input 10 times larger), for the FCN and a small CNN,
// at 1e-10 relative to the kernel's scale.
func TestKernelTablesUnnormalized(t *testing.T) {
	x := randomArray(7, 10, 6)
	for j := range 6 {
		x.Data[3*6+j] *= 10
	}
	img := randomArray(8, 3, 4, 4, 2)
	for _, tt := range []struct {
		s spec.Spec
		x npy.Array
	}{
		{spec.Spec{Arch: spec.FCN, Act: spec.Tanh, Depth: 6, SW2: 1.5, SB2: 0.05}, x},
		{spec.Spec{Arch: spec.FCN, Act: spec.Tanh, Depth: 4, SW2: 3, SB2: 0.3}, x},
		{spec.Spec{Arch: spec.CNNF, Act: spec.Tanh, Depth: 3, SW2: 1.7, SB2: 0.1, Filter: 3, Padding: spec.Same}, img},
		{spec.Spec{Arch: spec.CNNGAP, Act: spec.Tanh, Depth: 2, SW2: 1.6, SB2: 0.1, Filter: 3, Padding: spec.Same}, img},
	} {
		checkAgainstDirect(t, tt.s, tt.x, "table")
	}
}

// checkAgainstDirect compares the kernels of s on x with those computed by
// direct quadrature at every entry, at 1e-10 relative to the kernel's scale
// (what names the fast path in the messages).
func checkAgainstDirect(t *testing.T, s spec.Spec, x npy.Array, what string) {
	t.Helper()
	got, err := Compute(s, x, npy.Array{}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	want, err := Compute(s, x, npy.Array{}, Options{Activation: direct{mustAct(t, "tanh")}})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []struct {
		name      string
		got, want *mat.Dense
	}{{"NNGP", got.NNGP, want.NNGP}, {"NTK", got.NTK, want.NTK}} {
		r, _ := m.want.Dims()
		rows := make([][]float64, r)
		for i := range rows {
			rows[i] = mat.Row(nil, i, m.want)
		}
		e := maxRelErr(m.got, rows)
		t.Logf("%s sw2=%v %s: %s vs direct %.3g", s.Arch, s.SW2, m.name, what, e)
		if e > 1e-10 {
			t.Errorf("%s sw2=%v %s: %s vs direct %.3g > 1e-10", s.Arch, s.SW2, m.name, what, e)
		}
	}
}
