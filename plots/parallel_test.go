package plots

import (
	"fmt"
	"sync"
	"testing"
)

// TestSaveConcurrently saves figures from several goroutines, as an
// experiment runner finishing cells in parallel does (run with -race).
func TestSaveConcurrently(t *testing.T) {
	dir := t.TempDir()
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f := sampleWidth()
			f.PanelWidth, f.PanelHeight = 5, 4
			errs[i] = Save(f, dir, fmt.Sprintf("w%d", i))
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("goroutine %d: %v", i, err)
		}
	}
}
