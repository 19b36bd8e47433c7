package datasets

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"strings"

	"gonum.org/v1/gonum/mat"

	"github.com/ntkharness/ntkharness/npy"
)

// Dataset names accepted by Load.
const (
	MNIST   = "mnist"
	CIFAR10 = "cifar10"
)

// Names lists the datasets Load knows.
var Names = []string{MNIST, CIFAR10}

// Environment variables consulted when the matching Options field is empty.
const (
	EnvMNISTDir   = "MNIST_DIR"
	EnvCIFAR10Dir = "CIFAR10_DIR"
)

// Options locate the dataset files.
type Options struct {
	// MNISTDir is a directory holding train-images-idx3-ubyte,
	// train-labels-idx1-ubyte, t10k-images-idx3-ubyte and
	// t10k-labels-idx1-ubyte, each optionally with a .gz suffix. Empty means
	// $MNIST_DIR, and if that is empty too, the embedded copy.
	MNISTDir string
	// CIFAR10 is the cifar-10-batches-bin folder, its parent directory, or
	// the cifar-10-binary.tar.gz archive. Empty means $CIFAR10_DIR.
	CIFAR10 string
}

// Set is a labelled set of images, stored channels last as float64.
type Set struct {
	Name       string    // dataset name, e.g. "mnist"
	Split      string    // "train" or "test" (or empty)
	N          int       // number of images
	H, W, C    int       // height, width, channels
	X          []float64 // N*H*W*C values, X[((i*H+y)*W+x)*C+c]
	Labels     []int     // N labels in [0, Classes)
	Classes    int       // number of classes k
	ClassNames []string  // Classes names, label i is ClassNames[i]
}

// ErrUnknown is wrapped by the error of Load for a name not in Names.
var ErrUnknown = errors.New("unknown dataset")

// Known reports whether name (any case) is a dataset Load reads.
func Known(name string) bool {
	switch strings.ToLower(name) {
	case MNIST, CIFAR10, "cifar-10":
		return true
	}
	return false
}

// Load reads the training and test splits of the named dataset ("mnist" or
// "cifar10") from the locations in opts.
func Load(name string, opts Options) (train, test *Set, err error) {
	return unpack(LoadPacked(name, opts))
}

// LoadPacked is Load with the splits kept as bytes (see Packed).
func LoadPacked(name string, opts Options) (train, test *Packed, err error) {
	switch strings.ToLower(name) {
	case MNIST:
		dir := opts.MNISTDir
		if dir == "" {
			dir = os.Getenv(EnvMNISTDir)
		}
		if dir == "" {
			return loadMNISTEmbedded()
		}
		return loadMNISTDir(dir)
	case CIFAR10, "cifar-10":
		path := opts.CIFAR10
		if path == "" {
			path = os.Getenv(EnvCIFAR10Dir)
		}
		if path == "" {
			return nil, nil, fmt.Errorf("cifar10: no location given: name the cifar-10-batches-bin folder or cifar-10-binary.tar.gz (option CIFAR10, environment %s)", EnvCIFAR10Dir)
		}
		return loadCIFAR10(path)
	}
	return nil, nil, fmt.Errorf("%w %q (known: %s)", ErrUnknown, name, strings.Join(Names, ", "))
}

// FromArray wraps an array of images as a Set. x has shape [N, H, W, C]
// (channels last) or [N, d], which is taken as N images of 1x1 pixels with
// d channels. The Set shares x.Data. Labels must lie in [0, classes).
func FromArray(x npy.Array, labels []int, classes int) (*Set, error) {
	s := &Set{X: x.Data, Labels: labels, Classes: classes}
	switch len(x.Shape) {
	case 4:
		s.N, s.H, s.W, s.C = x.Shape[0], x.Shape[1], x.Shape[2], x.Shape[3]
	case 2:
		s.N, s.H, s.W, s.C = x.Shape[0], 1, 1, x.Shape[1]
	default:
		return nil, fmt.Errorf("images of shape %v: want [N, H, W, C] or [N, d]", x.Shape)
	}
	for i := 0; i < classes; i++ {
		s.ClassNames = append(s.ClassNames, fmt.Sprint(i))
	}
	if err := s.validate(); err != nil {
		return nil, err
	}
	return s, nil
}

// validate checks that the fields agree with each other.
func (s *Set) validate() error {
	if s.N < 0 || s.H < 1 || s.W < 1 || s.C < 1 {
		return fmt.Errorf("invalid image set shape [%d, %d, %d, %d]", s.N, s.H, s.W, s.C)
	}
	if len(s.X) != s.N*s.Dim() {
		return fmt.Errorf("image set of shape [%d, %d, %d, %d] holds %d values, want %d", s.N, s.H, s.W, s.C, len(s.X), s.N*s.Dim())
	}
	if len(s.Labels) != s.N {
		return fmt.Errorf("%d images but %d labels", s.N, len(s.Labels))
	}
	if s.Classes < 1 {
		return fmt.Errorf("class count %d: want at least 1", s.Classes)
	}
	for i, l := range s.Labels {
		if l < 0 || l >= s.Classes {
			return fmt.Errorf("example %d has label %d, want 0-%d", i, l, s.Classes-1)
		}
	}
	return nil
}

