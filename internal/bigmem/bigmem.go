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

// Floats returns a zeroed slice of n values. One of at least a huge page
// starts on a huge-page boundary and its pages, the last rounded up, are
// advised for huge pages; the allocation is then up to 2 huge pages
// larger, but the padding is never written, so it takes no memory but
// (at most) the rest of the last page.
func Floats[T float32 | float64](n int) []T {
	var z T
	size := uintptr(n) * unsafe.Sizeof(z)
	if size < hugePage {
		return make([]T, n)
	}
	pad := int(hugePage / unsafe.Sizeof(z))
	s := make([]T, n+2*pad)
	p := unsafe.Pointer(unsafe.SliceData(s))
	off := int(alignUp(uintptr(p))-uintptr(p)) / int(unsafe.Sizeof(z))
	s = s[off : off+n : off+n]
	advise(unsafe.Pointer(unsafe.SliceData(s)), alignUp(size))
	return s
}

// alignUp rounds x up to a multiple of hugePage.
func alignUp(x uintptr) uintptr { return (x + hugePage - 1) &^ (hugePage - 1) }
