package linalg

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"time"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/lapack"
	"gonum.org/v1/gonum/lapack/lapack64"
	"gonum.org/v1/gonum/mat"

	lapackgonum "gonum.org/v1/gonum/lapack/gonum"
)

// ErrNotPositiveDefinite is wrapped by the errors of Cholesky and SolveSPD
// when the matrix is not (numerically) symmetric positive definite.
var ErrNotPositiveDefinite = errors.New("matrix is not positive definite")

// ErrNotFinite is wrapped by the errors returned for inputs holding NaN or
// an infinity.
var ErrNotFinite = errors.New("matrix has a NaN or infinite entry")

// Backend returns the name of the linear-algebra backend this binary was
// built with: "gonum" (pure Go, the default) or "openblas" (the openblas
// build tag: OpenBLAS for BLAS, LAPACKE for eigendecompositions).
func Backend() string { return backend }

// Gemm computes C = alpha op(A) op(B) + beta C, where op(X) is X^T when the
// corresponding flag tA or tB is true and X otherwise. With op(A) m x k and
// op(B) k x n, c must be m x n. When beta is zero, C is not read (NaNs in it
// do not propagate). c must not share memory with a or b. Gemm panics on
// mismatched dimensions or aliasing.
func Gemm(tA, tB bool, alpha float64, a, b *mat.Dense, beta float64, c *mat.Dense) {
	ar, ac := a.Dims()
	if tA {
		ar, ac = ac, ar
	}
	br, bc := b.Dims()
	if tB {
		br, bc = bc, br
	}
	cr, cc := c.Dims()
	if ac != br || cr != ar || cc != bc {
		panic(fmt.Sprintf("linalg: Gemm dimension mismatch: op(A) %dx%d, op(B) %dx%d, C %dx%d", ar, ac, br, bc, cr, cc))
	}
	craw := c.RawMatrix()
	if overlaps(craw, a.RawMatrix()) || overlaps(craw, b.RawMatrix()) {
		panic("linalg: Gemm destination C shares memory with A or B")
	}
	if cr == 0 || cc == 0 || ac == 0 { // empty (zero-value) matrices
		return
	}
	gemm(tA, tB, alpha, a.RawMatrix(), b.RawMatrix(), beta, craw)
}

// Syrk computes the symmetric C = alpha A A^T + beta C, with A n x k and C
// n x n, writing into c. When beta is zero, C is not read. c must not share
// memory with a. Syrk panics on mismatched dimensions or aliasing.
func Syrk(alpha float64, a *mat.Dense, beta float64, c *mat.SymDense) {
	n, k := a.Dims()
	if c.SymmetricDim() != n {
		panic(fmt.Sprintf("linalg: Syrk dimension mismatch: A %dx%d, C %dx%d", n, k, c.SymmetricDim(), c.SymmetricDim()))
	}
	if n == 0 {
		return
	}
	craw := c.RawSymmetric()
	if overlaps(blas64.General{Rows: n, Cols: n, Stride: craw.Stride, Data: craw.Data}, a.RawMatrix()) {
		panic("linalg: Syrk destination C shares memory with A")
	}
	syrk(alpha, a.RawMatrix(), beta, craw)
}

// Cholesky computes the factorization A = U^T U of a symmetric positive
// definite matrix A (U upper triangular). It returns an error wrapping
// ErrNotPositiveDefinite when A is not positive definite to working
// precision (a pivot is not positive), and one wrapping ErrNotFinite when A
// holds NaN or Inf. The factorization also carries mat's condition-number
// estimate, which in gonum v0.17 costs about 0.6 (pure Go) to 4.5 (OpenBLAS)
// times the factorization itself at n = 2048; to solve a system, SolveSPD
// is faster.
func Cholesky(a mat.Symmetric) (*mat.Cholesky, error) {
	n := a.SymmetricDim()
	if err := checkFiniteSym(a); err != nil {
		return nil, fmt.Errorf("linalg: Cholesky of %dx%d matrix: %w", n, n, err)
	}
	var ch mat.Cholesky
	if n == 0 {
		return &ch, nil
	}
	if !ch.Factorize(a) {
		return nil, fmt.Errorf("linalg: Cholesky of %dx%d matrix: %w", n, n, ErrNotPositiveDefinite)
	}
	return &ch, nil
}

