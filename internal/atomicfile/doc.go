// Package atomicfile writes output files so that a reader, or a rerun after a
// crash or kill -9, sees either the old file or the whole new one, never a
// part: the content goes to a temporary file in the same folder, is flushed,
// synced and made readable by everyone (mode 0644), and is then renamed over
// the destination, whose folder is synced in turn. Every result the harness
// writes (arrays, metrics, figures, checkpoints, sweep cells) goes through
// it, which is what makes interrupted work resumable: a file that exists is
// complete.
//
// An output that already exists as a special file (a device such as
// /dev/null, a FIFO, a socket) is written into directly, without a temporary
// file or a rename, so that the device stays a device; a folder given where a
// file is expected is refused.
//
// Concurrent writers of the same path each use their own temporary file; the
// last rename wins and no reader sees a mixture.
package atomicfile
