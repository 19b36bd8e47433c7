//go:build openblas

package nets

/*
#cgo pkg-config: openblas
void openblas_set_num_threads(int);
int openblas_get_num_threads(void);
*/
import "C"

import "sync"

// blasThreads counts the ensembles running with single-threaded OpenBLAS
// and keeps the thread count to restore when the last one is done.
var blasThreads struct {
	sync.Mutex
	users, saved int
}

// blasSingleThread makes OpenBLAS run every call on its caller's thread
// and returns the function that restores its thread count. Several
// goroutines then run products side by side: for the small products of
// an ensemble's members this is about twice as fast as one threaded
// product after another (2 cores), while concurrent calls into threaded
// OpenBLAS contend for its thread pool and run about ten times slower.
// The setting is process-wide: products elsewhere in the process
// meanwhile run single-threaded.
func blasSingleThread() (restore func()) {
	blasThreads.Lock()
	if blasThreads.users == 0 {
		blasThreads.saved = int(C.openblas_get_num_threads())
		C.openblas_set_num_threads(1)
	}
	blasThreads.users++
	blasThreads.Unlock()
	return func() {
		blasThreads.Lock()
		blasThreads.users--
		if blasThreads.users == 0 {
			C.openblas_set_num_threads(C.int(blasThreads.saved))
		}
		blasThreads.Unlock()
	}
}