// SolveSPD solves A X = B for X, with A n x n symmetric positive definite
// and B n x m: A = U^T U by Cholesky, then the triangular solves
// U^T Y = B, U X = Y. It returns an error when A holds NaN or Inf, when B
// does not have n rows or holds NaN or Inf, and an error wrapping
// ErrNotPositiveDefinite when the factorization meets a non-positive pivot
// or when A's condition number kappa_1(A) = ||A||_1 ||A^-1||_1 exceeds
// mat.ConditionTolerance (1e16): such a solution has no significant digits.
//
// The condition number is estimated as LAPACK's dpocon does (Hager and
// Higham's 1-norm estimator, here with plain triangular solves), at a few
// O(n^2) solves; gonum's mat.Cholesky estimate, which Cholesky pays for,
// is much slower (see Cholesky).
func SolveSPD(a mat.Symmetric, b *mat.Dense) (*mat.Dense, error) {
	n := a.SymmetricDim()
	br, bc := b.Dims()
	if br != n {
		return nil, fmt.Errorf("linalg: SolveSPD: A is %dx%d but B has %d rows", n, n, br)
	}
	if err := checkFiniteGeneral(b.RawMatrix()); err != nil {
		return nil, fmt.Errorf("linalg: SolveSPD: right-hand side %dx%d: %w", br, bc, err)
	}
	if err := checkFiniteSym(a); err != nil {
		return nil, fmt.Errorf("linalg: SolveSPD: %dx%d matrix: %w", n, n, err)
	}
	if n == 0 || bc == 0 {
		return &mat.Dense{}, nil
	}
	u := make([]float64, n*n)
	copyUpper(u, a)
	sym := blas64.Symmetric{N: n, Stride: n, Uplo: blas.Upper, Data: u}
	anorm := lapack64.Lansy(lapack.MaxColumnSum, sym, make([]float64, n))
	t, ok := lapack64.Potrf(sym)
	if !ok {
		return nil, fmt.Errorf("linalg: SolveSPD: %dx%d matrix: %w", n, n, ErrNotPositiveDefinite)
	}
	if rcond := rcondSPD(t, anorm); !(rcond*mat.ConditionTolerance >= 1) {
		return nil, fmt.Errorf("linalg: SolveSPD: %dx%d matrix is singular to working precision (condition number %.3g > %.0g): %w",
			n, n, 1/rcond, mat.ConditionTolerance, ErrNotPositiveDefinite)
	}
	x := mat.DenseCopyOf(b)
	lapack64.Potrs(t, x.RawMatrix())
	return x, nil
}

// rcondSPD estimates 1/kappa_1(A) = 1/(||A||_1 ||A^-1||_1) from the Cholesky
// factor U of A and anorm = ||A||_1. ||A^-1||_1 is Hager-Higham's lower
// bound (gonum's Dlacn2) over products x -> A^-1 x = U^-1 U^-T x; A^-1 is
// symmetric, so its transpose products are the same. It returns 0 when a
// solve overflows.
func rcondSPD(u blas64.Triangular, anorm float64) float64 {
	n := u.N
	if anorm == 0 {
		return 0
	}
	var impl lapackgonum.Implementation
	v, x := make([]float64, n), make([]float64, n)
	isgn := make([]int, n)
	var isave [3]int
	var est float64
	kase := 0
	vec := blas64.Vector{N: n, Inc: 1, Data: x}
	for {
		est, kase = impl.Dlacn2(n, v, x, isgn, est, kase, &isave)
		if kase == 0 {
			break
		}
		blas64.Trsv(blas.Trans, u, vec)
		blas64.Trsv(blas.NoTrans, u, vec)
		for _, xi := range x {
			if math.IsNaN(xi) || math.IsInf(xi, 0) {
				return 0
			}
		}
	}
	if !(est > 0) || math.IsInf(est, 0) {
		return 0
	}
	return 1 / est / anorm
}

// EigenSym computes the eigendecomposition A = V diag(values) V^T of a
// symmetric matrix A. The eigenvalues are returned in ascending order. When
// vectors is true, vecs holds the orthonormal eigenvectors as its columns,
// column j belonging to values[j]; otherwise vecs is nil. Only the upper
// triangle of A is read (as by mat.Symmetric). It returns an error wrapping
// ErrNotFinite when A holds NaN or Inf, and an error when the eigensolver
// does not converge.
func EigenSym(a mat.Symmetric, vectors bool) (values []float64, vecs *mat.Dense, err error) {
	n := a.SymmetricDim()
	if err := checkFiniteSym(a); err != nil {
		return nil, nil, fmt.Errorf("linalg: EigenSym of %dx%d matrix: %w", n, n, err)
	}
	if n == 0 {
		if vectors {
			return []float64{}, &mat.Dense{}, nil
		}
		return []float64{}, nil, nil
	}
	values, vecs, err = eigenSym(a, vectors)
	if err != nil {
		return nil, nil, fmt.Errorf("linalg: EigenSym of %dx%d matrix: %w", n, n, err)
	}
	return values, vecs, nil
}

