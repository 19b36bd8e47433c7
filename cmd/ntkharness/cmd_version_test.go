package main

import (
	"strings"
	"testing"
)

func TestVersionPrintsBackend(t *testing.T) {
	out, errOut, status := runCLI(t, "version")
	if status != 0 || errOut != "" {
		t.Fatalf("version: status %d, stderr %q", status, errOut)
	}
	// The backend is fixed by the build tag: openblas or the pure-Go default.
	want := "linalg " + wantLinalgBackend
	if !strings.Contains(out, want) {
		t.Errorf("version printed %q, want it to contain %q", out, want)
	}
}
