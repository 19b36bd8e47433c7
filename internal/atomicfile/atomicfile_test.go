package atomicfile

import (
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestWrite(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "out.txt")
	if err := WriteBytes(path, []byte("old")); err != nil {
		t.Fatal(err)
	}
	// A failing fill leaves the old content and no temporary file.
	boom := errors.New("boom")
	err := Write(path, func(w io.Writer) error {
		io.WriteString(w, "partial")
		return boom
	})
	if err == nil || !errors.Is(err, boom) && err.Error() != path+": boom" {
		t.Fatalf("failing fill: err = %v, want one naming %s and boom", err, path)
	}
	if got, _ := os.ReadFile(path); string(got) != "old" {
		t.Errorf("after a failed write the file holds %q, want the old content", got)
	}
	if err := WriteBytes(path, []byte("new")); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(path); string(got) != "new" {
		t.Errorf("file holds %q, want new", got)
	}
	info, err := os.Stat(path)
	if err != nil || info.Mode().Perm() != 0o644 {
		t.Errorf("mode %v (%v), want 0644", info.Mode().Perm(), err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("folder holds %d entries, want only the output", len(entries))
	}
	if err := WriteBytes(filepath.Join(dir, "missing", "x"), nil); err == nil {
		t.Error("write into a missing folder succeeded")
	}
}

// TestWriteSpecialFiles checks that an existing device or FIFO is written
// into, not replaced by a regular file, and that a folder is refused.
func TestWriteSpecialFiles(t *testing.T) {
	dir := t.TempDir()

	t.Run("fifo", func(t *testing.T) {
		path := filepath.Join(dir, "fifo")
		if err := syscall.Mkfifo(path, 0o600); err != nil {
			t.Skipf("mkfifo: %v", err)
		}
		// A reader opened without blocking lets the write proceed, and the
		// test fail instead of hanging when the FIFO has been replaced.
		fd, err := syscall.Open(path, syscall.O_RDONLY|syscall.O_NONBLOCK, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer syscall.Close(fd)
		if err := WriteBytes(path, []byte("through the pipe")); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 64)
		n, _ := syscall.Read(fd, buf)
		if n < 0 {
			n = 0
		}
		if s := string(buf[:n]); s != "through the pipe" {
			t.Errorf("reader got %q", s)
		}
		info, err := os.Lstat(path)
		if err != nil || info.Mode()&os.ModeNamedPipe == 0 {
			t.Errorf("after the write %s is %v (%v), want a FIFO", path, info.Mode(), err)
		}
		assertNoTemporaries(t, dir)
	})

	t.Run("char device", func(t *testing.T) {
		if os.Geteuid() != 0 {
			t.Skip("mknod of a character device needs root")
		}
		path := filepath.Join(dir, "null")
		// The same device numbers as /dev/null (1, 3).
		if err := syscall.Mknod(path, syscall.S_IFCHR|0o666, 1<<8|3); err != nil {
			t.Skipf("mknod: %v", err)
		}
		if err := WriteBytes(path, make([]byte, 62<<10)); err != nil {
			t.Fatal(err)
		}
		info, err := os.Lstat(path)
		if err != nil || info.Mode()&os.ModeCharDevice == 0 {
			t.Errorf("after the write %s is %v (%v), want a character device", path, info.Mode(), err)
		}
		assertNoTemporaries(t, dir)
	})

	t.Run("folder", func(t *testing.T) {
		path := filepath.Join(dir, "sub")
		if err := os.Mkdir(path, 0o755); err != nil {
			t.Fatal(err)
		}
		err := WriteBytes(path, []byte("x"))
		if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "folder") {
			t.Errorf("write to a folder: err = %v, want one naming %s as a folder", err, path)
		}
		if info, err := os.Stat(path); err != nil || !info.IsDir() {
			t.Errorf("the folder was replaced: %v %v", info, err)
		}
	})
}

func assertNoTemporaries(t *testing.T, dir string) {
	t.Helper()
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.Contains(e.Name(), ".tmp-") {
			t.Errorf("temporary file %s left behind", e.Name())
		}
	}
}

