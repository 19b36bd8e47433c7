package nets

import "sync"

// buildMu serializes Gorgonia graph construction, which races when graphs
// are built concurrently (Gorgonia v0.9.18). Running built graphs
// concurrently is fine.
var buildMu sync.Mutex
