package ntkempirical

import (
	"fmt"

	"gonum.org/v1/gonum/mat"

	"github.com/ntkharness/ntkharness/npy"
	"github.com/ntkharness/ntkharness/spec"
	"github.com/ntkharness/ntkharness/theory"
)

// Comparison is a mean empirical NTK next to the analytic one.
type Comparison struct {
	Empirical *mat.Dense // mean traced empirical NTK over the initializations
	Full      *mat.Dense // mean full Nk x Nk empirical NTK; nil unless Options.Full
	Analytic  *mat.Dense // theory's per-logit NTK for the same Spec (width ignored)
	// Relative is ||Empirical - Analytic||_F / ||Analytic||_F; it shrinks
	// like (width * samples)^-1/2 plus an O(1/width) bias.
	Relative float64
}

// CompareTheory averages the empirical NTKs of `samples` initializations of
// s (see Mean) and compares the mean with theory.Compute for the same Spec
// on the same inputs (x2.Data == nil means x2 = x1).
func CompareTheory(s spec.Spec, inShape []int, x1, x2 npy.Array, seed uint64, samples int, opt Options, topt theory.Options) (Comparison, error) {
	emp, err := Mean(s, inShape, x1, x2, seed, samples, opt)
	if err != nil {
		return Comparison{}, err
	}
	th, err := theory.Compute(s, x1, x2, topt)
	if err != nil {
		return Comparison{}, fmt.Errorf("ntkempirical: analytic kernel: %w", err)
	}
	rel, err := RelativeFrobenius(emp.NTK, th.NTK)
	if err != nil {
		return Comparison{}, err
	}
	return Comparison{Empirical: emp.NTK, Full: emp.Full, Analytic: th.NTK, Relative: rel}, nil
}
