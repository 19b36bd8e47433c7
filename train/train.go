package train

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/mat"

	"github.com/ntkharness/ntkharness/nets"
	"github.com/ntkharness/ntkharness/npy"
	"github.com/ntkharness/ntkharness/spec"
	"github.com/ntkharness/ntkharness/theory"
)

// Data is a training and a test set: inputs as the network takes them and
// targets with one row of k values per example (one-hot labels for
// classification; accuracy compares the argmax of f and y).
type Data struct {
	XTrain npy.Array
	YTrain *mat.Dense
	XTest  npy.Array // may be empty (no Shape): no test metrics
	YTest  *mat.Dense
}

// LambdaMaxFunc returns the largest eigenvalue of the per-logit NTK of net
// on the inputs x (analytic or empirical).
type LambdaMaxFunc func(net *nets.Net, x npy.Array) (float64, error)

// Options configure a run.
type Options struct {
	Steps    int     // gradient steps in total (a resumed run continues to Steps)
	LR       float64 // absolute step size eta; when 0, LRFactor * eta_crit
	LRFactor float64 // eta / eta_crit, used when LR is 0
	// LambdaMax gives lambda_max for eta_crit when LR is 0; nil uses
	// EmpiricalLambdaMax.
	LambdaMax LambdaMaxFunc
	Batch     int    // examples per step; 0 or >= N is full-batch gradient descent
	Seed      uint64 // seed of the minibatch order
	// Chunk bounds the examples per graph run; a full batch larger than
	// Chunk accumulates its gradient over chunks. 0 means 256.
	Chunk int
	// BlowUp: the run diverged when the loss exceeds BlowUp times its
	// initial value. 0 means 1e6.
	BlowUp float64
	// StopRelChange > 0 stops a full-batch run early at the first step
	// t >= 1 whose training loss changed by at most StopRelChange of the
	// previous one, |L_t - L_{t-1}| <= StopRelChange L_{t-1}: the point of
	// step t is recorded, every later logged step repeats its values, and
	// History.StoppedAt says t. 0 never stops early; minibatch runs ignore it.
	StopRelChange float64
	// Progress, if not nil, is called with (steps done, Steps).
	Progress func(done, total int)
	// Checkpoint, if not nil, is called with the state to save every
	// CheckpointEvery (0: never during the run) and when the run stops.
	Checkpoint      func(h *History) error
	CheckpointEvery time.Duration
	// Settings, recorded in a new run's History, describe where its data
	// came from (data set, subset sizes, seed, content hashes of input
	// files) so that a resumed run can refuse different ones.
	Settings map[string]string
}

// Statuses of a run.
const (
	Running     = "running"
	Done        = "done"
	Diverged    = "diverged"
	Interrupted = "interrupted"
)

// Point is the state of training after Step updates. Non-finite values are
// written to JSON as null.
type Point struct {
	Step      int   `json:"step"`
	TrainLoss Float `json:"train_loss"`
	TrainAcc  Float `json:"train_acc"`
	TestLoss  Float `json:"test_loss"`
	TestAcc   Float `json:"test_acc"`
}

// History is the record of a run and the state needed to resume it.
type History struct {
	Status     string  `json:"status"`
	Step       int     `json:"step"`  // updates done
	Steps      int     `json:"steps"` // updates planned
	LR         float64 `json:"lr"`
	LRFactor   float64 `json:"lr_factor,omitempty"`
	EtaCrit    float64 `json:"eta_crit,omitempty"`
	LambdaMax  float64 `json:"lambda_max,omitempty"`
	Batch      int     `json:"batch"` // 0: full batch
	Seed       uint64  `json:"seed"`
	NTrain     int     `json:"n_train"`
	NTest      int     `json:"n_test"`
	InitLoss   float64 `json:"init_loss"`
	DivergedAt int     `json:"diverged_at,omitempty"` // the step whose loss blew up
	// StoppedAt is the step where the loss stopped changing and the run
	// stopped early (Options.StopRelChange), 0 when it did not; the logged
	// steps after it repeat its values.
	StoppedAt int `json:"stopped_at,omitempty"`
	// Settings are Options.Settings of the run that started the history.
	Settings map[string]string `json:"settings,omitempty"`
	Points   []Point           `json:"points"`
}

