// Package nets builds the finite networks described by a spec.Spec as
// Gorgonia graphs, in the NTK parameterization the infinite-width theory
// assumes, and exposes what training and empirical kernels need (outputs,
// loss gradients, per-layer inputs and deltas) through the small interface of
// Net rather than Gorgonia internals.
//
// # Parameterization and layouts
//
// Every affine layer l computes
//
//	z_l = (sigma_w / sqrt(n_in)) H_{l-1} W_l + sigma_b b_l,    W_l, b_l ~ N(0, 1) at initialization,
//
// where the rows of H_{l-1} are the layer inputs: one row per example for a
// dense layer (n_in = units), one row per example and output pixel for a
// convolution (the f x f x C_in patch around the pixel, zero padded for SAME;
// n_in = C_in f f). The trainable parameters are W_l and b_l themselves,
// and every layer, the first and the readout included, uses the spec's
// sw2 = sigma_w^2 and sb2 = sigma_b^2. Depth L counts the nonlinearities phi
// (erf, tanh or relu):
//
//	fcn:     Dense -> [phi -> Dense] x (L-1) -> phi -> Dense(readout, k outputs)
//	cnn-f:   Conv  -> [phi -> Conv ] x (L-1) -> phi -> Flatten       -> Dense(readout)
//	cnn-gap: Conv  -> [phi -> Conv ] x (L-1) -> phi -> GlobalAvgPool -> Dense(readout)
//
// Each phi is built from its one description in package activation: the
// layer applies its Phi (slice form Forward) and backpropagates through its
// phi' (slice form Chain), the same description whose Gaussian expectations
// package theory uses.
//
// Convolutions have stride 1. Inputs are [N, d] for fcn (any [N, ...] is
// flattened) and [N, H, W, C] channels last for the CNNs. Networks compute in
// float64 unless their spec says dtype float32 (see Precision).
//
// Parameters are stored as dense W [n_in, n_out] and b [n_out] and as conv
// W [f, f, C_in, C_out] (HWIO) and b [C_out], the layouts of Neural Tangents'
// stax, named w1, b1, ..., wL, bL for the hidden layers and w_out, b_out for
// the readout. Save writes them as NAME.npy beside spec.json and input.json.
//
// # Precision
//
// A float32 spec makes a float32 network: its parameters are the float64
// draws rounded to float32, and an Ensemble of float32 members holds its
// parameters, activations and gradients in float32, runs its products as
// float32 GEMMs (sgemm) and phi, phi' as the float32 forms of package
// activation (erf and tanh within 4.2e-7 and 3.9e-7, e^x within 6e-8
// relative). One layer with fan-in n then adds a relative error of at most
// about (n + 16) 2^-24 to the values it passes on, so at initialization a
// float32 network's outputs agree with its float64 twin's to about
// sum_l (n_l + 16) 2^-24 (in practice ten to a hundred times better, as
// rounding errors partly cancel); GD steps add their own rounding, which
// stable GD does not amplify. Inputs, targets, outputs, losses (summed in
// float64) and the gradients an Ensemble hands out are float64 at the
// boundary. A float32 Net keeps its float32 values in float64 slices (so
// Params, Save and Load work as for any Net) and runs Forward,
// LayerFactors and LogitFactors through a float32 one-member Ensemble;
// its Gorgonia graphs are float64 only, so LossGrad, Backward and
// JacobianRows refuse it: float32 networks train as an Ensemble. The
// members of one Ensemble share one dtype.
//
// # Gorgonia
//
// The graphs work around known faults of Gorgonia v0.9.18:
//
//   - A second Grad or Backpropagate on the same graph silently reuses the
//     first derivative nodes, so each graph (one per kind and batch size) is
//     differentiated once, with the cotangent an input node: one compiled
//     graph gives d(sum cot.f)/d theta for any cotangent.
//   - Grad differentiates only with respect to input nodes; the per-layer
//     deltas d f/d z_l come from Backpropagate with the pre-activations among
//     the nodes differentiated against.
//   - Graphs run on a TapeMachine (LispMachine.Reset does not rewind).
//   - Building graphs concurrently races, so construction happens under a
//     package-wide lock; running built graphs concurrently is safe.
//   - Gorgonia has no erf, its Sum and Mean over a middle axis of a 4-D
//     tensor give wrong values and gradients, AveragePool2D divides by the
//     input width and GlobalAveragePool2D has no gradient. The activations,
//     the layer products (convolution as im2col times the filter, with the
//     col2im adjoint) and global average pooling are therefore operations on
//     float64 matrices written in plain Go, each with its adjoint; the
//     gradients are checked against finite differences and the adjoints
//     against <A a, b> = <a, A^T b>.
//   - Built with the openblas tag, Gorgonia's own matrix products use
//     OpenBLAS too (BLASBackend). Gorgonia's CUDA path is not used.
//
// A Net is not safe for concurrent use.
package nets
