package ntkempirical

import (
	"fmt"
	"slices"

	"github.com/ntkharness/ntkharness/nets"
	"github.com/ntkharness/ntkharness/npy"
)

// Change is the empirical NTK of a trained network compared with the one at
// its initialization.
type Change struct {
	Initial, Trained Kernel
	// Relative is ||Theta_T - Theta_0||_F / ||Theta_0||_F of the traced
	// kernels. It is O(1/sqrt(width)) in the NTK parameterization (lazy
	// training) and O(1) when the features move.
	Relative float64
}

// KernelChange computes the kernels of the initial and the trained network
// (the same architecture and input shape, e.g. both read with nets.Load from
// folders written by training) on x1, x2 (x2.Data == nil means x2 = x1) and
// their relative Frobenius distance.
func KernelChange(initial, trained *nets.Net, x1, x2 npy.Array, opt Options) (Change, error) {
	if initial == nil || trained == nil {
		return Change{}, fmt.Errorf("ntkempirical: kernel change needs both networks")
	}
	if initial.Spec() != trained.Spec() {
		return Change{}, fmt.Errorf("ntkempirical: initial network %+v and trained network %+v have different specs", initial.Spec(), trained.Spec())
	}
	if !slices.Equal(initial.InputShape(), trained.InputShape()) {
		return Change{}, fmt.Errorf("ntkempirical: initial network takes inputs %v, trained network %v", initial.InputShape(), trained.InputShape())
	}
	var c Change
	var err error
	if c.Initial, err = Compute(initial, x1, x2, opt); err != nil {
		return Change{}, fmt.Errorf("initial network: %w", err)
	}
	if c.Trained, err = Compute(trained, x1, x2, opt); err != nil {
		return Change{}, fmt.Errorf("trained network: %w", err)
	}
	if c.Relative, err = RelativeFrobenius(c.Trained.NTK, c.Initial.NTK); err != nil {
		return Change{}, err
	}
	return c, nil
}
