package theory

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"sync"

	"gonum.org/v1/gonum/integrate/quad"
	"gonum.org/v1/gonum/mat"

	"github.com/ntkharness/ntkharness/linalg"
)

// The integral of ProbabilityCorrect runs over z in [-zMax, zMax]: the
// standard normal mass outside is 2 Phi(-9) = 2.3e-19. It is split into
// unit panels with quadPanelNodes Gauss-Legendre nodes each. The integrand
// phi(z) prod Phi(z + d_c) is entire with features of unit width wherever
// the d_c lie, so 12 nodes per unit panel integrate it to about 1e-15
// (measured against the closed form Phi(d/sqrt 2) of two classes for d in
// [-40, 40]).
const (
	zMax           = 9
	quadPanelNodes = 12
)

var (
	quadOnce sync.Once
	quadX    []float64
	quadWPhi []float64 // weight times phi(x)
	sqrt2Pi  = math.Sqrt(2 * math.Pi)
)

func quadRule() ([]float64, []float64) {
	quadOnce.Do(func() {
		x := make([]float64, quadPanelNodes)
		w := make([]float64, quadPanelNodes)
		for a := -zMax; a < zMax; a++ {
			quad.Legendre{}.FixedLocations(x, w, float64(a), float64(a+1))
			for i := range x {
				quadX = append(quadX, x[i])
				quadWPhi = append(quadWPhi, w[i]*math.Exp(-x[i]*x[i]/2)/sqrt2Pi)
			}
		}
	})
	return quadX, quadWPhi
}

// normCDF returns Phi(x) = P(Z <= x) for a standard normal Z.
func normCDF(x float64) float64 { return 0.5 * math.Erfc(-x/math.Sqrt2) }

// ProbabilityCorrect returns the probability that the argmax of independent
// Gaussian logits z_c ~ N(mean[c], variance) is label:
//
//	P = int phi(z) prod_{c != label} Phi((mean[label] - mean[c] + s z)/s) dz,  s = sqrt(variance),
//
// computed by composite Gauss-Legendre quadrature to about 1e-15 absolute.
// All means equal gives 1/k. As the variance tends to zero P tends to 1
// when mean[label] is the unique largest mean, 0 when another mean is
// larger, and 1/(m+1) when it ties with m others (the value returned at
// variance 0). A negative variance counts as zero (the round-off of a
// vanishing variance); NaN or infinite inputs give NaN. It panics when
// label is out of range.
func ProbabilityCorrect(mean []float64, label int, variance float64) float64 {
	if label < 0 || label >= len(mean) {
		panic(fmt.Sprintf("theory: label %d out of range [0, %d)", label, len(mean)))
	}
	if math.IsNaN(variance) || math.IsInf(variance, 0) {
		return math.NaN()
	}
	for _, v := range mean {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return math.NaN()
		}
	}
	my := mean[label]
	if variance <= 0 {
		ties := 0
		for c, v := range mean {
			if c == label {
				continue
			}
			if v > my {
				return 0
			}
			if v == my {
				ties++
			}
		}
		return 1 / float64(ties+1)
	}
	s := math.Sqrt(variance)
	d := make([]float64, 0, len(mean)-1)
	for c, v := range mean {
		if c != label {
			d = append(d, (my-v)/s)
		}
	}
	x, w := quadRule()
	p := 0.0
	for i, z := range x {
		f := w[i]
		for _, dc := range d {
			f *= normCDF(z + dc)
			if f == 0 {
				break
			}
		}
		p += f
	}
	return math.Min(1, math.Max(0, p))
}

// ExpectedAccuracy returns the mean over points i of
// ProbabilityCorrect(mean_i, labels[i], variance[i]): the expected accuracy
// of one network whose logits at point i are independent Gaussians with
// means mean_i (a row of the M x k mean) and the common variance
// variance[i]. It returns an error for mismatched lengths, an empty set, a
// label out of range, or NaN or infinite inputs.
func ExpectedAccuracy(mean *mat.Dense, variance []float64, labels []int) (float64, error) {
	r, c := mean.Dims()
	if r != len(labels) || r != len(variance) {
		return 0, fmt.Errorf("theory: %d mean outputs, %d variances and %d labels", r, len(variance), len(labels))
	}
	if r == 0 {
		return 0, errors.New("theory: expected accuracy of an empty set")
	}
	s := 0.0
	for i, l := range labels {
		if l < 0 || l >= c {
			return 0, fmt.Errorf("theory: label %d of point %d out of range [0, %d)", l, i, c)
		}
		p := ProbabilityCorrect(mean.RawRowView(i), l, variance[i])
		if math.IsNaN(p) {
			return 0, fmt.Errorf("theory: expected accuracy: point %d has a non-finite mean or variance (%v)", i, variance[i])
		}
		s += p
	}
	return s / float64(r), nil
}

