package nets

import (
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/ntkharness/ntkharness/spec"
)

// TestLogitFactors: the factors of all logits at once equal those of one
// LayerFactors pass per logit with the one-hot cotangent (the reference,
// itself checked against the Gorgonia graph), for every architecture and
// activation, in float64 (to 1e-13 of the largest value: only the order of
// the chain rule's products differs) and float32 (to 1e-5), for the
// members of a mixed ensemble with one inactive, for a Net, and with
// patch blocks small enough to split a convolution's rows.
func TestLogitFactors(t *testing.T) {
	old := convBlockRows
	defer func() { convBlockRows = old }()
	for _, blockRows := range []int{old, 5} {
		convBlockRows = blockRows
		for _, tc := range tinyCases() {
			for _, dt := range []string{spec.Float64, spec.Float32} {
				tol := 1e-13
				if dt == spec.Float32 {
					tol = 1e-5
				}
				s := tc.s
				s.DType = dt
				specs, rngs := ensembleOf(s, 3, 41)
				e, err := NewEnsemble(specs, tc.inShape, rngs)
				if err != nil {
					t.Fatal(err)
				}
				const B = 3
				x := randInput(rand.New(rand.NewPCG(7, 8)), B, tc.inShape)
				k := e.Outputs()
				layers := e.Layers(0)
				alloc := func(c int) (in, d []*mat.Dense) {
					for _, ly := range layers {
						in = append(in, mat.NewDense(B*ly.Positions, ly.FanIn, nil))
						d = append(d, mat.NewDense(B*c*ly.Positions, ly.FanOut, nil))
					}
					return in, d
				}
				for _, r := range [][2]int{{0, k}, {1, k}} {
					a0, a1 := r[0], r[1]
					c := a1 - a0
					inputs, deltas := make([][]*mat.Dense, 3), make([][]*mat.Dense, 3)
					for m := range inputs {
						inputs[m], deltas[m] = alloc(c)
					}
					if err := e.LogitFactors(x, a0, a1, []bool{true, false, true}, inputs, deltas); err != nil {
						t.Fatal(err)
					}
					net := e.Member(0)
					nIn, nD := alloc(c)
					if err := net.LogitFactors(x, a0, a1, nIn, nD); err != nil {
						t.Fatal(err)
					}
					for m := range specs {
						for a := a0; a < a1; a++ {
							wantIn, wantD := alloc(1)
							active := []bool{m == 0, m == 1, m == 2}
							cot := mat.NewDense(B, k, nil)
							for i := 0; i < B; i++ {
								cot.Set(i, a, 1)
							}
							ins, ds := make([][]*mat.Dense, 3), make([][]*mat.Dense, 3)
							ins[m], ds[m] = wantIn, wantD
							if err := e.LayerFactors(x, cot, active, ins, ds); err != nil {
								t.Fatal(err)
							}
							for l, ly := range layers {
								p := ly.Positions
								if m == 1 {
									if mat.Norm(deltas[1][l], 1) != 0 || mat.Norm(inputs[1][l], 1) != 0 {
										t.Fatalf("%s: inactive member written", tc.name)
									}
									continue
								}
								got := []*mat.Dense{inputs[m][l]}
								if m == 0 {
									got = append(got, nIn[l])
								}
								for _, g := range got {
									if d := maxDiff(g, wantIn[l]); d > tol {
										t.Errorf("%s %s member %d layer %d: inputs differ by %.3g", tc.name, dt, m, l, d)
									}
								}
								// Rows (i, a, p) of the deltas.
								for i := 0; i < B; i++ {
									want := wantD[l].Slice(i*p, (i+1)*p, 0, ly.FanOut).(*mat.Dense)
									r0 := (i*c + a - a0) * p
									got := []*mat.Dense{deltas[m][l].Slice(r0, r0+p, 0, ly.FanOut).(*mat.Dense)}
									if m == 0 {
										got = append(got, nD[l].Slice(r0, r0+p, 0, ly.FanOut).(*mat.Dense))
									}
									for _, g := range got {
										if d := maxDiff(g, want) / math.Max(mat.Norm(wantD[l], math.Inf(1)), 1e-300); d > tol {
											t.Errorf("%s %s (block rows %d) member %d logit %d layer %d example %d: deltas differ by %.3g", tc.name, dt, blockRows, m, a, l, i, d)
										}
									}
								}
							}
						}
					}
					net.Close()
				}
				e.Close()
			}
		}
	}
}

// maxDiff returns max |a - b| over the entries.
func maxDiff(a, b *mat.Dense) float64 {
	r, c := b.Dims()
	d := 0.0
	for i := 0; i < r; i++ {
		for j := 0; j < c; j++ {
			d = math.Max(d, math.Abs(a.At(i, j)-b.At(i, j)))
		}
	}
	return d
}
