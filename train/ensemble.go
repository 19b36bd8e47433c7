package train

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"

	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/mat"

	"github.com/ntkharness/ntkharness/nets"
)

// EnsembleOptions configure RunEnsemble. The fields mean what they mean in
// Options, but the step size is given per member.
type EnsembleOptions struct {
	Steps int
	// LR is member m's absolute step size eta_m, e.g. f_m * eta_crit_m;
	// one positive finite value per member.
	LR     []float64
	Batch  int    // examples per step, shared by all members; 0 or >= N is full batch
	Seed   uint64 // seed of the minibatch order
	Chunk  int    // examples per pass of a full batch; 0 means 256
	BlowUp float64
	// StopRelChange stops each member early as Options.StopRelChange does
	// a run alone (full batch only).
	StopRelChange float64
	// Progress, if not nil, is called with (steps done, Steps).
	Progress func(done, total int)
}

// RunEnsemble trains every member m of e on data in lock step: at step t
// all live members take the same batch (the full training set, or the
// minibatch of step t drawn as Run draws it) and update
//
//	theta_m <- theta_m - eta_m grad L_m(theta_m),
//
// from one forward and one reverse pass of the ensemble per step. Each
// member follows, to rounding, the trajectory Run gives its network alone
// with the same options and step size: the same recorded steps and
// metrics, and the same divergence rule (the loss NaN, infinite or more
// than BlowUp times its initial value). A diverged member is frozen and
// no longer computed, and its History says Diverged; the others go on.
// Cancelling ctx stops all members after the current step with status
// Interrupted. The runs are not checkpointed. A float32 ensemble trains
// in float32 (its gradients stay in float32 but for chunked full
// batches, accumulated in float64); losses and metrics are float64.
func RunEnsemble(ctx context.Context, e *nets.Ensemble, data Data, opt EnsembleOptions) ([]*History, error) {
	S := e.Size()
	if err := checkEnsembleData(e, data); err != nil {
		return nil, err
	}
	if opt.Steps < 0 {
		return nil, fmt.Errorf("train: steps %d: must be >= 0", opt.Steps)
	}
	if len(opt.LR) != S {
		return nil, fmt.Errorf("train: %d learning rates for an ensemble of %d networks: give one per member", len(opt.LR), S)
	}
	for m, lr := range opt.LR {
		if !(lr > 0) || math.IsInf(lr, 0) {
			return nil, fmt.Errorf("train: learning rate %v of member %d: must be positive and finite", lr, m)
		}
	}
	if opt.Batch < 0 {
		return nil, fmt.Errorf("train: batch %d: must be >= 0", opt.Batch)
	}
	if opt.BlowUp == 0 {
		opt.BlowUp = 1e6
	}
	if opt.Chunk <= 0 {
		opt.Chunk = 256
	}
	ntrain := data.XTrain.Shape[0]
	if opt.Batch >= ntrain {
		opt.Batch = 0
	}
	r := &ensRunner{e: e, data: data, opt: opt, live: make([]bool, S)}
	for m := range r.live {
		r.live[m] = true
		h := &History{Status: Running, Steps: opt.Steps, Batch: opt.Batch, Seed: opt.Seed, NTrain: ntrain, LR: opt.LR[m]}
		if data.XTest.Shape != nil {
			h.NTest = data.XTest.Shape[0]
		}
		r.hs = append(r.hs, h)
		r.params = append(r.params, e.Params(m))
	}
	prev := make([]float64, S)
	for m := range prev {
		prev[m] = math.NaN()
	}
	for t := 0; ; t++ {
		rec := IsLogStep(t, opt.Steps)
		var loss []float64
		var grads [][][]float64 // chunked full batches; else the ensemble keeps them
		var out []*mat.Dense
		if opt.Batch == 0 {
			var err error
			if loss, out, grads, err = r.fullBatch(t < opt.Steps); err != nil {
				return r.hs, err
			}
			if rec {
				if err := r.record(t, loss, out); err != nil {
					return r.hs, err
				}
			}
		} else {
			if rec {
				out, err := e.Forward(data.XTrain, r.live)
				if err != nil {
					return r.hs, err
				}
				fl := make([]float64, S)
				for m, o := range out {
					if o != nil {
						fl[m] = mse(o, data.YTrain)
					}
				}
				if err := r.record(t, fl, out); err != nil {
					return r.hs, err
				}
			}
			loss = make([]float64, S)
			if t < opt.Steps {
				var err error
				if loss, err = r.miniBatch(t); err != nil {
					return r.hs, err
				}
			}
		}
		stepped := false
		step := make([]bool, S)
		var stopped []bool // members that stop early at t
		for m, h := range r.hs {
			if !r.live[m] {
				continue
			}
			if t == 0 && len(h.Points) > 0 {
				h.InitLoss = float64(h.Points[0].TrainLoss)
			}
			l := loss[m]
			switch {
			case math.IsNaN(l) || math.IsInf(l, 0) || l > opt.BlowUp*h.InitLoss:
				h.Status, h.DivergedAt = Diverged, t
				if !rec {
					nan := Float(math.NaN())
					h.Points = append(h.Points, Point{Step: t, TrainLoss: Float(l), TrainAcc: nan, TestLoss: nan, TestAcc: nan})
				}
				r.live[m] = false
			case t >= opt.Steps:
				h.Status = Done
				r.live[m] = false
			case opt.Batch == 0 && stalled(opt.StopRelChange, prev[m], l):
				if stopped == nil {
					stopped = make([]bool, S)
				}
				stopped[m] = true
			default:
				prev[m] = l
				step[m] = true
				h.Step++
				stepped = true
			}
		}
		if stopped != nil {
			if !rec {
				if err := r.recordMembers(t, loss, out, stopped); err != nil {
					return r.hs, err
				}
			}
			for m, st := range stopped {
				if st {
					stopEarly(r.hs[m], t)
					r.live[m] = false
				}
			}
		}
		if !stepped {
			break
		}
		if grads != nil {
			for m, st := range step {
				if !st {
					grads[m] = nil
				}
			}
			e.Update(grads, opt.LR)
		} else {
			e.Step(step, opt.LR)
		}
		if opt.Progress != nil {
			opt.Progress(t+1, opt.Steps)
		}
		if ctx.Err() != nil {
			for m, h := range r.hs {
				if r.live[m] {
					h.Status = Interrupted
				}
			}
			break
		}
	}
	return r.hs, nil
}

