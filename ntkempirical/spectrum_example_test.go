package ntkempirical_test

import (
	"fmt"

	"gonum.org/v1/gonum/mat"

	"github.com/ntkharness/ntkharness/ntkempirical"
)

// The NTK of a smooth network on the critical line approaches
// c (2I + 11^T), whose eigenvalues are 2c (n-1 times) and c (n+2): kappa
// stays (n+2)/2 however deep the network.
func ExampleEigenvalues() {
	n, c := 4, 0.5
	k := mat.NewSymDense(n, nil)
	for i := 0; i < n; i++ {
		for j := i; j < n; j++ {
			v := c
			if i == j {
				v = 3 * c
			}
			k.SetSym(i, j, v)
		}
	}
	s, err := ntkempirical.Eigenvalues(k)
	if err != nil {
		fmt.Println(err)
		return
	}
	lmax, err := ntkempirical.LambdaMaxLanczos(k, ntkempirical.LanczosOptions{Seed: 1})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("eigenvalues %.3f\nkappa %.3f\nLanczos lambda_max %.3f\n", s.Values, s.Kappa, lmax)
	// Output:
	// eigenvalues [1.000 1.000 1.000 3.000]
	// kappa 3.000
	// Lanczos lambda_max 3.000
}
