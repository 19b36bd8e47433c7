package ntkempirical

import (
	"math"
	"math/rand/v2"
	"sort"
	"strings"
	"testing"

	"gonum.org/v1/gonum/mat"
)

// knownSpectrum is a symmetric matrix together with its eigenvalues from a
// closed form, ascending.
type knownSpectrum struct {
	name string
	k    *mat.SymDense
	want []float64
}

// knownSpectra builds the test matrices:
//   - V diag(lambda) V^T with V the orthogonal factor of a seeded Gaussian
//     matrix (eigenvalues by construction);
//   - the critical-line NTK shape c (2I + 11^T): eigenvalues 2c (n-1 times)
//     and c (n+2);
//   - the second-difference matrix tridiag(-1, 2, -1): eigenvalues
//     2 - 2 cos(j pi/(n+1)), j = 1..n;
//   - a rank-deficient Gram matrix 11^T (eigenvalues 0 and n), kappa = Inf.
func knownSpectra() []knownSpectrum {
	var out []knownSpectrum
	rng := rand.New(rand.NewPCG(7, 11))
	for _, lam := range [][]float64{
		{1e-3, 0.5, 1, 2, 3, 10},
		{1, 1, 1, 4},                  // repeated eigenvalue
		{1e-8, 1, 2, 5, 7, 8, 9, 1e4}, // ill conditioned
		{-2, -1, 0.5, 3},              // indefinite
	} {
		n := len(lam)
		g := mat.NewDense(n, n, nil)
		for i := 0; i < n; i++ {
			for j := 0; j < n; j++ {
				g.Set(i, j, rng.NormFloat64())
			}
		}
		var qr mat.QR
		qr.Factorize(g)
		var q mat.Dense
		qr.QTo(&q)
		var a mat.Dense
		a.Mul(&q, mat.NewDiagDense(n, lam))
		var b mat.Dense
		b.Mul(&a, q.T())
		k := mat.NewSymDense(n, nil)
		for i := 0; i < n; i++ {
			for j := i; j < n; j++ {
				k.SetSym(i, j, (b.At(i, j)+b.At(j, i))/2)
			}
		}
		want := append([]float64(nil), lam...)
		sort.Float64s(want)
		out = append(out, knownSpectrum{"VDV^T", k, want})
	}
	{
		n, c := 7, 1.5
		k := mat.NewSymDense(n, nil)
		for i := 0; i < n; i++ {
			for j := i; j < n; j++ {
				v := c
				if i == j {
					v = 3 * c
				}
				k.SetSym(i, j, v)
			}
		}
		want := make([]float64, n)
		for i := range want {
			want[i] = 2 * c
		}
		want[n-1] = c * float64(n+2)
		out = append(out, knownSpectrum{"c(2I+11^T)", k, want})
	}
	{
		n := 40
		k := mat.NewSymDense(n, nil)
		for i := 0; i < n; i++ {
			k.SetSym(i, i, 2)
			if i+1 < n {
				k.SetSym(i, i+1, -1)
			}
		}
		want := make([]float64, n)
		for j := 1; j <= n; j++ {
			want[j-1] = 2 - 2*math.Cos(float64(j)*math.Pi/float64(n+1))
		}
		sort.Float64s(want)
		out = append(out, knownSpectrum{"tridiag(-1,2,-1)", k, want})
	}
	{
		n := 5
		k := mat.NewSymDense(n, nil)
		for i := 0; i < n; i++ {
			for j := i; j < n; j++ {
				k.SetSym(i, j, 1)
			}
		}
		want := []float64{0, 0, 0, 0, float64(n)}
		out = append(out, knownSpectrum{"11^T", k, want})
	}
	return out
}

