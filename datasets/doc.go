// Package datasets loads MNIST and CIFAR-10 into float64 image sets and
// prepares them the way the paper's experiments use them: class-balanced
// seeded subsets, spatial downsampling, grayscale, standardization and
// one-hot targets.
//
// # Representation
//
// A Set holds N images channels last, [N, H, W, C] row-major:
// X[((i*H+y)*W+x)*C+c], as float64 in [0, 1], each stored byte b becoming
// b/255. MNIST has H = W = 28, C = 1; CIFAR-10 has H = W = 32, C = 3 (red,
// green, blue). Labels are ints in [0, Classes). Every transformation returns
// a new Set and leaves its receiver unchanged. Array and Flat give the images
// as [N, H, W, C] and [N, H*W*C] arrays for the networks and kernels.
//
// # Preparation
//
//   - Subset: n examples, class-balanced (floor(n/k) per class, one more for
//     the first n mod k classes, or n per class), drawn without replacement
//     by a seeded PCG, the same on every machine.
//   - Downsample: average pooling by an integer factor f,
//     D[i, y, x, c] = (1/f^2) sum_{a,b < f} X[i, f y + a, f x + b, c].
//   - Grayscale: the mean of the channels.
//   - Standardize: (X - mean)/std with one mean and one population standard
//     deviation over all values (the paper's global standardization);
//     StandardizeChannels per channel; the ...With variants apply given
//     statistics, for example those of the training split to the test split.
//   - NormalizeNorm: every image rescaled to norm sqrt(d), d = H W C, so the
//     input kernel x.x/d is 1 on the diagonal.
//   - OneHot: targets Y[i, j] = [label_i == j], optionally centred by 1/k
//     so that every row has mean zero.
//
// # Sources
//
// MNIST: by default the copy embedded in the binary (package
// datasets/mnistdata); Options.MNISTDir or the environment variable
// MNIST_DIR names a directory with the four idx files instead, gzipped or
// not (any dataset in the MNIST idx layout works, Fashion-MNIST included).
//
// CIFAR-10: the official binary release, given by Options.CIFAR10 or the
// environment variable CIFAR10_DIR: the extracted cifar-10-batches-bin
// folder, its parent, or the cifar-10-binary.tar.gz archive itself (or a
// directory holding it), which is streamed through gzip and tar without
// extracting it. The training split is every data_batch_1..5.bin present (at
// least one); test_batch.bin is the test split.
//
// Every fault in the files (missing file, wrong idx magic number, truncated
// gzip stream, a size that is not a whole number of records, a label out of
// range, image and label counts that disagree) is reported as an error that
// names the file and the fault.
package datasets