type ensRunner struct {
	e      *nets.Ensemble
	data   Data
	opt    EnsembleOptions
	hs     []*History
	params [][]nets.Param
	live   []bool
	acc    [][][]float64 // per member, gradient accumulator for chunked full batches
}

// fullBatch is runner.fullBatch for the live members: the loss, outputs
// and (if wantGrad) gradient on the whole training set, accumulated over
// chunks of at most Chunk examples as sum_c (B_c/N) grad L_c. A single
// chunk leaves the gradients in the ensemble (nil).
func (r *ensRunner) fullBatch(wantGrad bool) ([]float64, []*mat.Dense, [][][]float64, error) {
	x, y := r.data.XTrain, r.data.YTrain
	n, k := x.Shape[0], r.e.Outputs()
	if n <= r.opt.Chunk {
		loss, out, err := r.e.Backward(x, y, r.live)
		return loss, out, nil, err
	}
	S := r.e.Size()
	if r.acc == nil {
		r.acc = make([][][]float64, S)
		for m := range r.acc {
			for _, p := range r.params[m] {
				r.acc[m] = append(r.acc[m], make([]float64, len(p.Data)))
			}
		}
	}
	loss := make([]float64, S)
	out := make([]*mat.Dense, S)
	for m := range out {
		if r.live[m] {
			out[m] = mat.NewDense(n, k, nil)
			for _, a := range r.acc[m] {
				clear(a)
			}
		}
	}
	for lo := 0; lo < n; lo += r.opt.Chunk {
		hi := min(n, lo+r.opt.Chunk)
		l, o, g, err := r.e.LossGrad(sliceRows(x, lo, hi), y.Slice(lo, hi, 0, k).(*mat.Dense), r.live)
		if err != nil {
			return nil, nil, nil, err
		}
		w := float64(hi-lo) / float64(n)
		for m := range out {
			if !r.live[m] {
				continue
			}
			loss[m] += w * l[m]
			out[m].Slice(lo, hi, 0, k).(*mat.Dense).Copy(o[m])
			if wantGrad {
				for i := range g[m] {
					floats.AddScaled(r.acc[m][i], w, g[m][i])
				}
			}
		}
	}
	grads := make([][][]float64, S)
	for m := range grads {
		if r.live[m] {
			grads[m] = r.acc[m]
		}
	}
	return loss, out, grads, nil
}