// Dim is the number of values per image, H*W*C.
func (s *Set) Dim() int { return s.H * s.W * s.C }

// Image returns the values of image i (a slice of X, not a copy).
func (s *Set) Image(i int) []float64 { d := s.Dim(); return s.X[i*d : (i+1)*d] }

// Array returns the images as an array of shape [N, H, W, C] sharing X.
func (s *Set) Array() npy.Array {
	return npy.Array{Shape: []int{s.N, s.H, s.W, s.C}, Data: s.X}
}

// Flat returns the images as an array of shape [N, H*W*C] sharing X: row i
// is image i flattened in (y, x, c) order.
func (s *Set) Flat() npy.Array {
	return npy.Array{Shape: []int{s.N, s.Dim()}, Data: s.X}
}

// LabelArray returns the labels as a float64 array of shape [N].
func (s *Set) LabelArray() npy.Array {
	a := npy.New(s.N)
	for i, l := range s.Labels {
		a.Data[i] = float64(l)
	}
	return a
}

// OneHot returns the targets as an array of shape [N, k], the rows of
// OneHot(s.Labels, s.Classes, center).
func (s *Set) OneHot(center bool) npy.Array {
	return npy.Array{Shape: []int{s.N, s.Classes}, Data: oneHot(s.Labels, s.Classes, center)}
}

// OneHot returns the N x k targets of N labels in [0, k):
//
//	Y[i, j] = [labels_i == j] - (1/k if center)
//
// Centring (y - 1/k) gives every row mean zero, as in the paper's
// mean-squared-error experiments. Every entry is computed as -(1/k or 0)
// plus [labels_i == j], so without centring the entries off the label are
// the float -0: equal to 0 in every computation, and the bits that data
// export writes and training checkpoints hash, which stay as they were. It
// panics if labels is empty or a label is out of range.
func OneHot(labels []int, k int, center bool) *mat.Dense {
	return mat.NewDense(len(labels), k, oneHot(labels, k, center))
}

// oneHot returns the rows of OneHot, row-major.
func oneHot(labels []int, k int, center bool) []float64 {
	off := 0.0
	if center {
		off = 1 / float64(k)
	}
	y := make([]float64, len(labels)*k)
	for i, l := range labels {
		if l < 0 || l >= k {
			panic(fmt.Sprintf("datasets: label %d of example %d out of range [0, %d)", l, i, k))
		}
		row := y[i*k : (i+1)*k]
		for j := range row {
			row[j] = -off
		}
		row[l] += 1
	}
	return y
}

// ClassCounts returns the number of examples of each class.
func (s *Set) ClassCounts() []int {
	c := make([]int, s.Classes)
	for _, l := range s.Labels {
		c[l]++
	}
	return c
}

// Stats summarizes a set of values.
type Stats struct {
	Min, Max float64
	Mean     float64 // (1/n) sum x
	Std      float64 // population standard deviation sqrt((1/n) sum (x - mean)^2)
}

// stats computes Stats of the values x[off], x[off+stride], ... in two
// passes (mean first, then squared deviations) for accuracy.
func stats(x []float64, off, stride int) Stats {
	if off >= len(x) {
		return Stats{Min: math.NaN(), Max: math.NaN(), Mean: math.NaN(), Std: math.NaN()}
	}
	st := Stats{Min: math.Inf(1), Max: math.Inf(-1)}
	var sum float64
	n := 0
	for i := off; i < len(x); i += stride {
		v := x[i]
		sum += v
		if v < st.Min {
			st.Min = v
		}
		if v > st.Max {
			st.Max = v
		}
		n++
	}
	st.Mean = sum / float64(n)
	var ss float64
	for i := off; i < len(x); i += stride {
		d := x[i] - st.Mean
		ss += d * d
	}
	st.Std = math.Sqrt(ss / float64(n))
	return st
}

// Stats returns the minimum, maximum, mean and population standard
// deviation of all values of all images. An empty set gives NaNs; NaN
// values make Mean and Std NaN (Min and Max skip them).
func (s *Set) Stats() Stats { return stats(s.X, 0, 1) }

// ChannelStats returns Stats of each channel over all images and pixels.
func (s *Set) ChannelStats() []Stats {
	out := make([]Stats, s.C)
	for c := range out {
		out[c] = stats(s.X, c, s.C)
	}
	return out
}

// clone returns a copy of s with new X (of the given shape) and copied labels.
func (s *Set) withShape(n, h, w, c int) *Set {
	t := *s
	t.N, t.H, t.W, t.C = n, h, w, c
	t.X = make([]float64, n*h*w*c)
	t.Labels = append([]int(nil), s.Labels...)
	t.ClassNames = append([]string(nil), s.ClassNames...)
	return &t
}

// unpack decodes the two splits a loader returned.
func unpack(train, test *Packed, err error) (*Set, *Set, error) {
	if err != nil {
		return nil, nil, err
	}
	return train.Unpack(), test.Unpack(), nil
}

// byteScale[b] = b/255, the pixel value of byte b.
var byteScale = func() (t [256]float64) {
	for b := range t {
		t[b] = float64(b) / 255
	}
	return t
}()

// cause strips the path an *os.PathError repeats, so that messages name
// the file once.
func cause(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
