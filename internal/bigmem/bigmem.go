// Package bigmem allocates large float slices whose memory the kernel may
// back with huge pages.
//
// A first write to fresh memory costs the process a page fault, once per
// 4 KiB page: on a virtual machine about 10 us each, so that touching the
// 40 MB of a width-1024 network's parameters took about 0.1 s, more than
// drawing them. On Linux, Floats advises the whole 2 MiB pages of a large
// slice as transparent huge pages (madvise MADV_HUGEPAGE; honoured when
// /sys/kernel/mm/transparent_hugepage/enabled is "always" or "madvise"),
// which fault once per 2 MiB. Elsewhere, or if the advice is refused, it is
// an ordinary make.
package bigmem

import "unsafe"

// hugePage is the size of a transparent huge page on amd64 and arm64.
const hugePage = 2 << 20

// Floats returns a zeroed slice of n values (make([]T, n)), advised for
// huge pages when it spans at least two of them.
func Floats[T float32 | float64](n int) []T {
	s := make([]T, n)
	var z T
	if size := uintptr(n) * unsafe.Sizeof(z); size >= 2*hugePage {
		advise(unsafe.Pointer(unsafe.SliceData(s)), size)
	}
	return s
}

// alignedRange returns the offset from p and the length of the largest run
// of whole huge pages inside [p, p+size).
func alignedRange(p, size uintptr) (off, n uintptr) {
	beg := (p + hugePage - 1) &^ (hugePage - 1)
	end := (p + size) &^ (hugePage - 1)
	if end <= beg {
		return 0, 0
	}
	return beg - p, end - beg
}
