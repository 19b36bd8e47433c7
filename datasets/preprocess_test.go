package datasets

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/ntkharness/ntkharness/npy"
)

// linearSet returns n images of h x w x c with X[i, y, x, ch] =
// 1000 i + 10 y + x + 0.25 ch, labels i mod classes.
func linearSet(t *testing.T, n, h, w, c, classes int) *Set {
	t.Helper()
	a := npy.New(n, h, w, c)
	labels := make([]int, n)
	for i := 0; i < n; i++ {
		labels[i] = i % classes
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				for ch := 0; ch < c; ch++ {
					a.Data[((i*h+y)*w+x)*c+ch] = 1000*float64(i) + 10*float64(y) + float64(x) + 0.25*float64(ch)
				}
			}
		}
	}
	s, err := FromArray(a, labels, classes)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// veryClose reports |a-b| <= 1e-12 max(1, |b|): the transformations below
// take a handful of float64 operations per value.
func veryClose(a, b float64) bool { return math.Abs(a-b) <= 1e-12*math.Max(1, math.Abs(b)) }

func TestDownsample(t *testing.T) {
	tests := []struct{ h, w, c, f int }{
		{4, 4, 2, 2}, {4, 4, 2, 4}, {28, 28, 1, 2}, {28, 28, 1, 4}, {28, 28, 1, 14}, {32, 32, 3, 2}, {32, 32, 3, 4}, {6, 9, 1, 3}, {5, 5, 3, 1},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%dx%dx%d_by_%d", tt.h, tt.w, tt.c, tt.f), func(t *testing.T) {
			s := linearSet(t, 2, tt.h, tt.w, tt.c, 2)
			d, err := s.Downsample(tt.f)
			if err != nil {
				t.Fatal(err)
			}
			if d.N != 2 || d.H != tt.h/tt.f || d.W != tt.w/tt.f || d.C != tt.c {
				t.Fatalf("shape [%d %d %d %d], want [2 %d %d %d]", d.N, d.H, d.W, d.C, tt.h/tt.f, tt.w/tt.f, tt.c)
			}
			// The mean of a linear function over a block is its value at the
			// block's centre, offset (f-1)/2 in y and x.
			off := float64(tt.f-1) / 2
			for i := 0; i < d.N; i++ {
				for y := 0; y < d.H; y++ {
					for x := 0; x < d.W; x++ {
						for c := 0; c < d.C; c++ {
							want := 1000*float64(i) + 10*(float64(tt.f*y)+off) + float64(tt.f*x) + off + 0.25*float64(c)
							if got := d.X[((i*d.H+y)*d.W+x)*d.C+c]; !veryClose(got, want) {
								t.Fatalf("D[%d,%d,%d,%d] = %v, want %v", i, y, x, c, got, want)
							}
						}
					}
				}
			}
		})
	}
	s := linearSet(t, 1, 28, 28, 1, 1)
	for _, f := range []int{0, -2, 3, 5} {
		if _, err := s.Downsample(f); err == nil {
			t.Errorf("Downsample(%d) of 28x28: no error", f)
		}
	}
}

func TestGrayscale(t *testing.T) {
	for _, c := range []int{1, 2, 3} {
		s := linearSet(t, 3, 2, 3, c, 3)
		g := s.Grayscale()
		if g.C != 1 || g.N != 3 || g.H != 2 || g.W != 3 {
			t.Fatalf("C=%d: shape [%d %d %d %d]", c, g.N, g.H, g.W, g.C)
		}
		// Mean over channels of 0.25 ch is 0.25 (C-1)/2.
		for i := 0; i < 3; i++ {
			for y := 0; y < 2; y++ {
				for x := 0; x < 3; x++ {
					want := 1000*float64(i) + 10*float64(y) + float64(x) + 0.125*float64(c-1)
					if got := g.X[(i*2+y)*3+x]; !veryClose(got, want) {
						t.Fatalf("C=%d: G[%d,%d,%d] = %v, want %v", c, i, y, x, got, want)
					}
				}
			}
		}
	}
}

