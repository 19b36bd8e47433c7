//go:build !openblas

package linalg

const wantBackend = "gonum"
