package theory_test

import (
	"fmt"

	"github.com/ntkharness/ntkharness/npy"
	"github.com/ntkharness/ntkharness/spec"
	"github.com/ntkharness/ntkharness/theory"
)

// A depth-1 relu network on one input x = (1, 1), with sw2 = 2 and sb2 = 0:
// K^0 = x.x/2 = 1 and K^1 = sw2 K^0 = 2. At correlation 1, T = K/2 and
// Tdot = 1/2, so the readout gives NNGP = sw2 T(K^1) = 2 and
// NTK = NNGP + sw2 Tdot K^1 = 2 + 2 = 4.
func ExampleCompute() {
	s := spec.Spec{Arch: spec.FCN, Act: spec.ReLU, Depth: 1, SW2: 2, SB2: 0}
	x := npy.Array{Shape: []int{1, 2}, Data: []float64{1, 1}}
	k, err := theory.Compute(s, x, npy.Array{}, theory.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("NNGP %.12g, NTK %.12g\n", k.NNGP.At(0, 0), k.NTK.At(0, 0))
	// Output: NNGP 2, NTK 4
}

// Per-depth kernels from one pass: the erf NTK diagonal of a unit-variance
// input grows along the depth sweep.
func ExampleOptions_eachDepth() {
	s := spec.Spec{Arch: spec.FCN, Act: spec.Erf, Depth: 3, SW2: 1.5, SB2: 0.05}
	x := npy.Array{Shape: []int{1, 1}, Data: []float64{1}}
	var diag []float64
	_, err := theory.Compute(s, x, npy.Array{}, theory.Options{EachDepth: func(depth int, k theory.Kernels) {
		diag = append(diag, k.NTK.At(0, 0))
	}})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(len(diag), diag[0] < diag[1] && diag[1] < diag[2])
	// Output: 3 true
}
