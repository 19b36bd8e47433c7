//go:build openblas

package main

const wantLinalgBackend = "openblas"
