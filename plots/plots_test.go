package plots

import (
	"flag"
	"testing"
)

var outDir = flag.String("plots.out", "", "also write the sample figures to this directory, for a look")

func TestSaveSamples(t *testing.T) {
	for name, f := range samples() {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			if *outDir != "" {
				dir = *outDir
			}
			if err := Save(f, dir, name); err != nil {
				t.Fatal(err)
			}
		})
	}
}
