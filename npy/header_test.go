package npy

import (
	"bytes"
	"strings"
	"testing"
)

// TestTruncatedHeader: a file cut inside its preamble or header reports what
// is wrong with the header, not a runtime error.
func TestTruncatedHeader(t *testing.T) {
	var buf bytes.Buffer
	if err := Write(&buf, Array{Shape: []int{2, 3}, Data: []float64{1, 2, 3, 4, 5, 6}}); err != nil {
		t.Fatal(err)
	}
	full := buf.Bytes()
	hdrEnd := headerLen(full)
	for _, n := range []int{0, 3, 6, 7, 8, 9, 10, 20, hdrEnd - 1} {
		_, err := Read(bytes.NewReader(full[:n]))
		if err == nil {
			t.Errorf("%d bytes: read without error", n)
			continue
		}
		msg := err.Error()
		if strings.Contains(msg, "runtime error") || strings.Contains(msg, "out of range") {
			t.Errorf("%d bytes: %q is a runtime error", n, msg)
		}
		if n >= 6 && !strings.Contains(msg, "truncated") {
			t.Errorf("%d bytes: %q does not say the header is truncated", n, msg)
		}
	}
	bad := append([]byte(nil), full...)
	bad[6] = 9
	if _, err := Read(bytes.NewReader(bad)); err == nil || !strings.Contains(err.Error(), "version 9") {
		t.Errorf("version 9: %v", err)
	}
	if _, err := Read(strings.NewReader("PK\x03\x04 a zip")); err == nil || !strings.Contains(err.Error(), "magic") {
		t.Errorf("not npy: %v", err)
	}
}
