// Command ntkharness trains wide networks, computes their empirical and
// analytic neural tangent kernels, and draws the figures of "Disentangling
// Trainability and Generalization in Deep Neural Networks" (Xiao, Pennington,
// Schoenholz, 2020) with theory and training side by side. It is thin: it
// turns flags into a call of a library package and writes the result (.npy
// arrays, JSON or CSV tables, PNG/SVG/PDF figures), every file atomically.
//
// Usage:
//
//	ntkharness COMMAND [flags]
//	ntkharness COMMAND --help
//
// The commands:
//
//	data info         sizes, image shape, class counts and pixel statistics of a dataset
//	data export       a preprocessed subset of a dataset as .npy files
//	kernel            analytic (infinite-width) NNGP and NTK between input arrays
//	meanfield         mean-field fixed points, depth scales and phase, or the critical sw2
//	predict           mean predictions of gradient descent on MSE from NTK files (infinite width)
//	ntk               empirical NTK of a finite network (at initialization, averaged, or trained) and its spectrum
//	train             train a finite network by gradient descent and record its learning curves
//	sweep plan        list the cells of a sweep file, their count and estimated cost
//	sweep run         compute the cells of a sweep (all, one, a shard, or the cluster task)
//	sweep gather      assemble a sweep's cell results into one CSV and JSON table
//	sweep emit k8s    write a Kubernetes Indexed Job running a sweep
//	sweep emit slurm  write a Slurm job-array script running a sweep
//	figure            make one figure of the paper (or all) with its data and caption
//	report            make the figures and an HTML report over them (resumable)
//	version           print the module version and the linear-algebra backend
//
// Exit status: 0 on success (and after --help); 2 for a usage error (no
// command, an unknown command, a bad flag, argument or flag value); 1 for an
// error while running (a bad input file, a computation that fails, a plan
// too big for memory); and, for sweep run only, 3 when cells failed
// permanently, so that a cluster does not retry them. Errors are printed on
// one line on standard error, without a stack trace (set NTKHARNESS_DEBUG=1
// to get one from an internal error). Long commands show their progress;
// train and sweep run stop cleanly on an interrupt and resume from where
// they stopped.
//
// Each command lives in its own cmd_*.go file and registers itself in init.
package main
