// Package cells holds the sweep cell kinds of the harness and the science
// they run. Importing it registers the kinds with package sweep; each reads
// its network from the cell's spec and its data from the cell's settings
// (DataSettings: class-balanced subsets drawn with the cell's seed,
// optionally grayscale and block-averaged, then standardized by the
// training subset's global mean and std or scaled to norm sqrt(dimension)),
// so a user's own sweep file can run them on any architecture the spec
// describes. Every kind has a cost model (time and memory) for scheduling.
//
// With the per-logit NTK Theta of the N training points, Theta_td between
// test and training points, one-hot targets Y (N x k) and the MSE loss
// (1/(2 N k)) sum (f - y)^2:
//
//   - "theory-gd": the analytic NTK of [x_train; x_test] in one kernel
//     computation, and the train and test accuracy of the infinite-width
//     predictor after t discrete gradient-descent steps of size
//     eta = eta_frac * eta_crit, eta_crit = 2 N k / lambda_max(Theta):
//     f_train(t) = Y - V (1 - eta lambda/(N k))^t V^T Y and
//     f_test(t) = Theta_td V ((1 - (1 - eta lambda/(N k))^t) / lambda) V^T Y
//     with Theta = V diag(lambda) V^T; optionally at t = infinity and at
//     every depth 1..L from the same recursion.
//   - "train": the finite network trained by full-batch gradient descent at
//     eta_frac * eta_crit (eta_crit from the analytic NTK): losses and
//     accuracies at the logged steps, and optionally the relative change
//     ||Theta_T - Theta_0||_F / ||Theta_0||_F of its empirical NTK. Cells
//     that differ only in sw2, sb2, eta_frac and init (the index of the
//     initialization on the same data) train as one ensemble, each member
//     on its own trajectory; optionally a member stops once its loss
//     changes by less than stop_rel_change of itself per step.
//   - "ntk": the mean empirical NTK K of several networks on the training
//     inputs: its mean diagonal and off-diagonal entries, lambda_max,
//     lambda_min and kappa = lambda_max/lambda_min (NTKStats), and
//     ||K - Theta||_F / ||Theta||_F against the analytic NTK.
//   - "pooling-theory": the test accuracy at every depth of the converged
//     predictor f = Theta_td Theta^-1 Y, and of its centred version (each
//     logit minus its mean over the test points).
//   - "dynamics": a trained network with its two linearizations,
//     f <- f - (eta/(N k)) Theta (f - y) from the network's own initial
//     outputs, with Theta its empirical NTK at initialization or the
//     analytic NTK, compared by their losses at the logged steps.
//
// Bad settings or specs are permanent errors (sweep.Permanent); data that
// cannot be read is a transient one (a cell never falls back from CIFAR-10
// to MNIST).
package cells
