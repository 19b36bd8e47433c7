package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestBadNumbers: for every command, a number flag given as zero where zero
// is not allowed, negative, NaN or infinite is a usage error (exit 2) on one
// line naming the flag, never silently replaced by the default.
func TestBadNumbers(t *testing.T) {
	clearIndexEnv(t)
	_, dir := predictFixture(t)
	k, y := filepath.Join(dir, "k.npy"), filepath.Join(dir, "y.npy")
	x, ty := writeToyNpy(t, t.TempDir(), 4, 6, false)
	sw := writeSweep(t, cliSweep)
	out := filepath.Join(t.TempDir(), "out")
	predict := []string{"predict", "--ntk-train", k, "--y", y}
	train := []string{"train", "--quiet", "--x-train", x, "--y-train", ty, "--out", out}
	trainDS := []string{"train", "--quiet", "--dataset", "mnist", "--out", out}
	kernel := []string{"kernel", "--depth", "1", "--sw2", "1", "--x1", x, "--json"}
	ntk := []string{"ntk", "--quiet", "--arch", "fcn", "--act", "erf", "--depth", "1", "--width", "4", "--sw2", "1", "--x1", x}
	export := []string{"data", "export", "--dataset", "mnist", "--x", filepath.Join(out, "x.npy")}
	tests := []struct {
		base []string
		flag string
		vals []string
	}{
		{predict, "--eta", []string{"0", "-1", "NaN", "Inf"}},
		{predict, "--lr-factor", []string{"0", "-1", "NaN", "Inf"}},
		{train, "--lr", []string{"0", "-1", "NaN", "Inf"}},
		{train, "--lr-factor", []string{"0", "-1", "NaN", "Inf"}},
		{train, "--mem-limit", []string{"0", "-1", "NaN", "Inf"}},
		{train, "--checkpoint-every", []string{"-1s"}},
		{train, "--steps", []string{"-1"}},
		{train, "--batch", []string{"-1"}},
		{trainDS, "--n-train", []string{"0", "-1"}},
		{trainDS, "--n-test", []string{"-1"}},
		{kernel, "--mem-limit", []string{"0", "-1", "NaN", "Inf"}},
		{kernel, "--workers", []string{"-1"}},
		{ntk, "--max-memory", []string{"0", "-1"}},
		{ntk, "--samples", []string{"0", "-1"}},
		{export, "--n", []string{"-1"}},
		{export, "--downsample", []string{"0", "-1"}},
		{[]string{"figure", "depthscales", "--out", out}, "--workers", []string{"0", "-1"}},
		{[]string{"sweep", "plan", sw}, "--limit", []string{"-1"}},
		{[]string{"sweep", "run", sw, "--results", out}, "--per-task", []string{"0", "-1"}},
		{[]string{"sweep", "run", sw, "--results", out}, "--workers", []string{"0", "-1"}},
		{[]string{"sweep", "run", sw, "--results", out}, "--cell", []string{"-1", "-2"}},
		{[]string{"sweep", "emit", "slurm", sw}, "--per-task", []string{"0", "-1"}},
		{[]string{"sweep", "emit", "k8s", sw}, "--per-task", []string{"0", "-1"}},
		{[]string{"sweep", "emit", "slurm", sw}, "--cpu", []string{"0", "-1"}},
		{[]string{"sweep", "emit", "k8s", sw}, "--retries", []string{"-1"}},
		{[]string{"sweep", "emit", "k8s", sw}, "--parallelism", []string{"-1"}},
	}
	for _, tt := range tests {
		for _, v := range tt.vals {
			args := append(append([]string(nil), tt.base...), tt.flag, v)
			_, stderr, status := runCLI(t, args...)
			if status != 2 || !strings.Contains(stderr, strings.TrimLeft(tt.flag, "-")) || strings.Count(strings.TrimSpace(stderr), "\n") > 0 {
				t.Errorf("%s %s %s: status %d stderr %q, want 2 and one line naming the flag", strings.Join(tt.base[:2], " "), tt.flag, v, status, stderr)
			}
		}
	}
}
