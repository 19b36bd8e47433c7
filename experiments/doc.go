// Package experiments defines the figures of the paper "Disentangling
// Trainability and Generalization in Deep Neural Networks" as data plus a
// runner. Each figure is computed by the science packages (theory, nets,
// train, ntkempirical, and the sweep cell kinds of package cells), returned
// as a plots.Figure with a caption computed from its data, and saved by
// Make into an output directory; plots draws, the command line only parses
// flags. One file holds one figure: its grid, its quick run, its paper-scale
// SweepPlan, its drawing and its caption.
//
// Every figure has a quick scale, sized for 2 cores in minutes, and (for the
// figures that support it) a paper scale with the paper's grids, run as
// sweeps of independent cells (package sweep).
//
// Conventions shared by the figures. Networks have L nonlinearities, weight
// variance sw2/fan_in and bias variance sb2; the mean field of such a
// network is ordered when chi_1 = sw2 E[phi'(z)^2] < 1 at the fixed point
// q* of the variance map and chaotic when chi_1 > 1. The depth scales are
// xi_1 = -1/log chi_1 (trainability: beyond about 8 xi_1 layers gradient
// descent fails to train in the ordered phase), xi_* = -1/log(chi_c*/chi_1)
// (generalization: beyond about 8 xi_* layers the chaotic NTK memorizes)
// and xi_c* = -1/log chi_c*. Every kernel and prediction is float64; every
// random draw comes from the run's seed, so the same Config gives the same
// numbers.
package experiments
