// Package ntkempirical computes the empirical neural tangent kernel of a
// finite network from package nets,
//
//	Theta_ab(x, x') = sum_theta  d f_a(x)/d theta  d f_b(x')/d theta,
//
// that is J(x) J(x')^T for the Jacobian J = d f / d theta of the k logits
// with respect to all parameters, its spectrum, and its distance to the
// infinite-width kernel of package theory. Kernels are float64. For a
// float32 network (spec dtype float32) the structured method computes the
// layer factors in float32 and contracts them in float64: the kernel agrees
// with the float64 network's to about sum_l (n_in_l + 16) 2^-24 relative
// (measured: 5e-7 at depth 10), far above float64 rounding, so its small
// eigenvalues (below about 1e-6 lambda_max) are noise. The Jacobian method
// runs float64 Gorgonia graphs and refuses float32 networks.
//
// # Methods
//
// Two methods give the same kernel (to rounding). Jacobian, the reference,
// contracts whole per-example, per-logit parameter gradients from Gorgonia's
// reverse mode. Structured, the default, contracts per-layer factors: for an
// affine layer z = s_w H W + s_b b with layer inputs H (one row per example,
// or per example and output position for a convolution) and deltas
// Delta = d f_a / d z, from one backward pass of the one-hot cotangents of
// all logits together,
//
//	Theta^l_{(i,a),(j,b)} = sum_{p,q} (s_w^2 <H_i[p], H_j[q]> + s_b^2) <Delta^a_i[p], Delta^b_j[q]>,
//
// with s_w^2 = sw2/n_in and s_b^2 = sb2; for dense layers (one position)
// this is [(sw2/n_in) H H^T + sb2] .* (Delta Delta^T). Theta is the sum over
// layers. Both bound the arrays they hold at once by Options.MaxMemory and
// refuse a plan that cannot fit.
//
// # Conventions
//
// The logit-traced kernel (1/k) sum_a Theta_aa is Neural Tangents' default
// and the one compared with theory's per-logit kernel (at infinite width
// Theta = Theta_per_logit (x) I_k); the full Nk x Nk kernel is indexed
// (i*k + a, j*k + b).
//
// Initialization m of base seed S is drawn from PCG(S + m, nets.InitStream)
// (nets.InitSource), the stream training uses, so sample 0 is the network
// training starts from with the same seed.
//
// # Around the kernel
//
// Mean averages the kernels of independent seeded initializations, whose
// mean converges to the analytic NTK (CompareTheory puts it next to
// theory.Compute) with a relative Frobenius error that shrinks like
// width^-1/2; KernelChange measures ||Theta_T - Theta_0||_F / ||Theta_0||_F
// between an initial and a trained network; Eigenvalues and LambdaMaxLanczos
// give lambda_min, lambda_max and the condition number
// kappa = lambda_max / lambda_min of any symmetric kernel, empirical or
// analytic.
package ntkempirical
