// Package npy reads and writes float64 arrays in NumPy's .npy format,
// row-major (C order), with any number of dimensions, so that numpy users
// load the harness's kernels, spectra, predictions and datasets directly.
// Images are stored channels last, [N, H, W, C], as numpy users expect; an
// array seen as a matrix has one row per example (Rows).
//
// Writing always produces little-endian float64 ('<f8') in C order, and Save
// writes atomically. Reading accepts float64, float32 and integer files of
// either byte order and either memory order, and converts to float64 in C
// order. The header is checked against the data size before anything is
// allocated, so a corrupt or hostile file gives an error (naming the file,
// from Load), not a huge allocation.
package npy
