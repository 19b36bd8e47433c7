package datasets

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// subsetStream fixes the second word of the PCG state so that a seed alone
// determines a subset.
const subsetStream = 0x6e746b2d73756273

// Subset returns a class-balanced subset drawn with the given seed.
//
// With perClass, it holds n examples of every class (n*k in all). Otherwise
// it holds n examples in all, floor(n/k) of each class plus one more of each
// of the first n mod k classes. Within each class the examples are drawn
// uniformly without replacement (a seeded shuffle of that class's indices),
// and the subset is then shuffled as a whole, so classes are interleaved.
// The generator is math/rand/v2's PCG seeded with (seed, a fixed stream), so
// the same set and seed give the same subset on every machine. It is an
// error if n < 1 or a class has fewer examples than it must contribute.
func (s *Set) Subset(n int, perClass bool, seed uint64) (*Set, error) {
	idx, err := s.balancedIndices(n, perClass, seed)
	if err != nil {
		return nil, err
	}
	return s.Take(idx), nil
}

// balancedIndices returns the indices of the subset that Subset draws; it
// reads only the labels, so a Packed set draws the same examples.
func (s *Set) balancedIndices(n int, perClass bool, seed uint64) ([]int, error) {
	if n < 1 {
		return nil, fmt.Errorf("subset size %d: want at least 1", n)
	}
	k := s.Classes
	want := make([]int, k)
	for c := range want {
		switch {
		case perClass:
			want[c] = n
		default:
			want[c] = n / k
			if c < n%k {
				want[c]++
			}
		}
	}
	byClass := make([][]int, k)
	for i, l := range s.Labels {
		byClass[l] = append(byClass[l], i)
	}
	rng := rand.New(rand.NewPCG(seed, subsetStream))
	var pick []int
	for c, idx := range byClass {
		if len(idx) < want[c] {
			return nil, fmt.Errorf("%s: class %s has %d examples, a balanced subset of %d needs %d", s.label(), s.className(c), len(idx), total(want), want[c])
		}
		rng.Shuffle(len(idx), func(i, j int) { idx[i], idx[j] = idx[j], idx[i] })
		pick = append(pick, idx[:want[c]]...)
	}
	rng.Shuffle(len(pick), func(i, j int) { pick[i], pick[j] = pick[j], pick[i] })
	return pick, nil
}

func total(x []int) int {
	t := 0
	for _, v := range x {
		t += v
	}
	return t
}

// label names the set in errors.
func (s *Set) label() string {
	switch {
	case s.Name != "" && s.Split != "":
		return s.Name + " " + s.Split
	case s.Name != "":
		return s.Name
	}
	return "data set"
}

func (s *Set) className(c int) string {
	if c < len(s.ClassNames) && s.ClassNames[c] != fmt.Sprint(c) {
		return fmt.Sprintf("%d (%s)", c, s.ClassNames[c])
	}
	return fmt.Sprint(c)
}

// Take returns the examples with the given indices, in that order (indices
// may repeat). It panics if an index is out of range.
func (s *Set) Take(idx []int) *Set {
	t := s.withShape(len(idx), s.H, s.W, s.C)
	d := s.Dim()
	t.Labels = make([]int, len(idx))
	for j, i := range idx {
		copy(t.X[j*d:(j+1)*d], s.Image(i))
		t.Labels[j] = s.Labels[i]
	}
	return t
}

// Grayscale returns the set with one channel, the mean of the channels:
//
//	G[i, y, x] = (1/C) sum_c X[i, y, x, c].
func (s *Set) Grayscale() *Set {
	t := s.withShape(s.N, s.H, s.W, 1)
	inv := 1 / float64(s.C)
	for p := range t.X {
		var sum float64
		for _, v := range s.X[p*s.C : (p+1)*s.C] {
			sum += v
		}
		t.X[p] = sum * inv
	}
	return t
}

