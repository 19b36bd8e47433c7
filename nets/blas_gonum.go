//go:build !openblas

package nets

const blasBackend = "gonum"
