package nets

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/ntkharness/ntkharness/internal/reference"

	"gonum.org/v1/gonum/mat"

	"github.com/ntkharness/ntkharness/npy"
	"github.com/ntkharness/ntkharness/spec"
)

// refCase is one of the independent reference kernels.
type refCase = reference.KernelCase

// TestEmpiricalNTKMatchesTheory checks the parameterization end to end:
// the empirical NTK J(x1) J(x2)^T of logit 0, averaged over independent
// initializations, must match the infinite-width reference NTK. Finite
// width adds fluctuations of order 1/sqrt(width) and a bias of order
// 1/width; the bound is 4 standard errors of the mean over seeds plus 3%
// of the kernel's scale for the bias. A wrong factor anywhere (sqrt(n_in),
// sigma_b, pooling, padding) shifts entries by far more.
func TestEmpiricalNTKMatchesTheory(t *testing.T) {
	if testing.Short() {
		t.Skip("Monte-Carlo kernel check skipped in -short mode")
	}
	cases, err := reference.KernelCases()
	if err != nil {
		t.Fatal(err)
	}
	const seeds = 6
	for ci, c := range cases {
		if c.Depth > 5 {
			continue // deep cases need far wider networks to converge
		}
		s := spec.Spec{Arch: c.Arch, Act: c.Act, Depth: c.Depth, SW2: c.SW2, SB2: c.SB2, Outputs: 1}
		width := 512
		if s.IsConv() {
			s.Filter, s.Padding, width = c.Filter, c.Padding, 128
		}
		s.Width = width
		t.Run(fmt.Sprintf("%d-%s-%s-L%d", ci, c.Arch, c.Act, c.Depth), func(t *testing.T) {
			x1 := npy.Array{Shape: c.X1Shape, Data: c.X1}
			x2 := x1
			if c.X2 != nil {
				x2 = npy.Array{Shape: c.X2Shape, Data: c.X2}
			}
			r, cc := len(c.NTK), len(c.NTK[0])
			sum := mat.NewDense(r, cc, nil)
			sum2 := mat.NewDense(r, cc, nil)
			for seed := uint64(0); seed < seeds; seed++ {
				n, err := New(s, c.X1Shape[1:], rand.New(rand.NewPCG(seed, 99)))
				if err != nil {
					t.Fatal(err)
				}
				j1, err := n.JacobianRows(x1, 0)
				if err != nil {
					t.Fatal(err)
				}
				j2, err := n.JacobianRows(x2, 0)
				if err != nil {
					t.Fatal(err)
				}
				var k mat.Dense
				k.Mul(j1, j2.T())
				for i := 0; i < r; i++ {
					for j := 0; j < cc; j++ {
						v := k.At(i, j)
						sum.Set(i, j, sum.At(i, j)+v)
						sum2.Set(i, j, sum2.At(i, j)+v*v)
					}
				}
			}
			scale := 0.0
			for i := range c.NTK {
				for _, v := range c.NTK[i] {
					scale = math.Max(scale, math.Abs(v))
				}
			}
			for i := 0; i < r; i++ {
				for j := 0; j < cc; j++ {
					mean := sum.At(i, j) / seeds
					variance := math.Max(0, sum2.At(i, j)/seeds-mean*mean) * seeds / (seeds - 1)
					se := math.Sqrt(variance / seeds)
					if d := math.Abs(mean - c.NTK[i][j]); d > 4*se+0.03*scale {
						t.Errorf("NTK[%d][%d]: empirical %.5g (se %.2g), theory %.5g", i, j, mean, se, c.NTK[i][j])
					}
				}
			}
		})
	}
}
