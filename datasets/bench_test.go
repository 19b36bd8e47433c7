package datasets

import (
	"bytes"
	"testing"

	"gonum.org/v1/gonum/mat"

	// Importing linalg links its BLAS backend, so that the GEMM references
	// below use OpenBLAS in the openblas build, as the harness does.
	"github.com/ntkharness/ntkharness/linalg"
)

// BenchmarkReferenceGemm is a same-run reference for the numbers below:
// a 256x256x256 float64 matrix product through the linear-algebra package,
// so with the build's BLAS backend (OpenBLAS under -tags openblas, pure Go
// otherwise), reported in GFLOP/s (2 n^3 flops per product).
func BenchmarkReferenceGemm(b *testing.B) {
	const n = 256
	x, y, z := mat.NewDense(n, n, nil), mat.NewDense(n, n, nil), mat.NewDense(n, n, nil)
	for i := range n {
		for j := range n {
			x.Set(i, j, float64((i*n+j)%7)-3)
			y.Set(i, j, float64((i*n+j)%5)-2)
		}
	}
	b.ResetTimer()
	for b.Loop() {
		linalg.Gemm(false, false, 1, x, y, 0, z)
	}
	b.ReportMetric(2*n*n*n*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}

// BenchmarkLoadMNISTEmbedded decompresses and converts the embedded MNIST
// (70,000 images).
func BenchmarkLoadMNISTEmbedded(b *testing.B) {
	for b.Loop() {
		if _, _, err := LoadMNISTEmbedded(); err != nil {
			b.Fatal(err)
		}
	}
	rate := 70000 * float64(b.N) / b.Elapsed().Seconds()
	b.ReportMetric(rate, "images/s")
	// The ratio to the same run's GEMM rate (images per GFLOP a 256^3 GEMM
	// does in the same time) is comparable across machines of different
	// speeds.
	b.ReportMetric(rate/(linalg.GemmFlopRate(256, 3)/1e9), "images/GEMM-GFLOP")
}

// BenchmarkCIFAR10Archive reads a gzipped tar of one 10,000-record batch
// and a 10,000-record test batch, the layout of the real release.
func BenchmarkCIFAR10Archive(b *testing.B) {
	labels := make([]byte, 10000)
	for i := range labels {
		labels[i] = byte(i % 10)
	}
	batch := cifarBatch(labels...)
	tgz := gz(tarOf(b, []string{"c/data_batch_1.bin", "c/test_batch.bin"}, [][]byte{batch, batch}))
	b.SetBytes(int64(2 * len(batch)))
	b.ResetTimer()
	for b.Loop() {
		files, err := ReadCIFAR10Archive(bytes.NewReader(tgz), "bench.tar.gz")
		if err != nil {
			b.Fatal(err)
		}
		if _, _, err := assembleCIFAR(files, "bench.tar.gz"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPreprocess times each step on the 60,000 MNIST training images.
func BenchmarkPreprocess(b *testing.B) {
	train, _, err := LoadMNISTEmbedded()
	if err != nil {
		b.Fatal(err)
	}
	steps := []struct {
		name string
		f    func() error
	}{
		{"Subset10000", func() error { _, err := train.Subset(10000, false, 1); return err }},
		{"Downsample2", func() error { _, err := train.Downsample(2); return err }},
		{"Standardize", func() error { _, err := train.Standardize(); return err }},
		{"NormalizeNorm", func() error { _, err := train.NormalizeNorm(); return err }},
	}
	for _, st := range steps {
		b.Run(st.name, func(b *testing.B) {
			for b.Loop() {
				if err := st.f(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
