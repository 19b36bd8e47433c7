package main

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// runCLI runs one command line in-process and returns what it printed and
// its exit status. Tests that use it must not run in parallel.
func runCLI(t *testing.T, args ...string) (stdout, stderr string, status int) {
	t.Helper()
	oldOut, oldErr := os.Stdout, os.Stderr
	rOut, wOut, _ := os.Pipe()
	rErr, wErr, _ := os.Pipe()
	os.Stdout, os.Stderr = wOut, wErr
	var bOut, bErr bytes.Buffer
	done := make(chan struct{}, 2)
	go func() { io.Copy(&bOut, rOut); done <- struct{}{} }()
	go func() { io.Copy(&bErr, rErr); done <- struct{}{} }()
	status = run(args)
	wOut.Close()
	wErr.Close()
	<-done
	<-done
	os.Stdout, os.Stderr = oldOut, oldErr
	return bOut.String(), bErr.String(), status
}

func TestUsageErrors(t *testing.T) {
	tests := []struct {
		args   []string
		status int
		stderr string
	}{
		{[]string{"no-such-command"}, 2, "unknown command"},
		{[]string{"version", "--bogus"}, 2, "flag provided but not defined: -bogus"},
		{[]string{"version", "extra"}, 2, `unexpected argument "extra"`},
		{[]string{"version", "--help"}, 0, ""},
		{[]string{"--help"}, 0, ""},
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
}

// TestErrorsNameTheCommandOnce: main prefixes runtime errors with the
// command's name, so the messages themselves must not repeat it.
func TestErrorsNameTheCommandOnce(t *testing.T) {
	dir := t.TempDir()
	x, _ := writeToyNpy(t, dir, 200, 256, true)
	for _, args := range [][]string{
		{"figure", "phase", "--cifar10", filepath.Join(dir, "nonexistent"), "--out", filepath.Join(dir, "fig")},
		{"kernel", "--arch", "cnn-gap", "--act", "relu", "--depth", "3", "--sw2", "2", "--sb2", "0.05",
			"--x1", x, "--time-limit", "1s", "--json"},
	} {
		_, stderr, status := runCLI(t, args...)
		if status == 0 || strings.Contains(stderr, args[0]+": "+args[0]+":") {
			t.Errorf("%v: status %d, stderr %q: want a failure naming %q once", args, status, stderr, args[0])
		}
	}
}
