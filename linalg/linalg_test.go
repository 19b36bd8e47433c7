package linalg

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"testing"

	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/mat"
)

// newRand returns the seeded source every test draws from.
func newRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15)) }

// randSym returns a symmetric n x n matrix with N(0,1) entries.
func randSym(rng *rand.Rand, n int) *mat.SymDense {
	s := mat.NewSymDense(n, nil)
	for i := 0; i < n; i++ {
		for j := i; j < n; j++ {
			s.SetSym(i, j, rng.NormFloat64())
		}
	}
	return s
}

// randOrthogonal returns a Haar-random orthogonal n x n matrix: the Q factor
// of a Gaussian matrix (computed by gonum's QR, independent of EigenSym),
// with column signs fixed so that R has a positive diagonal.
func randOrthogonal(rng *rand.Rand, n int) *mat.Dense {
	g := randomDense(rng, n, n)
	var qr mat.QR
	qr.Factorize(g)
	var q, r mat.Dense
	qr.QTo(&q)
	qr.RTo(&r)
	for j := 0; j < n; j++ {
		if r.At(j, j) < 0 {
			for i := 0; i < n; i++ {
				q.Set(i, j, -q.At(i, j))
			}
		}
	}
	return &q
}

// naiveGemm is the textbook triple loop for alpha op(A) op(B) + beta C.
func naiveGemm(tA, tB bool, alpha float64, a, b mat.Matrix, beta float64, c mat.Matrix) *mat.Dense {
	at := func(i, j int) float64 {
		if tA {
			return a.At(j, i)
		}
		return a.At(i, j)
	}
	bt := func(i, j int) float64 {
		if tB {
			return b.At(j, i)
		}
		return b.At(i, j)
	}
	m, n := c.Dims()
	_, k := a.Dims()
	if tA {
		k, _ = a.Dims()
	}
	out := mat.NewDense(m, n, nil)
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var s float64
			for l := 0; l < k; l++ {
				s += at(i, l) * bt(l, j)
			}
			out.Set(i, j, alpha*s+beta*c.At(i, j))
		}
	}
	return out
}

// maxAbsDiff returns max |x_ij - y_ij|.
func maxAbsDiff(x, y mat.Matrix) float64 {
	r, c := x.Dims()
	var d float64
	for i := 0; i < r; i++ {
		for j := 0; j < c; j++ {
			d = math.Max(d, math.Abs(x.At(i, j)-y.At(i, j)))
		}
	}
	return d
}

// strided returns an r x c view with a row stride larger than c, filled
// with N(0,1), so that tests exercise non-contiguous storage.
func strided(rng *rand.Rand, r, c int) *mat.Dense {
	big := randomDense(rng, r+2, c+3)
	return big.Slice(1, 1+r, 2, 2+c).(*mat.Dense)
}

func TestBackend(t *testing.T) {
	if got := Backend(); got != wantBackend {
		t.Errorf("Backend() = %q, want %q for this build", got, wantBackend)
	}
}

func TestGemm(t *testing.T) {
	tests := []struct {
		name        string
		m, k, n     int
		tA, tB      bool
		alpha, beta float64
		strided     bool
	}{
		{"square NN", 7, 7, 7, false, false, 1, 0, false},
		{"rect NN beta", 5, 9, 3, false, false, 0.5, -2, false},
		{"TN", 6, 4, 8, true, false, 1.5, 1, false},
		{"NT", 6, 4, 8, false, true, -1, 0.25, false},
		{"TT", 3, 11, 5, true, true, 2, 3, false},
		{"strided views", 13, 17, 9, true, false, 1, 1, true},
		{"blocked size", 130, 70, 65, false, true, 1, 0.5, true},
		{"vector k=1", 4, 1, 6, false, false, 1, 0, false},
		{"alpha zero", 4, 3, 2, false, false, 0, 2, false},
	}
	rng := newRand(1)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ar, ac := tc.m, tc.k
			if tc.tA {
				ar, ac = ac, ar
			}
			br, bc := tc.k, tc.n
			if tc.tB {
				br, bc = bc, br
			}
			var a, b, c *mat.Dense
			if tc.strided {
				a, b, c = strided(rng, ar, ac), strided(rng, br, bc), strided(rng, tc.m, tc.n)
			} else {
				a, b, c = randomDense(rng, ar, ac), randomDense(rng, br, bc), randomDense(rng, tc.m, tc.n)
			}
			want := naiveGemm(tc.tA, tc.tB, tc.alpha, a, b, tc.beta, c)
			Gemm(tc.tA, tc.tB, tc.alpha, a, b, tc.beta, c)
			// Each entry is a sum of k products of N(0,1) numbers; blocked
			// summation orders differ from the naive loop by O(k eps) per
			// entry relative to sum |a||b| ~ k.
			tol := 1e-14 * float64(tc.k) * float64(tc.k+4)
			if d := maxAbsDiff(c, want); d > tol {
				t.Errorf("max |Gemm - naive| = %g > %g", d, tol)
			}
		})
	}
}

