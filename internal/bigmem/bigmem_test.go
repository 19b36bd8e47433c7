package bigmem

import (
	"testing"
	"unsafe"
)

// TestFloats: small slices are plain; large ones are zero, of the length
// asked, start on a huge-page boundary and cannot grow into the padding.
func TestFloats(t *testing.T) {
	if s := Floats[float64](10); len(s) != 10 || cap(s) != 10 {
		t.Errorf("small: len %d cap %d", len(s), cap(s))
	}
	for _, n := range []int{hugePage / 8, 3*hugePage/8 + 5} {
		s := Floats[float64](n)
		if len(s) != n || cap(s) != n {
			t.Errorf("n = %d: len %d cap %d", n, len(s), cap(s))
		}
		if p := uintptr(unsafe.Pointer(&s[0])); p%hugePage != 0 {
			t.Errorf("n = %d: starts at %#x, not on a huge page", n, p)
		}
		for i, v := range s {
			if v != 0 {
				t.Fatalf("n = %d: value %d is %v", n, i, v)
			}
		}
		s[n-1] = 1
	}
	if s := Floats[float32](hugePage/4 + 1); uintptr(unsafe.Pointer(&s[0]))%hugePage != 0 {
		t.Error("float32: not on a huge page")
	}
}
