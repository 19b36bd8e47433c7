//go:build !openblas

package linalg

import (
	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/mat"
)

const backend = "gonum"

func eigenSym(a mat.Symmetric, vectors bool) ([]float64, *mat.Dense, error) {
	return eigenSymQL(a, vectors)
}

func gemm(tA, tB bool, alpha float64, a, b blas64.General, beta float64, c blas64.General) {
	gemmGo(tA, tB, alpha, a, b, beta, c)
}

func syrk(alpha float64, a blas64.General, beta float64, c blas64.Symmetric) {
	blas64.Syrk(blas.NoTrans, alpha, a, beta, c)
}
