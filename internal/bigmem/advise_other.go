//go:build !linux

package bigmem

import "unsafe"

// advise does nothing off Linux.
func advise(p unsafe.Pointer, size uintptr) {}
