package main

import (
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/ntkharness/ntkharness/npy"
)

// writeMNISTDir writes a small dataset in the MNIST idx layout, not
// gzipped: 40 training and 20 test images of 4x4 pixels, labels i mod 10,
// pixel j of image i equal to (i + j + 1) mod 256 (never an all-zero image).
func writeMNISTDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	write := func(name string, magic uint32, dims []uint32, data []byte) {
		b := binary.BigEndian.AppendUint32(nil, magic)
		for _, d := range dims {
			b = binary.BigEndian.AppendUint32(b, d)
		}
		if err := os.WriteFile(filepath.Join(dir, name), append(b, data...), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, sp := range []struct {
		prefix string
		n      int
	}{{"train", 40}, {"t10k", 20}} {
		img := make([]byte, sp.n*16)
		lab := make([]byte, sp.n)
		for i := 0; i < sp.n; i++ {
			lab[i] = byte(i % 10)
			for j := 0; j < 16; j++ {
				img[i*16+j] = byte(i + j + 1)
			}
		}
		write(sp.prefix+"-images-idx3-ubyte", 0x803, []uint32{uint32(sp.n), 4, 4}, img)
		write(sp.prefix+"-labels-idx1-ubyte", 0x801, []uint32{uint32(sp.n)}, lab)
	}
	return dir
}

// writeCIFARDir writes a cifar-10-batches-bin folder with one training
// batch of 20 records (labels i mod 10) and a test batch of 10.
func writeCIFARDir(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "cifar-10-batches-bin")
	os.Mkdir(dir, 0o755)
	batch := func(n int) []byte {
		var b []byte
		for i := 0; i < n; i++ {
			rec := make([]byte, 3073)
			rec[0] = byte(i % 10)
			for j := 1; j < len(rec); j++ {
				rec[j] = byte(i*j + 1)
			}
			b = append(b, rec...)
		}
		return b
	}
	os.WriteFile(filepath.Join(dir, "data_batch_1.bin"), batch(20), 0o644)
	os.WriteFile(filepath.Join(dir, "test_batch.bin"), batch(10), 0o644)
	return dir
}

func TestDataInfo(t *testing.T) {
	t.Setenv("MNIST_DIR", "") // the first case reads the embedded copy
	cifar := writeCIFARDir(t)
	tests := []struct {
		args []string
		want []string // regular expressions the output must match
	}{
		{[]string{"--dataset", "mnist"}, []string{`train\s+60000\s+28x28x1\s+0\.0000\s+1\.0000\s+0\.1307\s+0\.3081`, `test\s+10000\s+28x28x1`, `(?m)^1\s+1\s+6742\s+1135$`}},
		{[]string{"--dataset", "mnist", "--mnist-dir", writeMNISTDir(t)}, []string{`train\s+40\s+4x4x1`, `test\s+20\s+4x4x1`, `(?m)^9\s+9\s+4\s+2$`}},
		{[]string{"--dataset", "cifar10", "--cifar10", filepath.Dir(cifar)}, []string{`train\s+20\s+32x32x3`, `test\s+10\s+32x32x3`, `(?m)^3\s+cat\s+2\s+1$`, `train\s+2\s+`}},
	}
	for _, tt := range tests {
		stdout, stderr, status := runCLI(t, append([]string{"data", "info"}, tt.args...)...)
		if status != 0 {
			t.Fatalf("%v: status %d, stderr %q", tt.args, status, stderr)
		}
		for _, re := range tt.want {
			if !regexp.MustCompile(re).MatchString(stdout) {
				t.Errorf("%v: output does not match %s:\n%s", tt.args, re, stdout)
			}
		}
	}
}

