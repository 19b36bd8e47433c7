package linalg

import (
	"errors"
	"math"
	"runtime"
	"sort"
	"sync"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/mat"

	lapackgonum "gonum.org/v1/gonum/lapack/gonum"
)

// eigenSymQL computes the eigenvalues, and when vectors is true the
// eigenvectors, of a symmetric matrix in pure Go:
//
//  1. Householder reduction A = Q T Q^T to a symmetric tridiagonal T
//     (gonum's blocked Dsytrd, and Dorgtr to form Q);
//  2. implicit QL iteration with Wilkinson shifts on T, T = S diag(λ) S^T,
//     where S is the product of the plane rotations of all sweeps;
//  3. the eigenvectors Z = Q S, by applying every rotation to Q.
//
// This is the algorithm of LAPACK's dsteqr (gonum's Dsyev). Step 3 is
// where the O(n^3) time goes, and it is organized differently here: a
// rotation of columns (i, i+1) acts on each row of Z independently, so the
// rotations of many consecutive sweeps are recorded and then streamed row by
// row, each row staying in cache while all of them are applied, with the
// rows split among goroutines. The arithmetic per entry is that of applying
// the rotations one at a time.
//
// The values-only path also uses step 2 rather than gonum's Dsterf, whose
// rescaling of tridiagonal blocks with max |entry| below about 1e-123 or
// above about 1e153 panics in gonum v0.17 (Dlascl is passed lda = n for a
// column vector).
func eigenSymQL(a mat.Symmetric, vectors bool) ([]float64, *mat.Dense, error) {
	n := a.SymmetricDim()
	z := make([]float64, n*n)
	copyUpper(z, a)
	if n == 1 {
		var v *mat.Dense
		if vectors {
			v = mat.NewDense(1, 1, []float64{1})
		}
		return []float64{z[0]}, v, nil
	}
	d := make([]float64, n)
	e := make([]float64, n) // e[i] = T(i, i+1); e[n-1] is a zero sentinel
	tau := make([]float64, n-1)
	var impl lapackgonum.Implementation
	query := []float64{0}
	impl.Dsytrd(blas.Upper, n, z, n, d, e[:n-1], tau, query, -1)
	lwork := int(query[0])
	if vectors {
		impl.Dorgtr(blas.Upper, n, z, n, tau, query, -1)
		lwork = max(lwork, int(query[0]))
	}
	work := make([]float64, max(lwork, 1))
	impl.Dsytrd(blas.Upper, n, z, n, d, e[:n-1], tau, work, lwork)
	if vectors {
		impl.Dorgtr(blas.Upper, n, z, n, tau, work, lwork)
	} else {
		z = nil
	}

	if err := tridiagQL(d, e, z, n); err != nil {
		return nil, nil, err
	}

	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(p, q int) bool { return d[idx[p]] < d[idx[q]] })
	values := make([]float64, n)
	for j, k := range idx {
		values[j] = d[k]
	}
	if !vectors {
		return values, nil, nil
	}
	v := make([]float64, n*n)
	for i := 0; i < n; i++ {
		src, dst := z[i*n:i*n+n], v[i*n:i*n+n]
		for j, k := range idx {
			dst[j] = src[k]
		}
	}
	return values, mat.NewDense(n, n, v), nil
}

// errNoConvergence is returned when the QL iteration exceeds its budget of
// 30 n sweeps (LAPACK's limit).
var errNoConvergence = errors.New("eigensolver (implicit QL) did not converge")

