package datasets

import (
	"archive/tar"
	"compress/gzip"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// checkCIFARRecord checks image i of s against cifarRec(label): the byte
// at (c, y, x) of the record must land at X[i, y, x, c] divided by 255.
func checkCIFARRecord(t *testing.T, s *Set, i int, label byte) {
	t.Helper()
	if s.Labels[i] != int(label) {
		t.Fatalf("%s: label %d = %d, want %d", s.Split, i, s.Labels[i], label)
	}
	img := s.Image(i)
	for y := 0; y < 32; y++ {
		for x := 0; x < 32; x++ {
			for c := 0; c < 3; c++ {
				want := float64(byte(int(label)+3*c+5*y+7*x)) / 255
				if got := img[(y*32+x)*3+c]; got != want {
					t.Fatalf("%s: image %d (y=%d, x=%d, c=%d) = %v, want %v", s.Split, i, y, x, c, got, want)
				}
			}
		}
	}
}

func TestLoadCIFAR10Layouts(t *testing.T) {
	b1, b3, tb := cifarBatch(3, 0, 9), cifarBatch(7), cifarBatch(1, 2)
	meta := []byte("a\nb\nc\nd\ne\nf\ng\nh\ni\nj\n")
	files := map[string][]byte{
		"cifar-10-batches-bin/data_batch_1.bin": b1,
		"cifar-10-batches-bin/data_batch_3.bin": b3,
		"cifar-10-batches-bin/test_batch.bin":   tb,
		"cifar-10-batches-bin/batches.meta.txt": meta,
		"cifar-10-batches-bin/readme.html":      []byte("<html></html>"),
	}
	parent := t.TempDir()
	writeFiles(t, parent, files)
	// The archive lists the test batch first, as tar files may.
	order := []string{"cifar-10-batches-bin/test_batch.bin", "cifar-10-batches-bin/readme.html", "cifar-10-batches-bin/data_batch_3.bin", "cifar-10-batches-bin/data_batch_1.bin", "cifar-10-batches-bin/batches.meta.txt"}
	var data [][]byte
	for _, n := range order {
		data = append(data, files[n])
	}
	archive := tarOf(t, order, data)
	tgz := filepath.Join(t.TempDir(), "cifar-10-binary.tar.gz")
	os.WriteFile(tgz, gz(archive), 0o644)
	plainTar := filepath.Join(t.TempDir(), "cifar-10-binary.tar")
	os.WriteFile(plainTar, archive, 0o644)

	archiveDir := t.TempDir()
	os.WriteFile(filepath.Join(archiveDir, "cifar-10-binary.tar.gz"), gz(archive), 0o644)
	for name, path := range map[string]string{
		"dir with archive": archiveDir,
		"folder":           filepath.Join(parent, "cifar-10-batches-bin"),
		"parent":           parent,
		"tar.gz":           tgz,
		"tar":              plainTar,
		"env var":          "",
	} {
		t.Run(name, func(t *testing.T) {
			if path == "" {
				t.Setenv(EnvCIFAR10Dir, parent)
			}
			train, test, err := Load("cifar10", Options{CIFAR10: path})
			if err != nil {
				t.Fatal(err)
			}
			// Training batches 1 then 3, in batch order.
			want := []byte{3, 0, 9, 7}
			if train.N != len(want) || test.N != 2 || train.Split != "train" || test.Split != "test" {
				t.Fatalf("train %d %q, test %d %q; want 4 train, 2 test", train.N, train.Split, test.N, test.Split)
			}
			for i, l := range want {
				checkCIFARRecord(t, train, i, l)
			}
			checkCIFARRecord(t, test, 0, 1)
			checkCIFARRecord(t, test, 1, 2)
			if train.ClassNames[0] != "a" || train.ClassNames[9] != "j" {
				t.Errorf("class names %v, want those of batches.meta.txt", train.ClassNames)
			}
		})
	}
}

func TestLoadCIFAR10Errors(t *testing.T) {
	good := cifarBatch(1, 2)
	bad := cifarBatch(1, 12)
	dir := func(files map[string][]byte) string {
		d := t.TempDir()
		writeFiles(t, d, files)
		return d
	}
	archive := func(compress bool, names []string, data ...[]byte) string {
		b := tarOf(t, names, data)
		if compress {
			b = gz(b)
		}
		p := filepath.Join(t.TempDir(), "c.tar.gz")
		os.WriteFile(p, b, 0o644)
		return p
	}
	fullTgz := gz(tarOf(t, []string{"d/data_batch_1.bin", "d/test_batch.bin"}, [][]byte{good, good}))
	truncTgz := filepath.Join(t.TempDir(), "trunc.tar.gz")
	os.WriteFile(truncTgz, fullTgz[:len(fullTgz)/2], 0o644)
	tests := []struct {
		name, path string
		want       []string // substrings of the error
	}{
		{"missing path", filepath.Join(t.TempDir(), "nope"), []string{"nope", "no such file"}},
		{"empty folder", dir(nil), []string{"no data_batch_N.bin or test_batch.bin", "no cifar-10-binary.tar.gz"}},
		{"missing test batch names the folder", dir(map[string][]byte{"cifar-10-batches-bin/data_batch_1.bin": good}), []string{"cifar-10-batches-bin: missing file test_batch.bin"}},
		{"no test batch", dir(map[string][]byte{"data_batch_1.bin": good}), []string{"missing file test_batch.bin"}},
		{"no train batch", dir(map[string][]byte{"test_batch.bin": good}), []string{"no training batch"}},
		{"partial record", dir(map[string][]byte{"data_batch_2.bin": good[:cifarRecord+5], "test_batch.bin": good}),
			[]string{"data_batch_2.bin: 3078 bytes is not a whole number of 3073-byte CIFAR-10 records"}},
		{"label out of range", dir(map[string][]byte{"data_batch_1.bin": good, "test_batch.bin": bad}),
			[]string{"test_batch.bin: record 1 has label 12, want 0-9"}},
		{"archive partial record", archive(true, []string{"x/data_batch_1.bin", "x/test_batch.bin"}, good, good[1:]),
			[]string{"c.tar.gz:x/test_batch.bin: 6145 bytes is not a whole number"}},
		{"archive label out of range", archive(true, []string{"x/data_batch_1.bin", "x/test_batch.bin"}, bad, good),
			[]string{"c.tar.gz:x/data_batch_1.bin: record 1 has label 12"}},
		{"archive without batches", archive(false, []string{"x/readme.html"}, []byte("hi")), []string{"no CIFAR-10 batch files"}},
		{"truncated gzip", truncTgz, []string{"trunc.tar.gz: truncated gzip stream"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := LoadCIFAR10(tt.path)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error spans lines: %q", err)
			}
		})
	}
	if _, _, err := Load("cifar10", Options{}); err == nil || !strings.Contains(err.Error(), EnvCIFAR10Dir) {
		t.Errorf("no location: error %v, want one naming %s", err, EnvCIFAR10Dir)
	}
	if _, _, err := Load("imagenet", Options{}); err == nil || !strings.Contains(err.Error(), `unknown dataset "imagenet"`) {
		t.Errorf("unknown dataset: error %v", err)
	}
}

