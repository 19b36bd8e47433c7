package theory_test

import (
	"fmt"
	"log"

	"gonum.org/v1/gonum/mat"

	"github.com/ntkharness/ntkharness/theory"
)

// The erf network at sb2 = 0.05: ordered at sw2 = 1.25 (q* = 0.4352,
// chi_1 = 0.9614, xi_1 = 25.4), chaotic at sw2 = 1.5 (xi_* = 15.4).
func ExampleSolveMeanField() {
	erf, err := theory.ActivationByName("erf")
	if err != nil {
		log.Fatal(err)
	}
	for _, sw2 := range []float64{1.25, 1.5} {
		m, err := theory.SolveMeanField(erf, sw2, 0.05)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("sw2=%v %s: q*=%.4f c*=%.4f chi_1=%.4f chi_c*=%.4f xi_1=%.1f xi_*=%.1f\n",
			sw2, m.Phase, m.QStar, m.CStar, m.Chi1, m.ChiCStar, m.Xi1, m.XiStar)
	}
	// Output:
	// sw2=1.25 ordered: q*=0.4352 c*=1.0000 chi_1=0.9614 chi_c*=0.9614 xi_1=25.4 xi_*=NaN
	// sw2=1.5 chaotic: q*=0.6018 c*=0.8205 chi_1=1.0347 chi_c*=0.9696 xi_1=NaN xi_*=15.4
}

func ExampleCriticalSW2() {
	erf, err := theory.ActivationByName("erf")
	if err != nil {
		log.Fatal(err)
	}
	sw2, err := theory.CriticalSW2(erf, 0.18)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%.3f\n", sw2)
	// Output:
	// 1.748
}

// Two training points with a one-dimensional target y = [1 -1], an
// eigenvector of Theta with eigenvalue 1. With eta = eta_crit/2 = 2/3 each
// step multiplies the residual by 1 - eta/(N k) = 2/3, and the test output
// approaches Theta_td Theta^-1 y = [0.5 0.25] [1 -1]^T = 0.25.
func ExampleNewPredictor() {
	theta := mat.NewSymDense(2, []float64{2, 1, 1, 2})
	td := mat.NewDense(1, 2, []float64{0.5, 0.25})
	y := mat.NewDense(2, 1, []float64{1, -1})
	p, err := theory.NewPredictor(theta, td, y, nil)
	if err != nil {
		log.Fatal(err)
	}
	eta := 0.5 * p.EtaCrit() // eta_crit = 2 N k / lambda_max = 4/3
	for _, t := range []float64{1, 2, 100} {
		train, test, err := p.At(theory.Steps, eta, t)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("t=%v train=%.4f test=%.4f\n", t, mat.Col(nil, 0, train), test.At(0, 0))
	}
	// Output:
	// t=1 train=[0.3333 -0.3333] test=0.0833
	// t=2 train=[0.5556 -0.5556] test=0.1389
	// t=100 train=[1.0000 -1.0000] test=0.2500
}
