package datasets

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/ntkharness/ntkharness/internal/testshared"
)

// idxFile builds an idx file: the 4-byte magic, big-endian dimension
// sizes, then data.
func idxFile(magic uint32, dims []uint32, data []byte) []byte {
	var b bytes.Buffer
	binary.Write(&b, binary.BigEndian, magic)
	for _, d := range dims {
		binary.Write(&b, binary.BigEndian, d)
	}
	b.Write(data)
	return b.Bytes()
}

// gz compresses b with gzip.
func gz(b []byte) []byte {
	var buf bytes.Buffer
	z := gzip.NewWriter(&buf)
	z.Write(b)
	z.Close()
	return buf.Bytes()
}

// seq returns n bytes i*step mod 256.
func seq(n, step int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i * step)
	}
	return b
}

// mnistFixture is a small MNIST-layout dataset: train has 12 images of
// 4x3 pixels, test 5; labels i mod 10; pixel j of the file is byte j*7.
type mnistFixture struct {
	trainImg, trainLab, testImg, testLab []byte
}

func newMNISTFixture() mnistFixture {
	labels := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(i % 10)
		}
		return b
	}
	return mnistFixture{
		trainImg: idxFile(0x803, []uint32{12, 4, 3}, seq(12*12, 7)),
		trainLab: idxFile(0x801, []uint32{12}, labels(12)),
		testImg:  idxFile(0x803, []uint32{5, 4, 3}, seq(5*12, 7)),
		testLab:  idxFile(0x801, []uint32{5}, labels(5)),
	}
}

// write puts the four files into a new directory, gzipped or not, under
// the given base names (default: the standard names).
func (f mnistFixture) write(t *testing.T, compress bool, names ...string) string {
	t.Helper()
	if names == nil {
		names = mnistFiles[:]
	}
	dir := t.TempDir()
	for i, b := range [][]byte{f.trainImg, f.trainLab, f.testImg, f.testLab} {
		name := names[i]
		if compress {
			b, name = gz(b), name+".gz"
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// cifarRec builds one CIFAR-10 record whose byte at (c, y, x) is
// (label + 3c + 5y + 7x) mod 256.
func cifarRec(label byte) []byte {
	r := make([]byte, cifarRecord)
	r[0] = label
	for c := 0; c < 3; c++ {
		for y := 0; y < 32; y++ {
			for x := 0; x < 32; x++ {
				r[1+c*1024+y*32+x] = byte(int(label) + 3*c + 5*y + 7*x)
			}
		}
	}
	return r
}

// cifarBatch concatenates records with the given labels.
func cifarBatch(labels ...byte) []byte {
	var b []byte
	for _, l := range labels {
		b = append(b, cifarRec(l)...)
	}
	return b
}

// tarOf writes the named files into a tar archive, in the given order.
func tarOf(t testing.TB, names []string, data [][]byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	tw.WriteHeader(&tar.Header{Name: "cifar-10-batches-bin/", Typeflag: tar.TypeDir, Mode: 0o755})
	for i, n := range names {
		if err := tw.WriteHeader(&tar.Header{Name: n, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(data[i]))}); err != nil {
			t.Fatal(err)
		}
		tw.Write(data[i])
	}
	tw.Close()
	return buf.Bytes()
}

// writeFiles writes name -> content into dir.
func writeFiles(t *testing.T, dir string, files map[string][]byte) {
	t.Helper()
	for n, b := range files {
		p := filepath.Join(dir, n)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

var (
	mnistOnce             sync.Once
	mnistTrain, mnistTest *Set
	mnistErr              error
)

// embeddedMNIST loads the embedded MNIST once per test binary.
func embeddedMNIST(t *testing.T) (train, test *Set) {
	t.Helper()
	mnistOnce.Do(func() { mnistTrain, mnistTest, mnistErr = LoadMNISTEmbedded() })
	if mnistErr != nil {
		t.Fatal(mnistErr)
	}
	return mnistTrain, mnistTest
}

// sharedCIFAR returns the path of the real CIFAR-10 subset archive, or
// skips the test when the shared data folder is absent.
func sharedCIFAR(t *testing.T) string {
	t.Helper()
	return testshared.File(t, testshared.CIFAR10)
}
