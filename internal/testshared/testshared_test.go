package testshared_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ntkharness/ntkharness/internal/testshared"
	"github.com/ntkharness/ntkharness/linalg"
)

// TestLocate: $NTKHARNESS_SHARED wins over ../shared, a missing folder is
// reported, and a data folder named directly is accepted for data/ files.
func TestLocate(t *testing.T) {
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "data"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "data", "x.bin"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv(testshared.Env, root)
	if d, how, err := testshared.Locate(); err != nil || d != root || !strings.Contains(how, testshared.Env) {
		t.Errorf("Locate with %s=%s: %q, %q, %v", testshared.Env, root, d, how, err)
	}
	if p := testshared.File(t, "data/x.bin"); p != filepath.Join(root, "data", "x.bin") {
		t.Errorf("File(data/x.bin) = %q", p)
	}
	t.Setenv(testshared.Env, filepath.Join(root, "data"))
	if p, err := testshared.LocateFile("data/x.bin"); err != nil || p != filepath.Join(root, "data", "x.bin") {
		t.Errorf("LocateFile with the data folder named directly: %q, %v", p, err)
	}
	if _, err := testshared.LocateFile("data/absent.bin"); err == nil {
		t.Error("LocateFile of an absent file: no error")
	}
	t.Setenv(testshared.Env, filepath.Join(root, "nowhere"))
	if _, _, err := testshared.Locate(); err == nil || !strings.Contains(err.Error(), "nowhere") {
		t.Errorf("Locate with a missing folder: error %v, want one naming it", err)
	}
	// The test runs in internal/testshared: the module root is two up.
	wd, _ := os.Getwd()
	if r, err := testshared.ModuleRoot(); err != nil || r != filepath.Dir(filepath.Dir(wd)) {
		t.Errorf("ModuleRoot = %q, %v; want %s", r, err, filepath.Dir(filepath.Dir(wd)))
	}
}

// TestOptionalSuites prints (under -v; `make test` runs it so) one line
// saying which optional suites this build and machine ran: the tests on the
// shared data and the OpenBLAS-versus-gonum agreement tests.
func TestOptionalSuites(t *testing.T) {
	shared := "skipped (set " + testshared.Env + " or provide ../shared)"
	if p, err := testshared.LocateFile(testshared.CIFAR10); err == nil {
		shared = "found at " + filepath.Dir(filepath.Dir(p))
	} else if d, _, err2 := testshared.Locate(); err2 == nil {
		shared = "skipped (" + d + " has no " + testshared.CIFAR10 + ")"
	}
	blas := "skipped (pure-Go build; make test TAGS=openblas)"
	if linalg.Backend() == "openblas" {
		blas = "ran"
	}
	fmt.Printf("optional suites: shared data: %s; openblas agreement: %s\n", shared, blas)
}