func TestDataExport(t *testing.T) {
	mnist := writeMNISTDir(t)
	cifar := writeCIFARDir(t)
	tests := []struct {
		name           string
		args           []string
		xShape, yShape []int
		check          func(t *testing.T, x, y npy.Array)
	}{
		{"whole split in file order", []string{"--dataset", "mnist", "--mnist-dir", mnist, "--split", "test"}, []int{20, 4, 4, 1}, []int{20},
			func(t *testing.T, x, y npy.Array) {
				// Pixel j of test image i is byte (i + j + 1), scaled by 1/255.
				for i := 0; i < 20; i++ {
					if y.Data[i] != float64(i%10) {
						t.Fatalf("label %d = %v, want %d", i, y.Data[i], i%10)
					}
					for j := 0; j < 16; j++ {
						if want := float64(i+j+1) / 255; x.Data[i*16+j] != want {
							t.Fatalf("x[%d, %d] = %v, want %v", i, j, x.Data[i*16+j], want)
						}
					}
				}
			}},
		{"subset onehot centred flattened", []string{"--dataset", "mnist", "--mnist-dir", mnist, "--n", "20", "--seed", "3", "--flatten", "--onehot", "--center"}, []int{20, 16}, []int{20, 10},
			func(t *testing.T, x, y npy.Array) {
				counts := make([]int, 10)
				for i := 0; i < 20; i++ {
					row := y.Data[i*10 : (i+1)*10]
					var sum float64
					for c, v := range row {
						sum += v
						if math.Abs(v-0.9) < 1e-15 {
							counts[c]++
						} else if math.Abs(v+0.1) > 1e-15 {
							t.Fatalf("row %d: %v, want 0.9 at the label and -0.1 elsewhere", i, row)
						}
					}
					if math.Abs(sum) > 1e-14 {
						t.Fatalf("row %d sums to %v, want 0", i, sum)
					}
					// The label travels with its image: training image k has
					// label k mod 10 and first pixel (k+1)/255.
					k := int(math.Round(x.Data[i*16]*255)) - 1
					if counts[k%10] == 0 || row[k%10] < 0 {
						t.Fatalf("row %d: image %d has label %d, target row %v", i, k, k%10, row)
					}
				}
				if !slices.Equal(counts, []int{2, 2, 2, 2, 2, 2, 2, 2, 2, 2}) {
					t.Errorf("class counts %v, want 2 of each", counts)
				}
			}},
		{"per class, downsampled, norm", []string{"--dataset", "mnist", "--mnist-dir", mnist, "--n", "3", "--per-class", "--downsample", "2", "--normalize", "norm"}, []int{30, 2, 2, 1}, []int{30},
			func(t *testing.T, x, y npy.Array) {
				for i := 0; i < 30; i++ {
					var ss float64
					for _, v := range x.Data[i*4 : (i+1)*4] {
						ss += v * v
					}
					if math.Abs(ss-4) > 1e-12 {
						t.Fatalf("image %d has squared norm %v, want d = 4", i, ss)
					}
				}
			}},
		{"cifar grayscale global", []string{"--dataset", "cifar10", "--cifar10", cifar, "--grayscale", "--downsample", "4", "--normalize", "global"}, []int{20, 8, 8, 1}, []int{20},
			func(t *testing.T, x, y npy.Array) {
				var sum, ss float64
				for _, v := range x.Data {
					sum += v
				}
				mean := sum / float64(len(x.Data))
				for _, v := range x.Data {
					ss += (v - mean) * (v - mean)
				}
				if math.Abs(mean) > 1e-12 || math.Abs(ss/float64(len(x.Data))-1) > 1e-12 {
					t.Errorf("mean %v variance %v, want 0 and 1", mean, ss/float64(len(x.Data)))
				}
			}},
		{"cifar per-channel", []string{"--dataset", "cifar10", "--cifar10", cifar, "--split", "test", "--normalize", "per-channel"}, []int{10, 32, 32, 3}, []int{10},
			func(t *testing.T, x, y npy.Array) {
				for c := 0; c < 3; c++ {
					var sum float64
					for i := c; i < len(x.Data); i += 3 {
						sum += x.Data[i]
					}
					if math.Abs(sum) > 1e-9 {
						t.Errorf("channel %d sums to %v, want 0", c, sum)
					}
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			xp, yp := filepath.Join(dir, "x.npy"), filepath.Join(dir, "y.npy")
			stdout, stderr, status := runCLI(t, append(append([]string{"data", "export"}, tt.args...), "--x", xp, "--y", yp)...)
			if status != 0 {
				t.Fatalf("status %d, stderr %q", status, stderr)
			}
			if !strings.Contains(stdout, "wrote "+xp+" "+fmt.Sprint(tt.xShape)) {
				t.Errorf("stdout %q does not report %s %v", stdout, xp, tt.xShape)
			}
			x, err := npy.Load(xp)
			if err != nil {
				t.Fatal(err)
			}
			y, err := npy.Load(yp)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(x.Shape, tt.xShape) || !slices.Equal(y.Shape, tt.yShape) {
				t.Fatalf("shapes %v and %v, want %v and %v", x.Shape, y.Shape, tt.xShape, tt.yShape)
			}
			tt.check(t, x, y)
		})
	}
}

func TestDataErrors(t *testing.T) {
	mnist := writeMNISTDir(t)
	out := filepath.Join(t.TempDir(), "x.npy")
	t.Setenv("CIFAR10_DIR", "")
	tests := []struct {
		args   []string
		status int
		stderr string
	}{
		{[]string{"data", "info"}, 2, "--dataset is required"},
		{[]string{"data", "info", "--dataset", "svhn"}, 2, `unknown --dataset "svhn"`},
		{[]string{"data", "info", "--dataset", "cifar10"}, 2, "needs --cifar10 PATH or the environment variable CIFAR10_DIR"},
		{[]string{"data", "info", "--dataset", "mnist", "extra"}, 2, `unexpected argument "extra"`},
		{[]string{"data", "export", "--dataset", "mnist"}, 2, "--x is required"},
		{[]string{"data", "export", "--dataset", "mnist", "--x", out, "--split", "val"}, 2, `--split "val"`},
		{[]string{"data", "export", "--dataset", "mnist", "--x", out, "--center"}, 2, "add --onehot"},
		{[]string{"data", "export", "--dataset", "mnist", "--x", out, "--normalize", "l2"}, 2, `--normalize "l2"`},
		{[]string{"data", "export", "--dataset", "mnist", "--x", out, "--n", "-1"}, 2, "--n -1"},
		{[]string{"data", "export", "--dataset", "mnist", "--x", out, "--per-class"}, 2, "--per-class needs --n"},
		{[]string{"data", "export", "--dataset", "mnist", "--x", out, "--downsample", "0"}, 2, "--downsample 0"},
		{[]string{"data", "export", "--dataset", "mnist", "--x", out, "--y", out}, 2, "same file"},
		{[]string{"data", "export", "--dataset", "mnist", "--x", out, "--seed", "-3"}, 2, "invalid value"},
		{[]string{"data", "info", "--dataset", "mnist", "--mnist-dir", filepath.Join(mnist, "nope")}, 1, "nope"},
		{[]string{"data", "info", "--dataset", "cifar10", "--cifar10", mnist}, 1, "no data_batch_N.bin or test_batch.bin"},
		{[]string{"data", "export", "--dataset", "mnist", "--mnist-dir", mnist, "--x", out, "--downsample", "3"}, 1, "cannot downsample 4x4 images by 3"},
		{[]string{"data", "export", "--dataset", "mnist", "--mnist-dir", mnist, "--x", out, "--n", "5", "--per-class"}, 1, "class 0 has 4 examples"},
		{[]string{"data", "export", "--dataset", "mnist", "--mnist-dir", mnist, "--x", filepath.Join(mnist, "no", "dir", "x.npy")}, 1, filepath.Join("no", "dir", "x.npy")},
	}
	for _, tt := range tests {
		_, stderr, status := runCLI(t, tt.args...)
		if status != tt.status || !strings.Contains(stderr, tt.stderr) {
			t.Errorf("%v: status %d stderr %q, want %d and %q", tt.args, status, stderr, tt.status, tt.stderr)
		}
		if strings.Count(strings.TrimSpace(stderr), "\n") > 0 {
			t.Errorf("%v: error is not one line: %q", tt.args, stderr)
		}
	}
	// MNIST_DIR is honoured when --mnist-dir is absent.
	t.Setenv("MNIST_DIR", mnist)
	stdout, _, status := runCLI(t, "data", "info", "--dataset", "mnist")
	if status != 0 || !regexp.MustCompile(`train\s+40\s+4x4x1`).MatchString(stdout) {
		t.Errorf("with MNIST_DIR: status %d, output %q", status, stdout)
	}
}