func TestGemmBetaZeroIgnoresC(t *testing.T) {
	a := mat.NewDense(2, 2, []float64{1, 2, 3, 4})
	b := mat.NewDense(2, 2, []float64{5, 6, 7, 8})
	c := mat.NewDense(2, 2, []float64{math.NaN(), math.Inf(1), math.NaN(), 1})
	Gemm(false, false, 1, a, b, 0, c)
	want := mat.NewDense(2, 2, []float64{19, 22, 43, 50})
	if !mat.Equal(c, want) {
		t.Errorf("Gemm with beta=0 over NaN C = %v, want %v", mat.Formatted(c), mat.Formatted(want))
	}
}

func TestGemmPanics(t *testing.T) {
	a := mat.NewDense(3, 4, nil)
	b := mat.NewDense(4, 5, nil)
	tests := []struct {
		name string
		f    func()
	}{
		{"inner mismatch", func() { Gemm(true, false, 1, a, b, 0, mat.NewDense(4, 5, nil)) }},
		{"C rows", func() { Gemm(false, false, 1, a, b, 0, mat.NewDense(4, 5, nil)) }},
		{"C cols", func() { Gemm(false, false, 1, a, b, 0, mat.NewDense(3, 4, nil)) }},
		{"C aliases A", func() {
			sq := mat.NewDense(4, 4, nil)
			Gemm(false, false, 1, sq, mat.NewDense(4, 4, nil), 0, sq)
		}},
		{"C overlaps B view", func() {
			big := mat.NewDense(6, 6, nil)
			Gemm(false, false, 1, mat.NewDense(3, 3, nil), big.Slice(0, 3, 0, 3).(*mat.Dense), 0, big.Slice(2, 5, 2, 5).(*mat.Dense))
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Error("no panic")
				}
			}()
			tc.f()
		})
	}
	// Disjoint views of one backing array are not aliases.
	big := mat.NewDense(6, 6, nil)
	Gemm(false, false, 1, big.Slice(0, 3, 0, 3).(*mat.Dense), big.Slice(0, 3, 3, 6).(*mat.Dense), 0, big.Slice(3, 6, 0, 3).(*mat.Dense))
}

func TestSyrk(t *testing.T) {
	tests := []struct {
		name        string
		n, k        int
		alpha, beta float64
	}{
		{"square", 6, 6, 1, 0},
		{"wide", 5, 40, 0.5, 1},
		{"tall", 40, 3, -1, 2},
		{"blocked", 150, 70, 1, 0.5},
	}
	rng := newRand(2)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := strided(rng, tc.n, tc.k)
			c := randSym(rng, tc.n)
			want := naiveGemm(false, true, tc.alpha, a, a, tc.beta, c)
			Syrk(tc.alpha, a, tc.beta, c)
			tol := 1e-14 * float64(tc.k) * float64(tc.k+4)
			if d := maxAbsDiff(c, want); d > tol {
				t.Errorf("max |Syrk - naive| = %g > %g", d, tol)
			}
		})
	}
}

func TestSyrkPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("Syrk with a 3x2 A into a 4x4 C did not panic")
		}
	}()
	Syrk(1, mat.NewDense(3, 2, nil), 0, mat.NewSymDense(4, nil))
}

