package datasets

import (
	"bufio"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"

	"github.com/ntkharness/ntkharness/datasets/mnistdata"
)

// IDX is the content of one file in the idx format of the MNIST
// distribution: a big-endian header, magic number 0x000008DD (two zero
// bytes, type code 0x08 for unsigned bytes, DD the number of dimensions),
// then DD big-endian uint32 dimension sizes, then prod(Dims) bytes row-major.
type IDX struct {
	Dims []int
	Data []byte
}

// maxIDX bounds the number of elements an idx header may announce.
const maxIDX = 1 << 34

// gzipMagic opens every gzip stream.
var gzipMagic = []byte{0x1f, 0x8b}

// source reads a file that may be gzipped and remembers the first error of
// the stream below (other than io.EOF), so that a short read can be told
// apart: a fault of the gzip stream, or a well-formed stream whose content
// is too short.
type source struct {
	r    io.Reader
	gz   bool
	name string
	err  error
}

func (s *source) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if err != nil && err != io.EOF && s.err == nil {
		s.err = err
	}
	return n, err
}

// fault returns the error of the stream below, naming the fault, or nil.
func (s *source) fault() error {
	switch {
	case s.err == nil:
		return nil
	case s.gz && errors.Is(s.err, io.ErrUnexpectedEOF):
		return fmt.Errorf("%s: truncated gzip stream", s.name)
	case s.gz && errors.Is(s.err, gzip.ErrChecksum):
		return fmt.Errorf("%s: corrupt gzip stream (checksum mismatch)", s.name)
	case s.gz:
		return fmt.Errorf("%s: corrupt gzip stream: %v", s.name, s.err)
	}
	return fmt.Errorf("%s: %v", s.name, s.err)
}

// open returns a source of the decompressed stream if r starts with the
// gzip magic bytes, and of r itself otherwise.
func open(r io.Reader, name string) (*source, error) {
	br := bufio.NewReaderSize(r, 1<<16)
	head, _ := br.Peek(2)
	if len(head) == 2 && head[0] == gzipMagic[0] && head[1] == gzipMagic[1] {
		z, err := gzip.NewReader(br)
		if err != nil {
			if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
				return nil, fmt.Errorf("%s: truncated gzip stream", name)
			}
			return nil, fmt.Errorf("%s: invalid gzip stream: %v", name, err)
		}
		return &source{r: z, gz: true, name: name}, nil
	}
	return &source{r: br, name: name}, nil
}

// ReadIDX reads one idx file of unsigned bytes with wantDims dimensions
// from r, decompressing it first if it is gzipped. name labels errors.
// The file must hold exactly the bytes its header announces.
func ReadIDX(r io.Reader, name string, wantDims int) (IDX, error) {
	src, err := open(r, name)
	if err != nil {
		return IDX{}, err
	}
	var hdr [4]byte
	if _, err := io.ReadFull(src, hdr[:]); err != nil {
		if f := src.fault(); f != nil {
			return IDX{}, f
		}
		return IDX{}, fmt.Errorf("%s: too short for an idx header", name)
	}
	want := uint32(0x0800 | wantDims)
	if got := binary.BigEndian.Uint32(hdr[:]); got != want {
		return IDX{}, fmt.Errorf("%s: idx magic number 0x%08x, want 0x%08x (unsigned bytes, %d dimensions)", name, got, want, wantDims)
	}
	dimb := make([]byte, 4*wantDims)
	if _, err := io.ReadFull(src, dimb); err != nil {
		if f := src.fault(); f != nil {
			return IDX{}, f
		}
		return IDX{}, fmt.Errorf("%s: truncated idx header (%d dimension sizes expected)", name, wantDims)
	}
	dims := make([]int, wantDims)
	total := int64(1)
	for i := range dims {
		dims[i] = int(binary.BigEndian.Uint32(dimb[4*i:]))
		if dims[i] > 0 && total > maxIDX/int64(dims[i]) {
			return IDX{}, fmt.Errorf("%s: idx header announces dimensions %v...: too large", name, dims[:i+1])
		}
		total *= int64(dims[i])
	}
	// Read what is there, one byte more than announced to detect excess.
	data, err := readUpTo(src, total+1)
	if err != nil {
		if f := src.fault(); f != nil {
			return IDX{}, f
		}
		return IDX{}, fmt.Errorf("%s: %v", name, err)
	}
	switch {
	case int64(len(data)) < total:
		return IDX{}, fmt.Errorf("%s: header announces %v = %d bytes of data but the file holds %d: truncated", name, dims, total, len(data))
	case int64(len(data)) > total:
		return IDX{}, fmt.Errorf("%s: more data than the %v = %d bytes the header announces", name, dims, total)
	}
	return IDX{Dims: dims, Data: data}, nil
}

