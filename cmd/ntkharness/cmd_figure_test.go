package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestFigureCLI(t *testing.T) {
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
