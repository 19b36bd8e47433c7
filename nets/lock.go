package nets

import "sync"

// buildMu serializes Gorgonia graph construction, which races when graphs
// are built concurrently (DESIGN.md §4). Running built graphs concurrently
// is fine.
var buildMu sync.Mutex
