package experiments

import (
	"fmt"
	"os"

	"github.com/ntkharness/ntkharness/datasets"
	"github.com/ntkharness/ntkharness/experiments/cells"
)

// ResolveData settles which data set cfg's figures use, so that captions and
// the report name the one actually used. CIFAR-10 with a location (cfg.CIFAR10
// or $CIFAR10_DIR) must be readable: a location that cannot be read is an
// error, never a silent switch to MNIST. CIFAR-10 without any location falls
// back to the embedded MNIST; note then says so in one line (empty when
// nothing was changed).
func (c Config) ResolveData() (cfg Config, note string, err error) {
	if c, err = c.validate(); err != nil {
		return c, "", err
	}
	if c.Dataset != datasets.CIFAR10 {
		return c, "", nil
	}
	loc, from := c.CIFAR10, "--cifar10"
	if loc == "" {
		loc, from = os.Getenv("CIFAR10_DIR"), "CIFAR10_DIR"
	}
	if loc == "" {
		c.Dataset, c.CIFAR10 = datasets.MNIST, ""
		return c, "CIFAR-10 not given (--cifar10 or CIFAR10_DIR): using the embedded MNIST", nil
	}
	_, _, _, why, err := cells.LoadData(cells.Source{Dataset: datasets.CIFAR10, CIFAR10: loc})
	if err != nil {
		return c, "", err
	}
	if why != "" {
		return c, "", fmt.Errorf("CIFAR-10 at %s (%s) cannot be read: %s", loc, from, why)
	}
	c.CIFAR10 = loc
	return c, "", nil
}

// loadData loads the train and test splits of cfg.Dataset through
// cells.LoadData, which the sweep cells share: one cache per process, and
// the embedded MNIST when CIFAR-10 is not available (note and why say so).
func loadData(cfg Config) (train, test *datasets.Packed, note, why string, err error) {
	return cells.LoadData(cells.Source{Dataset: cfg.Dataset, CIFAR10: cfg.CIFAR10})
}