// eigenSymGonum is EigenSym through gonum's native LAPACK (Dsyev: reduction
// to tridiagonal form, then implicit QL/QR).
func eigenSymGonum(a mat.Symmetric, vectors bool) ([]float64, *mat.Dense, error) {
	var es mat.EigenSym
	if !es.Factorize(a, vectors) {
		return nil, nil, errors.New("eigensolver (gonum Dsyev) did not converge")
	}
	values := es.Values(nil)
	if !vectors {
		return values, nil, nil
	}
	var v mat.Dense
	es.VectorsTo(&v)
	return values, &v, nil
}

// GemmFlopRate measures the rate of this machine's dense matrix product
// C = A B on n x n float64 matrices, in floating-point operations per
// second, counting 2 n^3 operations per product. It times repeats products
// (after one untimed warm-up) and returns the median rate. The inputs are
// drawn from a fixed seed. It panics if n < 1 or repeats < 1.
func GemmFlopRate(n, repeats int) float64 {
	if n < 1 || repeats < 1 {
		panic(fmt.Sprintf("linalg: GemmFlopRate(n=%d, repeats=%d): both must be positive", n, repeats))
	}
	rng := rand.New(rand.NewPCG(1, 2))
	a := randomDense(rng, n, n)
	b := randomDense(rng, n, n)
	c := mat.NewDense(n, n, nil)
	Gemm(false, false, 1, a, b, 0, c)
	rates := make([]float64, repeats)
	flops := 2 * float64(n) * float64(n) * float64(n)
	for i := range rates {
		start := time.Now()
		Gemm(false, false, 1, a, b, 0, c)
		sec := time.Since(start).Seconds()
		if sec <= 0 {
			sec = 1e-9
		}
		rates[i] = flops / sec
	}
	sort.Float64s(rates)
	if repeats%2 == 1 {
		return rates[repeats/2]
	}
	return (rates[repeats/2-1] + rates[repeats/2]) / 2
}

func randomDense(rng *rand.Rand, r, c int) *mat.Dense {
	d := make([]float64, r*c)
	for i := range d {
		d[i] = rng.NormFloat64()
	}
	return mat.NewDense(r, c, d)
}

func trans(t bool) blas.Transpose {
	if t {
		return blas.Trans
	}
	return blas.NoTrans
}

// overlaps reports whether the backing storage of two non-empty matrices
// intersects (a conservative test on the spanned address ranges).
func overlaps(x, y blas64.General) bool {
	if x.Rows == 0 || x.Cols == 0 || y.Rows == 0 || y.Cols == 0 {
		return false
	}
	xs := x.Data[:(x.Rows-1)*x.Stride+x.Cols]
	ys := y.Data[:(y.Rows-1)*y.Stride+y.Cols]
	x0, x1 := &xs[0], &xs[len(xs)-1]
	y0, y1 := &ys[0], &ys[len(ys)-1]
	return addr(x0) <= addr(y1) && addr(y0) <= addr(x1)
}

func checkFiniteGeneral(g blas64.General) error {
	for i := 0; i < g.Rows; i++ {
		for j, v := range g.Data[i*g.Stride : i*g.Stride+g.Cols] {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return fmt.Errorf("entry (%d,%d) is %v: %w", i, j, v, ErrNotFinite)
			}
		}
	}
	return nil
}

// checkFiniteSym checks the upper triangle of a, the part the factorizations read.
func checkFiniteSym(a mat.Symmetric) error {
	n := a.SymmetricDim()
	if rs, ok := a.(mat.RawSymmetricer); ok {
		raw := rs.RawSymmetric()
		if raw.Uplo == blas.Upper {
			for i := 0; i < n; i++ {
				for j, v := range raw.Data[i*raw.Stride+i : i*raw.Stride+n] {
					if math.IsNaN(v) || math.IsInf(v, 0) {
						return fmt.Errorf("entry (%d,%d) is %v: %w", i, i+j, v, ErrNotFinite)
					}
				}
			}
			return nil
		}
	}
	for i := 0; i < n; i++ {
		for j := i; j < n; j++ {
			if v := a.At(i, j); math.IsNaN(v) || math.IsInf(v, 0) {
				return fmt.Errorf("entry (%d,%d) is %v: %w", i, j, v, ErrNotFinite)
			}
		}
	}
	return nil
}