// spdFromSpectrum returns Q diag(lambda) Q^T for a random orthogonal Q.
func spdFromSpectrum(rng *rand.Rand, lambda []float64) (*mat.SymDense, *mat.Dense) {
	n := len(lambda)
	q := randOrthogonal(rng, n)
	var qd mat.Dense
	qd.Mul(q, mat.NewDiagDense(n, lambda))
	var full mat.Dense
	full.Mul(&qd, q.T())
	s := mat.NewSymDense(n, nil)
	for i := 0; i < n; i++ {
		for j := i; j < n; j++ {
			s.SetSym(i, j, (full.At(i, j)+full.At(j, i))/2)
		}
	}
	return s, q
}

func TestCholesky(t *testing.T) {
	rng := newRand(3)
	for _, n := range []int{1, 2, 10, 80} {
		lambda := make([]float64, n)
		for i := range lambda {
			lambda[i] = 0.1 + float64(i)
		}
		a, _ := spdFromSpectrum(rng, lambda)
		ch, err := Cholesky(a)
		if err != nil {
			t.Fatalf("n=%d: Cholesky of an SPD matrix: %v", n, err)
		}
		var u mat.TriDense
		ch.UTo(&u)
		var rec mat.Dense
		rec.Mul(u.T(), &u)
		// Backward error of Cholesky is O(n eps ||A||), ||A|| ~ n.
		if d, tol := maxAbsDiff(&rec, a), 1e-14*float64(n*n+10); d > tol {
			t.Errorf("n=%d: max |U^T U - A| = %g > %g", n, d, tol)
		}
		for i := 0; i < n; i++ {
			for j := 0; j < i; j++ {
				if u.At(i, j) != 0 {
					t.Fatalf("n=%d: U(%d,%d) = %g below the diagonal", n, i, j, u.At(i, j))
				}
			}
		}
	}
}

func TestCholeskyErrors(t *testing.T) {
	ones := mat.NewSymDense(3, []float64{1, 1, 1, 1, 1, 1, 1, 1, 1})
	tests := []struct {
		name string
		a    mat.Symmetric
		want error
	}{
		{"indefinite", mat.NewSymDense(2, []float64{1, 2, 2, 1}), ErrNotPositiveDefinite},
		{"negative definite", mat.NewSymDense(2, []float64{-1, 0, 0, -2}), ErrNotPositiveDefinite},
		{"rank one 11^T", ones, ErrNotPositiveDefinite},
		{"zero", mat.NewSymDense(3, nil), ErrNotPositiveDefinite},
		{"NaN", mat.NewSymDense(2, []float64{1, math.NaN(), math.NaN(), 1}), ErrNotFinite},
		{"Inf diagonal", mat.NewSymDense(2, []float64{math.Inf(1), 0, 0, 1}), ErrNotFinite},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ch, err := Cholesky(tc.a)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Cholesky error = %v, want one wrapping %v", err, tc.want)
			}
			if ch != nil {
				t.Errorf("Cholesky returned a factorization with error %v", err)
			}
		})
	}
}

func TestSolveSPD(t *testing.T) {
	rng := newRand(4)
	for _, tc := range []struct{ n, m int }{{1, 1}, {5, 1}, {40, 7}} {
		lambda := make([]float64, tc.n)
		for i := range lambda {
			lambda[i] = math.Pow(10, -3*float64(i)/float64(tc.n)) // condition number up to 1e3
		}
		a, _ := spdFromSpectrum(rng, lambda)
		xTrue := randomDense(rng, tc.n, tc.m)
		var b mat.Dense
		b.Mul(a, xTrue)
		x, err := SolveSPD(a, &b)
		if err != nil {
			t.Fatalf("%dx%d: %v", tc.n, tc.m, err)
		}
		// Forward error <= cond * O(n eps); cond <= 1e3.
		if d, tol := maxAbsDiff(x, xTrue), 1e3*1e-14*float64(tc.n+10); d > tol {
			t.Errorf("%dx%d: max |X - X_true| = %g > %g", tc.n, tc.m, d, tol)
		}
	}
}

