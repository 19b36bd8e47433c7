package main

import (
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
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
	train := []string{"train", "--depth", "2", "--width", "512", "--sw2", "1.5", "--sb2", "0.05", "--quiet", "--x-train", x, "--y-train", ty, "--out", out}
	trainDS := []string{"train", "--depth", "2", "--width", "512", "--sw2", "1.5", "--sb2", "0.05", "--quiet", "--dataset", "mnist", "--out", out}
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

// TestTimePlans: a plan estimated to take hours is refused before it starts
// (naming --time-limit and how to raise it), one over a minute prints its
// estimate, and progress goes to stderr in --json mode unless --quiet.
func TestTimePlans(t *testing.T) {
	dir := t.TempDir()
	img := filepath.Join(dir, "img.npy")
	writeNpy(t, img, 1, 500, 28, 28, 1)
	x, y := writeToyNpy(t, dir, 8, 6, false)
	gap := []string{"--arch", "cnn-gap", "--act", "relu", "--depth", "3", "--sw2", "2", "--x1", img}
	tests := []struct {
		name   string
		args   []string
		stderr []string
	}{
		{"kernel", append([]string{"kernel", "--json"}, gap...), []string{"over --time-limit 1h0m0s", "raise the limit with --time-limit"}},
		{"kernel estimate", append([]string{"kernel", "--json", "--time-limit", "1m"}, gap...), []string{"over --time-limit 1m0s"}},
		{"ntk", []string{"ntk", "--quiet", "--arch", "cnn-gap", "--act", "relu", "--depth", "3", "--width", "256", "--sw2", "2", "--samples", "50", "--x1", img, "--max-memory", "100000", "--time-limit", "1s"}, []string{"over --time-limit 1s"}},
		{"train", []string{"train", "--sw2", "1.5", "--sb2", "0.05", "--quiet", "--x-train", x, "--y-train", y, "--width", "4096", "--depth", "8", "--steps", "10000000", "--out", filepath.Join(dir, "t")}, []string{"over --time-limit 1h0m0s"}},
	}
	for _, tt := range tests {
		start := time.Now()
		_, stderr, status := runCLI(t, tt.args...)
		if status != 1 {
			t.Errorf("%s: status %d stderr %q, want 1", tt.name, status, stderr)
		}
		for _, want := range tt.stderr {
			if !strings.Contains(stderr, want) {
				t.Errorf("%s: stderr %q lacks %q", tt.name, stderr, want)
			}
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("%s: refused after %v, want before the work", tt.name, d)
		}
	}
	for _, v := range []string{"0", "-1m"} {
		if _, stderr, status := runCLI(t, append([]string{"kernel", "--json", "--time-limit", v}, gap...)...); status != 2 || !strings.Contains(stderr, "--time-limit") {
			t.Errorf("--time-limit %s: status %d stderr %q, want 2", v, status, stderr)
		}
	}
	// A quick kernel with --json: JSON on stdout, progress on stderr.
	small := []string{"kernel", "--depth", "1", "--sw2", "1", "--x1", x, "--json"}
	stdout, stderr, status := runCLI(t, small...)
	if status != 0 || !strings.HasPrefix(stdout, "{") || !strings.Contains(stderr, "kernel") {
		t.Errorf("kernel --json: status %d, stdout %.40q, stderr %q: want JSON and progress on stderr", status, stdout, stderr)
	}
	if _, stderr, _ := runCLI(t, append(small, "--quiet")...); stderr != "" {
		t.Errorf("kernel --json --quiet: stderr %q, want nothing", stderr)
	}
}

func TestCheckTimePrintsEstimate(t *testing.T) {
	old := os.Stderr
	r, w, _ := os.Pipe()
	os.Stderr = w
	cores := float64(runtime.GOMAXPROCS(0))
	errShort := checkTime("kernel", 10*cores, time.Hour, false)
	errLong := checkTime("kernel", 600*cores, time.Hour, false)
	errQuiet := checkTime("kernel", 900*cores, time.Hour, true)
	w.Close()
	os.Stderr = old
	b, _ := io.ReadAll(r)
	if errShort != nil || errLong != nil || errQuiet != nil {
		t.Fatalf("within the limit: %v, %v, %v", errShort, errLong, errQuiet)
	}
	if got := string(b); strings.Count(got, "estimated time") != 1 || !strings.Contains(got, "10m0s") {
		t.Errorf("stderr %q, want one estimate, of the 10-minute plan only (none with quiet)", got)
	}
	err := checkTime("kernel", 7200*cores, time.Hour, true)
	if err == nil || strings.HasPrefix(err.Error(), "kernel:") || !strings.Contains(err.Error(), "--time-limit") {
		t.Errorf("over the limit: %v, want a refusal naming --time-limit without repeating the command (main adds it)", err)
	}
}
