package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestUnknownDataSet: an unknown data set name is a usage error (exit 2) in
// every command that takes one, sweep files included.
func TestUnknownDataSet(t *testing.T) {
	clearIndexEnv(t)
	dir := t.TempDir()
	sw := writeSweep(t, `{"spec": {"arch": "fcn", "act": "erf", "depth": 1, "sw2": 1, "sb2": 0.05}, "kinds": ["theory-gd"], "settings": {"dataset": "bogus"}}`)
	axis := writeSweep(t, `{"spec": {"arch": "fcn", "act": "erf", "depth": 1, "sw2": 1, "sb2": 0.05}, "kinds": ["train"], "grid": {"dataset": ["mnist", "svhn"]}}`)
	norm := writeSweep(t, `{"spec": {"arch": "fcn", "act": "erf", "depth": 1, "sw2": 1, "sb2": 0.05}, "kinds": ["ntk"], "settings": {"normalize": "per-pixel"}}`)
	tests := [][]string{
		{"train", "--dataset", "bogus", "--quiet", "--out", filepath.Join(dir, "t")},
		{"data", "info", "--dataset", "bogus"},
		{"data", "export", "--dataset", "bogus", "--x", filepath.Join(dir, "x.npy")},
		{"figure", "depthscales", "--dataset", "bogus", "--out", dir},
		{"report", "--dataset", "bogus", "--out", dir},
		{"sweep", "plan", sw},
		{"sweep", "run", axis, "--results", dir},
		{"sweep", "plan", norm},
	}
	for _, args := range tests {
		_, stderr, status := runCLI(t, args...)
		if status != 2 || !(strings.Contains(stderr, "bogus") || strings.Contains(stderr, "svhn") || strings.Contains(stderr, "per-pixel")) {
			t.Errorf("%v: status %d stderr %q, want 2 naming the data set", args, status, stderr)
		}
	}
}