// TestSolveSPDConditionLimit checks that matrices just inside the 1e16
// condition limit are solved. For diagonal matrices the 1-norm estimate is
// exact (kappa = max/min diagonal), so 1e15 is safely inside.
func TestSolveSPDConditionLimit(t *testing.T) {
	a := mat.NewSymDense(3, []float64{1, 0, 0, 0, 1e-15, 0, 0, 0, 0.5})
	b := mat.NewDense(3, 1, []float64{1, 1, 1})
	x, err := SolveSPD(a, b)
	if err != nil {
		t.Fatalf("kappa 1e15: %v", err)
	}
	for i, want := range []float64{1, 1e15, 2} {
		if got := x.At(i, 0); math.Abs(got-want) > 1e-15*want {
			t.Errorf("x[%d] = %.17g, want %g", i, got, want)
		}
	}
}

func TestSolveSPDErrors(t *testing.T) {
	spd := mat.NewSymDense(2, []float64{2, 1, 1, 2})
	tests := []struct {
		name string
		a    mat.Symmetric
		b    *mat.Dense
		want error // nil: any error
	}{
		{"rows mismatch", spd, mat.NewDense(3, 1, nil), nil},
		{"indefinite", mat.NewSymDense(2, []float64{1, 2, 2, 1}), mat.NewDense(2, 1, nil), ErrNotPositiveDefinite},
		{"NaN rhs", spd, mat.NewDense(2, 1, []float64{1, math.NaN()}), ErrNotFinite},
		{"nearly singular", mat.NewSymDense(2, []float64{1, 1, 1, 1 + 1e-17}), mat.NewDense(2, 1, []float64{1, 1}), ErrNotPositiveDefinite},
		{"ill conditioned past 1e16", mat.NewSymDense(2, []float64{1, 0, 0, 1e-18}), mat.NewDense(2, 1, []float64{1, 1}), ErrNotPositiveDefinite},
		{"diagonal kappa 1e17", mat.NewSymDense(3, []float64{1, 0, 0, 0, 1e-17, 0, 0, 0, 0.5}), mat.NewDense(3, 1, []float64{1, 1, 1}), ErrNotPositiveDefinite},
		{"rotated kappa 1e20", func() *mat.SymDense {
			a, _ := spdFromSpectrum(newRand(8), []float64{1e-20, 0.5, 1, 1, 2})
			return a
		}(), mat.NewDense(5, 2, nil), ErrNotPositiveDefinite},
		{"NaN in A", mat.NewSymDense(2, []float64{1, 0, 0, math.NaN()}), mat.NewDense(2, 1, nil), ErrNotFinite},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			x, err := SolveSPD(tc.a, tc.b)
			if err == nil {
				t.Fatalf("SolveSPD succeeded with %v", mat.Formatted(x))
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Errorf("error %v does not wrap %v", err, tc.want)
			}
		})
	}
}

// checkEigen verifies A V = V diag(values) through the reconstruction
// V diag(values) V^T = A, orthonormality V^T V = I, and ascending order.
func checkEigen(t *testing.T, a mat.Symmetric, values []float64, v *mat.Dense, tol float64) {
	t.Helper()
	n := a.SymmetricDim()
	if len(values) != n {
		t.Fatalf("%d eigenvalues for a %dx%d matrix", len(values), n, n)
	}
	for i := 1; i < n; i++ {
		if values[i] < values[i-1] {
			t.Fatalf("eigenvalues not ascending at %d: %g > %g", i, values[i-1], values[i])
		}
	}
	if r, c := v.Dims(); r != n || c != n {
		t.Fatalf("eigenvectors %dx%d, want %dx%d", r, c, n, n)
	}
	var vd, rec mat.Dense
	vd.Mul(v, mat.NewDiagDense(n, values))
	rec.Mul(&vd, v.T())
	if d := maxAbsDiff(&rec, a); d > tol {
		t.Errorf("max |V diag V^T - A| = %g > %g", d, tol)
	}
	var vtv mat.Dense
	vtv.Mul(v.T(), v)
	eye := mat.NewDiagDense(n, nil)
	for i := 0; i < n; i++ {
		eye.SetDiag(i, 1)
	}
	if d := maxAbsDiff(&vtv, eye); d > 1e-13*float64(n+10) {
		t.Errorf("max |V^T V - I| = %g > %g", d, 1e-13*float64(n+10))
	}
}