// TestSharedCIFAR10Subset reads the real CIFAR-10 subset archive and checks
// it against facts of the release: 10,000 test images, 1,000 per class,
// class 3 named cat, and the published per-channel test
// means (0.4942, 0.4851, 0.4504) and standard deviations (0.2467, 0.2429,
// 0.2616). The subset's pixels went through JPEG and back, so those are
// compared within 2e-3. Pixels of the first record are decoded again here
// straight from the archive, independently of the loader.
func TestSharedCIFAR10Subset(t *testing.T) {
	path := sharedCIFAR(t)
	train, test, err := LoadCIFAR10(path)
	if err != nil {
		t.Fatal(err)
	}
	if train.N != 10000 || test.N != 10000 {
		t.Fatalf("sizes %d/%d, want 10000/10000", train.N, test.N)
	}
	for c, n := range test.ClassCounts() {
		if n != 1000 {
			t.Errorf("test class %d has %d images, want 1000", c, n)
		}
	}
	for c, n := range train.ClassCounts() {
		if n < 953 || n > 1067 {
			t.Errorf("train class %d has %d images, outside the documented 953-1067", c, n)
		}
	}
	if test.ClassNames[3] != "cat" {
		t.Errorf("class 3 named %q, want cat", test.ClassNames[3])
	}
	wantMean := []float64{0.4942, 0.4851, 0.4504}
	wantStd := []float64{0.2467, 0.2429, 0.2616}
	for c, st := range test.ChannelStats() {
		if math.Abs(st.Mean-wantMean[c]) > 2e-3 || math.Abs(st.Std-wantStd[c]) > 2e-3 {
			t.Errorf("test channel %d: mean %.4f std %.4f, want %.4f %.4f", c, st.Mean, st.Std, wantMean[c], wantStd[c])
		}
	}

	// First record of data_batch_1.bin, read directly.
	f, _ := os.Open(path)
	defer f.Close()
	z, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(z)
	for {
		h, err := tr.Next()
		if err != nil {
			t.Fatalf("data_batch_1.bin not found: %v", err)
		}
		if filepath.Base(h.Name) != "data_batch_1.bin" {
			continue
		}
		rec := make([]byte, 3073)
		if _, err := io.ReadFull(tr, rec); err != nil {
			t.Fatal(err)
		}
		if train.Labels[0] != int(rec[0]) {
			t.Errorf("train label 0 = %d, want %d", train.Labels[0], rec[0])
		}
		img := train.Image(0)
		for c := 0; c < 3; c++ {
			for p := 0; p < 1024; p++ {
				if img[p*3+c] != float64(rec[1+c*1024+p])/255 {
					t.Fatalf("pixel %d channel %d = %v, want byte %d", p, c, img[p*3+c], rec[1+c*1024+p])
				}
			}
		}
		break
	}
}
