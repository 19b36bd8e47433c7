package cells

import (
	"context"
	"testing"

	"github.com/ntkharness/ntkharness/nets"
	"github.com/ntkharness/ntkharness/ntkempirical"
	"github.com/ntkharness/ntkharness/spec"
	"github.com/ntkharness/ntkharness/train"
)

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
	run := func(sw2 float64) train.Point {
		s := spec.Spec{Arch: spec.FCN, Act: spec.Erf, Depth: 12, Width: 128, SW2: sw2, SB2: 0.05, Outputs: 10}
		net, err := nets.New(s, d.XTrain.Shape[1:], ntkempirical.SeedSource(1, 0))
		if err != nil {
			t.Fatal(err)
		}
		defer net.Close()
		h, err := train.Run(context.Background(), net, train.Data{XTrain: d.XTrain, YTrain: d.Y, XTest: d.XTest, YTest: d.YTest},
			train.Options{Steps: 300, LRFactor: 0.5, LambdaMax: AnalyticLambdaMax, Seed: 1}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if h.Status != train.Done {
			t.Fatalf("sw2 = %g: training %s", sw2, h.Status)
		}
		return h.Last()
	}
	ch := run(2.5)
	if ch.TrainAcc != 1 || !(ch.TestAcc < 0.25) {
		t.Errorf("chaotic depth 12: train accuracy %g, test accuracy %g; want 1 (memorized) and < 0.25 (chance 0.1)", ch.TrainAcc, ch.TestAcc)
	}
	if !(ch.TrainLoss < 1e-3) {
		t.Errorf("chaotic depth 12: train loss %g after 300 steps, want < 1e-3 (memorized)", ch.TrainLoss)
	}
	ord := run(1.0)
	if ord.TrainAcc != 1 || !(ord.TestAcc > 0.4) {
		t.Errorf("ordered depth 12: train accuracy %g, test accuracy %g; want 1 and > 0.4", ord.TrainAcc, ord.TestAcc)
	}
}
