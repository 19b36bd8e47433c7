package npy

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// handMade builds a version-1.0 .npy file byte by byte, independently of the
// library under test.
func handMade(descr string, fortran bool, shape string, payload []byte) []byte {
	fo := "False"
	if fortran {
		fo = "True"
	}
	hdr := fmt.Sprintf("{'descr': '%s', 'fortran_order': %s, 'shape': %s, }", descr, fo, shape)
	for (10+len(hdr)+1)%64 != 0 {
		hdr += " "
	}
	hdr += "\n"
	var b bytes.Buffer
	b.WriteString("\x93NUMPY\x01\x00")
	binary.Write(&b, binary.LittleEndian, uint16(len(hdr)))
	b.WriteString(hdr)
	b.Write(payload)
	return b.Bytes()
}

func le64(xs ...float64) []byte {
	var b bytes.Buffer
	for _, x := range xs {
		binary.Write(&b, binary.LittleEndian, x)
	}
	return b.Bytes()
}

func TestReadHandMade(t *testing.T) {
	f32 := new(bytes.Buffer)
	for _, x := range []float32{1.5, -2, 3.25} {
		binary.Write(f32, binary.LittleEndian, x)
	}
	be := new(bytes.Buffer)
	for _, x := range []float64{7, 8} {
		binary.Write(be, binary.BigEndian, x)
	}
	tests := []struct {
		name  string
		file  []byte
		shape []int
		want  []float64
	}{
		{"f8 2x3", handMade("<f8", false, "(2, 3)", le64(1, 2, 3, 4, 5, 6)), []int{2, 3}, []float64{1, 2, 3, 4, 5, 6}},
		// Column-major 2x3 [[1,2,3],[4,5,6]] is stored 1,4,2,5,3,6.
		{"f8 fortran", handMade("<f8", true, "(2, 3)", le64(1, 4, 2, 5, 3, 6)), []int{2, 3}, []float64{1, 2, 3, 4, 5, 6}},
		{"f4", handMade("<f4", false, "(3,)", f32.Bytes()), []int{3}, []float64{1.5, -2, 3.25}},
		{"u1 images", handMade("|u1", false, "(1, 2, 2, 1)", []byte{0, 255, 7, 9}), []int{1, 2, 2, 1}, []float64{0, 255, 7, 9}},
		{"big-endian f8", handMade(">f8", false, "(2,)", be.Bytes()), []int{2}, []float64{7, 8}},
	}
	for _, tt := range tests {
		a, err := Read(bytes.NewReader(tt.file))
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		if !reflect.DeepEqual(a.Shape, tt.shape) || !reflect.DeepEqual(a.Data, tt.want) {
			t.Errorf("%s: got shape %v data %v, want %v %v", tt.name, a.Shape, a.Data, tt.shape, tt.want)
		}
	}
}

func TestReadErrors(t *testing.T) {
	tests := []struct {
		name string
		file []byte
		want string
	}{
		{"not npy", []byte("hello world, this is not numpy"), "not a .npy file"},
		{"truncated", handMade("<f8", false, "(4, 4)", le64(1, 2, 3)), "truncated"},
		{"huge header", handMade("<f8", false, "(1000000000, 1000000000)", le64(1)), "too large"},
		{"strings", handMade("<U3", false, "(1,)", make([]byte, 12)), "unsupported dtype"},
	}
	for _, tt := range tests {
		_, err := Read(bytes.NewReader(tt.file))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: got error %v, want one containing %q", tt.name, err, tt.want)
		}
	}
}

func TestRoundTrip(t *testing.T) {
	for _, shape := range [][]int{{5}, {2, 3}, {2, 3, 4, 1}, {1, 1}, {3, 2, 2}} {
		a := New(shape...)
		for i := range a.Data {
			a.Data[i] = math.Sin(float64(i)) * 1e3
		}
		path := filepath.Join(t.TempDir(), "a.npy")
		if err := Save(path, a); err != nil {
			t.Fatal(err)
		}
		b, err := Load(path)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(a, b) {
			t.Errorf("shape %v: round trip changed the array: %v -> %v", shape, a, b)
		}
	}
}

func TestWriteMatchesHandMade(t *testing.T) {
	var b bytes.Buffer
	if err := Write(&b, Array{Shape: []int{2, 2}, Data: []float64{1, 2, 3, 4}}); err != nil {
		t.Fatal(err)
	}
	// Payload must be the last 32 bytes, little-endian, row-major.
	if got := b.Bytes()[b.Len()-32:]; !bytes.Equal(got, le64(1, 2, 3, 4)) {
		t.Errorf("payload %v, want row-major little-endian 1,2,3,4", got)
	}
	if err := Write(&b, Array{Shape: []int{3}, Data: []float64{1}}); err == nil {
		t.Error("Write accepted a shape that does not match the data")
	}
}

func FuzzRead(f *testing.F) {
	f.Add(handMade("<f8", false, "(2, 3)", le64(1, 2, 3, 4, 5, 6)))
	f.Add(handMade("<f4", true, "(1, 1)", []byte{0, 0, 128, 63}))
	f.Add(handMade("|u1", false, "(2, 1, 1, 1)", []byte{1, 2}))
	f.Add([]byte("\x93NUMPY\x01\x00"))
	f.Fuzz(func(t *testing.T, data []byte) {
		a, err := Read(bytes.NewReader(data))
		if err != nil {
			return
		}
		if Size(a.Shape) != len(a.Data) {
			t.Fatalf("shape %v with %d values", a.Shape, len(a.Data))
		}
	})
}

func TestSaveMode(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.npy")
	if err := Save(path, New(2)); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(path); err != nil || st.Mode().Perm() != 0o644 {
		t.Errorf("mode %v, %v; want 0644 like any other output file", st.Mode(), err)
	}
}