// Downsample returns the set average-pooled by the integer factor f in both
// spatial directions (28 -> 14 -> 7, 32 -> 16 -> 8):
//
//	D[i, y, x, c] = (1/f^2) sum_{a,b < f} X[i, f*y+a, f*x+b, c].
//
// f must divide H and W; f = 1 returns a copy.
func (s *Set) Downsample(f int) (*Set, error) {
	if f < 1 {
		return nil, fmt.Errorf("downsampling factor %d: want at least 1", f)
	}
	if s.H%f != 0 || s.W%f != 0 {
		return nil, fmt.Errorf("cannot downsample %dx%d images by %d: the factor must divide both sides", s.H, s.W, f)
	}
	h, w, c := s.H/f, s.W/f, s.C
	t := s.withShape(s.N, h, w, c)
	inv := 1 / float64(f*f)
	for i := 0; i < s.N; i++ {
		in, out := s.Image(i), t.Image(i)
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				o := out[(y*w+x)*c : (y*w+x+1)*c]
				for a := 0; a < f; a++ {
					row := in[((f*y+a)*s.W+f*x)*c:]
					for b := 0; b < f*c; b++ {
						o[b%c] += row[b]
					}
				}
				for ch := range o {
					o[ch] *= inv
				}
			}
		}
	}
	return t, nil
}

// Standardize returns the set standardized by one mean and one standard
// deviation over all its values (the paper's "global" standardization):
//
//	X' = (X - mean) / std,   mean, std = Stats() of s (population std).
//
// It is an error if the values are all equal.
func (s *Set) Standardize() (*Set, error) {
	st := s.Stats()
	return s.StandardizeWith(st.Mean, st.Std)
}

// StandardizeWith returns (X - mean)/std for a given mean and std, for
// example those of the training split applied to the test split.
func (s *Set) StandardizeWith(mean, std float64) (*Set, error) {
	if !(std > 0) || math.IsInf(std, 0) || math.IsNaN(mean) || math.IsInf(mean, 0) {
		return nil, fmt.Errorf("%s: cannot standardize with mean %v and standard deviation %v (constant or empty data?)", s.label(), mean, std)
	}
	t := s.withShape(s.N, s.H, s.W, s.C)
	inv := 1 / std
	for i, v := range s.X {
		t.X[i] = (v - mean) * inv
	}
	return t, nil
}

// StandardizeChannels returns the set standardized channel by channel:
//
//	X'[i, y, x, c] = (X[i, y, x, c] - mean_c) / std_c
//
// with mean_c and std_c (population) over all images and pixels of channel
// c (ChannelStats). It is an error if a channel is constant.
func (s *Set) StandardizeChannels() (*Set, error) {
	st := s.ChannelStats()
	mean, std := make([]float64, s.C), make([]float64, s.C)
	for c := range st {
		mean[c], std[c] = st[c].Mean, st[c].Std
	}
	return s.StandardizeChannelsWith(mean, std)
}

// StandardizeChannelsWith is StandardizeChannels with given per-channel
// means and standard deviations.
func (s *Set) StandardizeChannelsWith(mean, std []float64) (*Set, error) {
	if len(mean) != s.C || len(std) != s.C {
		return nil, fmt.Errorf("%s: %d channel means and %d deviations for %d channels", s.label(), len(mean), len(std), s.C)
	}
	for c := range std {
		if !(std[c] > 0) || math.IsInf(std[c], 0) || math.IsNaN(mean[c]) || math.IsInf(mean[c], 0) {
			return nil, fmt.Errorf("%s: cannot standardize channel %d with mean %v and standard deviation %v (constant or empty data?)", s.label(), c, mean[c], std[c])
		}
	}
	t := s.withShape(s.N, s.H, s.W, s.C)
	for i, v := range s.X {
		c := i % s.C
		t.X[i] = (v - mean[c]) / std[c]
	}
	return t, nil
}

// NormalizeNorm returns the set with every image rescaled to Euclidean norm
// sqrt(d), d = H*W*C, so that the input kernel x.x/d is 1 on the diagonal:
//
//	x_i' = sqrt(d) x_i / ||x_i||.
//
// It is an error if an image is all zero.
func (s *Set) NormalizeNorm() (*Set, error) {
	t := s.withShape(s.N, s.H, s.W, s.C)
	sd := math.Sqrt(float64(s.Dim()))
	for i := 0; i < s.N; i++ {
		in, out := s.Image(i), t.Image(i)
		var ss float64
		for _, v := range in {
			ss += v * v
		}
		if !(ss > 0) || math.IsInf(ss, 0) {
			return nil, fmt.Errorf("%s: example %d has norm %v: cannot rescale it to norm sqrt(d)", s.label(), i, math.Sqrt(ss))
		}
		f := sd / math.Sqrt(ss)
		for j, v := range in {
			out[j] = v * f
		}
	}
	return t, nil
}
