package experiments

import (
	"testing"

	"github.com/ntkharness/ntkharness/datasets"
)

// BenchmarkTheoryTrainability times the quick-scale theory heat maps (12 sw2
// x 20 depths to 60, 128 + 128 MNIST points, 5 times): one kernel pass per
// sw2 and one eigendecomposition per cell.
func BenchmarkTheoryTrainability(b *testing.B) {
	train, test, err := datasets.LoadMNISTEmbedded()
	if err != nil {
		b.Fatal(err)
	}
	g := trainabilityGrid(Quick)
	xTr, xTe, y, lTr, lTe, err := prepareData(train, test, g.NTrain, g.NTest, 0)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := TheoryTrainability(g, xTr, xTe, y, lTr, lTe, nil); err != nil {
			b.Fatal(err)
		}
	}
}
