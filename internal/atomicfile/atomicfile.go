package atomicfile

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"
)

// Write writes path through fill. The error names path.
//
// A path that names an existing special file (a device such as /dev/null or
// /dev/stdout, a FIFO, a socket) is written directly: renaming a temporary
// file over it would replace the device by a regular file. A path that names
// a folder is refused.
func Write(path string, fill func(io.Writer) error) error {
	return WriteFiles(File{path, fill})
}

// File is one output of WriteFiles.
type File struct {
	Path string
	Fill func(io.Writer) error
}

// WriteFiles writes several files as one unit as far as a file system
// allows: every file goes to its temporary first, and only when all of them
// are complete are they renamed into place, so a failure (a full disk, a
// folder that cannot be written) leaves none of them changed. Special files
// are written directly, after the temporaries are complete.
func WriteFiles(files ...File) error {
	type pending struct {
		path, tmp string
	}
	var done []pending
	defer func() {
		for _, p := range done {
			os.Remove(p.tmp) // a no-op once the rename has succeeded
		}
	}()
	var direct []File
	for _, f := range files {
		if info, err := os.Stat(f.Path); err == nil {
			switch {
			case info.IsDir():
				return fmt.Errorf("%s: is a folder, not a file", f.Path)
			case !info.Mode().IsRegular():
				direct = append(direct, f)
				continue
			}
		}
		tmp, err := writeTemp(f.Path, f.Fill)
		if tmp != "" {
			done = append(done, pending{f.Path, tmp})
		}
		if err != nil {
			return err
		}
	}
	for _, f := range direct {
		if err := writeDirect(f.Path, f.Fill); err != nil {
			return err
		}
	}
	for _, p := range done {
		if err := os.Rename(p.tmp, p.path); err != nil {
			return fmt.Errorf("%s: %v", p.path, err)
		}
		// Make the rename durable; some file systems cannot sync a folder,
		// and the data is already safe in the file, so that error is not
		// fatal.
		if d, err := os.Open(filepath.Dir(p.path)); err == nil {
			d.Sync()
			d.Close()
		}
	}
	return nil
}

// StaleAge is the age after which a temporary file of ours that is still
// there belongs to no live writer (one killed before its rename): a writer
// streams into its temporary, so a live one is modified far more often.
var StaleAge = time.Hour

// TempPattern is the name pattern of the temporary file of base.
func TempPattern(base string) string { return "." + base + ".tmp-*" }

// writeTemp writes fill's output to a new temporary file beside path,
// flushed, synced and mode 0644, and returns its name. Stale temporaries of
// path left by killed writers are removed first.
func writeTemp(path string, fill func(io.Writer) error) (string, error) {
	dir := filepath.Dir(path)
	RemoveStale(dir, TempPattern(filepath.Base(path)))
	tmp, err := os.CreateTemp(dir, TempPattern(filepath.Base(path)))
	if err != nil {
		return "", fmt.Errorf("%s: %v", path, err)
	}
	name := tmp.Name()
	w := bufio.NewWriterSize(tmp, 1<<20)
	err = fill(w)
	if err == nil {
		err = w.Flush()
	}
	if err == nil {
		err = tmp.Chmod(0o644)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return name, fmt.Errorf("%s: %v", path, err)
	}
	return name, nil
}

// RemoveStale removes the entries of dir matching pattern (a filepath.Match
// pattern of our temporaries, such as TempPattern(base) or "params.tmp")
// that were last modified more than StaleAge ago, and returns how many it
// removed. Errors are ignored: cleaning up is best effort.
func RemoveStale(dir, pattern string) int {
	matches, _ := filepath.Glob(filepath.Join(dir, pattern))
	n := 0
	for _, m := range matches {
		info, err := os.Lstat(m)
		if err != nil || time.Since(info.ModTime()) < StaleAge {
			continue
		}
		if os.RemoveAll(m) == nil {
			n++
		}
	}
	return n
}

// CheckDir makes sure dir exists (creating it) and that files can be
// created in it, so that a command can refuse an unwritable output before
// it computes anything. The error names dir.
func CheckDir(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("output folder %s: %v", dir, err)
	}
	f, err := os.CreateTemp(dir, TempPattern("write-check"))
	if err != nil {
		return fmt.Errorf("output folder %s: %v", dir, err)
	}
	f.Close()
	os.Remove(f.Name())
	return nil
}

// CheckFile checks that Write(path, ...) can succeed as far as can be told
// before the content exists: path is not a folder, and an existing special
// file is writable, or else its folder exists and takes new files.
func CheckFile(path string) error {
	if info, err := os.Stat(path); err == nil {
		if info.IsDir() {
			return fmt.Errorf("%s: is a folder, not a file", path)
		}
		if !info.Mode().IsRegular() {
			if info.Mode()&os.ModeNamedPipe != 0 {
				return nil // opening a FIFO would wait for its reader
			}
			f, err := os.OpenFile(path, os.O_WRONLY, 0)
			if err != nil {
				return fmt.Errorf("%s: %v", path, err)
			}
			return f.Close()
		}
	}
	dir := filepath.Dir(path)
	info, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("%s: %v", path, err)
	}
	if !info.IsDir() {
		return fmt.Errorf("%s: %s is not a folder", path, dir)
	}
	f, err := os.CreateTemp(dir, TempPattern(filepath.Base(path)))
	if err != nil {
		return fmt.Errorf("%s: %v", path, err)
	}
	f.Close()
	os.Remove(f.Name())
	return nil
}

// writeDirect writes fill's output straight into the existing special file
// path, which is neither truncated nor replaced.
func writeDirect(path string, fill func(io.Writer) error) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("%s: %v", path, err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	err = fill(w)
	if err == nil {
		err = w.Flush()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("%s: %v", path, err)
	}
	return nil
}

// WriteJSON writes v to path atomically as JSON indented by two spaces,
// with a final newline.
func WriteJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("%s: %v", path, err)
	}
	return WriteBytes(path, append(b, '\n'))
}

// WriteBytes writes data to path atomically.
func WriteBytes(path string, data []byte) error {
	return Write(path, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}
