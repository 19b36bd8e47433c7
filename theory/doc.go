// Package theory computes the infinite-width theory of the networks described
// by a spec.Spec: their NNGP and NTK kernels, the mean-field fixed points,
// phases and depth scales of deep fully connected networks, and the mean
// predictions of gradient descent on the mean squared error. It is pure
// gonum (no Gorgonia) and computes in float64 throughout: deep ordered-phase
// kernels are nearly singular, and their spectra and solves need every digit.
//
// # Conventions
//
// The conventions are those of Neural Tangents. Every affine layer, the first
// and the readout included, is in the NTK parameterization
// z = (sigma_w/sqrt(n_in)) W h + sigma_b b with W, b ~ N(0, 1), with the same
// variances sw2 = sigma_w^2 and sb2 = sigma_b^2. Depth L counts the
// nonlinearities phi, so a network has L+1 affine layers, the last a Dense
// readout with k logits. Kernels are per logit: the kernel of the k logits is
// K (x) I_k. The input kernel is K^0(x, x') = x.x'/d; for images it has one
// entry per pixel pair, summed over the channels and divided by their count.
//
// # Kernel recursions
//
// With T(K) = E[phi(u) phi(v)] and Tdot(K) = E[phi'(u) phi'(v)] for
// (u, v) ~ N(0, [[K11, K12], [K12, K22]]), applied entry by entry with K11,
// K22 the variances of the two inputs of the entry, a fully connected network
// (fcn) has
//
//	K^1 = sw2 K^0 + sb2,             Theta^1 = K^1
//	K^{l+1} = sw2 T(K^l) + sb2,       Theta^{l+1} = K^{l+1} + sw2 Tdot(K^l) Theta^l
//
// (entrywise products), and its NNGP and NTK are K^{L+1} and Theta^{L+1}.
// T = E[phi(u) phi(v)] and Tdot = E[phi'(u) phi'(v)] come from the
// nonlinearity's one description in package activation (phi, phi' and,
// when they exist, closed forms of T and Tdot); the erf and relu closed
// forms are also inlined, with per-example constants, into the kernel
// loops, which select them by the description. erf and relu have closed forms, erf
// (Williams 1997)
//
//	T = (2/pi) asin(2 K12 / sqrt((1+2 K11)(1+2 K22)))
//	Tdot = (4/pi) / sqrt((1+2 K11)(1+2 K22) - 4 K12^2)
//
// and relu (the arc-cosine kernel of Cho and Saul 2009), with
// theta = arccos(K12 / sqrt(K11 K22)),
//
//	T = sqrt(K11 K22)/(2 pi) (sin theta + (pi - theta) cos theta)
//	Tdot = (pi - theta)/(2 pi).
//
// Any other phi (tanh) is integrated by 2-D quadrature through the Cholesky
// factor of the 2x2 covariance, by default with the trapezoidal strip rule
// (NewStripQuadrature, TanhStrip; errors near 1e-13 at any variance), or
// with a fixed Gauss-Hermite rule (NewQuadrature, HermiteQuadrature), which
// is approximate for tanh. Kernels tabulate the expectations per layer: over
// the correlation when all variances agree, else over pairs of variances and
// the correlation (checked against direct quadrature as it is built). relu
// is never integrated: its kink limits quadrature to about 1e-3.
//
// Convolutional networks (cnn-f, cnn-gap; stride 1, f x f filters) carry one
// covariance per pixel pair (a, a'). A convolution averages along the filter
// window,
//
//	A(S)[a, a'] = (1/f^2) sum_{b in window} S[a+b, a'+b]
//
// (zero outside the image for SAME padding; VALID shrinks the image), so
//
//	K^1 = sw2 A(K^0) + sb2,
//	K^{l+1} = sw2 A(T(K^l)) + sb2,    Theta^{l+1} = K^{l+1} + sw2 A(Tdot(K^l) Theta^l).
//
// At the readout a reduction R over the pixels takes the place of A: Flatten
// (cnn-f) averages the spatial diagonal, R(S) = (1/d) sum_a S[a, a], and
// global average pooling (cnn-gap) all pixel pairs,
// R(S) = (1/d^2) sum_{a,a'} S[a, a'], d being the number of pixels. cnn-f
// therefore needs only the per-pixel covariances, O(N^2 d) per layer, and
// cnn-gap the full O(N^2 d^2) tensor, which Compute streams pair by pair
// within Options.MemLimit (see EstimateBytes).
//
// # Mean field, phases and depth scales
//
// For a deep fcn, q* is the fixed point of the variance map
// q -> sw2 T(q, q, q) + sb2 and c* the stable fixed point of the correlation
// map c -> (sw2 T(q*, c q*, q*) + sb2)/q*. Their slopes
//
//	chi_1 = sw2 Tdot(q*, q*, q*),    chi_c* = sw2 Tdot(q*, c* q*, q*)
//
// set the phase and the depth scales (SolveMeanField):
//
//   - ordered, chi_1 < 1: c* = 1 and Theta^l -> p* 11^T with
//     p* = q*/(1 - chi_1); the condition number lambda_max/lambda_min grows
//     like 1/(l chi_1^l), so networks deeper than a few
//     xi_1 = -1/ln chi_1 layers do not train, while the mean predictor stays
//     data dependent;
//   - chaotic, chi_1 > 1: c* < 1, the diagonal grows like chi_1^l and the
//     condition number tends to 1 (trainable), but the data-dependent part
//     of the converged test prediction Theta_td Theta^-1 y decays like
//     l (chi_c*/chi_1)^l, so networks deeper than a few
//     xi_* = -1/(ln chi_c* - ln chi_1) layers memorize and do not generalize;
//   - critical, chi_1 = 1 (within CriticalTol; CriticalSW2 finds the line):
//     for smooth phi Theta^l ~ (l q*/3)(2I + 11^T), and the condition number
//     stays bounded in depth.
//
// cnn-f behaves like the fcn; cnn-gap mixes all pixel pairs, and in the
// chaotic phase loses generalization roughly xi_* ln d layers later. For erf
// at sb2 = 0.05, sw2 = 1.25 is ordered (q* = 0.4352, chi_1 = 0.9614,
// xi_1 = 25.4) and sw2 = 1.5 chaotic (q* = 0.6018, c* = 0.8205,
// chi_1 = 1.0347, chi_c* = 0.9696, xi_* = 15.4); the critical sw2 at
// sb2 = 0.18 is about 1.748 for erf, and at sb2 = 0.05 about 1.76 for tanh.
//
// # Gradient descent
//
// Training minimizes the MSE (1/(2 N k)) sum (f - y)^2 over N training
// inputs and k logits. In the linearized (infinite-width) regime, with the
// per-logit train-train NTK Theta = V diag(lambda) V^T and the test-train NTK
// Theta_td, a Predictor evaluates
//
//	f_train(t) = y + V diag(g_t(lambda)) V^T (f_train(0) - y)
//	f_test(t)  = f_test(0) + Theta_td V diag((1 - g_t(lambda))/lambda) V^T (y - f_train(0))
//
// with g_t(lambda) = exp(-eta lambda t/(N k)) for gradient flow (Flow) and
// (1 - eta lambda/(N k))^t after t steps of size eta (Steps). Steps are
// stable for eta < eta_crit = 2 N k / lambda_max; experiments train at a
// fixed fraction of eta_crit, so time counts steps. The mean over
// initializations takes f(0) = 0. NNGPMean is the Gaussian-process posterior
// mean with the NNGP kernel.
package theory
