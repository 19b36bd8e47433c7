package cells

import (
	"math"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/ntkharness/ntkharness/datasets"
	"github.com/ntkharness/ntkharness/spec"
)

// TestPoolingChaoticFCN: the converged predictor of a deep chaotic fcn
// predicts at chance (all test points get the same output), a shallow one
// does not.
func TestPoolingChaoticFCN(t *testing.T) {
	train, test, err := datasets.LoadMNISTEmbedded()
	if err != nil {
		t.Fatal(err)
	}
	tr, err := train.Subset(20, false, 5)
	if err != nil {
		t.Fatal(err)
	}
	te, err := test.Subset(20, false, 6)
	if err != nil {
		t.Fatal(err)
	}
	if tr, err = tr.Downsample(4); err != nil {
		t.Fatal(err)
	}
	if te, err = te.Downsample(4); err != nil {
		t.Fatal(err)
	}
	acc, err := PoolingAccuracy(spec.FCN, 3.0, 0.05, 80, tr, te, nil)
	if err != nil {
		t.Fatal(err)
	}
	if acc[0] < 0.3 {
		t.Errorf("depth-1 test accuracy %g, want >= 0.3 (well above chance 0.1)", acc[0])
	}
	// 20 balanced test points: one shared prediction is right on exactly 2.
	if got := acc[len(acc)-1]; math.Abs(got-0.1) > 1e-12 {
		t.Errorf("depth-80 test accuracy %g, want chance 0.1", got)
	}
}

func TestCentreColumns(t *testing.T) {
	f := mat.NewDense(3, 2, []float64{1, 10, 2, 20, 6, 60})
	want := mat.NewDense(3, 2, []float64{-2, -20, -1, -10, 3, 30})
	if got := centreColumns(f); !mat.EqualApprox(got, want, 1e-14) {
		t.Errorf("centreColumns = %v, want %v", mat.Formatted(got), mat.Formatted(want))
	}
}
