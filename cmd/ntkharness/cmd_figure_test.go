package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestFigureCLI(t *testing.T) {
	t.Setenv("CIFAR10_DIR", "")
	dir := t.TempDir()
	tests := []struct {
		name   string
		args   []string
		status int
		want   string // in stdout (status 0) or stderr
	}{
		{"figure", []string{"figure", "depthscales", "--out", dir}, 0, "Critical sw2"},
		{"name after flags", []string{"figure", "--out", dir, "depthscales"}, 0, "Critical sw2"},
		{"report reuses", []string{"report", "--figures", "depthscales", "--out", dir}, 0, "index.html"},
		{"unknown figure", []string{"figure", "nope", "--out", dir}, 2, `unknown figure "nope"`},
		{"missing name", []string{"figure", "--out", dir}, 2, "missing figure NAME"},
		{"missing out", []string{"figure", "phase"}, 2, "--out is required"},
		{"bad scale", []string{"figure", "phase", "--out", dir, "--scale", "huge"}, 2, `--scale "huge"`},
		{"bad dataset", []string{"report", "--out", dir, "--dataset", "svhn"}, 2, `--dataset "svhn"`},
		{"report unknown figure", []string{"report", "--out", dir, "--figures", "phase,nope"}, 2, `unknown figure "nope"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			stdout, stderr, status := runCLI(t, tc.args...)
			if status != tc.status {
				t.Fatalf("%v: status %d, want %d; stderr %s", tc.args, status, tc.status, stderr)
			}
			out := stdout
			if status != 0 {
				out = stderr
			}
			if !strings.Contains(out, tc.want) {
				t.Errorf("%v: output %q lacks %q", tc.args, out, tc.want)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(dir, "index.html")); err != nil {
		t.Error(err)
	}
}

// TestFigureDataSet: a CIFAR-10 location that cannot be read is an error
// (not a silent run on MNIST); without any location the fallback to MNIST
// is said on stderr and the captions and index.html name MNIST.
func TestFigureDataSet(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "nonexistent")
	t.Setenv("CIFAR10_DIR", "")
	for _, args := range [][]string{
		{"figure", "mean-predictor", "--cifar10", missing, "--out", dir},
		{"report", "--figures", "depthscales", "--cifar10", missing, "--out", dir},
	} {
		_, stderr, status := runCLI(t, args...)
		if status != 1 || !strings.Contains(stderr, missing) || !strings.Contains(stderr, "cannot be read") {
			t.Errorf("%v: status %d stderr %q, want 1 naming %s", args[:2], status, stderr, missing)
		}
	}
	t.Setenv("CIFAR10_DIR", missing)
	if _, stderr, status := runCLI(t, "figure", "depthscales", "--out", dir); status != 1 || !strings.Contains(stderr, "CIFAR10_DIR") {
		t.Errorf("CIFAR10_DIR unreadable: status %d stderr %q, want 1 naming CIFAR10_DIR", status, stderr)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("failed runs wrote %d files", len(entries))
	}
	t.Setenv("CIFAR10_DIR", "")
	_, stderr, status := runCLI(t, "report", "--figures", "depthscales", "--out", dir)
	if status != 0 || strings.Count(stderr, "using the embedded MNIST") != 1 {
		t.Errorf("no CIFAR-10: status %d stderr %q, want 0 and one fallback line", status, stderr)
	}
	caption, _ := os.ReadFile(filepath.Join(dir, "depthscales.caption.json"))
	html, _ := os.ReadFile(filepath.Join(dir, "index.html"))
	if !strings.Contains(string(caption), `"dataset": "mnist"`) || strings.Contains(string(html), "cifar10") || !strings.Contains(string(html), "mnist") {
		t.Errorf("the run on MNIST is not named as such:\ncaption %s\nindex.html %s", caption, html)
	}
}