// lowerSym is a mat.Symmetric backed by the lower triangle only, with NaN in
// the strict upper storage, to exercise inputs without raw upper storage.
type lowerSym struct{ d *mat.Dense }

func (l lowerSym) Dims() (int, int)  { return l.d.Dims() }
func (l lowerSym) T() mat.Matrix     { return l }
func (l lowerSym) SymmetricDim() int { r, _ := l.d.Dims(); return r }
func (l lowerSym) At(i, j int) float64 {
	if j > i {
		i, j = j, i
	}
	return l.d.At(i, j)
}

func TestEigenSymKnownSpectrum(t *testing.T) {
	rng := newRand(5)
	tests := []struct {
		name   string
		lambda []float64
	}{
		{"1x1", []float64{-3}},
		{"distinct", []float64{-2, -0.5, 0, 1, 4, 9}},
		{"repeated", []float64{1, 1, 1, 2, 2, 5, 5, 5}},
		{"wide range", []float64{1e-12, 1e-8, 1e-4, 1, 1e4}},
		{"ordered-phase like", append(make([]float64, 30), 1e-6, 1e-3, 50)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, _ := spdFromSpectrum(rng, tc.lambda)
			var scale float64
			for _, l := range tc.lambda {
				scale = math.Max(scale, math.Abs(l))
			}
			n := len(tc.lambda)
			// Symmetric eigensolvers are backward stable: each eigenvalue
			// moves by O(n eps ||A||), and the construction of A adds as much.
			tol := 1e-14 * float64(n+10) * scale
			values, v, err := EigenSym(a, true)
			if err != nil {
				t.Fatal(err)
			}
			for i, want := range tc.lambda { // tc.lambda is ascending
				if math.Abs(values[i]-want) > tol {
					t.Errorf("lambda[%d] = %.17g, want %.17g (tol %g)", i, values[i], want, tol)
				}
			}
			checkEigen(t, a, values, v, tol)
			only, nov, err := EigenSym(a, false)
			if err != nil || nov != nil {
				t.Fatalf("values only: vecs %v, err %v", nov, err)
			}
			for i := range only {
				if math.Abs(only[i]-tc.lambda[i]) > tol {
					t.Errorf("values only: lambda[%d] = %.17g, want %.17g", i, only[i], tc.lambda[i])
				}
			}
		})
	}
}

// TestEigenSymTridiagonal checks the closed form of the tridiagonal Toeplitz
// matrix with diagonal a and off-diagonal b: eigenvalues
// a + 2b cos(k pi/(n+1)), eigenvectors sin(j k pi/(n+1)), k, j = 1..n.
func TestEigenSymTridiagonal(t *testing.T) {
	tests := []struct {
		n    int
		a, b float64
	}{{2, 0, 1}, {9, 2, -1}, {64, 2, -1}, {101, 0.3, 0.7}}
	for _, tc := range tests {
		n := tc.n
		s := mat.NewSymDense(n, nil)
		for i := 0; i < n; i++ {
			s.SetSym(i, i, tc.a)
			if i+1 < n {
				s.SetSym(i, i+1, tc.b)
			}
		}
		values, v, err := EigenSym(s, true)
		if err != nil {
			t.Fatal(err)
		}
		h := math.Pi / float64(n+1)
		tol := 1e-14 * float64(n+10)
		for idx := 0; idx < n; idx++ {
			// cos is decreasing on (0, pi): ascending order for b > 0 is k = n..1.
			k := n - idx
			if tc.b < 0 {
				k = idx + 1
			}
			want := tc.a + 2*tc.b*math.Cos(float64(k)*h)
			if math.Abs(values[idx]-want) > tol {
				t.Errorf("n=%d: lambda[%d] = %.17g, want %.17g", n, idx, values[idx], want)
			}
			// Distinct eigenvalues: eigenvectors unique up to sign.
			var dot, norm float64
			for j := 0; j < n; j++ {
				u := math.Sin(float64((j+1)*k) * h)
				dot += u * v.At(j, idx)
				norm += u * u
			}
			if c := math.Abs(dot) / math.Sqrt(norm); math.Abs(c-1) > 1e-10 {
				t.Errorf("n=%d: |cos(angle)| between eigenvector %d and closed form = %.15f", n, idx, c)
			}
		}
		checkEigen(t, s, values, v, tol)
	}
}

