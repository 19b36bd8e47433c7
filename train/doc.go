// Package train trains a nets.Net by gradient descent on the mean squared
// error over N examples and k logits,
//
//	L(theta) = (1/(2 N k)) sum_{i<N, j<k} (f_j(x_i; theta) - y_ij)^2,
//
// full batch (theta <- theta - eta grad L on all N examples, the gradient
// accumulated over chunks of examples when N is large) or by minibatch SGD
// (the same loss on B examples per step, batches drawn without replacement
// from a seeded permutation per epoch). Targets are one row of k values per
// example, typically one-hot labels; accuracy compares the argmax of f and y.
//
// # Step size
//
// The step size is absolute or a fraction of the critical step
//
//	eta_crit = 2 N k / lambda_max,
//
// where lambda_max is the largest eigenvalue of the per-logit NTK on the
// training inputs: the linearized dynamics f <- f - (eta/(N k)) Theta (f - y)
// are stable exactly when eta < eta_crit. lambda_max is analytic (a
// LambdaMaxFunc) or empirical (EmpiricalLambdaMax: power iteration on J^T J,
// with J^T v a backward pass and J u a central difference, since Gorgonia has
// no forward mode).
//
// # Records, divergence and checkpoints
//
// Train and test loss and accuracy are recorded at steps 0, 1, 2, 4, ...
// (powers of two) and at the last step. A run whose loss becomes NaN,
// infinite or more than BlowUp times (default 1e6) its initial value stops
// and is marked diverged; divergence is a result, not an error. Runs
// checkpoint atomically (the parameters as nets.Net.Save writes them and the
// History in state.json, swapped into place as one folder) and resume from
// the checkpoint; cancelling the context stops after the current step,
// saves a checkpoint and marks the run interrupted.
//
// # Ensembles and float32
//
// RunEnsemble trains the members of a nets.Ensemble in lock step, each on
// its own trajectory (not checkpointed). A float32 ensemble (spec dtype
// float32) trains in float32: parameters, passes and gradients in
// float32, each update computed in float64 and rounded once, losses and
// metrics in float64. Run, whose checkpoints hold a Net's float64
// Gorgonia graphs, refuses float32 networks; so does EmpiricalLambdaMax,
// which needs their backward pass (use the analytic lambda_max).
package train
