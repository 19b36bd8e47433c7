package plots

import (
	"io"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/mat"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgpdf"
	"gonum.org/v1/plot/vg/vgsvg"

	// Importing linalg links its BLAS backend (OpenBLAS in the openblas
	// build) into this test binary.
	"github.com/ntkharness/ntkharness/linalg"
)

// BenchmarkGEMMReference multiplies two 256 x 256 matrices, a same-run
// reference for the machine speed (2*256^3 flops per op), through the
// linear-algebra package and so with the build's BLAS backend (OpenBLAS
// under -tags openblas).
func BenchmarkGEMMReference(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	n := 256
	a, c := mat.NewDense(n, n, nil), mat.NewDense(n, n, nil)
	for i := 0; i < n; i++ {
		for j := 0; j < n; j++ {
			a.Set(i, j, rng.NormFloat64())
		}
	}
	b.SetBytes(0)
	for b.Loop() {
		linalg.Gemm(false, false, 1, a, a, 0, c)
	}
	b.ReportMetric(2*float64(n*n*n)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}

// benchFormat draws a figure into one format, without touching the disk.
func benchFormat(b *testing.B, f Figure, format string) {
	l, err := figureLayout(&f)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		var w io.WriterTo
		switch format {
		case "png":
			c := vgimg.NewWith(vgimg.UseWH(l.w, l.h), vgimg.UseDPI(dpi))
			drawFigure(&f, l, c)
			w = vgimg.PngCanvas{Canvas: c}
		case "svg":
			c := vgsvg.New(l.w, l.h)
			drawFigure(&f, l, c)
			w = c
		case "pdf":
			c := vgpdf.New(l.w, l.h)
			drawFigure(&f, l, c)
			w = c
		case "csv":
			if err := WriteCSV(io.Discard, &f); err != nil {
				b.Fatal(err)
			}
			continue
		}
		if _, err := w.WriteTo(io.Discard); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkTrainability draws the headline layout: 20 heat maps of 40 x 30
// cells with overlays, one shared colour bar.
func BenchmarkTrainability(b *testing.B) {
	f := sampleTrainability()
	for _, format := range []string{"png", "svg", "pdf", "csv"} {
		b.Run(format, func(b *testing.B) { benchFormat(b, f, format) })
	}
}

// BenchmarkNTKDepth draws three log-log line panels with error bars.
func BenchmarkNTKDepth(b *testing.B) {
	f := sampleNTKDepth()
	for _, format := range []string{"png", "svg", "pdf"} {
		b.Run(format, func(b *testing.B) { benchFormat(b, f, format) })
	}
}
