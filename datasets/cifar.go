package datasets

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// CIFAR-10 binary layout: a record is one label byte followed by the red,
// green and blue planes of a 32x32 image, each plane row-major.
const (
	cifarSide   = 32
	cifarPlane  = cifarSide * cifarSide
	cifarRecord = 1 + 3*cifarPlane
)

// cifarClassNames are the CIFAR-10 classes in label order, used when the
// folder has no batches.meta.txt.
var cifarClassNames = []string{"airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"}

// cifarFiles are the batch files, training batches first.
var cifarFiles = []string{"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin", "test_batch.bin"}

const cifarDir = "cifar-10-batches-bin"

// DecodeCIFAR10 decodes one CIFAR-10 binary batch, a whole number of
// 3073-byte records: label byte l in 0-9, then 3x32x32 bytes in (c, y, x)
// order. Pixel (y, x) of channel c of record i becomes
//
//	X[((i*32+y)*32+x)*3+c] = data[i*3073 + 1 + c*1024 + y*32 + x] / 255.
//
// name labels errors. The returned Set has Name "cifar10" and no Split.
func DecodeCIFAR10(data []byte, name string) (*Set, error) {
	if len(data)%cifarRecord != 0 {
		return nil, errRecords(name, int64(len(data)))
	}
	p := newCIFARPacked(len(data) / cifarRecord)
	if err := decodeCIFAR(data, name, p.pix, p.meta.Labels); err != nil {
		return nil, err
	}
	return p.Unpack(), nil
}

func errRecords(name string, size int64) error {
	return fmt.Errorf("%s: %d bytes is not a whole number of %d-byte CIFAR-10 records", name, size, cifarRecord)
}

func newCIFARPacked(n int) *Packed {
	return newPacked(Set{Name: CIFAR10, N: n, H: cifarSide, W: cifarSide, C: 3,
		Labels: make([]int, n), Classes: 10, ClassNames: cifarClassNames}, make([]uint8, n*3*cifarPlane))
}

// decodeCIFAR decodes the records of data (a whole number) into the bytes
// pix, channels last, and labels.
func decodeCIFAR(data []byte, name string, pix []uint8, labels []int) error {
	for i := range len(data) / cifarRecord {
		rec := data[i*cifarRecord : (i+1)*cifarRecord]
		if rec[0] > 9 {
			return fmt.Errorf("%s: record %d has label %d, want 0-9", name, i, rec[0])
		}
		labels[i] = int(rec[0])
		out := pix[i*3*cifarPlane : (i+1)*3*cifarPlane]
		for c := 0; c < 3; c++ {
			plane := rec[1+c*cifarPlane : 1+(c+1)*cifarPlane]
			for p, b := range plane {
				out[3*p+c] = b
			}
		}
	}
	return nil
}

// LoadCIFAR10 reads CIFAR-10 in the official binary layout from path: the
// cifar-10-batches-bin folder, a directory that contains it (or contains
// cifar-10-binary.tar.gz), or the archive itself (gzipped or plain tar),
// streamed without extraction. The training split concatenates data_batch_1..5.bin in order,
// those that exist (at least one); the test split is test_batch.bin. Class
// names come from batches.meta.txt when present.
func LoadCIFAR10(path string) (train, test *Set, err error) {
	return unpack(loadCIFAR10(path))
}

func loadCIFAR10(path string) (train, test *Packed, err error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, nil, fmt.Errorf("CIFAR-10 location %s: %v", path, cause(err))
	}
	var files map[string]cifarFile
	if st.IsDir() {
		if path, err = findCIFARDir(path); err != nil {
			return nil, nil, err
		}
		if st, err = os.Stat(path); err != nil {
			return nil, nil, fmt.Errorf("CIFAR-10 location %s: %v", path, cause(err))
		}
	}
	if st.IsDir() {
		files, err = readCIFARDir(path)
	} else {
		var f *os.File
		f, err = os.Open(path)
		if err != nil {
			return nil, nil, fmt.Errorf("CIFAR-10 archive %s: %v", path, cause(err))
		}
		defer f.Close()
		files, err = ReadCIFAR10Archive(f, path)
	}
	if err != nil {
		return nil, nil, err
	}
	return assembleCIFAR(files, path)
}

// cifarFile is one file of the release, read into memory; name is how
// errors refer to it.
type cifarFile struct {
	name string
	data []byte
}

// cifarArchive is the file name of the official release.
const cifarArchive = "cifar-10-binary.tar.gz"

// findCIFARDir returns the folder that holds the batch files: dir itself,
// dir/cifar-10-batches-bin, or else the archive dir/cifar-10-binary.tar.gz.
func findCIFARDir(dir string) (string, error) {
	has := func(d string) bool {
		for _, f := range cifarFiles {
			if _, err := os.Stat(filepath.Join(d, f)); err == nil {
				return true
			}
		}
		return false
	}
	if has(dir) {
		return dir, nil
	}
	if sub := filepath.Join(dir, cifarDir); has(sub) {
		return sub, nil
	}
	if a := filepath.Join(dir, cifarArchive); fileExists(a) {
		return a, nil
	}
	return "", fmt.Errorf("CIFAR-10 directory %s: no data_batch_N.bin or test_batch.bin in it or in its %s/ folder, and no %s", dir, cifarDir, cifarArchive)
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir()
}