// tridiagQL diagonalizes the symmetric tridiagonal matrix with diagonal d and
// off-diagonal e[0:n-1] (e[n-1] must be 0) by implicit QL sweeps with
// Wilkinson shifts. On return d holds the eigenvalues (unordered) and the
// columns of the row-major n x n matrix z have been multiplied on the right
// by the accumulated rotations: z <- z S. With z nil only d is computed.
//
// A sweep on the unreduced block l..m chases the bulge upwards with
// rotations G_i acting on (i, i+1), i = m-1 down to l. Each is recorded as
// (c, s) and later applied to the columns of z as
//
//	z[k][i+1] <- s z[k][i] + c z[k][i+1],   z[k][i] <- c z[k][i] - s z[k][i+1].
//
// An off-diagonal e[m] is treated as zero when |e[m]| <= eps (|d[m]| + |d[m+1]|),
// which perturbs T by at most eps ||T||.
func tridiagQL(d, e, z []float64, n int) error {
	const eps = 0x1p-52
	rb := newRotBatch(n)
	budget := 30 * n
	for l := 0; l < n; l++ {
		for {
			m := l
			for ; m < n-1; m++ {
				if math.Abs(e[m]) <= eps*(math.Abs(d[m])+math.Abs(d[m+1])) {
					break
				}
			}
			if m == l {
				break
			}
			if budget == 0 {
				return errNoConvergence
			}
			budget--
			// Wilkinson shift: the eigenvalue of the leading 2x2 block
			// closer to d[l], entering as d[m] - shift.
			g := (d[l+1] - d[l]) / (2 * e[l])
			r := math.Hypot(g, 1)
			g = d[m] - d[l] + e[l]/(g+math.Copysign(r, g))
			s, c, p := 1.0, 1.0, 0.0
			cs, ss := rb.begin(m - 1)
			i := m - 1
			deflated := false
			for ; i >= l; i-- {
				f := s * e[i]
				b := c * e[i]
				r = math.Hypot(f, g)
				e[i+1] = r
				if r == 0 {
					// Underflow: the block splits at i+1; restart there.
					d[i+1] -= p
					e[m] = 0
					deflated = true
					break
				}
				s = f / r
				c = g / r
				g = d[i+1] - p
				r = (d[i]-g)*s + 2*c*b
				p = s * r
				d[i+1] = g + p
				g = c*r - b
				cs = append(cs, c)
				ss = append(ss, s)
			}
			rb.end(cs, ss, z)
			if deflated {
				continue
			}
			d[l] -= p
			e[l] = g
			e[m] = 0
		}
	}
	rb.flush(z)
	return nil
}

// rotBatch records the rotation sequences of consecutive sweeps and applies
// them to z row by row once about batchRotations of them are pending (or
// when flushed). Sweep k holds count[k] rotations acting on (i, i+1) for
// i = top[k], top[k]-1, ..., in that order.
type rotBatch struct {
	n        int
	c, s     []float64
	top, cnt []int
	limit    int
}

// batchRotations bounds the pending rotations: 16 bytes each, 256 KiB in all,
// which stays in a core's L2 cache while every row of z streams past it.
const batchRotations = 16384

func newRotBatch(n int) *rotBatch {
	limit := max(batchRotations, n)
	return &rotBatch{n: n, c: make([]float64, 0, limit+n), s: make([]float64, 0, limit+n), limit: limit}
}

// begin starts a sweep whose first rotation acts on (top, top+1) and
// returns the slices to append its rotations to.
func (rb *rotBatch) begin(top int) (cs, ss []float64) {
	rb.top = append(rb.top, top)
	return rb.c, rb.s
}

// end closes the sweep begun last, with its rotations appended to cs, ss.
func (rb *rotBatch) end(cs, ss []float64, z []float64) {
	rb.cnt = append(rb.cnt, len(cs)-len(rb.c))
	rb.c, rb.s = cs, ss
	if len(rb.c) >= rb.limit {
		rb.flush(z)
	}
}

