// Package testshared finds the shared test data of the development tree for
// the tests that use it, and skips those tests with the reason when it is
// absent, so that `go test ./...` passes in a clone that has only the
// repository.
//
// The shared folder is $NTKHARNESS_SHARED when that variable is set, else
// ../shared relative to the module root (the nearest directory above the
// working directory that holds go.mod). It holds data/ (the CIFAR-10 subset)
// and reference/.
package testshared

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// Env is the variable naming the shared folder.
const Env = "NTKHARNESS_SHARED"

// CIFAR10 is the CIFAR-10 subset archive, relative to the shared folder.
const CIFAR10 = "data/cifar-10-binary-subset.tar.gz"

// Locate returns the shared folder and how it was found, or an error saying
// where it was looked for.
func Locate() (dir, how string, err error) {
	if d := os.Getenv(Env); d != "" {
		if st, err := os.Stat(d); err != nil || !st.IsDir() {
			return "", "", fmt.Errorf("%s=%s is not a directory", Env, d)
		}
		abs, _ := filepath.Abs(d)
		return abs, "from $" + Env, nil
	}
	root, err := ModuleRoot()
	if err != nil {
		return "", "", err
	}
	d := filepath.Join(filepath.Dir(root), "shared")
	if st, err := os.Stat(d); err != nil || !st.IsDir() {
		return "", "", fmt.Errorf("no %s (the module root's ../shared) and $%s unset", d, Env)
	}
	return d, "../shared of the module root", nil
}

// ModuleRoot returns the nearest directory at or above the working
// directory that holds go.mod.
func ModuleRoot() (string, error) {
	d, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d, nil
		}
		up := filepath.Dir(d)
		if up == d {
			return "", errors.New("no go.mod above the working directory")
		}
		d = up
	}
}

// LocateFile returns the path of rel (slash-separated, relative to the
// shared folder). A $NTKHARNESS_SHARED naming the data folder itself is
// accepted too: data/x is then looked for as x.
func LocateFile(rel string) (string, error) {
	dir, _, err := Locate()
	if err != nil {
		return "", err
	}
	cands := []string{filepath.Join(dir, filepath.FromSlash(rel))}
	if os.Getenv(Env) != "" {
		cands = append(cands, filepath.Join(dir, filepath.Base(rel)))
	}
	for _, p := range cands {
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s not found in the shared folder %s", rel, dir)
}

// Dir returns the shared folder, or skips the test saying why it is absent.
func Dir(t testing.TB) string {
	t.Helper()
	dir, _, err := Locate()
	if err != nil {
		t.Skipf("shared test data absent (%v; set %s): skipping", err, Env)
	}
	return dir
}

// File returns the path of rel inside the shared folder, or skips the test
// saying why it is absent.
func File(t testing.TB, rel string) string {
	t.Helper()
	p, err := LocateFile(rel)
	if err != nil {
		t.Skipf("shared test data absent (%v; set %s): skipping", err, Env)
	}
	return p
}
