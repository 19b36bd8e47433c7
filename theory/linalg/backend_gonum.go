//go:build !openblas

package linalg

import "gonum.org/v1/gonum/mat"

const backend = "gonum"

func eigenSym(a mat.Symmetric, vectors bool) ([]float64, *mat.Dense, error) {
	return eigenSymQL(a, vectors)
}
