package experiments

import (
	"context"
	"math"
	"testing"

	"github.com/ntkharness/ntkharness/datasets"
	"github.com/ntkharness/ntkharness/experiments/cells"
	"github.com/ntkharness/ntkharness/spec"
)

// tinyPoolingData is n balanced MNIST training and m test images, 7x7
// grayscale, standardized by the training mean and std (the figure's
// preprocessing, coarser than the quick setup's 14x14, for fast tests).
func tinyPoolingData(t *testing.T, n, m int) (tr, te *datasets.Set) {
	t.Helper()
	st := poolingQuick
	st.NTrain, st.NTest = n, m
	st.Downsample = map[string]int{datasets.MNIST: 4}
	tr, te, _, _, err := poolingData(Config{Dataset: datasets.MNIST, Seed: 3}, st)
	if err != nil {
		t.Fatal(err)
	}
	if tr.H != 7 || tr.W != 7 || tr.C != 1 || tr.N != n || te.N != m {
		t.Fatalf("data %dx%dx%d, %d and %d images: want 7x7x1, %d and %d", tr.H, tr.W, tr.C, tr.N, te.N, n, m)
	}
	return tr, te
}

// TestPoolingTheoryShallow: at depths 1 and 2 the converged predictor of
// every architecture generalizes well above chance (0.1) on 20 test points.
func TestPoolingTheoryShallow(t *testing.T) {
	tr, te := tinyPoolingData(t, 40, 20)
	for _, a := range poolingArchs {
		for _, sw2 := range []float64{3, 1} {
			c, err := cells.PoolingCurves(a, sw2, 0.05, 2, tr, te, nil)
			if err != nil {
				t.Fatalf("%s sw2 %g: %v", a, sw2, err)
			}
			for l, v := range c.Acc {
				if !(v >= 0.3) {
					t.Errorf("%s sw2 %g depth %d: test accuracy %g, want >= 0.3 (chance 0.1)", a, sw2, l+1, v)
				}
			}
		}
	}
}

