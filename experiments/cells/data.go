package cells

import (
	"fmt"
	"strings"
	"sync"

	"gonum.org/v1/gonum/mat"

	"github.com/ntkharness/ntkharness/datasets"
	"github.com/ntkharness/ntkharness/experiments/sweep"
	"github.com/ntkharness/ntkharness/npy"
	"github.com/ntkharness/ntkharness/spec"
)

// Normalizations of a cell's data (DataSettings.Normalize).
const (
	NormalizeGlobal = datasets.NormalizeGlobal // standardize by the training subset's global mean and std
	NormalizeNorm   = datasets.NormalizeNorm   // scale each image to norm sqrt(dimension)
)

// Source names a data set: datasets.CIFAR10 (the default) or
// datasets.MNIST, with CIFAR-10's location (empty means $CIFAR10_DIR).
type Source struct {
	Dataset string
	CIFAR10 string
}

// Validate fills the default data set of src and checks its name.
func (src Source) Validate() (Source, error) {
	switch src.Dataset {
	case "":
		src.Dataset = datasets.CIFAR10
	case datasets.CIFAR10, datasets.MNIST:
	default:
		return src, fmt.Errorf("dataset %q: want %s or %s", src.Dataset, datasets.CIFAR10, datasets.MNIST)
	}
	return src, nil
}

// DataSettings select and preprocess the data of a cell: class-balanced
// subsets drawn with the cell's seed, optionally in grayscale and
// block-averaged, then normalized (see datasets.PrepareTraining). Fully connected
// networks see the images flattened.
type DataSettings struct {
	Dataset    string `json:"dataset"`    // cifar10 (default) or mnist
	CIFAR10    string `json:"cifar10"`    // CIFAR-10 location; empty means $CIFAR10_DIR
	NTrain     int    `json:"n_train"`    // default 256
	NTest      int    `json:"n_test"`     // default 256
	Grayscale  bool   `json:"grayscale"`  // average the colour channels
	Downsample int    `json:"downsample"` // block-average factor; default 1
	Normalize  string `json:"normalize"`  // global (default) or norm
}

// CheckSettings checks the names in d before any cell runs (see
// sweep.CheckKinds): an unknown data set or normalization is a mistake in
// the sweep file, not a failure of each cell.
func (d DataSettings) CheckSettings() error {
	if _, err := (Source{Dataset: d.Dataset}).Validate(); err != nil {
		return err
	}
	return datasets.CheckNormalize(d.Normalize)
}

// DefaultDataSettings are the settings a cell starts from before decoding
// its own: 256 training and 256 test points at full resolution.
func DefaultDataSettings() DataSettings { return DataSettings{NTrain: 256, NTest: 256, Downsample: 1} }

// CellData is the prepared data of a cell.
type CellData struct {
	XTrain, XTest npy.Array  // [N, d] for fcn, else [N, H, W, C]
	Y, YTest      *mat.Dense // one-hot targets
	LTrain, LTest []int      // labels
}

// prepare returns the prepared training and test data of d. Bad settings
// are permanent errors; a data set that cannot be read (CIFAR-10 included:
// a cell does not fall back to MNIST) is not.
func (d DataSettings) prepare(seed uint64) (datasets.Training, error) {
	if d.NTrain < 1 || d.NTest < 1 || d.Downsample < 1 {
		return datasets.Training{}, sweep.Permanentf("n_train %d, n_test %d, downsample %d: want all >= 1", d.NTrain, d.NTest, d.Downsample)
	}
	cfg, err := Source{Dataset: d.Dataset, CIFAR10: d.CIFAR10}.Validate()
	if err != nil {
		return datasets.Training{}, sweep.Permanent(err)
	}
	train, test, _, why, err := LoadData(cfg)
	if err != nil {
		return datasets.Training{}, err
	}
	if why != "" {
		// A cell never falls back to another data set: its result would
		// carry the wrong name. Missing data on a node may be a mount
		// problem, so the error is transient.
		return datasets.Training{}, fmt.Errorf("dataset %s is not available here: %s", cfg.Dataset, why)
	}
	p, err := datasets.PrepareTraining(train, test, datasets.Preparation{NTrain: d.NTrain, NTest: d.NTest, Seed: seed,
		Grayscale: d.Grayscale, Downsample: d.Downsample, Normalize: d.Normalize})
	if err != nil {
		return datasets.Training{}, sweep.Permanent(err)
	}
	return p, nil
}

// Load prepares the data of d for a network of architecture arch.
func (d DataSettings) Load(arch string, seed uint64) (CellData, error) {
	p, err := d.prepare(seed)
	if err != nil {
		return CellData{}, err
	}
	tr, te := p.Train, p.Test
	c := CellData{XTrain: tr.Array(), XTest: te.Array(), Y: p.YTrain, YTest: p.YTest, LTrain: tr.Labels, LTest: te.Labels}
	if arch == spec.FCN {
		c.XTrain, c.XTest = tr.Flat(), te.Flat()
	}
	return c, nil
}

// cellSpec returns the cell's spec after checking it, as a permanent error.
func cellSpec(c sweep.Cell, finite bool) (spec.Spec, error) {
	if c.SpecErr != nil {
		return spec.Spec{}, sweep.Permanent(c.SpecErr)
	}
	check := c.Spec.Validate
	if finite {
		check = c.Spec.ValidateFinite
	}
	if err := check(); err != nil {
		return spec.Spec{}, sweep.Permanent(err)
	}
	return c.Spec, nil
}

// LoadData loads the train and test splits of cfg.Dataset, falling back to
// the embedded MNIST when CIFAR-10 is not available. note says which set was
// used (and why, after a fallback) for captions.
//
// why is empty unless CIFAR-10 was requested and could not be loaded.
func LoadData(cfg Source) (train, test *datasets.Packed, note, why string, err error) {
	key := cfg.Dataset + "\x00" + cfg.CIFAR10
	dataCache.Lock()
	defer dataCache.Unlock()
	if d, ok := dataCache.m[key]; ok {
		return d.train, d.test, d.note, d.why, nil
	}
	if train, test, note, why, err = loadDataUncached(cfg); err != nil {
		return nil, nil, "", "", err
	}
	if dataCache.m == nil {
		dataCache.m = map[string]loadedData{}
	}
	dataCache.m[key] = loadedData{train, test, note, why}
	return train, test, note, why, nil
}

// dataCache keeps the data sets loaded by this process, as bytes (a cell
// decodes only its subset): the sweep cells of a paper-scale figure would
// otherwise each read the whole data set. Packed sets are never modified.
var dataCache struct {
	sync.Mutex
	m map[string]loadedData
}

type loadedData struct {
	train, test *datasets.Packed
	note, why   string
}

func loadDataUncached(cfg Source) (train, test *datasets.Packed, note, why string, err error) {
	if cfg.Dataset == datasets.CIFAR10 {
		train, test, err = datasets.LoadPacked(datasets.CIFAR10, datasets.Options{CIFAR10: cfg.CIFAR10})
		if err == nil {
			return train, test, "CIFAR-10", "", nil
		}
		cerr := err
		train, test, err = datasets.LoadPacked(datasets.MNIST, datasets.Options{})
		if err != nil {
			return nil, nil, "", "", err
		}
		return train, test, "MNIST (CIFAR-10 not available)", firstLine(cerr.Error()), nil
	}
	train, test, err = datasets.LoadPacked(datasets.MNIST, datasets.Options{})
	return train, test, "MNIST", "", err
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
