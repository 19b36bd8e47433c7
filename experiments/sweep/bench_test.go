package sweep

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/mat"

	// Importing linalg links its BLAS backend (OpenBLAS in the openblas
	// build) into this test binary.
	"github.com/ntkharness/ntkharness/linalg"
)

// BenchmarkReferenceDgemm is the same-run reference for the numbers below:
// a 256 x 256 float64 matrix product through the linear-algebra package,
// so with the build's BLAS backend (OpenBLAS under -tags openblas).
func BenchmarkReferenceDgemm(b *testing.B) {
	const n = 256
	rng := rand.New(rand.NewPCG(1, 1))
	mk := func() *mat.Dense {
		m := mat.NewDense(n, n, nil)
		for i := range n {
			for j := range n {
				m.Set(i, j, rng.NormFloat64())
			}
		}
		return m
	}
	x, y, z := mk(), mk(), mk()
	b.ResetTimer()
	for b.Loop() {
		linalg.Gemm(false, false, 1, x, y, 0, z)
	}
	b.ReportMetric(2*n*n*n*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}

// paperSweep is the size of the paper's phase diagram: 40 sw2 x 30 depths
// x 2 seeds = 2400 cells.
const paperSweep = `{"spec": {"arch": "fcn", "act": "erf", "depth": 1, "sw2": 1, "sb2": 0.18},
 "grid": {"sw2": {"from": 0.5, "to": 3, "steps": 40}, "depth": {"from": 1, "to": 30, "steps": 30}, "seed": [0, 1]},
 "kinds": ["synthetic"]}`

// BenchmarkPlan parses the paper-size sweep and estimates every cell.
func BenchmarkPlan(b *testing.B) {
	for b.Loop() {
		s, err := Parse([]byte(paperSweep))
		if err != nil {
			b.Fatal(err)
		}
		if e := s.Estimate(); e.Cells != 2400 {
			b.Fatal(e.Cells)
		}
	}
	b.ReportMetric(b.Elapsed().Seconds()*1e6/float64(b.N)/2400, "µs/cell")
}

// BenchmarkRunCells measures the machinery's overhead per cell (compute
// nothing, write and fsync the result file), 64 cells per iteration.
func BenchmarkRunCells(b *testing.B) {
	for _, workers := range []int{1, 2} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			s, err := Parse([]byte(paperSweep))
			if err != nil {
				b.Fatal(err)
			}
			cells := make([]int, 64)
			for i := range cells {
				cells[i] = i
			}
			for b.Loop() {
				b.StopTimer()
				root := b.TempDir()
				b.StartTimer()
				if _, err := s.Run(context.Background(), RunOptions{Results: root, Cells: cells, Workers: workers}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(b.Elapsed().Seconds()*1e3/float64(b.N)/64, "ms/cell")
		})
	}
}

// BenchmarkGather reads and checks 2400 cell files into a table.
func BenchmarkGather(b *testing.B) {
	s, err := Parse([]byte(paperSweep))
	if err != nil {
		b.Fatal(err)
	}
	root := b.TempDir()
	if _, err := s.Run(context.Background(), RunOptions{Results: root, Workers: 2}); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		t, err := Gather(s, root)
		if err != nil || t.Counts()[StatusOK] != 2400 {
			b.Fatal(err, t.Counts())
		}
	}
	b.ReportMetric(b.Elapsed().Seconds()*1e6/float64(b.N)/2400, "µs/cell")
}
