package experiments

import (
	"github.com/ntkharness/ntkharness/datasets"
	"github.com/ntkharness/ntkharness/experiments/cells"
)

// loadData loads the train and test splits of cfg.Dataset through
// cells.LoadData, which the sweep cells share: one cache per process, and
// the embedded MNIST when CIFAR-10 is not available (note and why say so).
func loadData(cfg Config) (train, test *datasets.Set, note, why string, err error) {
	return cells.LoadData(cells.Source{Dataset: cfg.Dataset, CIFAR10: cfg.CIFAR10})
}
