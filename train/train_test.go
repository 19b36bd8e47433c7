package train

import (
	"context"
	"math"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/ntkharness/ntkharness/nets"
	"github.com/ntkharness/ntkharness/npy"
	"github.com/ntkharness/ntkharness/spec"
)

// toyData returns n training and m test points on the sphere of radius
// sqrt(d) (so x.x/d = 1) with one-hot labels of k classes from a random
// linear teacher, all drawn from PCG(seed).
func toyData(seed uint64, n, m, d, k int) Data {
	rng := rand.New(rand.NewPCG(seed, 7))
	teacher := make([]float64, d*k)
	for i := range teacher {
		teacher[i] = rng.NormFloat64()
	}
	make1 := func(n int) (npy.Array, *mat.Dense) {
		x := npy.New(n, d)
		y := mat.NewDense(n, k, nil)
		for i := 0; i < n; i++ {
			row := x.Data[i*d : (i+1)*d]
			s := 0.0
			for j := range row {
				row[j] = rng.NormFloat64()
				s += row[j] * row[j]
			}
			for j := range row {
				row[j] *= math.Sqrt(float64(d) / s)
			}
			best, bi := math.Inf(-1), 0
			for c := 0; c < k; c++ {
				v := 0.0
				for j := range row {
					v += row[j] * teacher[j*k+c]
				}
				if v > best {
					best, bi = v, c
				}
			}
			y.Set(i, bi, 1)
		}
		return x, y
	}
	var dt Data
	dt.XTrain, dt.YTrain = make1(n)
	dt.XTest, dt.YTest = make1(m)
	return dt
}

