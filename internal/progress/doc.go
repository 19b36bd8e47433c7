// Package progress draws the progress of long work for the command line: a
// bar with done/total, percentage, elapsed time and ETA, redrawn in place
// when the output is a terminal, and otherwise a log line every ten seconds
// (logs, CI, cluster jobs). A Bar is safe for concurrent use, its Update
// method has the signature of the library packages' progress callbacks
// (func(done, total int)), and a nil *Bar draws nothing.
package progress