// idxPrealloc bounds the buffer allocated from a header's claim before
// any data arrives; past it the buffer grows with the data, so a header
// that lies about a huge file costs no more than this.
const idxPrealloc = 1 << 26

// readUpTo reads r to its end or to n bytes. It allocates the claimed size
// at once (up to idxPrealloc) instead of growing by doubling, so reading a
// 47 MB MNIST file holds 47 MB, not twice that.
func readUpTo(r io.Reader, n int64) ([]byte, error) {
	data := make([]byte, 0, min(n, idxPrealloc))
	lr := io.LimitReader(r, n)
	for {
		if len(data) == cap(data) {
			data = append(data, 0)[:len(data)]
		}
		k, err := lr.Read(data[len(data):cap(data)])
		data = data[:len(data)+k]
		if err == io.EOF {
			return data, nil
		}
		if err != nil {
			return data, err
		}
	}
}

// mnistFiles are the base names of the four MNIST files: train images,
// train labels, test images, test labels.
var mnistFiles = [4]string{"train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"}

// mnistCandidates are the names tried for base, in order: gzipped, plain,
// and the variant with a dot before "idx" that some copies use.
func mnistCandidates(base string) []string {
	dotted := base[:len(base)-len("-idx3-ubyte")] + "." + base[len(base)-len("idx3-ubyte"):]
	return []string{base + ".gz", base, dotted + ".gz", dotted}
}

// LoadMNISTEmbedded reads the MNIST copy embedded in the binary.
func LoadMNISTEmbedded() (train, test *Set, err error) {
	return unpack(loadMNISTEmbedded())
}

func loadMNISTEmbedded() (train, test *Packed, err error) {
	return loadMNIST(mnistdata.FS, "embedded MNIST", path.Join)
}

// LoadMNIST reads MNIST (or any dataset in the same idx layout, 10 classes)
// from the four files in dir, each gzipped or not.
func LoadMNIST(dir string) (train, test *Set, err error) {
	return unpack(loadMNISTDir(dir))
}

func loadMNISTDir(dir string) (train, test *Packed, err error) {
	st, err := os.Stat(dir)
	if err != nil {
		return nil, nil, fmt.Errorf("MNIST directory %s: %v", dir, cause(err))
	}
	if !st.IsDir() {
		return nil, nil, fmt.Errorf("MNIST directory %s: not a directory", dir)
	}
	return loadMNIST(os.DirFS(dir), dir, filepath.Join)
}

func loadMNIST(fsys fs.FS, where string, join func(...string) string) (train, test *Packed, err error) {
	var idx [4]IDX
	for i, base := range mnistFiles {
		dims := 3
		if i%2 == 1 {
			dims = 1
		}
		var f fs.File
		var name string
		for _, cand := range mnistCandidates(base) {
			f, err = fsys.Open(cand)
			if err == nil {
				name = join(where, cand)
				break
			}
			if !errors.Is(err, fs.ErrNotExist) {
				return nil, nil, fmt.Errorf("%s: %v", join(where, cand), cause(err))
			}
		}
		if f == nil {
			return nil, nil, fmt.Errorf("%s: missing file %s (or %s.gz)", where, base, base)
		}
		idx[i], err = ReadIDX(f, name, dims)
		f.Close()
		if err != nil {
			return nil, nil, err
		}
		if i%2 == 1 {
			if err := checkMNIST(idx[i-1], idx[i], join(where, mnistFiles[i-1]), name); err != nil {
				return nil, nil, err
			}
		}
	}
	names := make([]string, 10)
	for i := range names {
		names[i] = fmt.Sprint(i)
	}
	mk := func(split string, im, lb IDX) *Packed {
		n, h, w := im.Dims[0], im.Dims[1], im.Dims[2]
		meta := Set{Name: MNIST, Split: split, N: n, H: h, W: w, C: 1,
			Labels: make([]int, n), Classes: 10, ClassNames: names}
		for j, b := range lb.Data {
			meta.Labels[j] = int(b)
		}
		return newPacked(meta, im.Data[:n*h*w])
	}
	return mk("train", idx[0], idx[1]), mk("test", idx[2], idx[3]), nil
}

// checkMNIST checks that an image file and its label file agree and that
// the labels are digits.
func checkMNIST(im, lb IDX, imName, lbName string) error {
	if im.Dims[1] == 0 || im.Dims[2] == 0 {
		return fmt.Errorf("%s: images of %dx%d pixels", imName, im.Dims[1], im.Dims[2])
	}
	if im.Dims[0] != lb.Dims[0] {
		return fmt.Errorf("%s holds %d images but %s holds %d labels", imName, im.Dims[0], lbName, lb.Dims[0])
	}
	for i, b := range lb.Data {
		if b > 9 {
			return fmt.Errorf("%s: label %d of record %d is out of range 0-9", lbName, b, i)
		}
	}
	return nil
}