func newFCN(t testing.TB, width, depth, d, k int, seed uint64) *nets.Net {
	t.Helper()
	s := spec.Spec{Arch: spec.FCN, Act: spec.Erf, Depth: depth, Width: width, SW2: 1.5, SB2: 0.05, Outputs: k}
	n, err := nets.New(s, []int{d}, rand.New(rand.NewPCG(seed, 1)))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestConvergenceAndDivergence: below eta_crit the linearized dynamics
// contract every mode, above it the top mode grows by |1 - eta lambda/(Nk)|
// = |1 - 2 F| per step. At F = 0.5 the training loss must fall by at least
// 100x in 300 steps (the slowest mode of this well-conditioned kernel,
// kappa < 10, contracts by (1 - 1/kappa)^300 < 1e-13); at F = 3 the top
// mode grows 5x per step and the loss passes 1e6 x its initial value
// within a few tens of steps.
func TestConvergenceAndDivergence(t *testing.T) {
	tests := []struct {
		factor   float64
		batch    int
		status   string
		maxRatio float64 // final/initial train loss bound (done runs)
	}{
		{0.5, 0, Done, 1e-2},
		{0.5, 4, Done, 1e-1}, // SGD, batch 4 of 8: noisier, looser bound
		{3, 0, Diverged, 0},
	}
	for _, tt := range tests {
		data := toyData(1, 8, 4, 6, 3)
		net := newFCN(t, 256, 2, 6, 3, 2)
		h, err := Run(context.Background(), net, data, Options{Steps: 300, LRFactor: tt.factor, Batch: tt.batch, Seed: 3}, nil)
		if err != nil {
			t.Fatalf("factor %v: %v", tt.factor, err)
		}
		if h.Status != tt.status {
			t.Errorf("factor %v batch %d: status %s, want %s (%s)", tt.factor, tt.batch, h.Status, tt.status, h.Summary())
			continue
		}
		if h.EtaCrit <= 0 || math.Abs(h.LR-tt.factor*h.EtaCrit) > 1e-12*h.LR {
			t.Errorf("lr %v is not %v x eta_crit %v", h.LR, tt.factor, h.EtaCrit)
		}
		switch tt.status {
		case Done:
			if r := float64(h.Last().TrainLoss) / h.InitLoss; r > tt.maxRatio {
				t.Errorf("factor %v batch %d: loss ratio %v, want <= %v", tt.factor, tt.batch, r, tt.maxRatio)
			}
			if h.Last().TrainAcc != 1 {
				t.Errorf("factor %v: train accuracy %v, want 1 (memorized)", tt.factor, h.Last().TrainAcc)
			}
		case Diverged:
			if h.DivergedAt < 1 || h.DivergedAt > 60 || h.Step != h.DivergedAt {
				t.Errorf("diverged at %d after %d steps, want one step in [1, 60]", h.DivergedAt, h.Step)
			}
			if !strings.Contains(h.Summary(), "diverged at step") {
				t.Errorf("summary %q does not say diverged", h.Summary())
			}
		}
	}
}

func TestLogSteps(t *testing.T) {
	data := toyData(2, 5, 3, 4, 2)
	net := newFCN(t, 16, 1, 4, 2, 1)
	h, err := Run(context.Background(), net, data, Options{Steps: 10, LR: 0.1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var steps []int
	for _, p := range h.Points {
		steps = append(steps, p.Step)
		if math.IsNaN(float64(p.TestLoss)) || math.IsNaN(float64(p.TestAcc)) {
			t.Errorf("step %d: no test metrics", p.Step)
		}
	}
	if want := []int{0, 1, 2, 4, 8, 10}; !slices.Equal(steps, want) {
		t.Errorf("recorded steps %v, want %v", steps, want)
	}
	// Loss at step 0 is the loss of the initial network, computed here
	// independently of the training loop.
	fresh := newFCN(t, 16, 1, 4, 2, 1)
	f, _ := fresh.Forward(data.XTrain)
	if l := mse(f, data.YTrain); math.Abs(l-float64(h.Points[0].TrainLoss)) > 1e-14 {
		t.Errorf("step-0 loss %v, initial network's %v", h.Points[0].TrainLoss, l)
	}
}

// TestChunkedFullBatch: accumulating the full-batch gradient over chunks
// of 3 gives the same trajectory as one graph on all 8 examples, up to
// summation order (1e-12).
func TestChunkedFullBatch(t *testing.T) {
	data := toyData(3, 8, 2, 5, 2)
	a, b := newFCN(t, 32, 2, 5, 2, 4), newFCN(t, 32, 2, 5, 2, 4)
	ha, err := Run(context.Background(), a, data, Options{Steps: 20, LR: 0.5}, nil)
	if err != nil {
		t.Fatal(err)
	}
	hb, err := Run(context.Background(), b, data, Options{Steps: 20, LR: 0.5, Chunk: 3}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range ha.Points {
		if d := math.Abs(float64(ha.Points[i].TrainLoss - hb.Points[i].TrainLoss)); d > 1e-12 {
			t.Errorf("step %d: loss %v one graph, %v chunked", ha.Points[i].Step, ha.Points[i].TrainLoss, hb.Points[i].TrainLoss)
		}
	}
}

// TestResume: a run interrupted after 7 of 12 steps and resumed from its
// checkpoint ends with exactly the parameters of an uninterrupted run, for
// full batch and for SGD (whose batch order depends only on seed and step).
func TestResume(t *testing.T) {
	for _, batch := range []int{0, 3} {
		data := toyData(4, 8, 2, 5, 2)
		opt := Options{Steps: 12, LR: 0.3, Batch: batch, Seed: 9}
		ref := newFCN(t, 24, 2, 5, 2, 5)
		if _, err := Run(context.Background(), ref, data, opt, nil); err != nil {
			t.Fatal(err)
		}

		dir := filepath.Join(t.TempDir(), "params")
		net := newFCN(t, 24, 2, 5, 2, 5)
		ctx, cancel := context.WithCancel(context.Background())
		o := opt
		o.Progress = func(done, total int) {
			if done == 7 {
				cancel()
			}
		}
		o.Checkpoint = func(h *History) error { return SaveCheckpoint(dir, net, h) }
		h, err := Run(ctx, net, data, o, nil)
		if err != nil {
			t.Fatal(err)
		}
		if h.Status != Interrupted || h.Step != 7 {
			t.Fatalf("batch %d: status %s at step %d, want interrupted at 7", batch, h.Status, h.Step)
		}
		net2, h2, err := LoadCheckpoint(dir)
		if err != nil {
			t.Fatal(err)
		}
		h2, err = Run(context.Background(), net2, data, opt, h2)
		if err != nil {
			t.Fatal(err)
		}
		if h2.Status != Done || h2.Step != 12 {
			t.Errorf("resumed: status %s step %d", h2.Status, h2.Step)
		}
		for i, p := range ref.Params() {
			if !slices.Equal(p.Data, net2.Params()[i].Data) {
				t.Errorf("batch %d: %s differs after resuming", batch, p.Name)
			}
		}
		var steps []int
		for _, p := range h2.Points {
			steps = append(steps, p.Step)
		}
		if want := []int{0, 1, 2, 4, 8, 12}; !slices.Equal(steps, want) {
			t.Errorf("batch %d: resumed history has steps %v, want %v", batch, steps, want)
		}
	}
}

func TestCheckpointErrors(t *testing.T) {
	dir := t.TempDir()
	if _, _, err := LoadCheckpoint(filepath.Join(dir, "none")); err == nil || !strings.Contains(err.Error(), "no checkpoint") {
		t.Errorf("missing checkpoint: %v", err)
	}
	data := toyData(4, 8, 2, 5, 2)
	net := newFCN(t, 8, 1, 5, 2, 5)
	p := filepath.Join(dir, "params")
	h := &History{Status: Interrupted, Step: 3, Steps: 10, LR: 0.1, NTrain: 8, Batch: 0}
	if err := SaveCheckpoint(p, net, h); err != nil {
		t.Fatal(err)
	}
	net2, h2, err := LoadCheckpoint(p)
	if err != nil {
		t.Fatal(err)
	}
	// Resuming with other data or another batch size is refused.
	other := toyData(4, 6, 2, 5, 2)
	if _, err := Run(context.Background(), net2, other, Options{Steps: 10, LR: 0.1}, h2); err == nil || !strings.Contains(err.Error(), "checkpoint was made with 8 training examples") {
		t.Errorf("resume with other data: %v", err)
	}
	if _, err := Run(context.Background(), net2, data, Options{Steps: 10, LR: 0.1, Batch: 2}, h2); err == nil || !strings.Contains(err.Error(), "batch 0") {
		t.Errorf("resume with another batch: %v", err)
	}
}

func TestBadOptions(t *testing.T) {
	data := toyData(5, 4, 2, 3, 2)
	net := newFCN(t, 8, 1, 3, 2, 1)
	cnn, _ := nets.New(spec.Spec{Arch: spec.CNNF, Act: spec.ReLU, Depth: 1, Width: 2, SW2: 2, SB2: 0, Outputs: 2}, []int{3, 1, 1}, rand.New(rand.NewPCG(1, 1)))
	tests := []struct {
		name string
		net  *nets.Net
		data Data
		opt  Options
		want string
	}{
		{"no lr", net, data, Options{Steps: 3}, "give a positive finite lr"},
		{"negative steps", net, data, Options{Steps: -1, LR: 1}, "steps -1"},
		{"negative batch", net, data, Options{Steps: 1, LR: 1, Batch: -2}, "batch -2"},
		{"targets", net, Data{XTrain: data.XTrain, YTrain: mat.NewDense(4, 3, nil)}, Options{Steps: 1, LR: 1}, "training targets are 4x3, want 4x2"},
		{"flat inputs for cnn", cnn, data, Options{Steps: 1, LR: 1}, "want [N, 3, 1, 1] images"},
		{"no data", net, Data{}, Options{Steps: 1, LR: 1}, "no training data"},
	}
	for _, tt := range tests {
		_, err := Run(context.Background(), tt.net, tt.data, tt.opt, nil)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %v, want one containing %q", tt.name, err, tt.want)
		}
	}
}

// TestEmpiricalLambdaMax compares the power iteration with the top
// eigenvalue of J J^T formed from the explicit Jacobian rows of every
// logit. The iteration stops at a 1e-5 relative change; 1e-3 covers the
// remaining distance to the limit for this well separated top eigenvalue.
func TestEmpiricalLambdaMax(t *testing.T) {
	data := toyData(6, 6, 1, 4, 2)
	net := newFCN(t, 20, 2, 4, 2, 3)
	before := append([]float64(nil), net.Params()[0].Data...)
	got, err := EmpiricalLambdaMax(net, data.XTrain, 500, 1)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(before, net.Params()[0].Data) {
		t.Error("parameters changed")
	}
	n, k, p := 6, 2, net.ParamCount()
	j := mat.NewDense(n*k, p, nil)
	for c := 0; c < k; c++ {
		jc, err := net.JacobianRows(data.XTrain, c)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < n; i++ {
			j.SetRow(i*k+c, jc.RawRowView(i))
		}
	}
	theta := mat.NewSymDense(n*k, nil)
	theta.SymOuterK(1, j)
	var es mat.EigenSym
	if !es.Factorize(theta, false) {
		t.Fatal("eigen decomposition failed")
	}
	vals := es.Values(nil)
	want := vals[len(vals)-1]
	if math.Abs(got-want) > 1e-3*want {
		t.Errorf("lambda_max %v, eigen decomposition %v", got, want)
	}
}
