package npy

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"strconv"
	"strings"

	npyio "codeberg.org/sbinet/npyio/npy"
	"github.com/ntkharness/ntkharness/internal/atomicfile"
	"gonum.org/v1/gonum/mat"
)

// Array is a dense float64 array in row-major order.
type Array struct {
	Shape []int
	Data  []float64
}

// New returns a zero Array of the given shape.
func New(shape ...int) Array {
	return Array{Shape: append([]int(nil), shape...), Data: make([]float64, Size(shape))}
}

// Size is the number of elements of an array of the given shape.
func Size(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}

// Rows returns the leading dimension and the product of the others, the
// shape of the array seen as a matrix with one row per example.
func (a Array) Rows() (n, d int) {
	if len(a.Shape) == 0 {
		return 1, 1
	}
	return a.Shape[0], Size(a.Shape[1:])
}

// maxElems bounds what Read accepts, to refuse absurd headers early.
const maxElems = 1 << 34

// Read reads one .npy array from r.
func Read(r io.Reader) (a Array, err error) {
	// npyio v0.14 panics on some malformed headers (a header length that
	// runs past the file, for one); report those as format errors.
	defer func() {
		if p := recover(); p != nil {
			a, err = Array{}, fmt.Errorf("not a .npy file: malformed header (%v)", p)
		}
	}()
	raw, err := io.ReadAll(r)
	if err != nil {
		return Array{}, err
	}
	if err := checkPreamble(raw); err != nil {
		return Array{}, err
	}
	rd, err := npyio.NewReader(bytes.NewReader(raw))
	if err != nil {
		return Array{}, fmt.Errorf("not a .npy file: %v", err)
	}
	h := rd.Header
	shape := h.Descr.Shape
	n := 1
	for _, d := range shape {
		if d < 0 || (d > 0 && n > maxElems/d) {
			return Array{}, fmt.Errorf("npy: shape %v: invalid or too large", shape)
		}
		n *= d
	}
	kind, size, err := parseDType(h.Descr.Type)
	if err != nil {
		return Array{}, err
	}
	need := n * size
	if need > len(raw)-headerLen(raw) {
		return Array{}, fmt.Errorf("npy: header says shape %v of %s (%d bytes) but the file holds fewer: truncated", shape, h.Descr.Type, need)
	}
	var arr npyio.Array
	if err := rd.Read(&arr); err != nil {
		return Array{}, fmt.Errorf("npy: reading %s data of shape %v: %v", h.Descr.Type, shape, err)
	}
	data, err := toFloat64(arr.Data(), kind)
	if err != nil {
		return Array{}, err
	}
	if len(data) != n {
		return Array{}, fmt.Errorf("npy: read %d values, header says %d", len(data), n)
	}
	out := Array{Shape: append([]int{}, shape...), Data: data}
	if h.Descr.Fortran && len(shape) > 1 {
		out.Data = fortranToC(data, shape)
	}
	return out, nil
}

