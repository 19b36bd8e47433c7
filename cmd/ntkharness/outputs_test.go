package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ntkharness/ntkharness/internal/atomicfile"
)

// TestOutputsCheckedFirst: every command with an output refuses one that
// cannot be written before it computes anything, and data export writes its
// images only together with its labels.
func TestOutputsCheckedFirst(t *testing.T) {
	t.Setenv("CIFAR10_DIR", "")
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, []byte("a file, not a folder"), 0o644); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(file, "out") // below a regular file: never writable
	x, y := writeToyNpy(t, dir, 8, 6, false)
	img := filepath.Join(dir, "img.npy")
	writeNpy(t, img, 1, 200, 28, 28, 1)
	kt := filepath.Join(dir, "k.npy")
	if _, stderr, status := runCLI(t, "kernel", "--depth", "1", "--sw2", "1", "--x1", x, "--out", dir); status != 0 {
		t.Fatalf("kernel: %s", stderr)
	}
	os.Rename(filepath.Join(dir, "ntk.npy"), kt)
	xOut := filepath.Join(dir, "xo.npy")
	tests := []struct {
		name string
		args []string
	}{
		// An expensive kernel (cnn-gap on 200 images) must not start.
		{"kernel", []string{"kernel", "--arch", "cnn-gap", "--act", "relu", "--depth", "3", "--sw2", "2", "--x1", img, "--out", bad}},
		{"ntk", []string{"ntk", "--quiet", "--arch", "fcn", "--act", "erf", "--depth", "1", "--width", "8", "--sw2", "1", "--x1", x, "--out", bad}},
		{"predict", []string{"predict", "--ntk-train", kt, "--y", y, "--out", bad}},
		{"train", []string{"train", "--depth", "2", "--width", "512", "--sw2", "1.5", "--sb2", "0.05", "--quiet", "--x-train", x, "--y-train", y, "--out", bad}},
		{"figure", []string{"figure", "mean-predictor", "--out", bad}},
		{"report", []string{"report", "--out", bad}},
		{"data export x", []string{"data", "export", "--dataset", "mnist", "--n", "10", "--x", filepath.Join(bad, "x.npy")}},
		{"data export y", []string{"data", "export", "--dataset", "mnist", "--n", "10", "--x", xOut, "--y", filepath.Join(dir, "missing", "y.npy")}},
		{"data export folder", []string{"data", "export", "--dataset", "mnist", "--n", "10", "--x", dir}},
	}
	for _, tt := range tests {
		start := time.Now()
		_, stderr, status := runCLI(t, tt.args...)
		if status != 1 || strings.Count(strings.TrimSpace(stderr), "\n") > 0 {
			t.Errorf("%s: status %d stderr %q, want 1 and one line", tt.name, status, stderr)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("%s: refused after %v, want before the work", tt.name, d)
		}
	}
	if _, err := os.Stat(xOut); !os.IsNotExist(err) {
		t.Errorf("data export wrote the images although the labels could not be written: %v", err)
	}

	// Temporaries left by killed runs are removed by the next one.
	old := time.Now().Add(-2 * atomicfile.StaleAge)
	staleX := filepath.Join(dir, ".xo.npy.tmp-123")
	os.WriteFile(staleX, []byte("partial"), 0o644)
	os.Chtimes(staleX, old, old)
	run := filepath.Join(dir, "run")
	staleParams := filepath.Join(run, "params.tmp")
	os.MkdirAll(staleParams, 0o755)
	os.WriteFile(filepath.Join(staleParams, "w1.npy"), []byte("partial"), 0o644)
	os.Chtimes(staleParams, old, old)
	if _, stderr, status := runCLI(t, "data", "export", "--dataset", "mnist", "--n", "10", "--x", xOut); status != 0 {
		t.Fatalf("data export: %s", stderr)
	}
	// A train run that fails (bad targets) still cleans its folder.
	runCLI(t, "train", "--depth", "2", "--width", "512", "--sw2", "1.5", "--sb2", "0.05", "--quiet", "--x-train", x, "--y-train", filepath.Join(dir, "none.npy"), "--out", run)
	for _, p := range []string{staleX, staleParams} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("stale %s not removed (%v)", p, err)
		}
	}
}