// miniBatch is runner.miniBatch for the live members: the batch of step t
// from the seeded permutation of its epoch, shared by all members; the
// gradients stay in the ensemble.
func (r *ensRunner) miniBatch(t int) ([]float64, error) {
	n, b := r.data.XTrain.Shape[0], r.opt.Batch
	perEpoch := (n + b - 1) / b
	epoch, i := t/perEpoch, t%perEpoch
	perm := rand.New(rand.NewPCG(r.opt.Seed, uint64(epoch))).Perm(n)
	idx := perm[i*b : min(n, (i+1)*b)]
	x := gatherRows(r.data.XTrain, idx)
	y := mat.NewDense(len(idx), r.e.Outputs(), nil)
	for j, e := range idx {
		y.SetRow(j, r.data.YTrain.RawRowView(e))
	}
	l, _, err := r.e.Backward(x, y, r.live)
	return l, err
}

// record appends, for every live member, the point of step t with the
// training losses and outputs already computed, evaluating the test set.
func (r *ensRunner) record(t int, trainLoss []float64, out []*mat.Dense) error {
	return r.recordMembers(t, trainLoss, out, r.live)
}

// recordMembers is record for the members m with which[m] true.
func (r *ensRunner) recordMembers(t int, trainLoss []float64, out []*mat.Dense, which []bool) error {
	var test []*mat.Dense
	if r.data.XTest.Shape != nil {
		var err error
		if test, err = r.e.Forward(r.data.XTest, which); err != nil {
			return fmt.Errorf("train: test set: %v", err)
		}
	}
	for m, h := range r.hs {
		if !which[m] {
			continue
		}
		p := Point{Step: t, TrainLoss: Float(trainLoss[m]), TrainAcc: Float(accuracy(out[m], r.data.YTrain)),
			TestLoss: Float(math.NaN()), TestAcc: Float(math.NaN())}
		if test != nil {
			p.TestLoss, p.TestAcc = Float(mse(test[m], r.data.YTest)), Float(accuracy(test[m], r.data.YTest))
		}
		h.Points = append(h.Points, p)
	}
	return nil
}

// checkEnsembleData is checkData for an ensemble.
func checkEnsembleData(e *nets.Ensemble, d Data) error {
	if d.XTrain.Shape == nil || d.XTrain.Shape[0] == 0 || d.YTrain == nil {
		return errors.New("train: no training data")
	}
	k := e.Outputs()
	if r, c := d.YTrain.Dims(); r != d.XTrain.Shape[0] || c != k {
		return fmt.Errorf("train: training targets are %dx%d, want %dx%d (examples x network outputs)", r, c, d.XTrain.Shape[0], k)
	}
	one := make([]bool, e.Size())
	one[0] = true
	if _, err := e.Forward(sliceRows(d.XTrain, 0, 1), one); err != nil {
		return fmt.Errorf("train: training inputs: %v", err)
	}
	if d.XTest.Shape != nil {
		if d.YTest == nil {
			return errors.New("train: test inputs without test targets")
		}
		if r, c := d.YTest.Dims(); r != d.XTest.Shape[0] || c != k {
			return fmt.Errorf("train: test targets are %dx%d, want %dx%d (examples x network outputs)", r, c, d.XTest.Shape[0], k)
		}
		if _, err := e.Forward(sliceRows(d.XTest, 0, 1), one); err != nil {
			return fmt.Errorf("train: test inputs: %v", err)
		}
	}
	return nil
}