func TestWriteFilesAllOrNone(t *testing.T) {
	dir := t.TempDir()
	x, y := filepath.Join(dir, "x.npy"), filepath.Join(dir, "missing", "y.npy")
	fill := func(s string) func(io.Writer) error {
		return func(w io.Writer) error { _, err := io.WriteString(w, s); return err }
	}
	if err := WriteFiles(File{x, fill("x")}, File{y, fill("y")}); err == nil || !strings.Contains(err.Error(), y) {
		t.Errorf("second file in a missing folder: err = %v, want one naming %s", err, y)
	}
	if _, err := os.Stat(x); !os.IsNotExist(err) {
		t.Errorf("the first file was written although the second failed: %v", err)
	}
	assertNoTemporaries(t, dir)
	y = filepath.Join(dir, "y.npy")
	if err := WriteFiles(File{x, fill("x")}, File{y, fill("y")}); err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]string{x: "x", y: "y"} {
		if b, _ := os.ReadFile(p); string(b) != want {
			t.Errorf("%s holds %q, want %q", p, b, want)
		}
	}
}

func TestRemoveStale(t *testing.T) {
	dir := t.TempDir()
	old := time.Now().Add(-2 * StaleAge)
	stale := filepath.Join(dir, ".x.npy.tmp-123")
	fresh := filepath.Join(dir, ".x.npy.tmp-456")
	other := filepath.Join(dir, "notes.tmp-1")
	for _, p := range []string{stale, fresh, other} {
		os.WriteFile(p, []byte("partial"), 0o644)
	}
	os.Chtimes(stale, old, old)
	os.Chtimes(other, old, old)
	// Writing x.npy removes its stale temporary, not a live writer's.
	if err := WriteBytes(filepath.Join(dir, "x.npy"), []byte("x")); err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]bool{stale: false, fresh: true, other: true} {
		if _, err := os.Stat(p); (err == nil) != want {
			t.Errorf("%s exists %v, want %v", filepath.Base(p), err == nil, want)
		}
	}
}

func TestCheckOutputs(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	os.WriteFile(file, nil, 0o644)
	if err := CheckDir(filepath.Join(dir, "new", "sub")); err != nil {
		t.Errorf("CheckDir of a new folder: %v", err)
	}
	if err := CheckDir(filepath.Join(file, "sub")); err == nil {
		t.Error("CheckDir below a file: accepted")
	}
	if err := CheckFile(filepath.Join(dir, "out.npy")); err != nil {
		t.Errorf("CheckFile: %v", err)
	}
	for _, p := range []string{dir, filepath.Join(dir, "missing", "x.npy"), filepath.Join(file, "x.npy")} {
		if err := CheckFile(p); err == nil || !strings.Contains(err.Error(), p) {
			t.Errorf("CheckFile(%s) = %v, want an error naming it", p, err)
		}
	}
	if err := CheckFile(os.DevNull); err != nil {
		t.Errorf("CheckFile(%s): %v", os.DevNull, err)
	}
	assertNoTemporaries(t, dir)
}

func TestWriteJSON(t *testing.T) {
	path := filepath.Join(t.TempDir(), "v.json")
	v := struct {
		Name string    `json:"name"`
		Xs   []float64 `json:"xs"`
	}{"a", []float64{1, 0.5}}
	if err := WriteJSON(path, v); err != nil {
		t.Fatal(err)
	}
	want := "{\n  \"name\": \"a\",\n  \"xs\": [\n    1,\n    0.5\n  ]\n}\n"
	if got, _ := os.ReadFile(path); string(got) != want {
		t.Errorf("file holds %q, want %q", got, want)
	}
	// A value JSON cannot encode is an error naming the file, and the
	// file is left as it was.
	if err := WriteJSON(path, math.NaN()); err == nil || !strings.HasPrefix(err.Error(), path+": ") {
		t.Errorf("unencodable value: err = %v, want one naming %s", err, path)
	}
	if got, _ := os.ReadFile(path); string(got) != want {
		t.Errorf("after a failed write the file holds %q", got)
	}
}