func TestStandardize(t *testing.T) {
	// Values 1, 2, 3, 4: mean 2.5, population variance 1.25.
	s, _ := FromArray(npy.Array{Shape: []int{2, 2}, Data: []float64{1, 2, 3, 4}}, []int{0, 1}, 2)
	g, err := s.Standardize()
	if err != nil {
		t.Fatal(err)
	}
	r := math.Sqrt(1.25)
	for i, want := range []float64{-1.5 / r, -0.5 / r, 0.5 / r, 1.5 / r} {
		if !veryClose(g.X[i], want) {
			t.Errorf("global: X[%d] = %v, want %v", i, g.X[i], want)
		}
	}
	// Per channel: channel 0 holds 1, 3 (mean 2, std 1), channel 1 holds
	// 2, 4 (mean 3, std 1).
	p, err := s.StandardizeChannels()
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []float64{-1, -1, 1, 1} {
		if !veryClose(p.X[i], want) {
			t.Errorf("per channel: X[%d] = %v, want %v", i, p.X[i], want)
		}
	}
	if w, err := s.StandardizeWith(1, 2); err != nil || !slices.Equal(w.X, []float64{0, 0.5, 1, 1.5}) {
		t.Errorf("StandardizeWith(1, 2) = %v, %v; want [0 0.5 1 1.5]", w.X, err)
	}
	// Properties on a larger set: mean 0 and std 1 afterwards (to 1e-12,
	// the rounding of sums of 10^3 values of size 1).
	big := linearSet(t, 5, 6, 7, 3, 5)
	g, _ = big.Standardize()
	if st := g.Stats(); math.Abs(st.Mean) > 1e-12 || math.Abs(st.Std-1) > 1e-12 {
		t.Errorf("after global standardization: %+v, want mean 0 std 1", st)
	}
	p, _ = big.StandardizeChannels()
	for c, st := range p.ChannelStats() {
		if math.Abs(st.Mean) > 1e-12 || math.Abs(st.Std-1) > 1e-12 {
			t.Errorf("after per-channel standardization, channel %d: %+v", c, st)
		}
	}
	// Constant data cannot be standardized.
	flat, _ := FromArray(npy.Array{Shape: []int{2, 2}, Data: []float64{3, 3, 3, 3}}, []int{0, 0}, 1)
	if _, err := flat.Standardize(); err == nil || !strings.Contains(err.Error(), "standard deviation 0") {
		t.Errorf("constant data: error %v", err)
	}
	if _, err := flat.StandardizeChannels(); err == nil || !strings.Contains(err.Error(), "channel 0") {
		t.Errorf("constant channel: error %v", err)
	}
	if _, err := flat.StandardizeChannelsWith([]float64{0}, []float64{1}); err == nil {
		t.Error("one mean for two channels: no error")
	}
}

func TestNormalizeNorm(t *testing.T) {
	// Image (3, 4) has norm 5; rescaled to norm sqrt(2): (3, 4) sqrt(2)/5.
	s, _ := FromArray(npy.Array{Shape: []int{2, 2}, Data: []float64{3, 4, 0, -2}}, []int{0, 0}, 1)
	g, err := s.NormalizeNorm()
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []float64{3 * math.Sqrt2 / 5, 4 * math.Sqrt2 / 5, 0, -math.Sqrt2} {
		if !veryClose(g.X[i], want) {
			t.Errorf("X[%d] = %v, want %v", i, g.X[i], want)
		}
	}
	z, _ := FromArray(npy.Array{Shape: []int{2, 2}, Data: []float64{1, 1, 0, 0}}, []int{0, 0}, 1)
	if _, err := z.NormalizeNorm(); err == nil || !strings.Contains(err.Error(), "example 1") {
		t.Errorf("zero image: error %v, want one naming example 1", err)
	}
}

func TestOneHot(t *testing.T) {
	s, _ := FromArray(npy.Array{Shape: []int{3, 1}, Data: []float64{0, 0, 0}}, []int{2, 0, 1}, 3)
	tests := []struct {
		center bool
		want   []float64
	}{
		{false, []float64{0, 0, 1, 1, 0, 0, 0, 1, 0}},
		{true, []float64{-1. / 3, -1. / 3, 2. / 3, 2. / 3, -1. / 3, -1. / 3, -1. / 3, 2. / 3, -1. / 3}},
	}
	for _, tt := range tests {
		y := s.OneHot(tt.center)
		if !slices.Equal(y.Shape, []int{3, 3}) {
			t.Fatalf("shape %v", y.Shape)
		}
		for i := range tt.want {
			if !veryClose(y.Data[i], tt.want[i]) {
				t.Errorf("center=%v: Y = %v, want %v", tt.center, y.Data, tt.want)
				break
			}
		}
		d := OneHot(s.Labels, 3, tt.center)
		if r, c := d.Dims(); r != 3 || c != 3 || !slices.Equal(d.RawMatrix().Data, y.Data) {
			t.Errorf("center=%v: OneHot(labels) = %v, Set.OneHot = %v", tt.center, d.RawMatrix().Data, y.Data)
		}
		// Uncentred, the entries off the label keep the bits recorded by
		// data export and hashed by training checkpoints: -0.
		if !tt.center && !math.Signbit(y.Data[0]) {
			t.Errorf("uncentred zeros are +0")
		}
	}
	if l := s.LabelArray(); !slices.Equal(l.Data, []float64{2, 0, 1}) || !slices.Equal(l.Shape, []int{3}) {
		t.Errorf("LabelArray = %v %v", l.Shape, l.Data)
	}
}

