package main

import (
	"os"
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
		{"train", "--depth", "2", "--width", "512", "--sw2", "1.5", "--sb2", "0.05", "--dataset", "bogus", "--quiet", "--out", filepath.Join(dir, "t")},
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

// TestTrailingContent: files holding one JSON object refuse a second one
// (or any text) after it, in every command that reads them.
func TestTrailingContent(t *testing.T) {
	dir := t.TempDir()
	x, _ := writeToyNpy(t, dir, 4, 6, false)
	one := `{"arch": "fcn", "act": "erf", "depth": 2, "sw2": 1.5, "sb2": 0.05}`
	specPath := filepath.Join(dir, "spec.json")
	writeFile(t, specPath, one+"\n"+`{"arch": "cnn-gap", "act": "relu", "depth": 9, "sw2": 2, "sb2": 0}`)
	sw := writeSweep(t, `{"spec": `+one+`, "kinds": ["synthetic"]} {"kinds": []}`)
	tests := []struct {
		args   []string
		status int
	}{
		{[]string{"kernel", "--spec", specPath, "--x1", x, "--json"}, 1},
		{[]string{"sweep", "plan", sw}, 2},
	}
	for _, tt := range tests {
		_, stderr, status := runCLI(t, tt.args...)
		if status != tt.status || !strings.Contains(stderr, "trailing") {
			t.Errorf("%v: status %d stderr %q, want %d and trailing content", tt.args[:2], status, stderr, tt.status)
		}
	}
}

func writeFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestMissingAndUnreadableFiles: every command that reads a file names it
// on one line when it is missing, a folder, or not what it should be (a
// truncated .npy reports its header, not a runtime error).
func TestMissingAndUnreadableFiles(t *testing.T) {
	clearIndexEnv(t)
	dir := t.TempDir()
	x, y := writeToyNpy(t, dir, 4, 6, false)
	missing := filepath.Join(dir, "missing.npy")
	trunc := filepath.Join(dir, "trunc.npy")
	b, _ := os.ReadFile(x)
	writeFile(t, trunc, string(b[:20]))
	out := filepath.Join(dir, "out")
	for _, bad := range []string{missing, trunc, dir} {
		tests := []struct {
			args   []string
			status int
		}{
			{[]string{"kernel", "--depth", "1", "--sw2", "1", "--json", "--x1", bad}, 1},
			{[]string{"kernel", "--depth", "1", "--sw2", "1", "--json", "--x1", x, "--x2", bad}, 1},
			{[]string{"kernel", "--spec", bad, "--json", "--x1", x}, 1},
			{[]string{"ntk", "--quiet", "--arch", "fcn", "--act", "erf", "--depth", "1", "--width", "4", "--sw2", "1", "--x1", bad}, 1},
			{[]string{"predict", "--ntk-train", bad, "--y", y}, 1},
			{[]string{"train", "--depth", "2", "--width", "512", "--sw2", "1.5", "--sb2", "0.05", "--quiet", "--x-train", bad, "--y-train", y, "--out", out}, 1},
			{[]string{"train", "--depth", "2", "--width", "512", "--sw2", "1.5", "--sb2", "0.05", "--quiet", "--x-train", x, "--y-train", bad, "--out", out}, 1},
			{[]string{"sweep", "plan", bad}, 2},
		}
		for _, tt := range tests {
			_, stderr, status := runCLI(t, tt.args...)
			if status != tt.status || !strings.Contains(stderr, bad) || strings.Count(strings.TrimSpace(stderr), "\n") > 0 || strings.Contains(stderr, "runtime error") {
				t.Errorf("%v: status %d stderr %q, want %d and one line naming %s", tt.args[:2], status, stderr, tt.status, bad)
			}
		}
	}
	if _, stderr, status := runCLI(t, "data", "info", "--dataset", "mnist", "--mnist-dir", filepath.Join(dir, "nodir")); status != 1 || !strings.Contains(stderr, "nodir") {
		t.Errorf("data info --mnist-dir missing: status %d stderr %q", status, stderr)
	}
}
