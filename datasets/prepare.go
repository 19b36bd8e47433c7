package datasets

import (
	"errors"
	"fmt"

	"gonum.org/v1/gonum/mat"
)

// Normalizations of PrepareTraining (Preparation.Normalize).
const (
	NormalizeGlobal = "global" // X' = (X - mean)/std, mean and std of all values of the training subset
	NormalizeNorm   = "norm"   // every image scaled to norm sqrt(H W C) (Set.NormalizeNorm)
)

// Preparation says how PrepareTraining turns a training and a test split
// into the data of an experiment.
type Preparation struct {
	NTrain int    // size of the class-balanced training subset (>= 1)
	NTest  int    // size of the class-balanced test subset; 0: no test set
	Seed   uint64 // seed of the training subset; the test subset uses Seed+1

	Grayscale  bool   // average the channels (Set.Grayscale)
	Downsample int    // block-average by this factor (Set.Downsample); 0 or 1: none
	Normalize  string // NormalizeGlobal (also when empty) or NormalizeNorm
	Center     bool   // one-hot targets minus 1/k (OneHot)
}

// CheckNormalize checks the name of a normalization.
func CheckNormalize(name string) error {
	switch name {
	case "", NormalizeGlobal, NormalizeNorm:
		return nil
	}
	return fmt.Errorf("normalize %q: want %s or %s", name, NormalizeGlobal, NormalizeNorm)
}

// Training is the data PrepareTraining returns.
type Training struct {
	Train, Test   *Set       // the prepared subsets; Test is nil without a test set
	YTrain, YTest *mat.Dense // their one-hot targets; YTest is nil without a test set
}

// PrepareTraining prepares the data the experiments and the train command
// train and predict on, in this order: class-balanced seeded subsets of
// p.NTrain training examples (seed p.Seed) and p.NTest test examples (seed
// p.Seed+1), see Set.Subset; grayscale and block-averaging if asked for;
// normalization, by default the global standardization
//
//	X' = (X - mean) / std,   mean, std over all values of the training subset,
//
// applied to both subsets (the test subset never informs its own
// normalization); and one-hot targets Y[i, j] = [label_i == j] (minus 1/k
// when centred). The splits are left unchanged.
func PrepareTraining(train, test Subsetter, p Preparation) (Training, error) {
	var d Training
	if train == nil || (p.NTest > 0 && test == nil) {
		return d, errors.New("prepare: a split is missing")
	}
	if p.NTest < 0 {
		return d, fmt.Errorf("test subset size %d: want 0 (none) or more", p.NTest)
	}
	if err := CheckNormalize(p.Normalize); err != nil {
		return d, err
	}
	tr, err := train.Subset(p.NTrain, false, p.Seed)
	if err != nil {
		return d, fmt.Errorf("training subset: %w", err)
	}
	var te *Set
	if p.NTest > 0 {
		if te, err = test.Subset(p.NTest, false, p.Seed+1); err != nil {
			return d, fmt.Errorf("test subset: %w", err)
		}
	}
	// each replaces the training subset and, if there is one, the test
	// subset by f of them.
	each := func(f func(*Set) (*Set, error)) error {
		if tr, err = f(tr); err != nil {
			return err
		}
		if te != nil {
			te, err = f(te)
		}
		return err
	}
	if p.Grayscale {
		tr = tr.Grayscale()
		if te != nil {
			te = te.Grayscale()
		}
	}
	if p.Downsample > 1 {
		if err := each(func(s *Set) (*Set, error) { return s.Downsample(p.Downsample) }); err != nil {
			return d, err
		}
	}
	if p.Normalize == NormalizeNorm {
		err = each((*Set).NormalizeNorm)
	} else {
		st := tr.Stats()
		err = each(func(s *Set) (*Set, error) { return s.StandardizeWith(st.Mean, st.Std) })
	}
	if err != nil {
		return d, err
	}
	d.Train, d.YTrain = tr, OneHot(tr.Labels, tr.Classes, p.Center)
	if te != nil {
		d.Test, d.YTest = te, OneHot(te.Labels, te.Classes, p.Center)
	}
	return d, nil
}
