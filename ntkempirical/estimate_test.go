package ntkempirical

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/ntkharness/ntkharness/nets"
	"github.com/ntkharness/ntkharness/npy"
	"github.com/ntkharness/ntkharness/spec"
)

// TestEstimateMemory: the plan from the spec alone is the one Compute
// makes with the network built, and Mean refuses a network too large for
// the budget before allocating it.
func TestEstimateMemory(t *testing.T) {
	s := spec.Spec{Arch: spec.FCN, Act: spec.Erf, Depth: 2, Width: 64, SW2: 1, SB2: 0.1}
	x := npy.New(5, 7)
	for i := range x.Data {
		x.Data[i] = float64(i%11) - 5
	}
	for _, m := range []Method{Structured, Jacobian} {
		net, err := nets.New(s, []int{7}, rand.New(rand.NewPCG(1, 2)))
		if err != nil {
			t.Fatal(err)
		}
		est, err := EstimateMemory(s, []int{7}, 5, 0, Options{Method: m})
		if err != nil || est <= 0 {
			t.Fatalf("%s: estimate %d, %v", m, est, err)
		}
		// Below the estimate the plan shrinks (fewer logits per pass,
		// smaller blocks) until nothing fits, and then both refuse it
		// with the same error.
		if m == Structured {
			for b := est; ; {
				opt := Options{Method: m, MaxMemory: b - 1}
				e, errE := EstimateMemory(s, []int{7}, 5, 0, opt)
				_, errC := Compute(net, x, npy.Array{}, opt)
				if errE != nil || errC != nil {
					if errE == nil || errC == nil || errE.Error() != errC.Error() {
						t.Errorf("budget %d: EstimateMemory %v, Compute %v", b-1, errE, errC)
					}
					break
				}
				if e >= b {
					t.Fatalf("budget %d: plan of %d bytes", b-1, e)
				}
				if _, err := Compute(net, x, npy.Array{}, Options{Method: m, MaxMemory: e}); err != nil {
					t.Errorf("budget at the estimate %d: %v", e, err)
				}
				b = e
			}
		}
		net.Close()
	}
	// 10^10 hidden weights: refused from the shapes.
	big := s
	big.Width = 100000
	if _, err := Mean(big, []int{7}, x, npy.Array{}, 1, 2, Options{}); err == nil || !strings.Contains(err.Error(), "over the memory budget") {
		t.Errorf("width 100000: %v, want a refusal over the memory budget", err)
	}
}