func TestEigenSymRandom(t *testing.T) {
	rng := newRand(6)
	for _, n := range []int{3, 50, 130} {
		a := randSym(rng, n)
		values, v, err := EigenSym(a, true)
		if err != nil {
			t.Fatal(err)
		}
		// ||A||_2 ~ 2 sqrt(n) for a Wigner matrix.
		checkEigen(t, a, values, v, 1e-14*float64(n+10)*2*math.Sqrt(float64(n)))
		// Trace and Frobenius norm are similarity invariants.
		var tr, fro, sl, sl2 float64
		for i := 0; i < n; i++ {
			tr += a.At(i, i)
			sl += values[i]
			sl2 += values[i] * values[i]
			for j := 0; j < n; j++ {
				fro += a.At(i, j) * a.At(i, j)
			}
		}
		if math.Abs(tr-sl) > 1e-12*float64(n) || math.Abs(fro-sl2) > 1e-12*fro {
			t.Errorf("n=%d: trace %g vs sum lambda %g; ||A||_F^2 %g vs sum lambda^2 %g", n, tr, sl, fro, sl2)
		}
	}
}

func TestEigenSymInputs(t *testing.T) {
	rng := newRand(7)
	n := 12
	full := randSym(rng, n)
	lower := mat.NewDense(n, n, nil)
	for i := 0; i < n; i++ {
		for j := 0; j < n; j++ {
			if j > i {
				lower.Set(i, j, math.NaN())
			} else {
				lower.Set(i, j, full.At(i, j))
			}
		}
	}
	want, _, err := EigenSym(full, false)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		a    mat.Symmetric
	}{
		{"lower-stored Symmetric", lowerSym{lower}},
		{"SymDense view", func() mat.Symmetric {
			big := mat.NewSymDense(n+3, nil)
			for i := 0; i < n; i++ {
				for j := i; j < n; j++ {
					big.SetSym(i+2, j+2, full.At(i, j))
				}
			}
			return big.SliceSym(2, 2+n)
		}()},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, v, err := EigenSym(tc.a, true)
			if err != nil {
				t.Fatal(err)
			}
			for i := range want {
				if math.Abs(got[i]-want[i]) > 1e-12 {
					t.Errorf("lambda[%d] = %.17g, want %.17g", i, got[i], want[i])
				}
			}
			checkEigen(t, full, got, v, 1e-12)
		})
	}
}

func TestEigenSymErrors(t *testing.T) {
	tests := []struct {
		name string
		a    mat.Symmetric
	}{
		{"NaN", mat.NewSymDense(2, []float64{1, math.NaN(), math.NaN(), 1})},
		{"-Inf", mat.NewSymDense(3, []float64{1, 0, 0, 0, 1, 0, 0, 0, math.Inf(-1)})},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, vectors := range []bool{false, true} {
				values, v, err := EigenSym(tc.a, vectors)
				if !errors.Is(err, ErrNotFinite) {
					t.Errorf("vectors=%v: error %v, want one wrapping ErrNotFinite", vectors, err)
				}
				if values != nil || v != nil {
					t.Errorf("vectors=%v: results returned with an error", vectors)
				}
			}
		})
	}
}

func TestEmpty(t *testing.T) {
	values, v, err := EigenSym(&mat.SymDense{}, true)
	if err != nil || len(values) != 0 || v == nil {
		t.Errorf("EigenSym of 0x0 = %v, %v, %v", values, v, err)
	}
	if _, err := Cholesky(&mat.SymDense{}); err != nil {
		t.Errorf("Cholesky of 0x0: %v", err)
	}
}

