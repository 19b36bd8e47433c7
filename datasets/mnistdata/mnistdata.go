package mnistdata

import "embed"

// FS holds train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz,
// t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz at its root.
//
//go:embed *.gz
var FS embed.FS
