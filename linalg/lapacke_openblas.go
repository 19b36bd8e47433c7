//go:build openblas

package linalg

/*
#cgo pkg-config: openblas lapacke
#include <lapacke.h>
*/
import "C"

import (
	"fmt"
	"unsafe"

	"gonum.org/v1/gonum/mat"
)

// maxLAPACKEDim keeps 1 + 6n + 2n^2 below 2^31.
const maxLAPACKEDim = 32000

// eigenSymLAPACKE computes the eigendecomposition of a symmetric matrix with
// LAPACKE_dsyevd (tridiagonal reduction, then divide and conquer).
//
// The upper triangle of a, copied row-major into buf, is the lower triangle
// of the same matrix read column-major, which is how it is passed. On return
// column-major buf holds the eigenvectors as its columns; they are transposed
// into a row-major Dense in place.
func eigenSymLAPACKE(a mat.Symmetric, vectors bool) ([]float64, *mat.Dense, error) {
	n := a.SymmetricDim()
	// dsyevd's workspace, 1 + 6n + 2n^2 doubles, is sized in 32-bit lapack_int.
	if n > maxLAPACKEDim {
		return nil, nil, fmt.Errorf("dimension %d exceeds the %d supported by 32-bit LAPACKE", n, maxLAPACKEDim)
	}
	buf := make([]float64, n*n)
	copyUpper(buf, a)
	w := make([]float64, n)
	jobz := C.char('N')
	if vectors {
		jobz = 'V'
	}
	info := C.LAPACKE_dsyevd(C.LAPACK_COL_MAJOR, jobz, C.char('L'), C.lapack_int(n),
		(*C.double)(unsafe.Pointer(&buf[0])), C.lapack_int(n), (*C.double)(unsafe.Pointer(&w[0])))
	switch {
	case info < 0:
		panic(fmt.Sprintf("linalg: LAPACKE_dsyevd: illegal argument %d", -info))
	case info > 0:
		return nil, nil, fmt.Errorf("eigensolver (LAPACKE dsyevd) did not converge (info %d)", info)
	}
	if !vectors {
		return w, nil, nil
	}
	transposeInPlace(buf, n)
	return w, mat.NewDense(n, n, buf), nil
}

// transposeInPlace transposes the n x n row-major a, swapping across the
// diagonal in cache blocks.
func transposeInPlace(a []float64, n int) {
	const bs = 64
	for i0 := 0; i0 < n; i0 += bs {
		i1 := min(i0+bs, n)
		for j0 := i0; j0 < n; j0 += bs {
			j1 := min(j0+bs, n)
			for i := i0; i < i1; i++ {
				for j := max(j0, i+1); j < j1; j++ {
					a[i*n+j], a[j*n+i] = a[j*n+i], a[i*n+j]
				}
			}
		}
	}
}
