//go:build openblas

package linalg

import (
	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"
	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/mat"
	"gonum.org/v1/netlib/blas/netlib"
)

const backend = "openblas"

// init routes every BLAS call made through gonum's blas64 (and so all of
// gonum/mat, including its native LAPACK) and blas32 (float32 networks)
// to OpenBLAS's CBLAS.
func init() {
	blas64.Use(netlib.Implementation{})
	blas32.Use(netlib.Implementation{})
}

func eigenSym(a mat.Symmetric, vectors bool) ([]float64, *mat.Dense, error) {
	return eigenSymLAPACKE(a, vectors)
}

func gemm(tA, tB bool, alpha float64, a, b blas64.General, beta float64, c blas64.General) {
	blas64.Gemm(trans(tA), trans(tB), alpha, a, b, beta, c)
}

func syrk(alpha float64, a blas64.General, beta float64, c blas64.Symmetric) {
	blas64.Syrk(blas.NoTrans, alpha, a, beta, c)
}
