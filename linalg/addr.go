package linalg

import "unsafe"

// addr returns the address of p for overlap tests of slices.
func addr(p *float64) uintptr { return uintptr(unsafe.Pointer(p)) }