// TestPoolingTheoryDeepChaoticOffset: deep in the chaotic phase the fcn's
// converged predictor puts every test point in one class (accuracy exactly
// 2/20 on 20 balanced test points), yet with each logit's mean over the test
// points removed it still classifies well above chance: what is lost is not
// the data dependence but its size against an offset shared by all points.
func TestPoolingTheoryDeepChaoticOffset(t *testing.T) {
	tr, te := tinyPoolingData(t, 40, 20)
	c, err := cells.PoolingCurves(spec.FCN, 3, 0.05, 80, tr, te, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Acc[79]; math.Abs(got-0.1) > 1e-12 {
		t.Errorf("depth 80: test accuracy %g, want exactly chance 0.1", got)
	}
	if got := c.Centred[79]; !(got >= 0.3) {
		t.Errorf("depth 80: centred test accuracy %g, want >= 0.3", got)
	}
	if chanceDepth(c.Acc, 0.1) == 0 {
		t.Errorf("accuracy never came within 5 points of chance: %v", c.Acc)
	}
}

// TestComputePoolingTiny runs the whole figure pipeline on a tiny setup and
// checks the shapes of its data and that progress ends at its total.
func TestComputePoolingTiny(t *testing.T) {
	tr, te := tinyPoolingData(t, 10, 10)
	st := poolingSetup{MaxDepth: 2, SB2: 0.05, Phases: []poolingPhase{{"chaotic", 3}},
		Depths: []int{1, 2}, Width: 16, Channels: 2, Steps: 2, EtaFrac: 0.5, NTrainNet: 10, DType: poolingQuick.DType}
	last, total, calls := -1, 0, 0
	r, err := computePooling(context.Background(), st, tr, te, 1, func(done, tot int) {
		if done < last {
			t.Errorf("progress went back from %d to %d", last, done)
		}
		last, total = done, tot
		calls++
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := 3 * (2 + 1 + 2); total != want || last != total {
		t.Errorf("progress ended at %d of %d, want %d of %d", last, total, want, want)
	}
	if len(r.Theory) != 1 || len(r.Theory[0]) != 3 || len(r.Theory[0][2].Acc) != 2 || len(r.NetTest[0][2]) != 2 {
		t.Fatalf("result shapes: theory %d phases, want 1 with 3 archs of 2 depths; nets %v", len(r.Theory), r.NetTest)
	}
	if r.Chance != 0.1 || r.NTrainNet != 10 {
		t.Errorf("chance %g, %d training points for the nets: want 0.1 and 10", r.Chance, r.NTrainNet)
	}
}

func TestPoolingDepthHelpers(t *testing.T) {
	acc := []float64{0.6, 0.5, 0.16, 0.14, 0.3}
	if got := chanceDepth(acc, 0.1); got != 4 {
		t.Errorf("chanceDepth = %d, want 4 (first value <= 0.15)", got)
	}
	if got := chanceDepth([]float64{0.6, math.NaN()}, 0.1); got != 0 {
		t.Errorf("chanceDepth with NaN = %d, want 0", got)
	}
	if got := meanFinite([]float64{0.2, math.NaN(), 0.4, math.Inf(1)}); math.Abs(got-0.3) > 1e-15 {
		t.Errorf("meanFinite = %g, want 0.3 (the mean of the finite values)", got)
	}
	if got := meanFinite([]float64{math.NaN()}); !math.IsNaN(got) {
		t.Errorf("meanFinite of no finite value = %g, want NaN", got)
	}
	// Curves acc(l) = chance + A exp(-l/xi) reach chance + 0.05 first at
	// l = ceil(xi ln(A/0.05)); the verdict follows from the decay lengths
	// of the three architectures alone.
	const maxDepth, amp = 60, 0.5
	curve := func(xi float64) []float64 {
		acc := make([]float64, maxDepth)
		for l := range acc {
			acc[l] = 0.1 + amp*math.Exp(-float64(l+1)/xi)
		}
		return acc
	}
	depthOf := func(xi float64) int {
		if l := int(math.Ceil(xi * math.Log(amp/0.05))); l <= maxDepth {
			return l
		}
		return 0
	}
	for _, c := range []struct {
		xf, xc, xg float64 // decay lengths of fcn, cnn-f, cnn-gap
		want       string
	}{
		{5, 6, 3, "shallower"},
		{5, 6, 40, "deeper"}, // cnn-gap never within 60
		{5, 40, 5.5, "between"},
		{5, 5, 5, "between"},
		{40, 40, 40, "between"},
		{4, 4.5, 6, "deeper"},
	} {
		f, cf, g := chanceDepth(curve(c.xf), 0.1), chanceDepth(curve(c.xc), 0.1), chanceDepth(curve(c.xg), 0.1)
		if f != depthOf(c.xf) || cf != depthOf(c.xc) || g != depthOf(c.xg) {
			t.Fatalf("chanceDepth of decay lengths %v: %d %d %d, want %d %d %d", c, f, cf, g, depthOf(c.xf), depthOf(c.xc), depthOf(c.xg))
		}
		if got := deeperThanBoth(f, cf, g, maxDepth+1); got != c.want {
			t.Errorf("decay lengths fcn %g, cnn-f %g, cnn-gap %g (chance depths %d, %d, %d): %s, want %s", c.xf, c.xc, c.xg, f, cf, g, got, c.want)
		}
	}
}

// TestPoolingVerdict is the science check of the pooling figure on the
// quick setup's theory (its 20 + 20 MNIST images at 14x14, another draw):
// in the chaotic phase the expected test accuracy of one network after
// the networks' steps reaches chance at least 3 layers later with global
// average pooling than with the fcn and cnn-f readouts, which reach it
// within 2 layers of each other (cnn-f has the fcn's depth scales). The
// curves stop at depth 20, where the figure goes to 30: a cnn-gap not yet
// at chance there counts as beyond, and the cnn-gap kernel's cost is
// linear in depth.
func TestPoolingVerdict(t *testing.T) {
	st := poolingQuick
	st.MaxDepth = 20
	tr, te, _, _, err := poolingData(Config{Dataset: datasets.MNIST, Seed: 3}, st)
	if err != nil {
		t.Fatal(err)
	}
	if tr.H != 14 || tr.W != 14 || tr.N != st.NTrain || te.N != st.NTest {
		t.Fatalf("data %dx%d, %d and %d images: want the quick setup's 14x14, %d and %d", tr.H, tr.W, tr.N, te.N, st.NTrain, st.NTest)
	}
	r := poolingResult{Chance: 0.1, Theory: [][]cells.PoolingCurve{make([]cells.PoolingCurve, len(poolingArchs))}}
	for ia, a := range poolingArchs {
		c, err := cells.PoolingCurvesAt(a, st.Phases[0].SW2, st.SB2, st.MaxDepth, tr, te, st.EtaFrac, st.Steps, 0, nil, 1, nil)
		if err != nil {
			t.Fatal(err)
		}
		r.Theory[0][ia] = c
	}
	cl := theoryClaim(r, st)
	t.Logf("chance depths fcn %d, cnn-f %d, cnn-gap %d", cl.FCN, cl.CNNF, cl.CNNGAP)
	if cl.Verdict != "deeper" || cl.Margin < 3 {
		t.Errorf("chance depths fcn %d, cnn-f %d, cnn-gap %d: verdict %s by %d layers, want cnn-gap deeper by >= 3", cl.FCN, cl.CNNF, cl.CNNGAP, cl.Verdict, cl.Margin)
	}
	if cl.FCN == 0 || cl.CNNF == 0 || math.Abs(float64(cl.FCN-cl.CNNF)) > 2 {
		t.Errorf("chance depths fcn %d, cnn-f %d: want both within depth %d and within 2 layers of each other", cl.FCN, cl.CNNF, st.MaxDepth)
	}
}

// TestPoolingQuickSizes: the quick setup keeps to the sizes the figure
// promises (MNIST at 14x14, CIFAR-10 at 8x8 or more, cnns of at least 64
// channels, 4 seeds or more) and trains the networks on the theory's
// points, so that the agreement figure compares like with like.
func TestPoolingQuickSizes(t *testing.T) {
	st := poolingQuick
	for _, c := range []struct {
		name string
		side int
	}{{datasets.MNIST, 14}, {datasets.CIFAR10, 8}} {
		in := cells.DataSettings{Dataset: c.name, Grayscale: true, Downsample: st.downsample(c.name)}.InputShape(spec.CNNF)
		if in[0] < c.side || in[1] < c.side || in[2] != 1 {
			t.Errorf("%s: images %v, want at least %dx%d grayscale", c.name, in, c.side, c.side)
		}
	}
	if st.Channels < 64 || st.Seeds < 4 || st.NTrainNet != st.NTrain {
		t.Errorf("channels %d, seeds %d, %d of %d training points for the networks: want >= 64, >= 4 and all", st.Channels, st.Seeds, st.NTrainNet, st.NTrain)
	}
}
