package theory

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"gonum.org/v1/gonum/mat"
)

// TestProbabilityCorrectMonteCarlo draws 1e6 sets of independent Gaussian
// logits and counts how often the label wins; the quadrature must lie
// within 3 standard errors sqrt(p (1 - p)/1e6) of the frequency.
func TestProbabilityCorrectMonteCarlo(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 22))
	const draws = 1_000_000
	for _, tc := range []struct {
		mean     []float64
		label    int
		variance float64
	}{
		{[]float64{0.3, 0.1, -0.2}, 0, 0.25},
		{[]float64{0.3, 0.1, -0.2}, 2, 0.25},
		{[]float64{1, 0.2, 0.5, 0.9, -1}, 3, 0.04},
		{[]float64{0.1, 0, 0, 0.05, 0, 0, 0.2, 0, 0, 0}, 0, 1},
		{[]float64{0.1, 0, 0, 0.05, 0, 0, 0.2, 0, 0, 0}, 6, 0.01},
	} {
		s := math.Sqrt(tc.variance)
		hits := 0
		for d := 0; d < draws; d++ {
			best, bv := 0, math.Inf(-1)
			for c, m := range tc.mean {
				if v := m + s*rng.NormFloat64(); v > bv {
					best, bv = c, v
				}
			}
			if best == tc.label {
				hits++
			}
		}
		freq := float64(hits) / draws
		got := ProbabilityCorrect(tc.mean, tc.label, tc.variance)
		se := math.Sqrt(got * (1 - got) / draws)
		t.Logf("k=%d label %d variance %v: quadrature %.6f, Monte-Carlo %.6f (%.2f SE)", len(tc.mean), tc.label, tc.variance, got, freq, math.Abs(got-freq)/se)
		if math.Abs(got-freq) > 3*se {
			t.Errorf("k=%d label %d variance %v: %v, Monte-Carlo %v (SE %.2g)", len(tc.mean), tc.label, tc.variance, got, freq, se)
		}
	}
}

// TestProbabilityCorrectLimits: two classes have the closed form
// P(z_0 > z_1) = Phi((mu_0 - mu_1)/(s sqrt 2)); equal means give 1/k; a
// vanishing variance gives the accuracy of the mean (ties shared).
func TestProbabilityCorrectLimits(t *testing.T) {
	worst := 0.0
	for d := -40.0; d <= 40; d += 0.037 {
		for _, s := range []float64{0.01, 1, 30} {
			want := 0.5 * math.Erfc(-d/(s*math.Sqrt2)/math.Sqrt2)
			worst = math.Max(worst, math.Abs(ProbabilityCorrect([]float64{d, 0}, 0, s*s)-want))
		}
	}
	t.Logf("two classes: largest error %.2g against Phi(d/(s sqrt 2))", worst)
	if worst > 1e-12 {
		t.Errorf("two classes: error %.2g against the closed form, want <= 1e-12", worst)
	}
	for k := 1; k <= 12; k++ {
		mean := make([]float64, k)
		for j := range mean {
			mean[j] = 0.7
		}
		if p := ProbabilityCorrect(mean, k/2, 0.3); math.Abs(p-1/float64(k)) > 1e-12 {
			t.Errorf("k=%d equal means: %v, want 1/k", k, p)
		}
	}
	mean := []float64{0.2, 0.9, 0.9, -0.1, 0.9}
	for _, tc := range []struct {
		label int
		want  float64
	}{{0, 0}, {3, 0}, {1, 1.0 / 3}, {4, 1.0 / 3}} {
		for _, v := range []float64{0, 1e-300, 1e-24} {
			if p := ProbabilityCorrect(mean, tc.label, v); math.Abs(p-tc.want) > 1e-12 {
				t.Errorf("label %d variance %v: %v, want %v", tc.label, v, p, tc.want)
			}
		}
	}
	if p := ProbabilityCorrect([]float64{0.5, 0.2, 0.49999}, 0, 1e-24); p != 1 {
		t.Errorf("unique largest mean, variance 1e-24: %v, want 1", p)
	}
	if p := ProbabilityCorrect([]float64{0.5, 0.2}, 0, -1e-18); p != 1 {
		t.Errorf("round-off negative variance: %v, want 1 (as variance 0)", p)
	}
	if p := ProbabilityCorrect([]float64{0.5, 0.2}, 0, math.Inf(1)); !math.IsNaN(p) {
		t.Errorf("infinite variance: %v, want NaN", p)
	}
}

