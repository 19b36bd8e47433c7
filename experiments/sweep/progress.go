package sweep

import "context"

// progressKey carries, in the context a kind runs with, the function that
// takes the fraction of the running group's work done.
type progressKey struct{}

func withProgress(ctx context.Context, f func(frac float64)) context.Context {
	return context.WithValue(ctx, progressKey{}, f)
}

// ReportProgress tells the run that the cell or group the kind is
// computing under ctx has done done of its total units of work (training
// steps, say), so that long groups move the progress bar while they run.
// It does nothing outside a sweep run or when total is not positive.
func ReportProgress(ctx context.Context, done, total int) {
	f, ok := ctx.Value(progressKey{}).(func(float64))
	if !ok || total <= 0 {
		return
	}
	f(min(max(float64(done)/float64(total), 0), 1))
}
