package experiments

import (
	"context"
	"fmt"

	"github.com/ntkharness/ntkharness/experiments/sweep"
	"github.com/ntkharness/ntkharness/nets/spec"
)

// theoryGDSettings are the settings of a "theory-gd" cell.
type theoryGDSettings struct {
	Dataset string    `json:"dataset"`  // cifar10 (default, falls back to mnist) or mnist
	CIFAR10 string    `json:"cifar10"`  // CIFAR-10 location; empty means $CIFAR10_DIR
	NTrain  int       `json:"n_train"`  // default 256
	NTest   int       `json:"n_test"`   // default 256
	Times   []float64 `json:"times"`    // steps; default 1, 8, 64, 512, 4096
	EtaFrac float64   `json:"eta_frac"` // eta / eta_crit; default 0.5
}

func init() {
	// "theory-gd": one cell of the theory trainability heat map: the train
	// and test accuracy of the infinite-width NTK predictor of the cell's
	// fcn spec at its depth after each of settings.times discrete steps,
	// as scalars train_acc_t<T> and test_acc_t<T>.
	sweep.RegisterKind("theory-gd", runTheoryGDCell)
}

func runTheoryGDCell(ctx context.Context, c sweep.Cell) (sweep.Result, error) {
	if c.SpecErr != nil {
		return sweep.Result{}, sweep.Permanent(c.SpecErr)
	}
	if err := c.Spec.Validate(); err != nil {
		return sweep.Result{}, sweep.Permanent(err)
	}
	if c.Spec.Arch != spec.FCN || c.Spec.Act != spec.Erf {
		return sweep.Result{}, sweep.Permanent(fmt.Errorf("theory-gd: arch %q act %q: only fcn with erf is supported", c.Spec.Arch, c.Spec.Act))
	}
	st := theoryGDSettings{NTrain: 256, NTest: 256, Times: []float64{1, 8, 64, 512, 4096}, EtaFrac: 0.5}
	if err := c.DecodeSettings(&st); err != nil {
		return sweep.Result{}, sweep.Permanent(err)
	}
	if st.NTrain < 1 || st.NTest < 1 || !(st.EtaFrac > 0 && st.EtaFrac <= 1) {
		return sweep.Result{}, sweep.Permanent(fmt.Errorf("theory-gd: n_train %d, n_test %d, eta_frac %g: want n >= 1 and 0 < eta_frac <= 1", st.NTrain, st.NTest, st.EtaFrac))
	}
	cfg, err := Config{Dataset: st.Dataset, CIFAR10: st.CIFAR10, Seed: uint64(c.Seed)}.validate()
	if err != nil {
		return sweep.Result{}, sweep.Permanent(err)
	}
	train, test, _, _, err := loadData(cfg)
	if err != nil {
		return sweep.Result{}, err
	}
	xTr, xTe, y, lTr, lTe, err := prepareData(train, test, st.NTrain, st.NTest, cfg.Seed)
	if err != nil {
		return sweep.Result{}, sweep.Permanent(err)
	}
	g := TrainabilityGrid{SW2: []float64{c.Spec.SW2}, Depths: []int{c.Spec.Depth}, Times: st.Times, SB2: c.Spec.SB2, NTrain: st.NTrain, NTest: st.NTest, EtaFrac: st.EtaFrac}
	maps, err := TheoryTrainability(g, xTr, xTe, y, lTr, lTe, nil)
	if err != nil {
		return sweep.Result{}, sweep.Permanent(err)
	}
	r := sweep.Result{Status: sweep.StatusOK, Scalars: map[string]float64{}}
	for it, t := range st.Times {
		r.Scalars[fmt.Sprintf("train_acc_t%g", t)] = maps.Train[it][0][0]
		r.Scalars[fmt.Sprintf("test_acc_t%g", t)] = maps.Test[it][0][0]
	}
	return r, nil
}
