// Package reference holds the independent reference values that the tests
// check against. They are golden values: they come from closed forms or
// from computations outside the project, never from the code under test, and
// must never be regenerated from the project's own code.
//
// Kernels (used by the tests of theory, nets and ntkempirical): per-logit
// NNGP and NTK for fcn, cnn-f and cnn-gap with a Dense readout, computed
// outside the project by a float64 implementation of the conventions of
// package theory that agrees with Neural Tangents 0.6.6 to about 1e-15 (tanh
// by 61-point Gauss-Hermite quadrature).
//
// Predictions (used by the tests of theory and the predict command): the
// linearized gradient-descent outputs of a 5-point training / 2-point test
// NTK with k = 3 outputs at step size 0.5 eta_crit, under gradient flow and
// discrete steps, from zero initial outputs.
package reference