// ExpectedMSELoss returns the expectation of the loss (1/(2 M k)) sum (f - y)^2
// of Gaussian outputs f with means mean (M x k) and per-point variance
// variance[i] shared by the k independent logits:
//
//	E loss = (1/(2 M k)) sum_ic (mean_ic - y_ic)^2 + (1/(2 M)) sum_i variance[i],
//
// the normalization of MSELoss. It returns an error for mismatched shapes
// or an empty set.
func ExpectedMSELoss(mean *mat.Dense, variance []float64, y *mat.Dense) (float64, error) {
	l, err := MSELoss(mean, y)
	if err != nil {
		return 0, err
	}
	r, _ := mean.Dims()
	if len(variance) != r {
		return 0, fmt.Errorf("theory: %d mean outputs but %d variances", r, len(variance))
	}
	s := 0.0
	for _, v := range variance {
		s += v
	}
	return l + s/(2*float64(r)), nil
}

// AccuracySpread summarizes the accuracy of networks drawn from the joint
// output distribution: its mean, its sample standard deviation, and the
// 5% and 95% quantiles (linear interpolation between order statistics).
// Jitter is the multiple of the identity added to the covariance for its
// Cholesky factorization (0 when none was needed).
type AccuracySpread struct {
	Draws    int
	Mean, SD float64
	P5, P95  float64
	Jitter   float64
}

// SampleAccuracy draws networks from the joint Gaussian output distribution
// over M points, f_c = mean_c + L z_c for each logit c independently
// (z_c ~ N(0, I_M), L L^T = cov, the per-logit M x M covariance), and
// returns the spread of their accuracies (argmax of each row against
// labels) over draws draws from rng. When cov is only positive
// semi-definite to round-off, jitter*I is added, starting at 1e-12 times
// the mean variance and growing tenfold up to 1e-6 times it; the value used
// is reported. This holds at any scale of the covariance, subnormal or
// near the largest float64 (the accuracy depends only on the outputs'
// ratios). It returns an error for mismatched shapes, draws < 2,
// non-finite inputs, or a covariance that is not positive semi-definite.
func SampleAccuracy(mean *mat.Dense, cov mat.Symmetric, labels []int, draws int, rng *rand.Rand) (AccuracySpread, error) {
	m, k := mean.Dims()
	if cov.SymmetricDim() != m || len(labels) != m {
		return AccuracySpread{}, fmt.Errorf("theory: %d mean outputs, a %dx%d covariance and %d labels", m, cov.SymmetricDim(), cov.SymmetricDim(), len(labels))
	}
	if m == 0 {
		return AccuracySpread{}, errors.New("theory: accuracy spread of an empty set")
	}
	if draws < 2 {
		return AccuracySpread{}, fmt.Errorf("theory: accuracy spread: %d draws, want at least 2", draws)
	}
	for i, l := range labels {
		if l < 0 || l >= k {
			return AccuracySpread{}, fmt.Errorf("theory: label %d of point %d out of range [0, %d)", l, i, k)
		}
	}
	if err := finiteDense("mean outputs", mean); err != nil {
		return AccuracySpread{}, err
	}
	if err := finiteSym("output covariance", cov); err != nil {
		return AccuracySpread{}, err
	}
	meanVar := meanDiag(cov)
	l, jitter, err := jitteredCholesky(cov, meanVar)
	if err != nil {
		return AccuracySpread{}, err
	}
	acc := make([]float64, 0, draws)
	const chunk = 64
	for len(acc) < draws {
		b := min(chunk, draws-len(acc))
		z := mat.NewDense(m, b*k, nil)
		raw := z.RawMatrix().Data
		for i := range raw {
			raw[i] = rng.NormFloat64()
		}
		f := mat.NewDense(m, b*k, nil)
		if l != nil {
			linalg.Gemm(false, false, 1, l, z, 0, f)
		}
		for d := 0; d < b; d++ {
			hits := 0
			for i := 0; i < m; i++ {
				row := f.RawRowView(i)[d*k : (d+1)*k]
				mu := mean.RawRowView(i)
				best, bv := 0, math.Inf(-1)
				for c := range row {
					if v := row[c] + mu[c]; v > bv {
						best, bv = c, v
					}
				}
				if best == labels[i] {
					hits++
				}
			}
			acc = append(acc, float64(hits)/float64(m))
		}
	}
	return summarize(acc, jitter), nil
}