func TestEigenvalues(t *testing.T) {
	for _, tc := range knownSpectra() {
		s, err := Eigenvalues(tc.k)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		scale := math.Max(math.Abs(tc.want[0]), math.Abs(tc.want[len(tc.want)-1]))
		// Backward-stable eigensolvers give absolute errors of a few
		// machine epsilons times ||K||.
		tol := 1e-12 * scale
		for i, w := range tc.want {
			if math.Abs(s.Values[i]-w) > tol {
				t.Errorf("%s: eigenvalue %d = %.15g, want %.15g", tc.name, i, s.Values[i], w)
			}
		}
		if s.LambdaMin != s.Values[0] || s.LambdaMax != s.Values[len(s.Values)-1] {
			t.Errorf("%s: lambda_min/max %g %g do not match the ends of %v", tc.name, s.LambdaMin, s.LambdaMax, s.Values)
		}
		wantKappa := tc.want[len(tc.want)-1] / tc.want[0]
		if tc.want[0] <= 1e-12*scale {
			// Zero or negative smallest eigenvalue: report Inf, but
			// rounding may leave a tiny positive value for a singular K.
			if tc.want[0] < 0 && !math.IsInf(s.Kappa, 1) {
				t.Errorf("%s: kappa = %g, want +Inf for an indefinite matrix", tc.name, s.Kappa)
			}
			if tc.want[0] == 0 && !math.IsInf(s.Kappa, 1) && s.Kappa < 1e12 {
				t.Errorf("%s: kappa = %g, want +Inf or > 1e12 for a singular matrix", tc.name, s.Kappa)
			}
			continue
		}
		// kappa inherits the relative error of lambda_min: tol/lambda_min.
		if rel := math.Abs(s.Kappa-wantKappa) / wantKappa; rel > 2*tol/tc.want[0] {
			t.Errorf("%s: kappa = %.15g, want %.15g", tc.name, s.Kappa, wantKappa)
		}
	}
}

func TestLambdaMaxLanczos(t *testing.T) {
	for _, tc := range knownSpectra() {
		want := tc.want[len(tc.want)-1]
		got, err := LambdaMaxLanczos(tc.k, LanczosOptions{Seed: 3})
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		// The stopping rule bounds the distance to some eigenvalue by
		// 1e-12 |theta|; allow 1e-10 for rounding in the Krylov basis.
		if math.Abs(got-want) > 1e-10*math.Abs(want) {
			t.Errorf("%s: lambda_max = %.15g, want %.15g", tc.name, got, want)
		}
	}
}

// TestLambdaMaxLanczosLarge checks convergence well before n steps on a
// 400x400 matrix with a clear spectral gap at the top, the shape of NTK
// spectra (one large mode, a bulk below).
func TestLambdaMaxLanczosLarge(t *testing.T) {
	n := 400
	lam := make([]float64, n)
	for i := range lam {
		lam[i] = 1 + float64(i)/float64(n)
	}
	lam[n-1] = 50
	// K = I*diag + rank-one through a Householder reflection keeps the
	// spectrum exact: K = H diag(lam) H with H = I - 2 u u^T, |u| = 1.
	rng := rand.New(rand.NewPCG(5, 5))
	u := mat.NewVecDense(n, nil)
	for i := 0; i < n; i++ {
		u.SetVec(i, rng.NormFloat64())
	}
	u.ScaleVec(1/mat.Norm(u, 2), u)
	h := mat.NewDense(n, n, nil)
	for i := 0; i < n; i++ {
		for j := 0; j < n; j++ {
			v := -2 * u.AtVec(i) * u.AtVec(j)
			if i == j {
				v++
			}
			h.Set(i, j, v)
		}
	}
	var a, b mat.Dense
	a.Mul(h, mat.NewDiagDense(n, lam))
	b.Mul(&a, h)
	k, err := Symmetric(&b, 1e-12)
	if err != nil {
		t.Fatal(err)
	}
	got, err := LambdaMaxLanczos(k, LanczosOptions{Seed: 1, MaxIter: 60})
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(got-50) > 1e-9*50 {
		t.Errorf("lambda_max = %.15g, want 50", got)
	}
}

func TestSpectrumErrors(t *testing.T) {
	tests := []struct {
		name string
		k    mat.Matrix
		want string
	}{
		{"not square", mat.NewDense(2, 3, nil), "not square"},
		{"not symmetric", mat.NewDense(2, 2, []float64{1, 2, 3, 4}), "not symmetric"},
		{"NaN", mat.NewDense(2, 2, []float64{1, math.NaN(), math.NaN(), 1}), "NaN"},
	}
	for _, tc := range tests {
		_, err := Symmetric(tc.k, 1e-10)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one containing %q", tc.name, err, tc.want)
		}
	}
	nan := mat.NewSymDense(2, []float64{1, math.NaN(), math.NaN(), 1})
	if _, err := Eigenvalues(nan); err == nil {
		t.Error("Eigenvalues accepted a NaN kernel")
	}
	if _, err := LambdaMaxLanczos(nan, LanczosOptions{}); err == nil {
		t.Error("LambdaMaxLanczos accepted a NaN kernel")
	}
	if _, err := Eigenvalues(mat.NewSymDense(1, nil)); err != nil {
		t.Errorf("1x1 zero kernel: %v", err)
	}
}