// flush applies the pending rotations to every row of z (none when z is
// nil) and clears them.
func (rb *rotBatch) flush(z []float64) {
	if len(rb.c) == 0 || z == nil {
		rb.c, rb.s = rb.c[:0], rb.s[:0]
		rb.top, rb.cnt = rb.top[:0], rb.cnt[:0]
		return
	}
	n := rb.n
	workers := runtime.GOMAXPROCS(0)
	// Small batches are not worth a goroutine: about 64k rotation-row
	// updates per worker at least.
	workers = min(workers, max(1, n*len(rb.c)/(1<<16)), n)
	if workers == 1 {
		rb.applyRows(z, 0, n)
	} else {
		var wg sync.WaitGroup
		for w := 0; w < workers; w++ {
			lo, hi := w*n/workers, (w+1)*n/workers
			wg.Add(1)
			go func() {
				defer wg.Done()
				rb.applyRows(z, lo, hi)
			}()
		}
		wg.Wait()
	}
	rb.c, rb.s = rb.c[:0], rb.s[:0]
	rb.top, rb.cnt = rb.top[:0], rb.cnt[:0]
}

// applyRows applies the pending rotations to rows lo..hi-1 of z. Within a
// sweep the new z[k][i] is the next rotation's old z[k][i+1], so it is
// carried in a register instead of stored and reloaded. That makes each row
// a chain of dependent multiply-adds, so four rows are advanced together to
// overlap their latencies.
func (rb *rotBatch) applyRows(z []float64, lo, hi int) {
	n := rb.n
	k := lo
	for ; k+4 <= hi; k += 4 {
		r0 := z[k*n : k*n+n]
		r1 := z[(k+1)*n : (k+1)*n+n]
		r2 := z[(k+2)*n : (k+2)*n+n]
		r3 := z[(k+3)*n : (k+3)*n+n]
		t := 0
		for sw, top := range rb.top {
			cnt := rb.cnt[sw]
			if cnt == 0 {
				continue
			}
			cs := rb.c[t : t+cnt]
			ss := rb.s[t : t+cnt]
			t += cnt
			first := top - cnt + 1 // columns first .. top+1
			s0, s1 := r0[first:top+2], r1[first:top+2]
			s2, s3 := r2[first:top+2], r3[first:top+2]
			_, _, _ = s1[cnt], s2[cnt], s3[cnt]
			x0, x1, x2, x3 := s0[cnt], s1[cnt], s2[cnt], s3[cnt]
			for q, c := range cs {
				s := ss[q]
				j := cnt - 1 - q
				y0, y1, y2, y3 := s0[j], s1[j], s2[j], s3[j]
				s0[j+1] = s*y0 + c*x0
				s1[j+1] = s*y1 + c*x1
				s2[j+1] = s*y2 + c*x2
				s3[j+1] = s*y3 + c*x3
				x0 = c*y0 - s*x0
				x1 = c*y1 - s*x1
				x2 = c*y2 - s*x2
				x3 = c*y3 - s*x3
			}
			s0[0], s1[0], s2[0], s3[0] = x0, x1, x2, x3
		}
	}
	for ; k < hi; k++ {
		row := z[k*n : k*n+n]
		t := 0
		for sw, top := range rb.top {
			cnt := rb.cnt[sw]
			if cnt == 0 {
				continue
			}
			cs := rb.c[t : t+cnt]
			ss := rb.s[t : t+cnt]
			t += cnt
			seg := row[top-cnt+1 : top+2]
			x := seg[cnt]
			for q, c := range cs {
				s := ss[q]
				j := cnt - 1 - q
				y := seg[j]
				seg[j+1] = s*y + c*x
				x = c*y - s*x
			}
			seg[0] = x
		}
	}
}

// copyUpper writes the upper triangle of a, row-major, into dst (n*n).
func copyUpper(dst []float64, a mat.Symmetric) {
	n := a.SymmetricDim()
	if rs, ok := a.(mat.RawSymmetricer); ok {
		if raw := rs.RawSymmetric(); raw.Uplo == blas.Upper {
			for i := 0; i < n; i++ {
				copy(dst[i*n+i:i*n+n], raw.Data[i*raw.Stride+i:i*raw.Stride+n])
			}
			return
		}
	}
	for i := 0; i < n; i++ {
		for j := i; j < n; j++ {
			dst[i*n+j] = a.At(i, j)
		}
	}
}
