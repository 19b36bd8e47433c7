package bigmem

import (
	"syscall"
	"unsafe"
)

// madvHugePage is MADV_HUGEPAGE.
const madvHugePage = 14

// advise marks the whole huge pages of [p, p+size) for transparent huge
// pages; a refusal (no THP support) leaves ordinary pages.
func advise(p unsafe.Pointer, size uintptr) {
	off, n := alignedRange(uintptr(p), size)
	if n == 0 {
		return
	}
	_ = syscall.Madvise(unsafe.Slice((*byte)(unsafe.Add(p, off)), n), madvHugePage)
}
