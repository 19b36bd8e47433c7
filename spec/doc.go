// Package spec holds the architecture description shared by the finite
// networks (package nets), their empirical kernels (package ntkempirical) and
// the infinite-width theory (package theory). It imports neither Gorgonia nor
// any of those packages.
//
// A Spec is plain data, read and written as JSON. The same value drives all
// three, so theory and experiment compare like with like by construction.
// Depth L counts the nonlinearities:
//
//	fcn:     Dense -> [phi -> Dense] x (L-1) -> phi -> Dense(readout, k outputs)
//	cnn-f:   Conv  -> [phi -> Conv ] x (L-1) -> phi -> Flatten       -> Dense(readout)
//	cnn-gap: Conv  -> [phi -> Conv ] x (L-1) -> phi -> GlobalAvgPool -> Dense(readout)
//
// Every layer, the first and the readout included, is in the NTK
// parameterization z = (sigma_w/sqrt(n_in)) W h + sigma_b b with W, b ~ N(0, 1),
// and uses the same variances SW2 = sigma_w^2 and SB2 = sigma_b^2. For a
// convolution (stride 1, f x f filter) n_in = C_in f f.
//
// The fields are arch (fcn, cnn-f, cnn-gap), act (erf, relu, tanh), depth
// (>= 1), width (hidden units or channels; 0 for theory only), sw2 (> 0), sb2
// (>= 0), filter (odd, CNNs only; default 3), padding (SAME, the default, or
// VALID; CNNs only), outputs (the logits k; default 10) and dtype (float64,
// the default, or float32: the finite network's parameters, activations and
// products in float32; losses, metrics and every kernel, spectrum and
// prediction stay float64).
// Validate rejects what no network or kernel can have, with an error naming
// the field and the fault; ValidateFinite also requires a width; Load
// rejects unknown JSON fields.
package spec
