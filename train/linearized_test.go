package train

import (
	"context"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/ntkharness/ntkharness/nets"
	"github.com/ntkharness/ntkharness/npy"
	"github.com/ntkharness/ntkharness/ntkempirical"
	"github.com/ntkharness/ntkharness/spec"
)

// TestFollowsEmpiricalLinearization trains a wide network for 5 full-batch
// steps and compares its outputs with the linearized dynamics driven by its
// own empirical NTK at initialization, as Neural Tangents tests it:
//
//	vec f_{t+1} = vec f_t - (eta/(N k)) Theta_full (vec f_t - vec y),
//
// with Theta_full the N k x N k kernel. The outputs must agree to 1e-2
// (relative Frobenius); the nonlinear correction shrinks like width^-1/2, and
// at width 1024 it is a few 1e-3 here. The movement f_5 - f_0 must itself be
// large compared with the tolerance, or the check would be empty.
func TestFollowsEmpiricalLinearization(t *testing.T) {
	const n, d, k, steps = 8, 12, 3, 5
	data := toyData(11, n, 2, d, k)
	s := spec.Spec{Arch: spec.FCN, Act: spec.Erf, Depth: 2, Width: 1024, SW2: 1.5, SB2: 0.05, Outputs: k}
	net, err := nets.New(s, []int{d}, rand.New(rand.NewPCG(3, 4)))
	if err != nil {
		t.Fatal(err)
	}
	f0, err := net.Forward(data.XTrain)
	if err != nil {
		t.Fatal(err)
	}
	kern, err := ntkempirical.Compute(net, data.XTrain, npy.Array{}, ntkempirical.Options{Full: true})
	if err != nil {
		t.Fatal(err)
	}
	var eig mat.EigenSym
	if !eig.Factorize(mat.NewSymDense(n*k, kern.Full.RawMatrix().Data), false) {
		t.Fatal("eigendecomposition failed")
	}
	vals := eig.Values(nil)
	eta := 0.5 * 2 * float64(n*k) / vals[len(vals)-1] // half of eta_crit

	// Linearized prediction, in the row-major vec order (i*k + a) of Full.
	f := mat.NewVecDense(n*k, append([]float64(nil), f0.RawMatrix().Data...))
	y := mat.NewVecDense(n*k, data.YTrain.RawMatrix().Data)
	r := mat.NewVecDense(n*k, nil)
	step := mat.NewVecDense(n*k, nil)
	for range steps {
		r.SubVec(f, y)
		step.MulVec(kern.Full, r)
		f.AddScaledVec(f, -eta/float64(n*k), step)
	}

	if _, err := Run(context.Background(), net, Data{XTrain: data.XTrain, YTrain: data.YTrain}, Options{Steps: steps, LR: eta}, nil); err != nil {
		t.Fatal(err)
	}
	fT, err := net.Forward(data.XTrain)
	if err != nil {
		t.Fatal(err)
	}
	got := mat.NewVecDense(n*k, fT.RawMatrix().Data)
	var diff, moved mat.VecDense
	diff.SubVec(got, f)
	moved.SubVec(got, mat.NewVecDense(n*k, f0.RawMatrix().Data))
	rel := mat.Norm(&diff, 2) / mat.Norm(got, 2)
	t.Logf("relative deviation from the linearization %.2e, movement %.3f of the outputs", rel, mat.Norm(&moved, 2)/mat.Norm(got, 2))
	if rel > 1e-2 {
		t.Errorf("trained outputs deviate from the empirical-NTK linearization by %.3e, want <= 1e-2", rel)
	}
	if mat.Norm(&moved, 2) < 10*1e-2*mat.Norm(got, 2) {
		t.Errorf("outputs moved only %.3e: the comparison would not test anything", mat.Norm(&moved, 2))
	}
}
