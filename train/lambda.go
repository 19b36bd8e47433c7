package train

import (
	"fmt"
	"math"
	"math/rand/v2"

	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/mat"

	"github.com/ntkharness/ntkharness/linalg"
	"github.com/ntkharness/ntkharness/nets"
	"github.com/ntkharness/ntkharness/npy"
	"github.com/ntkharness/ntkharness/spec"
	"github.com/ntkharness/ntkharness/theory"
)

// AnalyticLambdaMax is the LambdaMaxFunc of the analytic (infinite-width)
// NTK: the largest eigenvalue of theory's per-logit NTK of the network's
// spec on x (SpecLambdaMax).
func AnalyticLambdaMax(net *nets.Net, x npy.Array) (float64, error) {
	return SpecLambdaMax(net.Spec(), x)
}

// SpecLambdaMax returns the largest eigenvalue of theory's per-logit NTK of
// the architecture s on the inputs x; the width of s plays no part.
func SpecLambdaMax(s spec.Spec, x npy.Array) (float64, error) {
	k, err := theory.Compute(s, x, npy.Array{}, theory.Options{})
	if err != nil {
		return 0, fmt.Errorf("analytic NTK: %w", err)
	}
	n, _ := k.NTK.Dims()
	vals, _, err := linalg.EigenSym(mat.NewSymDense(n, k.NTK.RawMatrix().Data), false)
	if err != nil {
		return 0, fmt.Errorf("analytic NTK: %w", err)
	}
	return vals[len(vals)-1], nil
}

// EmpiricalLambdaMax estimates the largest eigenvalue of the empirical NTK
// Theta = J J^T of net on the inputs x, J = d f / d theta the [N k, P]
// Jacobian, by power iteration on J^T J (which has the same nonzero
// eigenvalues): u <- J^T (J u) / |.|. J^T v is one backward pass with
// cotangent v; J u, a forward-mode product Gorgonia lacks, is the central
// difference (f(theta + e u) - f(theta - e u)) / (2 e) with e = 1e-4 |theta|
// / sqrt(P), whose relative error O(e^2) is far below the iteration's. It
// stops when the Rayleigh quotient changes by less than 1e-5 relatively or
// after iters iterations, starting from a direction drawn from PCG(seed).
// The parameters are restored exactly afterwards.
//
// The NTK of the finite network is J J^T over all k logits; at infinite
// width it is Theta_per_logit (x) I_k, with the same largest eigenvalue.
func EmpiricalLambdaMax(net *nets.Net, x npy.Array, iters int, seed uint64) (float64, error) {
	params := net.Params()
	n := x.Shape[0]
	k := net.Outputs()
	P := net.ParamCount()
	theta := make([]float64, 0, P)
	for _, p := range params {
		theta = append(theta, p.Data...)
	}
	set := func(u []float64, e float64) {
		off := 0
		for _, p := range params {
			for i := range p.Data {
				p.Data[i] = theta[off+i] + e*u[off+i]
			}
			off += len(p.Data)
		}
	}
	defer set(theta, 0) // restore exactly: theta + 0*theta
	rng := rand.New(rand.NewPCG(seed, 0x1a3b))
	u := make([]float64, P)
	for i := range u {
		u[i] = rng.NormFloat64()
	}
	floats.Scale(1/floats.Norm(u, 2), u)
	eps := 1e-4 * floats.Norm(theta, 2) / math.Sqrt(float64(P))
	if eps == 0 {
		eps = 1e-4
	}
	lambda := 0.0
	for it := 0; it < iters; it++ {
		set(u, eps)
		fp, err := net.Forward(x)
		if err != nil {
			return 0, err
		}
		set(u, -eps)
		fm, err := net.Forward(x)
		if err != nil {
			return 0, err
		}
		set(u, 0)
		ju := mat.NewDense(n, k, nil)
		ju.Sub(fp, fm)
		ju.Scale(1/(2*eps), ju)
		tr, err := net.Backward(x, ju)
		if err != nil {
			return 0, err
		}
		v := make([]float64, 0, P)
		for _, g := range tr.Grads {
			v = append(v, g...)
		}
		// Rayleigh quotient u^T J^T J u = |J u|^2 for unit u.
		l := floats.Dot(ju.RawMatrix().Data, ju.RawMatrix().Data)
		norm := floats.Norm(v, 2)
		if norm == 0 || math.IsNaN(norm) || math.IsInf(norm, 0) {
			return 0, fmt.Errorf("train: power iteration for lambda_max broke down (|J^T J u| = %v)", norm)
		}
		floats.ScaleTo(u, 1/norm, v)
		if it > 0 && math.Abs(l-lambda) <= 1e-5*l {
			return l, nil
		}
		lambda = l
	}
	return lambda, nil
}
