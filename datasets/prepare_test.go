package datasets

import (
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/ntkharness/ntkharness/npy"
)

func TestPrepareTraining(t *testing.T) {
	// Training split: four 1-pixel images 1, 2, 3, 4 of classes 0, 0, 1, 1;
	// the subset of 4 holds all of them, so the training mean is 2.5 and
	// the population standard deviation sqrt(1.25). Test split: 10 (class
	// 0) and 20 (class 1), standardized with the training mean and std.
	train, _ := FromArray(npy.Array{Shape: []int{4, 1}, Data: []float64{1, 2, 3, 4}}, []int{0, 0, 1, 1}, 2)
	test, _ := FromArray(npy.Array{Shape: []int{2, 1}, Data: []float64{10, 20}}, []int{0, 1}, 2)
	sd := math.Sqrt(1.25)
	wantTrain := map[int][]float64{0: {-1.5 / sd, -0.5 / sd}, 1: {0.5 / sd, 1.5 / sd}}
	wantTest := map[int]float64{0: 7.5 / sd, 1: 17.5 / sd}

	d, err := PrepareTraining(train, test, Preparation{NTrain: 4, NTest: 2, Seed: 3, Center: true})
	if err != nil {
		t.Fatal(err)
	}
	got := map[int][]float64{}
	for i, l := range d.Train.Labels {
		got[l] = append(got[l], d.Train.X[i])
		// Centred one-hot rows of two classes: 1/2 at the label, -1/2 elsewhere.
		if y := d.YTrain.RawRowView(i); y[l] != 0.5 || y[1-l] != -0.5 {
			t.Errorf("training target %d (label %d) = %v, want 0.5 at the label and -0.5", i, l, y)
		}
	}
	for c, want := range wantTrain {
		slices.Sort(got[c])
		if len(got[c]) != 2 || !veryClose(got[c][0], want[0]) || !veryClose(got[c][1], want[1]) {
			t.Errorf("class %d: standardized training values %v, want %v", c, got[c], want)
		}
	}
	for i, l := range d.Test.Labels {
		if !veryClose(d.Test.X[i], wantTest[l]) {
			t.Errorf("test example %d (label %d) = %v, want %v", i, l, d.Test.X[i], wantTest[l])
		}
		if y := d.YTest.RawRowView(i); y[l] != 0.5 {
			t.Errorf("test target %d = %v", i, y)
		}
	}
	if train.X[0] != 1 || test.X[0] != 10 {
		t.Error("the input sets were modified")
	}

	// The same seed gives the same data; no test set when NTest is 0.
	again, err := PrepareTraining(train, nil, Preparation{NTrain: 4, Seed: 3})
	if err != nil || again.Test != nil || again.YTest != nil {
		t.Fatalf("NTest 0: test %v, targets %v, err %v; want none", again.Test, again.YTest, err)
	}
	if !slices.Equal(again.Train.X, d.Train.X) || !slices.Equal(again.Train.Labels, d.Train.Labels) {
		t.Errorf("same seed, different data: %v %v and %v %v", again.Train.X, again.Train.Labels, d.Train.X, d.Train.Labels)
	}
	if y := again.YTrain.RawRowView(0); y[again.Train.Labels[0]] != 1 || slices.Min(y) != 0 {
		t.Errorf("uncentred target row %v", y)
	}
}

func TestPrepareTrainingSteps(t *testing.T) {
	// One 2x2 image with 2 channels per split, a single class. Grayscale
	// averages the channels, 2x downsampling the four pixels: image a
	// becomes the single value mean(1..8) = 4.5, image b the value 9. With
	// "norm" each 1-value image is scaled to norm sqrt(1) = 1.
	a := npy.Array{Shape: []int{1, 2, 2, 2}, Data: []float64{1, 2, 3, 4, 5, 6, 7, 8}}
	b := npy.Array{Shape: []int{1, 2, 2, 2}, Data: []float64{2, 4, 6, 8, 10, 12, 14, 16}}
	tr, _ := FromArray(a, []int{0}, 1)
	te, _ := FromArray(b, []int{0}, 1)
	d, err := PrepareTraining(tr, te, Preparation{NTrain: 1, NTest: 1, Grayscale: true, Downsample: 2, Normalize: NormalizeNorm})
	if err != nil {
		t.Fatal(err)
	}
	if d.Train.H != 1 || d.Train.W != 1 || d.Train.C != 1 || d.Train.X[0] != 1 || d.Test.X[0] != 1 {
		t.Errorf("prepared: train %dx%dx%d %v, test %v; want 1x1x1 [1] and [1]", d.Train.H, d.Train.W, d.Train.C, d.Train.X, d.Test.X)
	}
	// Without normalization by norm, a single training value has std 0:
	// global standardization must fail, naming the fault.
	if _, err := PrepareTraining(tr, te, Preparation{NTrain: 1, NTest: 1, Grayscale: true, Downsample: 2}); err == nil || !strings.Contains(err.Error(), "cannot standardize") {
		t.Errorf("constant training data: err %v, want cannot standardize", err)
	}

	tests := []struct {
		name string
		p    Preparation
		test Subsetter
		want string
	}{
		{"training subset too big", Preparation{NTrain: 2, NTest: 1}, te, "training subset: "},
		{"test subset too big", Preparation{NTrain: 1, NTest: 2}, te, "test subset: "},
		{"negative test size", Preparation{NTrain: 1, NTest: -1}, te, "test subset size -1"},
		{"no test split", Preparation{NTrain: 1, NTest: 1}, nil, "a split is missing"},
		{"bad factor", Preparation{NTrain: 1, NTest: 1, Downsample: 3}, te, "cannot downsample 2x2 images by 3"},
		{"bad normalization", Preparation{NTrain: 1, NTest: 1, Normalize: "zca"}, te, `normalize "zca"`},
	}
	for _, tt := range tests {
		if _, err := PrepareTraining(tr, tt.test, tt.p); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: err %v, want %q", tt.name, err, tt.want)
		}
	}
}
