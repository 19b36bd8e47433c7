package linalg

import (
	"runtime"
	"sync"

	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/blas/gonum"
)

// Tile sizes of gemmGo. A packed tile of op(B)^T, gemmNB rows of gemmKC
// entries (256 KiB), stays in a core's L2 cache while the rows of op(A) are
// dotted against it; a row segment of op(A) (2 KiB) stays in L1. When A is
// transposed, gemmMB of its rows are packed at a time.
const (
	gemmKC = 256
	gemmNB = 128
	gemmMB = 128
	// gemmMinWork is the size m n k below which gonum's Dgemm is used
	// directly: tiling and goroutines do not pay off.
	gemmMinWork = 48 * 48 * 48
	gemmMinDim  = 64
)

// gemmGo computes C = alpha op(A) op(B) + beta C in pure Go as dot products
// of contiguous rows,
//
//	C[i][j] = beta C[i][j] + alpha sum_l op(A)[i][l] op(B)^T[j][l],
//
// through gonum's assembly dot kernel, with op(B)^T (and op(A) when A is
// transposed) packed in cache-sized tiles, the sum over l split in blocks
// of gemmKC, and the rows (or, for a wide C, the columns) of C split among
// goroutines. Dimensions are checked by the caller.
//
// gonum v0.17's Dgemm runs its dots and axpys on 64-long blocks and takes
// A^T B^T by strides. Measured on this 2-core machine at n = 1024 (median
// GFLOP/s, gonum vs gemmGo): A B 4.4 vs 8.1, A B^T 7.7 vs 8.3, A^T B 6.4 vs
// 8.3, A^T B^T 0.45 vs 7.9. For C with fewer than gemmMinDim rows or
// columns gonum's Dgemm is as fast or faster, and is used, except for
// A^T B^T.
func gemmGo(tA, tB bool, alpha float64, a, b blas64.General, beta float64, c blas64.General) {
	m, n := c.Rows, c.Cols
	k := a.Cols
	if tA {
		k = a.Rows
	}
	if m*n*k < gemmMinWork || alpha == 0 || (min(m, n) < gemmMinDim && !(tA && tB)) {
		blas64.Gemm(trans(tA), trans(tB), alpha, a, b, beta, c)
		return
	}
	procs := runtime.GOMAXPROCS(0)
	if n > m {
		// Wide C: split its columns, i.e. the columns of op(B).
		workers := min(procs, max(1, n/16))
		parallel(workers, func(w int) {
			lo, hi := w*n/workers, (w+1)*n/workers
			bv, cv := b, c
			if tB {
				bv.Rows, bv.Data = hi-lo, b.Data[lo*b.Stride:]
			} else {
				bv.Cols, bv.Data = hi-lo, b.Data[lo:]
			}
			cv.Cols, cv.Data = hi-lo, c.Data[lo:]
			gemmRows(tA, tB, alpha, a, bv, beta, cv, 0, m)
		})
		return
	}
	workers := min(procs, max(1, m/16))
	parallel(workers, func(w int) {
		gemmRows(tA, tB, alpha, a, b, beta, c, w*m/workers, (w+1)*m/workers)
	})
}

// parallel runs f(0), ..., f(workers-1) concurrently and waits for them.
func parallel(workers int, f func(w int)) {
	if workers == 1 {
		f(0)
		return
	}
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f(w)
		}()
	}
	wg.Wait()
}

// gemmRows computes rows lo..hi-1 of C for gemmGo.
func gemmRows(tA, tB bool, alpha float64, a, b blas64.General, beta float64, c blas64.General, lo, hi int) {
	n := c.Cols
	k := a.Cols
	if tA {
		k = a.Rows
	}
	for i := lo; i < hi; i++ {
		row := c.Data[i*c.Stride : i*c.Stride+n]
		switch beta {
		case 0:
			clear(row)
		case 1:
		default:
			for j := range row {
				row[j] *= beta
			}
		}
	}
	var impl gonum.Implementation
	var bt, at []float64
	if !tB {
		bt = make([]float64, gemmNB*gemmKC)
	}
	if tA {
		at = make([]float64, gemmMB*gemmKC)
	}
	for kb := 0; kb < k; kb += gemmKC {
		kl := min(gemmKC, k-kb)
		for jb := 0; jb < n; jb += gemmNB {
			nl := min(gemmNB, n-jb)
			if !tB { // bt[jj][l] = B[kb+l][jb+jj]
				for l := 0; l < kl; l++ {
					src := b.Data[(kb+l)*b.Stride+jb : (kb+l)*b.Stride+jb+nl]
					for jj, v := range src {
						bt[jj*kl+l] = v
					}
				}
			}
			for ib := lo; ib < hi; ib += gemmMB {
				ml := min(gemmMB, hi-ib)
				if tA { // at[ii][l] = A[kb+l][ib+ii]
					for l := 0; l < kl; l++ {
						src := a.Data[(kb+l)*a.Stride+ib : (kb+l)*a.Stride+ib+ml]
						for ii, v := range src {
							at[ii*kl+l] = v
						}
					}
				}
				for ii := 0; ii < ml; ii++ {
					i := ib + ii
					var arow []float64
					if tA {
						arow = at[ii*kl : ii*kl+kl]
					} else {
						arow = a.Data[i*a.Stride+kb : i*a.Stride+kb+kl]
					}
					crow := c.Data[i*c.Stride+jb : i*c.Stride+jb+nl]
					for jj := 0; jj < nl; jj++ {
						var brow []float64
						if tB {
							brow = b.Data[(jb+jj)*b.Stride+kb : (jb+jj)*b.Stride+kb+kl]
						} else {
							brow = bt[jj*kl : jj*kl+kl]
						}
						crow[jj] += alpha * impl.Ddot(kl, arow, 1, brow, 1)
					}
				}
			}
		}
	}
}
