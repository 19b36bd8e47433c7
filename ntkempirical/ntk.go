package ntkempirical

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"

	"gonum.org/v1/gonum/mat"

	"github.com/ntkharness/ntkharness/linalg"
	"github.com/ntkharness/ntkharness/nets"
	"github.com/ntkharness/ntkharness/npy"
	"github.com/ntkharness/ntkharness/spec"
)

// Method selects how the kernel is computed.
type Method string

// Methods.
const (
	// Structured contracts per-layer factors (layer inputs and deltas).
	Structured Method = "structured"
	// Jacobian contracts whole per-example, per-logit parameter
	// gradients from Gorgonia's reverse mode: the slow reference.
	Jacobian Method = "jacobian"
)

// DefaultMaxMemory is the working-set budget used when Options.MaxMemory
// is zero: 2 GiB.
const DefaultMaxMemory int64 = 2 << 30

// Options controls Compute.
type Options struct {
	Method Method // Structured (default) or Jacobian
	// Full also returns the full Nk x Nk kernel.
	Full bool
	// MaxMemory bounds, in bytes, the arrays held at once (Jacobian
	// chunks, layer factors, graphs); zero means DefaultMaxMemory. A plan
	// that cannot fit returns an error.
	MaxMemory int64
	// Progress, if not nil, is called with the number of backward passes
	// done and the total.
	Progress func(done, total int)

	conv  int // contraction of conv layers: convAuto, convPairs or convPerSample (tests)
	block int // examples per pass at most, when below maxBlock (tests)
}

// Kernel is an empirical NTK between inputs x1 (rows) and x2 (columns).
type Kernel struct {
	// NTK is the logit-traced kernel (1/k) sum_a Theta_aa(x1_i, x2_j),
	// N1 x N2.
	NTK *mat.Dense
	// Full is Theta_ab(x1_i, x2_j) at (i*k + a, j*k + b), N1 k x N2 k;
	// nil unless Options.Full.
	Full *mat.Dense
}

// Compute returns the empirical NTK of net between x1 and x2; x2.Data ==
// nil means x2 = x1. Inputs have shape [N, ...] as accepted by net.
func Compute(net *nets.Net, x1, x2 npy.Array, opt Options) (Kernel, error) {
	if net == nil {
		return Kernel{}, errors.New("ntkempirical: nil network")
	}
	same := x2.Data == nil
	if err := checkInputs(net.InputShape(), x1, "x1"); err != nil {
		return Kernel{}, err
	}
	if !same {
		if err := checkInputs(net.InputShape(), x2, "x2"); err != nil {
			return Kernel{}, err
		}
	}
	if opt.MaxMemory == 0 {
		opt.MaxMemory = DefaultMaxMemory
	}
	if opt.MaxMemory < 0 {
		return Kernel{}, fmt.Errorf("ntkempirical: memory budget %d bytes: must be positive", opt.MaxMemory)
	}
	switch opt.Method {
	case Structured, "":
		return structured(net, x1, x2, same, opt)
	case Jacobian:
		return jacobian(net, x1, x2, same, opt)
	}
	return Kernel{}, fmt.Errorf("ntkempirical: unknown method %q (want structured or jacobian)", opt.Method)
}

// checkInputs validates x against the example shape in.
func checkInputs(in []int, x npy.Array, name string) error {
	if len(x.Shape) < 2 || x.Shape[0] < 1 {
		return fmt.Errorf("ntkempirical: %s has shape %v: want [N, %v] with N >= 1", name, x.Shape, in)
	}
	if len(x.Data) != npy.Size(x.Shape) {
		return fmt.Errorf("ntkempirical: %s has %d values for shape %v", name, len(x.Data), x.Shape)
	}
	size := 1
	for _, d := range in {
		size *= d
	}
	if _, d := x.Rows(); d != size {
		return fmt.Errorf("ntkempirical: %s has examples of shape %v, the network takes %v", name, x.Shape[1:], in)
	}
	for i, v := range x.Data {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("ntkempirical: %s value %d is %v", name, i, v)
		}
	}
	return nil
}

// slice returns examples lo..hi-1 of x as an array of the network's
// example shape.
func slice(x npy.Array, lo, hi int, inShape []int) npy.Array {
	_, d := x.Rows()
	return npy.Array{Shape: append([]int{hi - lo}, inShape...), Data: x.Data[lo*d : hi*d]}
}