func TestGemmFlopRate(t *testing.T) {
	r := GemmFlopRate(64, 3)
	// Any real machine does between 1 MFLOP/s and 100 TFLOP/s.
	if !(r > 1e6 && r < 1e14) {
		t.Errorf("GemmFlopRate(64, 3) = %g FLOP/s, outside [1e6, 1e14]", r)
	}
	for _, args := range [][2]int{{0, 1}, {8, 0}} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("GemmFlopRate(%d, %d) did not panic", args[0], args[1])
				}
			}()
			GemmFlopRate(args[0], args[1])
		}()
	}
}

// TestEigenSymExtremeScales checks matrices far from unit scale, where
// LAPACK-style solvers rescale internally (gonum v0.17's Dsterf panics
// there). The 2x2 blocks [[2,1],[1,2]] have eigenvalues 1 and 3; blocks
// that are exactly decoupled keep their eigenvalues to relative accuracy.
func TestEigenSymExtremeScales(t *testing.T) {
	block := func(scales ...float64) (*mat.SymDense, []float64) {
		n := 2 * len(scales)
		s := mat.NewSymDense(n, nil)
		var want []float64
		for b, sc := range scales {
			s.SetSym(2*b, 2*b, 2*sc)
			s.SetSym(2*b+1, 2*b+1, 2*sc)
			s.SetSym(2*b, 2*b+1, sc)
			want = append(want, sc, 3*sc)
		}
		sort.Float64s(want)
		return s, want
	}
	tests := []struct {
		name   string
		scales []float64
	}{
		{"1e-200", []float64{1e-200}},
		{"1e200", []float64{1e200}},
		{"1 and 1e-130", []float64{1, 1e-130}},
		{"1e150 and 1e-150", []float64{1e150, 1e-150}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, want := block(tc.scales...)
			for _, vectors := range []bool{false, true} {
				got, v, err := EigenSym(a, vectors)
				if err != nil {
					t.Fatalf("vectors=%v: %v", vectors, err)
				}
				for i := range want {
					if math.Abs(got[i]-want[i]) > 1e-14*math.Abs(want[i]) {
						t.Errorf("vectors=%v: lambda[%d] = %g, want %g", vectors, i, got[i], want[i])
					}
				}
				if vectors {
					var vtv mat.Dense
					vtv.Mul(v.T(), v)
					for i := 0; i < len(want); i++ {
						for j := 0; j < len(want); j++ {
							if w := b2f(i == j); math.Abs(vtv.At(i, j)-w) > 1e-14 {
								t.Errorf("(V^T V)(%d,%d) = %g, want %g", i, j, vtv.At(i, j), w)
							}
						}
					}
				}
			}
		})
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// TestConcurrent runs EigenSym, SolveSPD and Gemm from several goroutines on
// one shared input; each must match the sequential result exactly (the
// computations are deterministic). Run with -race to check for data races.
func TestConcurrent(t *testing.T) {
	const n, g = 70, 4
	rng := newRand(9)
	a := randSym(rng, n)
	spd := mat.NewSymDense(n, nil)
	Syrk(1, randomDense(rng, n, n+5), 0, spd)
	b := randomDense(rng, n, 3)
	wantVals, wantVecs, err := EigenSym(a, true)
	if err != nil {
		t.Fatal(err)
	}
	wantX, err := SolveSPD(spd, b)
	if err != nil {
		t.Fatal(err)
	}
	errs := make(chan string, g)
	for range g {
		go func() {
			vals, vecs, err := EigenSym(a, true)
			x, err2 := SolveSPD(spd, b)
			switch {
			case err != nil || err2 != nil:
				errs <- fmt.Sprint(err, err2)
			case !floats.Equal(vals, wantVals) || !mat.Equal(vecs, wantVecs) || !mat.Equal(x, wantX):
				errs <- "concurrent result differs from the sequential one"
			default:
				errs <- ""
			}
		}()
	}
	for range g {
		if msg := <-errs; msg != "" {
			t.Error(msg)
		}
	}
}