// historyJSON is History with the float fields that may overflow (a huge
// learning-rate factor gives an infinite lr) written as Float, null when
// not finite, so that the state of a diverged run can always be saved.
type historyJSON struct {
	historyPlain
	LR        Float `json:"lr"`
	LRFactor  Float `json:"lr_factor,omitempty"`
	EtaCrit   Float `json:"eta_crit,omitempty"`
	LambdaMax Float `json:"lambda_max,omitempty"`
	InitLoss  Float `json:"init_loss"`
}

type historyPlain History

// MarshalJSON writes h with non-finite numbers as null.
func (h History) MarshalJSON() ([]byte, error) {
	return json.Marshal(historyJSON{historyPlain(h), Float(h.LR), Float(h.LRFactor), Float(h.EtaCrit), Float(h.LambdaMax), Float(h.InitLoss)})
}

// UnmarshalJSON reads h, null numbers as NaN.
func (h *History) UnmarshalJSON(b []byte) error {
	var j historyJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*h = History(j.historyPlain)
	h.LR, h.LRFactor, h.EtaCrit, h.LambdaMax, h.InitLoss = float64(j.LR), float64(j.LRFactor), float64(j.EtaCrit), float64(j.LambdaMax), float64(j.InitLoss)
	return nil
}

// Last returns the last recorded point (zero if none).
func (h *History) Last() Point {
	if len(h.Points) == 0 {
		return Point{}
	}
	return h.Points[len(h.Points)-1]
}

// Summary is a one-line description of the run's outcome.
func (h *History) Summary() string {
	p := h.Last()
	switch h.Status {
	case Diverged:
		return fmt.Sprintf("diverged at step %d (lr %.4g, initial loss %.4g)", h.DivergedAt, h.LR, h.InitLoss)
	case Interrupted:
		return fmt.Sprintf("interrupted at step %d of %d: train loss %.4g acc %.4f at step %d (resume with the same output folder)", h.Step, h.Steps, p.TrainLoss, p.TrainAcc, p.Step)
	}
	test := ""
	if h.NTest > 0 {
		test = fmt.Sprintf(", test loss %.4g acc %.4f", p.TestLoss, p.TestAcc)
	}
	return fmt.Sprintf("%s: step %d, train loss %.4g acc %.4f%s (lr %.4g)", h.Status, p.Step, p.TrainLoss, p.TrainAcc, test, h.LR)
}

// IsLogStep reports whether step t is recorded: 0, powers of two, and last.
func IsLogStep(t, last int) bool {
	return t == 0 || t == last || t&(t-1) == 0
}