// oneHot returns the [B, k] cotangent with ones in column a.
func oneHot(b, k, a int) *mat.Dense {
	c := mat.NewDense(b, k, nil)
	for i := 0; i < b; i++ {
		c.Set(i, a, 1)
	}
	return c
}

// gramAdd sets dst = alpha a b^T + beta dst through linalg.Gemm.
func gramAdd(dst *mat.Dense, alpha float64, a, b *mat.Dense, beta float64) {
	linalg.Gemm(false, true, alpha, a, b, beta, dst)
}

// gram returns a a^T (through linalg.Syrk, symmetrized) when b is nil, else
// a b^T (through linalg.Gemm).
func gram(a, b *mat.Dense) *mat.Dense {
	ra, _ := a.Dims()
	if b == nil {
		s := mat.NewSymDense(ra, nil)
		linalg.Syrk(1, a, 0, s)
		d := mat.NewDense(ra, ra, nil)
		raw, dd := s.RawSymmetric(), d.RawMatrix().Data
		for i := 0; i < ra; i++ {
			row := raw.Data[i*raw.Stride : i*raw.Stride+ra]
			copy(dd[i*ra+i:(i+1)*ra], row[i:])
			for j := i + 1; j < ra; j++ {
				dd[j*ra+i] = row[j]
			}
		}
		return d
	}
	rb, _ := b.Dims()
	d := mat.NewDense(ra, rb, nil)
	gramAdd(d, 1, a, b, 0)
	return d
}

// RelativeFrobenius returns ||a - b||_F / ||b||_F, the distance of a from
// the reference b (for ||Theta_T - Theta_0|| / ||Theta_0||, pass
// (Theta_T, Theta_0)). It returns an error when the shapes differ or b is
// zero.
func RelativeFrobenius(a, b mat.Matrix) (float64, error) {
	ra, ca := a.Dims()
	rb, cb := b.Dims()
	if ra != rb || ca != cb {
		return 0, fmt.Errorf("ntkempirical: comparing %dx%d with %dx%d kernels", ra, ca, rb, cb)
	}
	var num, den float64
	for i := 0; i < ra; i++ {
		for j := 0; j < ca; j++ {
			d := a.At(i, j) - b.At(i, j)
			num += d * d
			den += b.At(i, j) * b.At(i, j)
		}
	}
	if den == 0 {
		return 0, errors.New("ntkempirical: relative error against an all-zero kernel")
	}
	return math.Sqrt(num / den), nil
}

// EstimateMemory returns the memory Compute needs for the kernel of a
// network of spec s on n1 x n2 examples of shape inShape (n2 = 0: the
// kernel of the n1 examples with themselves), network included, or the
// error Compute returns for a plan over opt.MaxMemory. It builds nothing,
// so a plan can be refused before a network that does not fit in memory
// is allocated.
func EstimateMemory(s spec.Spec, inShape []int, n1, n2 int, opt Options) (int64, error) {
	if opt.MaxMemory == 0 {
		opt.MaxMemory = DefaultMaxMemory
	}
	if opt.MaxMemory < 0 {
		return 0, fmt.Errorf("ntkempirical: memory budget %d bytes: must be positive", opt.MaxMemory)
	}
	if n1 < 1 || n2 < 0 {
		return 0, fmt.Errorf("ntkempirical: %d x %d examples: want at least one", n1, n2)
	}
	layers, err := nets.LayersOf(s, inShape)
	if err != nil {
		return 0, err
	}
	k := s.WithDefaults().Outputs
	switch opt.Method {
	case Structured, "":
		memEst := func(batch, c int) int64 {
			m, _ := nets.LogitFactorsMemory(s, inShape, batch, c)
			return m
		}
		p, err := planStructured(layers, k, memEst, n1, n2, 1, opt)
		return p.bytes, err
	case Jacobian:
		memEst := func(batch int) int64 {
			m, _ := nets.MemoryEstimate(s, inShape, batch)
			return m
		}
		same := n2 == 0
		if same {
			n2 = n1
		}
		if _, err := planJacobian(k, memEst, n1, n2, same, opt); err != nil {
			return 0, err
		}
		return opt.MaxMemory, nil // the Jacobian chunks fill the budget
	}
	return 0, fmt.Errorf("ntkempirical: unknown method %q (want structured or jacobian)", opt.Method)
}

