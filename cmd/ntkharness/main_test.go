package main

import (
	"bytes"
	"io"
	"os"
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
