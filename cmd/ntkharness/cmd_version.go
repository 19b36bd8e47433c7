package main

import (
	"fmt"
	"runtime/debug"

	"github.com/ntkharness/ntkharness/linalg"
)

func init() {
	register("version", "print the build's module version and linear-algebra backend", runVersion)
}

func runVersion(args []string) error {
	fs := newFlags("version", "", "Print the module version of this build and its linear-algebra backend (gonum or openblas).")
	if err := parseFlags(fs, args, false); err != nil {
		return err
	}
	v := "(devel)"
	if bi, ok := debug.ReadBuildInfo(); ok {
		v = bi.Main.Version
	}
	fmt.Println("ntkharness", v, "linalg", linalg.Backend())
	return nil
}
