package train

import (
	"context"
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/ntkharness/ntkharness/nets"
	"github.com/ntkharness/ntkharness/npy"
	"github.com/ntkharness/ntkharness/spec"
)

// erfNTK is the infinite-width per-logit NTK of an erf FCN with a Dense
// readout in the NTK parameterization, written here independently of the
// code under test:
//
//	K^1 = sw2 x.x'/d + sb2,  Theta^1 = K^1
//	K^{l+1} = sw2 T(K^l) + sb2,  Theta^{l+1} = K^{l+1} + sw2 Tdot(K^l) Theta^l
//	T = (2/pi) asin(2 K12 / sqrt((1+2K11)(1+2K22)))
//	Tdot = (4/pi) / sqrt((1+2K11)(1+2K22) - 4 K12^2)
//
// with depth+1 affine layers (the readout included). x1 is [n1, d], x2 is
// [n2, d]; it returns the [n1, n2] cross kernel.
func erfNTK(sw2, sb2 float64, depth int, x1, x2 npy.Array) *mat.Dense {
	n1, d := x1.Rows()
	n2, _ := x2.Rows()
	dot := func(a, b []float64) float64 {
		s := 0.0
		for i := range a {
			s += a[i] * b[i]
		}
		return s / float64(d)
	}
	row := func(x npy.Array, i int) []float64 { return x.Data[i*d : (i+1)*d] }
	out := mat.NewDense(n1, n2, nil)
	for i := 0; i < n1; i++ {
		for j := 0; j < n2; j++ {
			a, b := row(x1, i), row(x2, j)
			k11 := sw2*dot(a, a) + sb2
			k22 := sw2*dot(b, b) + sb2
			k12 := sw2*dot(a, b) + sb2
			theta := k12
			for l := 0; l < depth; l++ {
				den := (1 + 2*k11) * (1 + 2*k22)
				t12 := 2 / math.Pi * math.Asin(2*k12/math.Sqrt(den))
				td := 4 / math.Pi / math.Sqrt(den-4*k12*k12)
				t11 := 2 / math.Pi * math.Asin(2*k11/(1+2*k11))
				t22 := 2 / math.Pi * math.Asin(2*k22/(1+2*k22))
				theta = sw2*t12 + sb2 + sw2*td*theta
				k11, k22, k12 = sw2*t11+sb2, sw2*t22+sb2, sw2*t12+sb2
			}
			out.Set(i, j, theta)
		}
	}
	return out
}

// TestErfNTKReference checks the in-test kernel against the independent
// reference values (testdata/kernels_fcn_erf.json, copied from the
// project's reference set), to 1e-10 relative.
func TestErfNTKReference(t *testing.T) {
	b, err := os.ReadFile("testdata/kernels_fcn_erf.json")
	if err != nil {
		t.Fatal(err)
	}
	var ref struct {
		Cases []struct {
			Depth            int
			SW2, SB2         float64
			X1, X2           []float64
			X1Shape, X2Shape []int
			NTK              [][]float64
		}
	}
	if err := json.Unmarshal(b, &ref); err != nil {
		t.Fatal(err)
	}
	if len(ref.Cases) == 0 {
		t.Fatal("no reference cases")
	}
	for _, c := range ref.Cases {
		x1 := npy.Array{Shape: []int{len(c.NTK), len(c.X1) / len(c.NTK)}, Data: c.X1}
		x2 := x1
		if c.X2 != nil {
			x2 = npy.Array{Shape: []int{len(c.NTK[0]), len(c.X2) / len(c.NTK[0])}, Data: c.X2}
		}
		got := erfNTK(c.SW2, c.SB2, c.Depth, x1, x2)
		for i := range c.NTK {
			for j, want := range c.NTK[i] {
				if math.Abs(got.At(i, j)-want) > 1e-10*math.Max(1, math.Abs(want)) {
					t.Errorf("depth %d sw2 %v: NTK[%d][%d] = %v, reference %v", c.Depth, c.SW2, i, j, got.At(i, j), want)
				}
			}
		}
	}
}