// Run trains net on data. A nil h starts a new run; a History from a
// checkpoint (with net holding the checkpointed parameters) resumes it.
// Cancelling ctx (e.g. on SIGINT) stops after the current step, saves a
// checkpoint and returns the history with status Interrupted and no error.
// Divergence is not an error either: the history says Diverged. Only
// float64 networks: float32 ones train by RunEnsemble.
func Run(ctx context.Context, net *nets.Net, data Data, opt Options, h *History) (*History, error) {
	if net.Spec().DType == spec.Float32 {
		return nil, errors.New("train: spec dtype float32: Run trains a Net's float64 Gorgonia graph; train float32 networks as an Ensemble (RunEnsemble)")
	}
	if err := checkData(net, data); err != nil {
		return nil, err
	}
	if opt.Steps < 0 {
		return nil, fmt.Errorf("train: steps %d: must be >= 0", opt.Steps)
	}
	if opt.BlowUp == 0 {
		opt.BlowUp = 1e6
	}
	if opt.Chunk <= 0 {
		opt.Chunk = 256
	}
	ntrain := data.XTrain.Shape[0]
	k := net.Outputs()
	if opt.Batch < 0 {
		return nil, fmt.Errorf("train: batch %d: must be >= 0", opt.Batch)
	}
	if opt.Batch >= ntrain {
		opt.Batch = 0
	}
	if h == nil {
		h = &History{Status: Running, Steps: opt.Steps, Batch: opt.Batch, Seed: opt.Seed, NTrain: ntrain, LRFactor: opt.LRFactor, Settings: opt.Settings}
		if data.XTest.Shape != nil {
			h.NTest = data.XTest.Shape[0]
		}
		switch {
		case opt.LR > 0 && !math.IsInf(opt.LR, 0):
			h.LR = opt.LR
		case opt.LR == 0 && opt.LRFactor > 0 && !math.IsInf(opt.LRFactor, 0):
			lmf := opt.LambdaMax
			if lmf == nil {
				lmf = func(n *nets.Net, x npy.Array) (float64, error) {
					return EmpiricalLambdaMax(n, x, 100, opt.Seed)
				}
			}
			lm, err := lmf(net, data.XTrain)
			if err != nil {
				return nil, fmt.Errorf("train: lambda_max for the learning rate: %v", err)
			}
			if !(lm > 0) || math.IsInf(lm, 0) {
				return nil, fmt.Errorf("train: lambda_max %v of the NTK is not positive and finite: cannot set the learning rate from --lr-factor", lm)
			}
			h.LambdaMax = lm
			h.EtaCrit = 2 * float64(ntrain*k) / lm
			h.LR = opt.LRFactor * h.EtaCrit
		default:
			return nil, fmt.Errorf("train: learning rate %v, factor %v: give a positive finite lr or lr factor", opt.LR, opt.LRFactor)
		}
	} else {
		if h.NTrain != ntrain || h.Batch != opt.Batch {
			return nil, fmt.Errorf("train: checkpoint was made with %d training examples and batch %d, this run has %d and %d", h.NTrain, h.Batch, ntrain, opt.Batch)
		}
		if h.Status == Diverged {
			return h, nil
		}
		h.Steps = opt.Steps
		h.Status = Running
	}

	r := &runner{net: net, data: data, opt: opt, h: h, params: net.Params()}
	lastSave := time.Now()
	prevLoss := math.NaN()
	for {
		t := h.Step
		var loss float64
		var grads [][]float64
		var out *mat.Dense
		var err error
		rec := IsLogStep(t, h.Steps) && (len(h.Points) == 0 || h.Last().Step < t)
		if opt.Batch == 0 {
			loss, out, grads, err = r.fullBatch(t < h.Steps)
			if err != nil {
				return h, err
			}
			if rec {
				if err := r.record(t, loss, out); err != nil {
					return h, err
				}
			}
		} else {
			if rec {
				out, err := net.Forward(data.XTrain)
				if err != nil {
					return h, err
				}
				fl := mse(out, data.YTrain)
				if err := r.record(t, fl, out); err != nil {
					return h, err
				}
			}
			if t < h.Steps {
				loss, grads, err = r.miniBatch(t)
				if err != nil {
					return h, err
				}
			}
		}
		if t == 0 && len(h.Points) > 0 {
			h.InitLoss = float64(h.Points[0].TrainLoss)
		}
		if math.IsNaN(loss) || math.IsInf(loss, 0) || loss > opt.BlowUp*h.InitLoss {
			h.Status, h.DivergedAt = Diverged, t
			if !rec {
				if err := r.recordDiverged(t, loss); err != nil {
					return h, err
				}
			}
			break
		}
		if t >= h.Steps {
			h.Status = Done
			break
		}
		if opt.Batch == 0 && stalled(opt.StopRelChange, prevLoss, loss) {
			if !rec {
				if err := r.record(t, loss, out); err != nil {
					return h, err
				}
			}
			stopEarly(h, t)
			break
		}
		prevLoss = loss
		for i, g := range grads {
			floats.AddScaled(r.params[i].Data, -h.LR, g)
		}
		h.Step++
		if opt.Progress != nil {
			opt.Progress(h.Step, h.Steps)
		}
		if ctx.Err() != nil {
			h.Status = Interrupted
			break
		}
		if opt.Checkpoint != nil && opt.CheckpointEvery > 0 && time.Since(lastSave) >= opt.CheckpointEvery {
			if err := opt.Checkpoint(h); err != nil {
				return h, err
			}
			lastSave = time.Now()
		}
	}
	if opt.Checkpoint != nil {
		if err := opt.Checkpoint(h); err != nil {
			return h, err
		}
	}
	return h, nil
}

