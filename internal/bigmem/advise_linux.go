package bigmem

import (
	"syscall"
	"unsafe"
)

// madvHugePage is MADV_HUGEPAGE.
const madvHugePage = 14

// advise marks [p, p+size), whole huge pages, for transparent huge pages;
// a refusal (no THP support) leaves ordinary pages.
func advise(p unsafe.Pointer, size uintptr) {
	_ = syscall.Madvise(unsafe.Slice((*byte)(p), size), madvHugePage)
}