func TestSubset(t *testing.T) {
	// 50 examples of 5 classes, labels i mod 5, except that examples 34,
	// 39, 44, 49 of class 4 move to classes 2, 3, 0, 1: the classes have
	// 11, 11, 11, 11 and 6 examples.
	base := linearSet(t, 50, 2, 2, 1, 5)
	for _, i := range []int{34, 39, 44, 49} {
		base.Labels[i] = (i / 5) % 4
	}
	tests := []struct {
		n        int
		perClass bool
		want     []int // per-class counts
	}{
		{12, false, []int{3, 3, 2, 2, 2}},
		{5, false, []int{1, 1, 1, 1, 1}},
		{3, false, []int{1, 1, 1, 0, 0}},
		{30, false, []int{6, 6, 6, 6, 6}},
		{6, true, []int{6, 6, 6, 6, 6}},
		{2, true, []int{2, 2, 2, 2, 2}},
	}
	for _, tt := range tests {
		name := fmt.Sprintf("n=%d,perClass=%v", tt.n, tt.perClass)
		a, err := base.Subset(tt.n, tt.perClass, 7)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got := a.ClassCounts(); !slices.Equal(got, tt.want) {
			t.Errorf("%s: class counts %v, want %v", name, got, tt.want)
		}
		seen := map[int]bool{}
		for j := 0; j < a.N; j++ {
			// Image i carries 1000 i at pixel 0: the label must travel with it.
			i := int(a.Image(j)[0] / 1000)
			if seen[i] {
				t.Errorf("%s: example %d drawn twice", name, i)
			}
			seen[i] = true
			if a.Labels[j] != base.Labels[i] {
				t.Errorf("%s: example %d has label %d, source says %d", name, i, a.Labels[j], base.Labels[i])
			}
		}
		b, _ := base.Subset(tt.n, tt.perClass, 7)
		if !slices.Equal(a.X, b.X) || !slices.Equal(a.Labels, b.Labels) {
			t.Errorf("%s: same seed gave different subsets", name)
		}
	}
	// Different seeds give different draws (30 of 50: the chance that two
	// draws coincide in order is negligible).
	a, _ := base.Subset(30, false, 1)
	b, _ := base.Subset(30, false, 2)
	if slices.Equal(a.X, b.X) {
		t.Error("seeds 1 and 2 gave the same subset")
	}
	for _, tt := range []struct {
		n        int
		perClass bool
		want     string
	}{
		{7, true, "class 4 has 6 examples, a balanced subset of 35 needs 7"},
		{35, false, "class 4 has 6 examples"},
		{0, false, "subset size 0"},
	} {
		if _, err := base.Subset(tt.n, tt.perClass, 0); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Subset(%d, %v): error %v, want %q", tt.n, tt.perClass, err, tt.want)
		}
	}
}

// TestReceiverUnchanged checks that transformations return new sets.
func TestReceiverUnchanged(t *testing.T) {
	s := linearSet(t, 4, 4, 4, 3, 2)
	x0, l0 := slices.Clone(s.X), slices.Clone(s.Labels)
	s.Grayscale()
	s.Downsample(2)
	s.Standardize()
	s.StandardizeChannels()
	s.NormalizeNorm()
	s.Subset(2, false, 1)
	s.OneHot(true)
	if !slices.Equal(s.X, x0) || !slices.Equal(s.Labels, l0) {
		t.Error("a transformation changed its receiver")
	}
}

func TestStatsAndFromArray(t *testing.T) {
	s, err := FromArray(npy.Array{Shape: []int{2, 1, 1, 2}, Data: []float64{1, -1, 3, 5}}, []int{1, 1}, 2)
	if err != nil {
		t.Fatal(err)
	}
	// All values: mean 2, variance (1+9+1+9)/4 = 5.
	if st := s.Stats(); st != (Stats{Min: -1, Max: 5, Mean: 2, Std: math.Sqrt(5)}) {
		t.Errorf("Stats = %+v", st)
	}
	// Channel 0: 1, 3 (mean 2, std 1); channel 1: -1, 5 (mean 2, std 3).
	cs := s.ChannelStats()
	if cs[0] != (Stats{Min: 1, Max: 3, Mean: 2, Std: 1}) || cs[1] != (Stats{Min: -1, Max: 5, Mean: 2, Std: 3}) {
		t.Errorf("ChannelStats = %+v", cs)
	}
	if c := s.ClassCounts(); !slices.Equal(c, []int{0, 2}) {
		t.Errorf("ClassCounts = %v", c)
	}
	if f := s.Flat(); !slices.Equal(f.Shape, []int{2, 2}) {
		t.Errorf("Flat shape %v", f.Shape)
	}
	empty, _ := FromArray(npy.Array{Shape: []int{0, 3}}, nil, 1)
	if st := empty.Stats(); !math.IsNaN(st.Mean) {
		t.Errorf("empty Stats = %+v, want NaN", st)
	}
	for _, tt := range []struct {
		a       npy.Array
		labels  []int
		classes int
		want    string
	}{
		{npy.Array{Shape: []int{2}, Data: []float64{1, 2}}, []int{0, 0}, 1, "want [N, H, W, C] or [N, d]"},
		{npy.Array{Shape: []int{2, 1}, Data: []float64{1, 2}}, []int{0}, 1, "2 images but 1 labels"},
		{npy.Array{Shape: []int{2, 1}, Data: []float64{1, 2}}, []int{0, 3}, 3, "example 1 has label 3, want 0-2"},
		{npy.Array{Shape: []int{2, 2}, Data: []float64{1, 2}}, []int{0, 0}, 1, "holds 2 values, want 4"},
	} {
		if _, err := FromArray(tt.a, tt.labels, tt.classes); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("FromArray(%v): error %v, want %q", tt.a.Shape, err, tt.want)
		}
	}
}