// TestTrainingFollowsLinearizedTheory trains a wide network (width 2048,
// depth 2, erf, 8 points) at 0.1 eta_crit for 16 steps (the residual falls
// part of the way, by 0.8^16 on the top mode) and
// compares its training and test outputs with the infinite-width
// discrete-GD prediction from its own initial outputs f(0):
//
//	f_train(t) = y + V (1 - eta lambda/(N k))^t V^T (f_train(0) - y)
//	f_test(t)  = f_test(0) + Theta_td V [(1 - (1 - eta lambda/(N k))^t)/lambda] V^T (y - f_train(0))
//
// with Theta = V diag(lambda) V^T the analytic kernel. At width n the
// empirical NTK differs from Theta by O(1/sqrt(n)), about 2-5% here, and
// drifts by O(1/sqrt(n)) during training; the bound, 15% of the initial
// residual |f(0) - y| (resp. of the test-output change), allows for that
// while the trivial prediction f(t) = f(0) is off by about 100%.
func TestTrainingFollowsLinearizedTheory(t *testing.T) {
	if testing.Short() {
		t.Skip("wide-network training skipped in -short mode")
	}
	const n, m, d, k, width, depth, steps = 8, 4, 8, 2, 2048, 2, 16
	s := spec.Spec{Arch: spec.FCN, Act: spec.Erf, Depth: depth, Width: width, SW2: 1.5, SB2: 0.05, Outputs: k}
	data := toyData(11, n, m, d, k)
	net, err := nets.New(s, []int{d}, rand.New(rand.NewPCG(21, 22)))
	if err != nil {
		t.Fatal(err)
	}
	theta := erfNTK(s.SW2, s.SB2, depth, data.XTrain, data.XTrain)
	thetaTD := erfNTK(s.SW2, s.SB2, depth, data.XTest, data.XTrain)
	var es mat.EigenSym
	if !es.Factorize(mat.NewSymDense(n, theta.RawMatrix().Data), true) {
		t.Fatal("eigen decomposition failed")
	}
	lambda := es.Values(nil)
	var v mat.Dense
	es.VectorsTo(&v)
	f0, err := net.Forward(data.XTrain)
	if err != nil {
		t.Fatal(err)
	}
	g0, err := net.Forward(data.XTest)
	if err != nil {
		t.Fatal(err)
	}
	analytic := func(*nets.Net, npy.Array) (float64, error) { return lambda[n-1], nil }
	h, err := Run(context.Background(), net, data, Options{Steps: steps, LRFactor: 0.1, LambdaMax: analytic}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if h.Status != Done {
		t.Fatalf("run %s", h.Summary())
	}
	ft, _ := net.Forward(data.XTrain)
	gt, _ := net.Forward(data.XTest)

	// Residual r0 = f(0) - y in the eigenbasis, decayed per mode.
	var r0, vr mat.Dense
	r0.Sub(f0, data.YTrain)
	vr.Mul(v.T(), &r0)
	decayed, integrated := mat.DenseCopyOf(&vr), mat.DenseCopyOf(&vr)
	for i := 0; i < n; i++ {
		q := math.Pow(1-h.LR*lambda[i]/float64(n*k), steps)
		for j := 0; j < k; j++ {
			decayed.Set(i, j, q*vr.At(i, j))
			integrated.Set(i, j, -(1-q)/lambda[i]*vr.At(i, j))
		}
	}
	var predTrain, predTest, tmp mat.Dense
	predTrain.Mul(&v, decayed)
	predTrain.Add(&predTrain, data.YTrain)
	tmp.Mul(&v, integrated)
	predTest.Mul(thetaTD, &tmp)
	predTest.Add(&predTest, g0)

	relErr := func(got, want, ref mat.Matrix) float64 {
		var d mat.Dense
		d.Sub(got, want)
		return mat.Norm(&d, 2) / mat.Norm(ref, 2)
	}
	var testChange mat.Dense
	testChange.Sub(&predTest, g0)
	eTrain := relErr(ft, &predTrain, &r0)
	eTest := relErr(gt, &predTest, &testChange)
	t.Logf("relative error: train %.3g, test %.3g (lr %.4g, %d steps)", eTrain, eTest, h.LR, steps)
	if eTrain > 0.15 {
		t.Errorf("train outputs deviate from the linearized prediction by %.3g of |f(0) - y|", eTrain)
	}
	if eTest > 0.15 {
		t.Errorf("test outputs deviate from the linearized prediction by %.3g of their change", eTest)
	}
	if trivial := relErr(f0, &predTrain, &r0); trivial < 0.5 {
		t.Errorf("the prediction moved only %.3g of the residual: the comparison is not informative", trivial)
	}
}