func TestExpectedAccuracyAndLoss(t *testing.T) {
	mean := mat.NewDense(3, 2, []float64{1, 0, 0.2, 0.5, 0, 0})
	variance := []float64{0.5, 2, 0.1}
	labels := []int{0, 0, 1}
	// Two classes: Phi((mu_y - mu_c)/sqrt(2 v)) per point.
	want := 0.0
	for i, l := range labels {
		d := mean.At(i, l) - mean.At(i, 1-l)
		want += 0.5 * math.Erfc(-d/math.Sqrt(2*variance[i])/math.Sqrt2)
	}
	want /= 3
	if got, err := ExpectedAccuracy(mean, variance, labels); err != nil || math.Abs(got-want) > 1e-12 {
		t.Errorf("ExpectedAccuracy = %v, %v; want %v", got, err, want)
	}
	// Expected loss against a Monte-Carlo average of the loss of draws
	// f_ic = mean_ic + sqrt(v_i) z: within 4 standard errors.
	y := mat.NewDense(3, 2, []float64{1, 0, 1, 0, 0, 1})
	got, err := ExpectedMSELoss(mean, variance, y)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(23, 24))
	const draws = 200000
	sum, sum2 := 0.0, 0.0
	for d := 0; d < draws; d++ {
		l := 0.0
		for i := 0; i < 3; i++ {
			for c := 0; c < 2; c++ {
				e := mean.At(i, c) + math.Sqrt(variance[i])*rng.NormFloat64() - y.At(i, c)
				l += e * e
			}
		}
		l /= 2 * 3 * 2
		sum += l
		sum2 += l * l
	}
	mc := sum / draws
	se := math.Sqrt((sum2/draws - mc*mc) / draws)
	if math.Abs(got-mc) > 4*se {
		t.Errorf("ExpectedMSELoss = %v, Monte-Carlo %v (SE %.2g)", got, mc, se)
	}
	if _, err := ExpectedAccuracy(mean, variance[:2], labels); err == nil || !strings.Contains(err.Error(), "2 variances") {
		t.Errorf("short variances: %v", err)
	}
	if _, err := ExpectedAccuracy(mean, []float64{1, math.NaN(), 1}, labels); err == nil || !strings.Contains(err.Error(), "point 1") {
		t.Errorf("NaN variance: %v", err)
	}
	if _, err := ExpectedAccuracy(mean, variance, []int{0, 2, 0}); err == nil || !strings.Contains(err.Error(), "label 2 of point 1") {
		t.Errorf("label out of range: %v", err)
	}
}

// TestSampleAccuracy: with a diagonal covariance the points are
// independent, so the accuracy of a draw is a mean of Bernoulli(p_i):
// expectation mean(p_i), SD sqrt(sum p_i (1 - p_i))/M. With a rank-one
// covariance (every point moves together) and equal means at every point,
// the accuracy is 0 or 1 with P(1) = p: SD sqrt(p (1 - p)); the Cholesky
// factorization then needs jitter.
func TestSampleAccuracy(t *testing.T) {
	const m, draws = 40, 20000
	rng := rand.New(rand.NewPCG(25, 26))
	mean := mat.NewDense(m, 2, nil)
	labels := make([]int, m)
	cov := mat.NewSymDense(m, nil)
	wantMean, wantVar := 0.0, 0.0
	for i := 0; i < m; i++ {
		mean.Set(i, 0, rng.NormFloat64())
		mean.Set(i, 1, rng.NormFloat64())
		labels[i] = i % 2
		v := 0.1 + rng.Float64()
		cov.SetSym(i, i, v)
		d := mean.At(i, labels[i]) - mean.At(i, 1-labels[i])
		p := 0.5 * math.Erfc(-d/math.Sqrt(2*v)/math.Sqrt2)
		wantMean += p / m
		wantVar += p * (1 - p) / (m * m)
	}
	sp, err := SampleAccuracy(mean, cov, labels, draws, rand.New(rand.NewPCG(1, 1)))
	if err != nil {
		t.Fatal(err)
	}
	wantSD := math.Sqrt(wantVar)
	// SE of the mean: SD/sqrt(draws); of the SD: about SD/sqrt(2 draws)
	// (the accuracy is nearly Gaussian, a sum of 40 independent terms).
	if se := wantSD / math.Sqrt(draws); math.Abs(sp.Mean-wantMean) > 4*se {
		t.Errorf("independent points: mean accuracy %v, want %v (SE %.2g)", sp.Mean, wantMean, se)
	}
	if se := wantSD / math.Sqrt(2*draws); math.Abs(sp.SD-wantSD) > 4*se {
		t.Errorf("independent points: SD %v, want %v (SE %.2g)", sp.SD, wantSD, se)
	}
	if !(sp.P5 < sp.Mean && sp.Mean < sp.P95) || sp.Jitter != 0 || sp.Draws != draws {
		t.Errorf("independent points: %+v, want P5 < mean < P95, no jitter", sp)
	}
	again, _ := SampleAccuracy(mean, cov, labels, draws, rand.New(rand.NewPCG(1, 1)))
	if again != sp {
		t.Errorf("same seed: %+v then %+v", sp, again)
	}

	one := mat.NewSymDense(m, nil)
	same := mat.NewDense(m, 2, nil)
	for i := 0; i < m; i++ {
		same.Set(i, 0, 0.3)
		for j := i; j < m; j++ {
			one.SetSym(i, j, 0.5)
		}
	}
	zeros := make([]int, m)
	p := 0.5 * math.Erfc(-0.3/math.Sqrt(2*0.5)/math.Sqrt2)
	sp, err = SampleAccuracy(same, one, zeros, draws, rand.New(rand.NewPCG(2, 2)))
	if err != nil {
		t.Fatal(err)
	}
	if se := math.Sqrt(p * (1 - p) / draws); math.Abs(sp.Mean-p) > 4*se || math.Abs(sp.SD-math.Sqrt(p*(1-p))) > 0.01 || sp.Jitter <= 0 || sp.P5 != 0 || sp.P95 != 1 {
		t.Errorf("rank-one covariance: %+v, want mean %v, SD %v, band [0, 1], jitter > 0", sp, p, math.Sqrt(p*(1-p)))
	}
	if _, err := SampleAccuracy(same, mat.NewSymDense(m, nil), zeros, 10, rng); err != nil {
		t.Errorf("zero covariance: %v", err)
	}
	neg := mat.NewSymDense(2, []float64{1, 2, 2, 1})
	if _, err := SampleAccuracy(mat.NewDense(2, 2, nil), neg, []int{0, 1}, 10, rng); err == nil || !strings.Contains(err.Error(), "not positive semi-definite") {
		t.Errorf("indefinite covariance: %v", err)
	}
	if _, err := SampleAccuracy(same, one, zeros, 1, rng); err == nil || !strings.Contains(err.Error(), "1 draws") {
		t.Errorf("one draw: %v", err)
	}
}

