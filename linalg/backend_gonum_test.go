//go:build !openblas

package linalg

import "testing"

const wantBackend = "gonum"

// The agreement tests of backend_openblas_test.go compare OpenBLAS and
// LAPACKE with gonum; this build has no OpenBLAS, so they are listed here
// as skipped rather than silently absent.

const needsOpenBLAS = "needs -tags openblas (this is the pure-Go build): OpenBLAS-vs-gonum agreement not checked"

func TestOpenBLASGemmMatchesGonum(t *testing.T)         { t.Skip(needsOpenBLAS) }
func TestOpenBLASEigenMatchesGonum(t *testing.T)        { t.Skip(needsOpenBLAS) }
func TestOpenBLASCholeskyMatchesReference(t *testing.T) { t.Skip(needsOpenBLAS) }