// readCIFARDir reads the batch files of dir. Keys of the result are the
// base names.
func readCIFARDir(dir string) (map[string]cifarFile, error) {
	files := map[string]cifarFile{}
	for _, f := range append(cifarFiles, "batches.meta.txt") {
		p := filepath.Join(dir, f)
		// Check the size before reading, so that a wrong file fails fast.
		if st, err := os.Stat(p); err == nil && f != "batches.meta.txt" && st.Size()%cifarRecord != 0 {
			return nil, errRecords(p, st.Size())
		}
		b, err := os.ReadFile(p)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %v", p, cause(err))
		}
		files[f] = cifarFile{p, b}
	}
	return files, nil
}

// maxCIFAREntry bounds the size of one archive entry read into memory: the
// official batches are 30,730,000 bytes.
const maxCIFAREntry = 1 << 30

// ReadCIFAR10Archive reads the batch files (data_batch_N.bin,
// test_batch.bin) and batches.meta.txt from a tar archive, gzipped or not,
// in whatever folder of the archive they sit. Other entries are skipped
// without being stored. Keys of the result are base names; name labels
// errors. Entry sizes are checked here, labels later by the loader.
func ReadCIFAR10Archive(r io.Reader, name string) (map[string]cifarFile, error) {
	src, err := open(r, name)
	if err != nil {
		return nil, err
	}
	want := map[string]bool{"batches.meta.txt": true}
	for _, f := range cifarFiles {
		want[f] = true
	}
	files := map[string]cifarFile{}
	tr := tar.NewReader(src)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			if f := src.fault(); f != nil {
				return nil, f
			}
			if errors.Is(err, io.ErrUnexpectedEOF) {
				return nil, fmt.Errorf("%s: truncated tar archive", name)
			}
			return nil, fmt.Errorf("%s: not a valid tar archive: %v", name, err)
		}
		base := path.Base(h.Name)
		if h.Typeflag != tar.TypeReg || !want[base] {
			continue
		}
		entry := name + ":" + h.Name
		if h.Size > maxCIFAREntry {
			return nil, fmt.Errorf("%s: %d bytes, too large for a CIFAR-10 batch", entry, h.Size)
		}
		if base != "batches.meta.txt" && h.Size%cifarRecord != 0 {
			return nil, errRecords(entry, h.Size)
		}
		b, err := io.ReadAll(tr)
		if err != nil || int64(len(b)) != h.Size {
			if f := src.fault(); f != nil {
				return nil, f
			}
			return nil, fmt.Errorf("%s: truncated archive entry (%d of %d bytes)", entry, len(b), h.Size)
		}
		files[base] = cifarFile{entry, b}
	}
	// Drain the rest so that a truncated or corrupt gzip trailer is noticed.
	if _, err := io.Copy(io.Discard, src); err != nil {
		if f := src.fault(); f != nil {
			return nil, f
		}
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("%s: no CIFAR-10 batch files (data_batch_N.bin, test_batch.bin) in the archive", name)
	}
	return files, nil
}

// assembleCIFAR decodes the batches read from where into the two splits,
// the training batches straight into one array.
func assembleCIFAR(files map[string]cifarFile, where string) (train, test *Packed, err error) {
	names := cifarClassNames
	if meta, ok := files["batches.meta.txt"]; ok {
		var got []string
		for _, l := range strings.Split(string(meta.data), "\n") {
			if l = strings.TrimSpace(l); l != "" {
				got = append(got, l)
			}
		}
		if len(got) == 10 {
			names = got
		}
	}
	n := 0
	var batches []cifarFile
	for _, f := range cifarFiles[:5] {
		if b, ok := files[f]; ok {
			if len(b.data)%cifarRecord != 0 {
				return nil, nil, errRecords(b.name, int64(len(b.data)))
			}
			n += len(b.data) / cifarRecord
			batches = append(batches, b)
		}
	}
	if len(batches) == 0 {
		return nil, nil, fmt.Errorf("%s: no training batch (data_batch_1.bin ... data_batch_5.bin)", where)
	}
	tb, ok := files["test_batch.bin"]
	if !ok {
		return nil, nil, fmt.Errorf("%s: missing file test_batch.bin", where)
	}
	if len(tb.data)%cifarRecord != 0 {
		return nil, nil, errRecords(tb.name, int64(len(tb.data)))
	}
	test = newCIFARPacked(len(tb.data) / cifarRecord)
	if err := decodeCIFAR(tb.data, tb.name, test.pix, test.meta.Labels); err != nil {
		return nil, nil, err
	}
	train = newCIFARPacked(n)
	i := 0
	for _, b := range batches {
		m := len(b.data) / cifarRecord
		if err := decodeCIFAR(b.data, b.name, train.pix[i*3*cifarPlane:(i+m)*3*cifarPlane], train.meta.Labels[i:i+m]); err != nil {
			return nil, nil, err
		}
		i += m
	}
	train.meta.Split, test.meta.Split = "train", "test"
	train.meta.ClassNames, test.meta.ClassNames = names, names
	return train, test, nil
}