// TestSampleAccuracyAnyScale: the accuracy of draws from N(mean, cov) is
// that of N(mean sqrt(s), cov s) for any s > 0. The rank-one covariance of
// TestSampleAccuracy (every point moves together, so the accuracy is 0 or 1
// with P(1) = p in closed form) needs jitter; scaled to a mean variance of
// 2^-1061 (subnormal: 1e-12 of it underflows to zero), 2^-999 and 2^1021
// (the diagonal's sum overflows), the answer must stay p, and an indefinite
// covariance must still be refused. Each call runs under a deadline: a
// jitter search that cannot progress never returns.
func TestSampleAccuracyAnyScale(t *testing.T) {
	const m, draws = 8, 4000
	p := 0.5 * math.Erfc(-0.3/math.Sqrt(2*0.5)/math.Sqrt2)
	within := func(name string, f func() (AccuracySpread, error)) (AccuracySpread, error) {
		type out struct {
			sp  AccuracySpread
			err error
		}
		done := make(chan out, 1)
		go func() {
			sp, err := f()
			done <- out{sp, err}
		}()
		select {
		case o := <-done:
			return o.sp, o.err
		case <-time.After(20 * time.Second):
			t.Fatalf("%s: SampleAccuracy has not returned after 20 s", name)
			return AccuracySpread{}, nil
		}
	}
	for _, exp := range []int{-1060, -998, 1022} {
		s := math.Ldexp(1, exp) // a power of 4: sqrt(s) is exact
		cov := mat.NewSymDense(m, nil)
		mean := mat.NewDense(m, 2, nil)
		for i := 0; i < m; i++ {
			mean.Set(i, 0, 0.3*math.Sqrt(s))
			for j := i; j < m; j++ {
				cov.SetSym(i, j, 0.5*s)
			}
		}
		name := fmt.Sprintf("covariance scaled by 2^%d", exp)
		sp, err := within(name, func() (AccuracySpread, error) {
			return SampleAccuracy(mean, cov, make([]int, m), draws, rand.New(rand.NewPCG(3, 4)))
		})
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if se := math.Sqrt(p * (1 - p) / draws); math.Abs(sp.Mean-p) > 4*se || math.Abs(sp.SD-math.Sqrt(p*(1-p))) > 0.02 {
			t.Errorf("%s: mean accuracy %v, SD %v; want %v (SE %.2g), SD %v", name, sp.Mean, sp.SD, p, se, math.Sqrt(p*(1-p)))
		}
		neg := mat.NewSymDense(2, []float64{s, 2 * s, 2 * s, s})
		_, err = within(name+", indefinite", func() (AccuracySpread, error) {
			return SampleAccuracy(mat.NewDense(2, 2, nil), neg, []int{0, 1}, 10, rand.New(rand.NewPCG(5, 6)))
		})
		if err == nil || !strings.Contains(err.Error(), "not positive semi-definite") {
			t.Errorf("%s, indefinite: error %v, want not positive semi-definite", name, err)
		}
	}
}
