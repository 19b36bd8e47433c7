//go:build !openblas

package nets

// blasSingleThread does nothing for gonum's BLAS, which is safe and
// efficient to call from several goroutines at once.
func blasSingleThread() (restore func()) { return func() {} }
