package nets

import (
	"testing"

	"github.com/ntkharness/ntkharness/spec"
)

// TestForwardFLOPs checks the count against 2 fan_in fan_out per output
// position, summed by hand over the layers.
func TestForwardFLOPs(t *testing.T) {
	tests := []struct {
		name    string
		s       spec.Spec
		inShape []int
		want    float64
	}{
		// 10 -> 20 -> 20 -> 3: 2 (200 + 400 + 60)
		{"fcn", spec.Spec{Arch: spec.FCN, Act: spec.Erf, Depth: 2, Width: 20, SW2: 1, SB2: 0.1, Outputs: 3}, []int{10}, 1320},
		// conv 3x3, 1 -> 2 channels at 16 positions: 2*16*9*2; flatten
		// 4*4*2 = 32 -> 3: 2*32*3.
		{"cnn-f", spec.Spec{Arch: spec.CNNF, Act: spec.Erf, Depth: 1, Width: 2, SW2: 1, SB2: 0.1, Outputs: 3, Filter: 3, Padding: spec.Same}, []int{4, 4, 1}, 576 + 192},
		// the same conv; pooled 2 -> 3: 2*2*3.
		{"cnn-gap", spec.Spec{Arch: spec.CNNGAP, Act: spec.Erf, Depth: 1, Width: 2, SW2: 1, SB2: 0.1, Outputs: 3, Filter: 3, Padding: spec.Same}, []int{4, 4, 1}, 576 + 12},
	}
	for _, tc := range tests {
		got, err := ForwardFLOPs(tc.s.WithDefaults(), tc.inShape)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if got != tc.want {
			t.Errorf("%s: %g FLOPs, want %g", tc.name, got, tc.want)
		}
	}
	if _, err := ForwardFLOPs(spec.Spec{Arch: spec.CNNF, Act: spec.Erf, Depth: 1, Width: 2, SW2: 1, Outputs: 3}.WithDefaults(), []int{10}); err == nil {
		t.Error("a cnn on flat inputs gave no error")
	}
}
