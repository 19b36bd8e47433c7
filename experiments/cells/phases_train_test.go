package cells

import (
	"context"
	"math"
	"testing"

	"github.com/ntkharness/ntkharness/nets"
	"github.com/ntkharness/ntkharness/spec"
	"github.com/ntkharness/ntkharness/train"
)

// trainErfFCN trains an erf FCN of the given depth, width 128 and sb2 =
// 0.05 on d by full-batch gradient descent at eta_crit/2 (analytic
// lambda_max) for steps steps and returns its last logged point.
func trainErfFCN(t *testing.T, d CellData, depth int, sw2 float64, steps int) train.Point {
	t.Helper()
	s := spec.Spec{Arch: spec.FCN, Act: spec.Erf, Depth: depth, Width: 128, SW2: sw2, SB2: 0.05, Outputs: 10}
	net, err := nets.New(s, d.XTrain.Shape[1:], nets.InitSource(1, 0))
	if err != nil {
		t.Fatal(err)
	}
	defer net.Close()
	h, err := train.Run(context.Background(), net, train.Data{XTrain: d.XTrain, YTrain: d.Y, XTest: d.XTest, YTest: d.YTest},
		train.Options{Steps: steps, LRFactor: 0.5, LambdaMax: train.AnalyticLambdaMax, Seed: 1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if h.Status != train.Done {
		t.Fatalf("depth %d, sw2 = %g: training %s", depth, sw2, h.Status)
	}
	return h.Last()
}

// TestDeepChaoticMemorizes trains erf FCNs of depth 12 and width 128 on 32
// MNIST images (14x14) for 300 full-batch steps at eta_crit/2 and tests on
// 100. In the chaotic phase (sw2 = 2.5, sb2 = 0.05) the data-dependent part
// of the test predictions decays like (chi_c*/chi_1)^l = e^(-0.36 l), about
// 1% at depth 12, while the train kernel is nearly a multiple of the
// identity: the network memorizes (train accuracy 1) and its test accuracy
// stays at chance (0.1; asserted below 0.25, 5 binomial SDs of 100 points
// above it; measured 0.11). At the same depth in the ordered phase (sw2 =
// 1) the network fits the same data and generalizes (asserted: test
// accuracy above 0.4; measured 0.55), so chance level is the phase's doing,
// not the data's.
func TestDeepChaoticMemorizes(t *testing.T) {
	d, err := DataSettings{Dataset: "mnist", NTrain: 32, NTest: 100, Downsample: 2}.Load(spec.FCN, 1)
	if err != nil {
		t.Fatal(err)
	}
	ch := trainErfFCN(t, d, 12, 2.5, 300)
	if ch.TrainAcc != 1 || !(ch.TestAcc < 0.25) {
		t.Errorf("chaotic depth 12: train accuracy %g, test accuracy %g; want 1 (memorized) and < 0.25 (chance 0.1)", ch.TrainAcc, ch.TestAcc)
	}
	if !(ch.TrainLoss < 1e-3) {
		t.Errorf("chaotic depth 12: train loss %g after 300 steps, want < 1e-3 (memorized)", ch.TrainLoss)
	}
	ord := trainErfFCN(t, d, 12, 1.0, 300)
	if ord.TrainAcc != 1 || !(ord.TestAcc > 0.4) {
		t.Errorf("ordered depth 12: train accuracy %g, test accuracy %g; want 1 and > 0.4", ord.TrainAcc, ord.TestAcc)
	}
}

// TestDeepOrderedFailsToTrain trains erf FCNs deep in the ordered phase
// (sw2 = 0.5, sb2 = 0.05) on 32 MNIST images (14x14) for 300 full-batch
// steps at eta_crit/2. There chi_1 = sw2 (4/pi)/sqrt(1 + 4 q*) (erf closed
// form, q* the fixed point of q -> sw2 (2/pi) asin(2q/(1+2q)) + sb2) is
// 0.53, so xi_1 = -1/ln chi_1 is 1.6 layers. At depth 12 xi_1 (20) the
// inputs' hidden representations agree up to about chi_1^l = e^-12, the NTK
// is nearly a multiple of 1 1^T, and a step size set by its largest
// eigenvalue moves only the outputs' common part: the network ends at the
// best constant predictor (each logit at its class share; asserted: a loss
// no lower than 0.95 of that predictor's, measured 0.998), and its train
// accuracy stays near chance (0.1; asserted at most 0.3, measured 0.19 on
// 32 points). At depth 2 with the same sw2 the same steps fit the data:
// train accuracy at least 0.9 and a loss 5x below the constant
// predictor's (measured 1 and 80x). So the failure is the depth's doing,
// in units of xi_1.
func TestDeepOrderedFailsToTrain(t *testing.T) {
	const sw2, sb2 = 0.5, 0.05
	q := 1.0
	for range 10000 {
		q = sw2*(2/math.Pi)*math.Asin(2*q/(1+2*q)) + sb2
	}
	chi1 := sw2 * (4 / math.Pi) / math.Sqrt(1+4*q)
	xi1 := -1 / math.Log(chi1)
	deep := int(math.Ceil(12 * xi1))
	if !(chi1 < 1) || deep > 40 {
		t.Fatalf("sw2 %g: chi_1 = %g, xi_1 = %g: not the deep ordered setting this test is about", sw2, chi1, xi1)
	}
	d, err := DataSettings{Dataset: "mnist", NTrain: 32, NTest: 32, Downsample: 2}.Load(spec.FCN, 1)
	if err != nil {
		t.Fatal(err)
	}
	// The best constant predictor outputs each logit's mean target.
	n, k := d.Y.Dims()
	constLoss := 0.0
	for c := 0; c < k; c++ {
		mean := 0.0
		for i := 0; i < n; i++ {
			mean += d.Y.At(i, c) / float64(n)
		}
		for i := 0; i < n; i++ {
			constLoss += (d.Y.At(i, c) - mean) * (d.Y.At(i, c) - mean)
		}
	}
	constLoss /= 2 * float64(n*k)
	p := trainErfFCN(t, d, deep, sw2, 300)
	t.Logf("chi_1 %.4f, xi_1 %.2f; depth %d: train loss %.4g (constant predictor %.4g), train accuracy %g", chi1, xi1, deep, p.TrainLoss, constLoss, p.TrainAcc)
	if !(float64(p.TrainLoss) >= 0.95*constLoss) || !(p.TrainAcc <= 0.3) {
		t.Errorf("ordered depth %d (%.1f xi_1): train loss %g, train accuracy %g; want no lower than 0.95 x the constant predictor's %g and accuracy <= 0.3 (chance 0.1)",
			deep, float64(deep)/xi1, p.TrainLoss, p.TrainAcc, constLoss)
	}
	sh := trainErfFCN(t, d, 2, sw2, 300)
	t.Logf("depth 2: train loss %.4g, train accuracy %g", sh.TrainLoss, sh.TrainAcc)
	if !(sh.TrainAcc >= 0.9) || !(float64(sh.TrainLoss) < constLoss/5) {
		t.Errorf("ordered depth 2: train loss %g, train accuracy %g; want accuracy >= 0.9 and loss < %g (the constant predictor's / 5)", sh.TrainLoss, sh.TrainAcc, constLoss/5)
	}
}