// Mean returns the average of the empirical NTKs of `samples` independent
// initializations of the architecture s (networks m = 0..samples-1 drawn
// from nets.InitSource(seed, m)) for examples of shape inShape. As the width
// grows the mean converges to the analytic NTK of theory for the same s; at
// finite width it also removes most of the initialization noise, whose
// entrywise variance is O(1/width) per sample.
//
// With the structured method the networks are the members of ensembles
// (nets.Ensemble, the same draws as nets.New), as many at once as the
// memory budget allows (see planStructured): one pass per block of
// examples and chunk of logits computes every member's factors, members in
// parallel, and each member's factors are contracted into its kernel. The
// Jacobian method computes one network after another.
func Mean(s spec.Spec, inShape []int, x1, x2 npy.Array, seed uint64, samples int, opt Options) (Kernel, error) {
	if samples < 1 {
		return Kernel{}, fmt.Errorf("ntkempirical: samples %d: need at least one initialization", samples)
	}
	var acc Kernel
	err := meanMembers(s, inShape, x1, x2, seed, samples, opt, func(m int, k Kernel) {
		if m == 0 {
			acc = k
			return
		}
		acc.NTK.Add(acc.NTK, k.NTK)
		if acc.Full != nil {
			acc.Full.Add(acc.Full, k.Full)
		}
	})
	if err != nil {
		return Kernel{}, err
	}
	if samples > 1 {
		acc.NTK.Scale(1/float64(samples), acc.NTK)
		if acc.Full != nil {
			acc.Full.Scale(1/float64(samples), acc.Full)
		}
	}
	return acc, nil
}

// meanMembers calls add with the kernel of each network m = 0..samples-1
// of Mean, in order.
func meanMembers(s spec.Spec, inShape []int, x1, x2 npy.Array, seed uint64, samples int, opt Options, add func(m int, k Kernel)) error {
	// Refuse a plan over the budget before building a network: at a large
	// width the parameters alone would not fit in memory.
	if len(x1.Shape) >= 2 && (x2.Data == nil || len(x2.Shape) >= 2) {
		n2 := 0
		if x2.Data != nil {
			n2 = x2.Shape[0]
		}
		if _, err := EstimateMemory(s, inShape, x1.Shape[0], n2, opt); err != nil {
			return err
		}
	}
	prog := opt.Progress
	if opt.Method == Jacobian {
		for m := 0; m < samples; m++ {
			net, err := nets.New(s, inShape, nets.InitSource(seed, m))
			if err != nil {
				return err
			}
			o := opt
			if prog != nil {
				o.Progress = func(done, total int) { prog(m*total+done, samples*total) }
			}
			k, err := Compute(net, x1, x2, o)
			net.Close()
			if err != nil {
				return err
			}
			add(m, k)
		}
		return nil
	}

	layers, err := nets.LayersOf(s, inShape)
	if err != nil {
		return err
	}
	same := x2.Data == nil
	n2 := 0
	if err := checkInputs(inShape, x1, "x1"); err != nil {
		return err
	}
	if !same {
		if err := checkInputs(inShape, x2, "x2"); err != nil {
			return err
		}
		n2 = x2.Shape[0]
	}
	if opt.MaxMemory == 0 {
		opt.MaxMemory = DefaultMaxMemory
	}
	memEst := func(batch, c int) int64 {
		m, _ := nets.LogitFactorsMemory(s, inShape, batch, c)
		return m
	}
	k := s.WithDefaults().Outputs
	pl, err := planStructured(layers, k, memEst, x1.Shape[0], n2, samples, opt)
	if err != nil {
		return err
	}
	groups := (samples + pl.members - 1) / pl.members
	for g := 0; g < groups; g++ {
		m0, m1 := g*pl.members, min(samples, (g+1)*pl.members)
		var specs []spec.Spec
		var rngs []*rand.Rand
		for m := m0; m < m1; m++ {
			specs, rngs = append(specs, s), append(rngs, nets.InitSource(seed, m))
		}
		e, err := nets.NewEnsemble(specs, inShape, rngs)
		if err != nil {
			return err
		}
		o := opt
		if prog != nil {
			o.Progress = func(done, total int) { prog(g*total+done, groups*total) }
		}
		run := func(x npy.Array, a0, a1 int, in []bool, f nets.FactorFunc) error {
			return e.LogitFactorsFunc(x, a0, a1, nil, in, f)
		}
		err = structuredMembers(layers, k, m1-m0, run, x1, x2, same, pl, o, func(m int, k Kernel) { add(m0+m, k) })
		e.Close()
		if err != nil {
			return err
		}
	}
	return nil
}