// checkPreamble reports what is wrong with the magic, version and header of
// raw in words, before the decoder sees a header that runs past the file.
func checkPreamble(raw []byte) error {
	const magic = "\x93NUMPY"
	switch {
	case len(raw) < len(magic) || string(raw[:len(magic)]) != magic:
		if len(raw) < len(magic) && string(raw) == magic[:len(raw)] {
			return fmt.Errorf("not a .npy file: truncated: %d bytes, shorter than the magic string", len(raw))
		}
		return errors.New(`not a .npy file: it does not start with the magic string "\x93NUMPY"`)
	case len(raw) < 8:
		return fmt.Errorf("npy: truncated header: the file ends after %d bytes, before the format version", len(raw))
	case raw[6] < 1 || raw[6] > 3:
		return fmt.Errorf("npy: format version %d.%d is not supported (want 1, 2 or 3)", raw[6], raw[7])
	}
	lenBytes := 2
	if raw[6] >= 2 {
		lenBytes = 4
	}
	if len(raw) < 8+lenBytes {
		return fmt.Errorf("npy: truncated header: the file ends after %d bytes, before the header length", len(raw))
	}
	if end := headerLen(raw); end > len(raw) {
		return fmt.Errorf("npy: truncated header: the header claims %d bytes but the file ends after %d", end-8-lenBytes, len(raw)-8-lenBytes)
	}
	hdr := bytes.TrimRight(raw[8+lenBytes:headerLen(raw)], " \n\x00")
	if len(hdr) == 0 || hdr[0] != '{' || hdr[len(hdr)-1] != '}' {
		return fmt.Errorf("npy: malformed header %q: want a Python dict {'descr': ..., 'fortran_order': ..., 'shape': ...}", truncate(string(hdr), 80))
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

// headerLen is the offset of the data: magic, version, header length and
// header (version 1 stores the length in 2 bytes, versions 2 and 3 in 4).
func headerLen(raw []byte) int {
	if len(raw) >= 12 && raw[6] >= 2 {
		return 12 + int(binary.LittleEndian.Uint32(raw[8:12]))
	}
	if len(raw) >= 10 {
		return 10 + int(binary.LittleEndian.Uint16(raw[8:10]))
	}
	return len(raw)
}

// parseDType returns the kind letter and item size of a numpy dtype string
// such as "<f8", "|u1" or ">i4".
func parseDType(t string) (kind byte, size int, err error) {
	t = strings.Trim(t, "'\"")
	if len(t) < 3 {
		return 0, 0, fmt.Errorf("npy: unsupported dtype %q", t)
	}
	kind = t[1]
	size, err = strconv.Atoi(t[2:])
	if err != nil || (kind != 'f' && kind != 'i' && kind != 'u' && kind != 'b') {
		return 0, 0, fmt.Errorf("npy: unsupported dtype %q (want a float, integer or bool array)", t)
	}
	return kind, size, nil
}

func toFloat64(v any, kind byte) ([]float64, error) {
	switch d := v.(type) {
	case []float64:
		return d, nil
	case []float32:
		return convert(d), nil
	case []int8:
		return convert(d), nil
	case []int16:
		return convert(d), nil
	case []int32:
		return convert(d), nil
	case []int64:
		return convert(d), nil
	case []uint8:
		return convert(d), nil
	case []uint16:
		return convert(d), nil
	case []uint32:
		return convert(d), nil
	case []uint64:
		return convert(d), nil
	case []bool:
		out := make([]float64, len(d))
		for i, b := range d {
			if b {
				out[i] = 1
			}
		}
		return out, nil
	}
	return nil, fmt.Errorf("npy: unsupported element type %T (kind %q)", v, kind)
}

type number interface {
	~float32 | ~int8 | ~int16 | ~int32 | ~int64 | ~uint8 | ~uint16 | ~uint32 | ~uint64
}

func convert[T number](d []T) []float64 {
	out := make([]float64, len(d))
	for i, x := range d {
		out[i] = float64(x)
	}
	return out
}

// fortranToC reorders column-major data of the given shape to row-major.
func fortranToC(data []float64, shape []int) []float64 {
	out := make([]float64, len(data))
	idx := make([]int, len(shape))
	for c := range out {
		// c is the row-major index; compute the column-major one.
		f, stride := 0, 1
		for k := range shape {
			f += idx[k] * stride
			stride *= shape[k]
		}
		out[c] = data[f]
		for k := len(shape) - 1; k >= 0; k-- {
			idx[k]++
			if idx[k] < shape[k] {
				break
			}
			idx[k] = 0
		}
	}
	return out
}

// Write writes a as a little-endian float64 .npy array in C order.
func Write(w io.Writer, a Array) error {
	if Size(a.Shape) != len(a.Data) {
		return fmt.Errorf("npy: shape %v does not match %d values", a.Shape, len(a.Data))
	}
	switch len(a.Shape) {
	case 0:
		if len(a.Data) != 1 {
			return errors.New("npy: scalar needs one value")
		}
		return npyio.Write(w, a.Data[0])
	case 1:
		return npyio.Write(w, a.Data)
	case 2:
		if a.Shape[0] > 0 && a.Shape[1] > 0 {
			return npyio.Write(w, mat.NewDense(a.Shape[0], a.Shape[1], a.Data))
		}
	}
	return npyio.Write(w, nest(a.Data, a.Shape).Interface())
}

// nest builds [][]...[]float64 views of data with the given shape.
func nest(data []float64, shape []int) reflect.Value {
	if len(shape) == 1 {
		return reflect.ValueOf(data)
	}
	typ := reflect.TypeOf(data)
	for range shape[1:] {
		typ = reflect.SliceOf(typ)
	}
	v := reflect.MakeSlice(typ, shape[0], shape[0])
	step := Size(shape[1:])
	for i := 0; i < shape[0]; i++ {
		v.Index(i).Set(nest(data[i*step:(i+1)*step], shape[1:]))
	}
	return v
}

// Load reads the .npy file at path. Errors name the file.
func Load(path string) (Array, error) {
	f, err := os.Open(path)
	if err != nil {
		return Array{}, err
	}
	defer f.Close()
	a, err := Read(f)
	if err != nil {
		return Array{}, fmt.Errorf("%s: %v", path, err)
	}
	return a, nil
}

// Save writes a to path atomically: to a temporary file in the same folder,
// then renamed, so a reader never sees a partial file.
func Save(path string, a Array) error {
	return atomicfile.Write(path, func(w io.Writer) error { return Write(w, a) })
}
