//go:build !openblas

package main

const wantLinalgBackend = "gonum"
