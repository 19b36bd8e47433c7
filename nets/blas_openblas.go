//go:build openblas

package nets

import (
	"gonum.org/v1/netlib/blas/netlib"
	G "gorgonia.org/gorgonia"

	// The linear-algebra layer links OpenBLAS and routes gonum's blas64 to
	// it; Gorgonia keeps its own BLAS choice, set below.
	_ "github.com/ntkharness/ntkharness/linalg"
)

const blasBackend = "openblas"

// init makes Gorgonia's matrix products (and those of package tensor) use
// OpenBLAS, the BLAS of the rest of the openblas build.
func init() {
	G.Use(netlib.Implementation{})
}