// jitterSteps are the jitters tried by jitteredCholesky, relative to the
// mean variance: none, then 1e-12 growing tenfold to 1e-6. A fixed list,
// so the search ends whatever the scale of the covariance.
var jitterSteps = []float64{0, 1e-12, 1e-11, 1e-10, 1e-9, 1e-8, 1e-7, 1e-6}

// jitteredCholesky returns the lower Cholesky factor of cov + jitter I as a
// dense matrix (nil when cov is zero) and the jitter used. It factorizes
// cov/meanVar, whose diagonal averages 1, and scales the factor back by
// sqrt(meanVar): a jitter relative to meanVar would underflow to zero for
// a mean variance below about 1e-300, or turn into Inf and NaN for one
// near the largest float64, and the search would never succeed.
func jitteredCholesky(cov mat.Symmetric, meanVar float64) (*mat.Dense, float64, error) {
	m := cov.SymmetricDim()
	if meanVar == 0 {
		allZero := true
		for i := 0; i < m && allZero; i++ {
			for j := i; j < m; j++ {
				if cov.At(i, j) != 0 {
					allZero = false
					break
				}
			}
		}
		if allZero {
			return nil, 0, nil
		}
	}
	if !(meanVar > 0) || math.IsInf(meanVar, 1) {
		return nil, 0, fmt.Errorf("theory: output covariance has mean variance %v: not positive semi-definite", meanVar)
	}
	a := mat.NewSymDense(m, nil)
	diag := make([]float64, m)
	for i := 0; i < m; i++ {
		for j := i; j < m; j++ {
			a.SetSym(i, j, cov.At(i, j)/meanVar)
		}
		diag[i] = a.At(i, i)
	}
	for _, rel := range jitterSteps {
		for i, v := range diag {
			a.SetSym(i, i, v+rel)
		}
		var ch mat.Cholesky
		if ch.Factorize(a) {
			var lt mat.TriDense
			ch.LTo(&lt)
			l := mat.DenseCopyOf(&lt)
			l.Scale(math.Sqrt(meanVar), l)
			return l, rel * meanVar, nil
		}
	}
	return nil, 0, fmt.Errorf("theory: output covariance (%dx%d) is not positive semi-definite: Cholesky fails even with jitter %.3g (1e-6 of the mean variance)", m, m, 1e-6*meanVar)
}

// meanDiag returns the mean of the diagonal of a, summed first (exact for
// subnormal entries) and, when that sum overflows, divided term by term.
func meanDiag(a mat.Symmetric) float64 {
	m := a.SymmetricDim()
	s := 0.0
	for i := 0; i < m; i++ {
		s += a.At(i, i)
	}
	if !math.IsInf(s, 0) {
		return s / float64(m)
	}
	s = 0
	for i := 0; i < m; i++ {
		s += a.At(i, i) / float64(m)
	}
	return s
}

func summarize(acc []float64, jitter float64) AccuracySpread {
	n := float64(len(acc))
	mean := 0.0
	for _, a := range acc {
		mean += a
	}
	mean /= n
	ss := 0.0
	for _, a := range acc {
		ss += (a - mean) * (a - mean)
	}
	sorted := append([]float64(nil), acc...)
	sort.Float64s(sorted)
	return AccuracySpread{Draws: len(acc), Mean: mean, SD: math.Sqrt(ss / (n - 1)),
		P5: quantile(sorted, 0.05), P95: quantile(sorted, 0.95), Jitter: jitter}
}

// quantile returns the q-quantile of sorted values, interpolating linearly
// between the order statistics at positions q (n - 1).
func quantile(sorted []float64, q float64) float64 {
	pos := q * float64(len(sorted)-1)
	lo := int(math.Floor(pos))
	if lo+1 >= len(sorted) {
		return sorted[len(sorted)-1]
	}
	fr := pos - float64(lo)
	return sorted[lo] + fr*(sorted[lo+1]-sorted[lo])
}
