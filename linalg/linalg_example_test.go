package linalg_test

import (
	"errors"
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"

	"github.com/ntkharness/ntkharness/linalg"
)

func ExampleSolveSPD() {
	// [[4 2] [2 3]] x = [2 1] has the solution x = [0.5 0].
	a := mat.NewSymDense(2, []float64{4, 2, 2, 3})
	b := mat.NewDense(2, 1, []float64{2, 1})
	x, err := linalg.SolveSPD(a, b)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("x = [%.4f %.4f]\n", x.At(0, 0), x.At(1, 0))

	// An indefinite matrix is an error, not a panic.
	_, err = linalg.SolveSPD(mat.NewSymDense(2, []float64{1, 2, 2, 1}), b)
	fmt.Println(errors.Is(err, linalg.ErrNotPositiveDefinite))
	// Output:
	// x = [0.5000 0.0000]
	// true
}

func ExampleGemm() {
	// C = 2 A^T B + C.
	a := mat.NewDense(2, 2, []float64{1, 2, 3, 4})
	b := mat.NewDense(2, 1, []float64{1, 1})
	c := mat.NewDense(2, 1, []float64{10, 20})
	linalg.Gemm(true, false, 2, a, b, 1, c)
	fmt.Println(mat.Formatted(c.T()))
	// Output:
	// [18  32]
}

func ExampleEigenSym() {
	// The path graph Laplacian on 3 vertices has spectrum {0, 1, 3}.
	a := mat.NewSymDense(3, []float64{
		1, -1, 0,
		-1, 2, -1,
		0, -1, 1,
	})
	values, vecs, err := linalg.EigenSym(a, true)
	if err != nil {
		fmt.Println(err)
		return
	}
	for j, l := range values {
		// Eigenvectors are determined up to sign; print |v|.
		fmt.Printf("%.6f: |v| = [%.4f %.4f %.4f]\n", math.Abs(l), math.Abs(vecs.At(0, j)), math.Abs(vecs.At(1, j)), math.Abs(vecs.At(2, j)))
	}
	// Output:
	// 0.000000: |v| = [0.5774 0.5774 0.5774]
	// 1.000000: |v| = [0.7071 0.0000 0.7071]
	// 3.000000: |v| = [0.4082 0.8165 0.4082]
}
