package sweep_test

import (
	"context"
	"fmt"
	"log"
	"os"

	"github.com/ntkharness/ntkharness/experiments/sweep"
)

// A kind is a function of the cell; here, the depth scale of the ordered
// phase of a toy map chi_1 = sw2/2.
func ExampleRegisterKind() {
	sweep.RegisterKind("example-depth-scale", func(ctx context.Context, c sweep.Cell) (sweep.Result, error) {
		chi := c.Spec.SW2 / 2
		if chi >= 1 {
			return sweep.Result{Status: sweep.StatusDiverged, Reason: "chaotic phase"}, nil
		}
		return sweep.Result{Scalars: map[string]float64{"chi": chi}}, nil
	})
	s, err := sweep.Parse([]byte(`{"spec": {"arch": "fcn", "act": "erf", "depth": 1, "sw2": 1, "sb2": 0},
		"grid": {"sw2": [0.5, 1, 3]}, "kinds": ["example-depth-scale"]}`))
	if err != nil {
		log.Fatal(err)
	}
	root, err := os.MkdirTemp("", "sweep-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(root)
	if _, err := s.Run(context.Background(), sweep.RunOptions{Results: root}); err != nil {
		log.Fatal(err)
	}
	t, err := sweep.Gather(s, root)
	if err != nil {
		log.Fatal(err)
	}
	for _, r := range t.Rows {
		chi, ok := r.Value("example-depth-scale.chi")
		fmt.Println(r.Params["sw2"], r.Status, chi, ok)
	}
	// Output:
	// 0.5 ok 0.25 true
	// 1 ok 0.5 true
	// 3 diverged 0 false
}
