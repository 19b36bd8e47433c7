package theory

import (
	"encoding/binary"
	"math"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/ntkharness/ntkharness/npy"
	"github.com/ntkharness/ntkharness/spec"
)

// FuzzCompute feeds Compute arbitrary small specs and inputs (including NaN,
// huge values, degenerate shapes and hyperparameters): it must return an
// error or finite kernels, symmetric when x2 = x1, and never panic.
func FuzzCompute(f *testing.F) {
	f.Add([]byte{0, 0, 2, 3, 1, 2, 2, 1, 1, 0, 0, 0, 0, 0, 0, 240, 63})
	f.Add([]byte{1, 1, 3, 1, 2, 3, 3, 2, 0, 1, 7, 7, 7, 7, 7, 7, 7, 7, 7})
	f.Add([]byte{2, 2, 1, 2, 1, 2, 2, 1, 1, 0, 0, 0, 0, 0, 0, 248, 127})
	f.Add([]byte{2, 0, 4, 0, 3, 4, 1, 1, 0, 2})
	f.Fuzz(func(t *testing.T, b []byte) {
		at := func(i int) int {
			if i < len(b) {
				return int(b[i])
			}
			return 0
		}
		archs := []string{"fcn", "cnn-f", "cnn-gap", "rnn"}
		acts := []string{"erf", "relu", "tanh", "gelu"}
		s := spec.Spec{
			Arch:  archs[at(0)%4],
			Act:   acts[at(1)%4],
			Depth: at(2) % 6,
			SW2:   []float64{1.5, 0, -1, 2, 1e6, math.NaN(), 0.5, 3}[at(3)%8],
			SB2:   []float64{0.1, 0, 0.05, -0.1, 1e3, math.Inf(1), 0.2, 1}[at(4)%8],
		}
		if s.IsConv() {
			s.Filter = []int{1, 3, 5, 2}[at(9)%4]
			s.Padding = []string{"SAME", "VALID", "same"}[at(8)%3]
		}
		n, h, w, c := 1+at(5)%3, 1+at(6)%4, 1+at(7)%4, 1+at(8)%2
		shape := []int{n, h, w, c}
		if s.Arch == "fcn" && at(6)%2 == 0 {
			shape = []int{n, h * w * c}
		}
		x := npy.New(shape...)
		for i := range x.Data {
			j := 10 + 8*i
			if j+8 <= len(b) {
				x.Data[i] = math.Float64frombits(binary.LittleEndian.Uint64(b[j : j+8]))
			} else {
				x.Data[i] = math.Sin(float64(i + at(9)))
			}
		}
		k, err := Compute(s, x, npy.Array{}, Options{Workers: 2})
		if err != nil {
			return
		}
		for _, m := range []*mat.Dense{k.NNGP, k.NTK} {
			r, cc := m.Dims()
			if r != n || cc != n {
				t.Fatalf("%+v: kernel %dx%d for %d inputs", s, r, cc, n)
			}
			for _, v := range m.RawMatrix().Data {
				if math.IsNaN(v) || math.IsInf(v, 0) {
					t.Fatalf("%+v: non-finite kernel entry %v without an error", s, v)
				}
			}
			if !mat.Equal(m, m.T()) {
				t.Fatalf("%+v: symmetric kernel is not symmetric", s)
			}
		}
	})
}