type runner struct {
	net    *nets.Net
	data   Data
	opt    Options
	h      *History
	params []nets.Param
	acc    [][]float64 // gradient accumulator for chunked full batches
}

// fullBatch returns the loss on the whole training set, its outputs and,
// if wantGrad, the gradient, accumulated over chunks of at most Chunk
// examples as sum_c (B_c/N) grad L_c.
func (r *runner) fullBatch(wantGrad bool) (float64, *mat.Dense, [][]float64, error) {
	x, y := r.data.XTrain, r.data.YTrain
	n := x.Shape[0]
	if n <= r.opt.Chunk {
		return r.net.LossGrad(x, y)
	}
	if r.acc == nil {
		for _, p := range r.params {
			r.acc = append(r.acc, make([]float64, len(p.Data)))
		}
	}
	for _, a := range r.acc {
		clear(a)
	}
	out := mat.NewDense(n, r.net.Outputs(), nil)
	loss := 0.0
	for lo := 0; lo < n; lo += r.opt.Chunk {
		hi := min(n, lo+r.opt.Chunk)
		l, o, g, err := r.net.LossGrad(sliceRows(x, lo, hi), y.Slice(lo, hi, 0, r.net.Outputs()).(*mat.Dense))
		if err != nil {
			return 0, nil, nil, err
		}
		w := float64(hi-lo) / float64(n)
		loss += w * l
		out.Slice(lo, hi, 0, r.net.Outputs()).(*mat.Dense).Copy(o)
		if wantGrad {
			for i := range g {
				floats.AddScaled(r.acc[i], w, g[i])
			}
		}
	}
	return loss, out, r.acc, nil
}

// miniBatch returns the loss and gradient on the batch of step t: batch
// t mod E of epoch t / E (E = ceil(N/B) batches per epoch), whose order is
// a permutation drawn from PCG(seed, epoch), so a resumed run sees the same
// batches.
func (r *runner) miniBatch(t int) (float64, [][]float64, error) {
	n, b := r.data.XTrain.Shape[0], r.opt.Batch
	perEpoch := (n + b - 1) / b
	epoch, i := t/perEpoch, t%perEpoch
	perm := rand.New(rand.NewPCG(r.opt.Seed, uint64(epoch))).Perm(n)
	idx := perm[i*b : min(n, (i+1)*b)]
	x := gatherRows(r.data.XTrain, idx)
	k := r.net.Outputs()
	y := mat.NewDense(len(idx), k, nil)
	for j, e := range idx {
		y.SetRow(j, r.data.YTrain.RawRowView(e))
	}
	l, _, g, err := r.net.LossGrad(x, y)
	return l, g, err
}

// record appends the point of step t with the training loss and outputs
// already computed, evaluating the test set.
func (r *runner) record(t int, trainLoss float64, out *mat.Dense) error {
	p := Point{Step: t, TrainLoss: Float(trainLoss), TrainAcc: Float(accuracy(out, r.data.YTrain)),
		TestLoss: Float(math.NaN()), TestAcc: Float(math.NaN())}
	if r.data.XTest.Shape != nil {
		f, err := r.net.Forward(r.data.XTest)
		if err != nil {
			return fmt.Errorf("train: test set: %v", err)
		}
		p.TestLoss, p.TestAcc = Float(mse(f, r.data.YTest)), Float(accuracy(f, r.data.YTest))
	}
	r.h.Points = append(r.h.Points, p)
	return nil
}

// stalled reports whether the loss changed by at most tol of the previous
// one (never when tol <= 0 or there is no previous loss).
func stalled(tol, prev, loss float64) bool {
	return tol > 0 && math.Abs(loss-prev) <= tol*prev
}

// stopEarly ends h at step t, whose point is its last: every later logged
// step up to h.Steps repeats it.
func stopEarly(h *History, t int) {
	h.Status, h.StoppedAt = Done, t
	last := h.Last()
	for s := t + 1; s <= h.Steps; s++ {
		if IsLogStep(s, h.Steps) {
			p := last
			p.Step = s
			h.Points = append(h.Points, p)
		}
	}
}

