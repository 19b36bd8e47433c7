// Package linalg is the dense linear-algebra layer of ntkharness: matrix
// products, Cholesky factorizations, SPD solves and symmetric
// eigendecompositions in float64, on gonum's mat types. Kernels, spectra and
// predictions are always float64: deep ordered-phase kernels are nearly
// singular.
//
// # Backends
//
// The default build is pure Go: gonum's BLAS and LAPACK, except that
// EigenSym runs its own implicit-QL eigensolver, which applies the QL
// rotations to the eigenvectors in cache-sized batches streamed row by row
// over all cores (four to ten times faster than gonum's Dsyev at n = 1024),
// and that Gemm of large matrices runs as tiled dot products over all cores
// (up to twice gonum's Dgemm rate, and 17 times for A^T B^T).
//
// Built with the openblas tag (which the Makefile sets when pkg-config finds
// OpenBLAS and LAPACKE), every BLAS call made through gonum (this package's
// Gemm and Syrk, and all of gonum/mat) runs on OpenBLAS, and EigenSym calls
// LAPACKE's divide-and-conquer dsyevd through a small cgo shim. Backend
// reports which build is in use; the two agree to rounding (about 1e-13 on
// O(1) inputs).
//
// # Errors
//
// Dimension mismatches between arguments are programming errors and panic,
// as in gonum/mat. Faults of the data (a matrix that is not positive
// definite or is too ill-conditioned to solve with, NaN or Inf entries, a
// failed eigensolver) are returned as errors that wrap ErrNotPositiveDefinite
// or ErrNotFinite where they apply.
//
// All functions are safe for concurrent use on distinct outputs.
package linalg
