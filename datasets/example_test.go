package datasets_test

import (
	"fmt"

	"github.com/ntkharness/ntkharness/datasets"
	"github.com/ntkharness/ntkharness/npy"
)

// Two 2x2 grayscale images, average-pooled by 2 and given centred one-hot
// targets over 3 classes.
func ExampleSet_Downsample() {
	x := npy.Array{Shape: []int{2, 2, 2, 1}, Data: []float64{0, 1, 2, 3, 4, 4, 4, 8}}
	s, err := datasets.FromArray(x, []int{2, 0}, 3)
	if err != nil {
		fmt.Println(err)
		return
	}
	d, _ := s.Downsample(2)
	fmt.Println(d.Array().Shape, d.X)
	y := d.OneHot(true)
	fmt.Printf("%v %.3f\n", y.Shape, y.Data)
	// Output:
	// [2 1 1 1] [1.5 5]
	// [2 3] [-0.333 -0.333 0.667 0.667 -0.333 -0.333]
}

// The paper's headline data: 256 CIFAR-10 training images, balanced over
// the classes, standardized by one global mean and standard deviation,
// flattened, with centred one-hot targets.
func ExampleLoad() {
	train, _, err := datasets.Load("cifar10", datasets.Options{CIFAR10: "cifar-10-binary.tar.gz"})
	if err != nil {
		fmt.Println(err)
		return
	}
	sub, err := train.Subset(256, false, 0)
	if err != nil {
		return
	}
	std, err := sub.Standardize()
	if err != nil {
		return
	}
	x, y := std.Flat(), std.OneHot(true)
	fmt.Println(x.Shape, y.Shape)
}