// recordDiverged appends the point where the loss blew up.
func (r *runner) recordDiverged(t int, loss float64) error {
	nan := Float(math.NaN())
	r.h.Points = append(r.h.Points, Point{Step: t, TrainLoss: Float(loss), TrainAcc: nan, TestLoss: nan, TestAcc: nan})
	return nil
}

// mse is the loss theory.MSELoss, (1/(2 N k)) sum (f - y)^2, of outputs
// and targets whose shapes checkData has matched.
func mse(f, y *mat.Dense) float64 {
	l, err := theory.MSELoss(f, y)
	if err != nil {
		panic(err) // the shapes were checked before training
	}
	return l
}

// accuracy is the fraction of rows whose argmax of f equals the argmax of y.
func accuracy(f, y *mat.Dense) float64 {
	r, _ := f.Dims()
	hit := 0
	for i := 0; i < r; i++ {
		if floats.MaxIdx(f.RawRowView(i)) == floats.MaxIdx(y.RawRowView(i)) {
			hit++
		}
	}
	return float64(hit) / float64(r)
}

func checkData(net *nets.Net, d Data) error {
	if d.XTrain.Shape == nil || d.XTrain.Shape[0] == 0 || d.YTrain == nil {
		return errors.New("train: no training data")
	}
	k := net.Outputs()
	if r, c := d.YTrain.Dims(); r != d.XTrain.Shape[0] || c != k {
		return fmt.Errorf("train: training targets are %dx%d, want %dx%d (examples x network outputs)", r, c, d.XTrain.Shape[0], k)
	}
	if _, err := net.Forward(sliceRows(d.XTrain, 0, 1)); err != nil {
		return fmt.Errorf("train: training inputs: %v", err)
	}
	if err := checkFinite("training targets", d.YTrain); err != nil {
		return err
	}
	if d.XTest.Shape != nil {
		if d.YTest == nil {
			return errors.New("train: test inputs without test targets")
		}
		if err := checkFinite("test targets", d.YTest); err != nil {
			return err
		}
		if r, c := d.YTest.Dims(); r != d.XTest.Shape[0] || c != k {
			return fmt.Errorf("train: test targets are %dx%d, want %dx%d (examples x network outputs)", r, c, d.XTest.Shape[0], k)
		}
		if _, err := net.Forward(sliceRows(d.XTest, 0, 1)); err != nil {
			return fmt.Errorf("train: test inputs: %v", err)
		}
	}
	return nil
}

// checkFinite refuses a NaN or infinite target.
func checkFinite(what string, y *mat.Dense) error {
	r, _ := y.Dims()
	for i := 0; i < r; i++ {
		for j, v := range y.RawRowView(i) {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return fmt.Errorf("train: %s: entry [%d, %d] is %v: targets must be finite", what, i, j, v)
			}
		}
	}
	return nil
}

// sliceRows returns examples lo..hi-1 of x, sharing its data.
func sliceRows(x npy.Array, lo, hi int) npy.Array {
	_, d := x.Rows()
	s := append([]int{hi - lo}, x.Shape[1:]...)
	return npy.Array{Shape: s, Data: x.Data[lo*d : hi*d]}
}

// gatherRows returns the examples idx of x, copied.
func gatherRows(x npy.Array, idx []int) npy.Array {
	_, d := x.Rows()
	out := npy.Array{Shape: append([]int{len(idx)}, x.Shape[1:]...), Data: make([]float64, len(idx)*d)}
	for j, e := range idx {
		copy(out.Data[j*d:(j+1)*d], x.Data[e*d:(e+1)*d])
	}
	return out
}

// Float is a float64 written to JSON as null when it is NaN or infinite.
type Float float64

// MarshalJSON writes finite values as numbers and others as null.
func (f Float) MarshalJSON() ([]byte, error) {
	if math.IsNaN(float64(f)) || math.IsInf(float64(f), 0) {
		return []byte("null"), nil
	}
	return json.Marshal(float64(f))
}

// UnmarshalJSON reads null as NaN.
func (f *Float) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*f = Float(math.NaN())
		return nil
	}
	var v float64
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*f = Float(v)
	return nil
}
