package theory

import (
	"errors"
	"fmt"
	"math"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"

	"gonum.org/v1/gonum/mat"

	"github.com/ntkharness/ntkharness/linalg"
	"github.com/ntkharness/ntkharness/npy"
	"github.com/ntkharness/ntkharness/spec"
)

// Kernels holds the per-logit NNGP and NTK between x1 (rows) and x2 (columns).
// The kernels of the k logits are NNGP (x) I_k and NTK (x) I_k.
type Kernels struct{ NNGP, NTK *mat.Dense }

// DefaultMemLimit is the memory limit of a Compute plan when
// Options.MemLimit is zero.
const DefaultMemLimit int64 = 8 << 30

// Options tunes Compute. The zero value is valid.
type Options struct {
	Workers  int   // default runtime.GOMAXPROCS(0)
	MemLimit int64 // bytes; plans above it are refused with the estimate (default DefaultMemLimit)
	// EachDepth, when set, is called for depth = 1..L, in order, with the
	// readout kernels of the same network truncated to depth nonlinearities
	// (one pass gives a whole depth sweep). The matrices are only valid
	// during the call; Clone them to keep them.
	EachDepth func(depth int, k Kernels)
	Progress  func(done, total int) // optional progress callback
	// Activation, when set, replaces the activation named by the spec, e.g.
	// the approximate HermiteQuadrature to reproduce old tanh results, any
	// NewQuadrature activation, or ActivationOf a new description.
	Activation Activation
}

// Compute returns the analytic NNGP and NTK of the network s between the
// inputs x1 (rows) and x2 (columns); x2.Data == nil means x2 = x1, and the
// symmetric kernel is computed once per pair.
//
// Inputs are [N, d] for fcn (images [N, H, W, C] are flattened) and
// [N, H, W, C] for cnn-f and cnn-gap. The input kernel is K^0 = x.x'/d (for
// images: per pixel pair, summed over channels and divided by C). With depth
// L (the number of nonlinearities) and variances sw2, sb2 of every layer:
//
//	K^1 = sw2 A(K^0) + sb2,                     Theta^1 = K^1
//	K^{l+1} = sw2 A(T(K^l)) + sb2,              Theta^{l+1} = K^{l+1} + sw2 A(Tdot(K^l) Theta^l)
//
// where A is the identity for fcn and the average over the f x f filter
// window for convolutions, A(S)[a, a'] = (1/f^2) sum_b S[a+b, a'+b] (zero
// outside the image for SAME padding), and the last layer (l = L) is the
// Dense readout after Flatten (mean of the spatial diagonal) or global
// average pooling (mean over all pixel pairs). T and Tdot of an entry (i, j)
// use the variances K^l(x_i, x_i) and K^l(x_j, x_j) of the same pixels.
//
// Faults of the inputs or of the plan (shapes, NaN, memory) are returned as
// errors naming the input.
func Compute(s spec.Spec, x1, x2 npy.Array, opt Options) (Kernels, error) {
	if err := s.Validate(); err != nil {
		return Kernels{}, err
	}
	s = s.WithDefaults()
	act := opt.Activation
	if act == nil {
		var err error
		if act, err = ActivationByName(s.Act); err != nil {
			return Kernels{}, err
		}
	}
	in, err := prepareInputs(s, x1, x2)
	if err != nil {
		return Kernels{}, err
	}
	if opt.Workers <= 0 {
		opt.Workers = runtime.GOMAXPROCS(0)
	}
	if opt.MemLimit <= 0 {
		opt.MemLimit = DefaultMemLimit
	}
	p, err := newPlan(s, in, opt)
	if err != nil {
		return Kernels{}, err
	}
	if s.Arch == spec.FCN {
		return computeFCN(s, act, in, opt)
	}
	return computeConv(s, act, in, p, opt)
}

// checkFinite returns an error when a kernel holds NaN or Inf, which only
// happens when the recursion overflows float64 (kernels that grow
// geometrically with depth, such as relu with sw2 > 2 or the NTK deep in the
// chaotic phase).
func checkFinite(s spec.Spec, depth int, k Kernels) error {
	for _, m := range []struct {
		name string
		d    *mat.Dense
	}{{"NNGP", k.NNGP}, {"NTK", k.NTK}} {
		r := m.d.RawMatrix()
		for i := 0; i < r.Rows; i++ {
			for _, v := range r.Data[i*r.Stride : i*r.Stride+r.Cols] {
				if math.IsNaN(v) || math.IsInf(v, 0) {
					return errOverflow(s, depth, m.name, v)
				}
			}
		}
	}
	return nil
}

func errOverflow(s spec.Spec, depth int, what string, v float64) error {
	return fmt.Errorf("theory: the %s %s kernel overflows float64 at depth %d (an entry is %v): with sw2 = %g, sb2 = %g it grows geometrically with depth; use a smaller depth or sw2", s.Act, what, depth, v, s.SW2, s.SB2)
}

// inputs are the validated input arrays.
type inputs struct {
	n1, n2  int
	sym     bool
	h, w, c int // image shape; fcn: h = w = 1, c = d
	x1, x2  []float64
}

func prepareInputs(s spec.Spec, x1, x2 npy.Array) (inputs, error) {
	var in inputs
	if err := checkArray("x1", x1); err != nil {
		return in, err
	}
	// x2 equal to x1 takes the symmetric path: there every diagonal entry is
	// the variance map of its own input. As a cross pair, the correlation
	// of an input with itself sits at c = 1, an unstable fixed point of the
	// correlation map in the chaotic phase, so rounding errors would grow by
	// chi_1 per layer and pull the "diagonal" towards q* c*.
	in.sym = x2.Data == nil || (equalInts(x1.Shape, x2.Shape) && slices.Equal(x1.Data, x2.Data))
	if !in.sym {
		if err := checkArray("x2", x2); err != nil {
			return in, err
		}
		if !equalInts(x1.Shape[1:], x2.Shape[1:]) {
			return in, fmt.Errorf("theory: x1 shape %v and x2 shape %v disagree beyond the first (example) axis", x1.Shape, x2.Shape)
		}
	} else {
		x2 = x1
	}
	in.n1, in.n2 = x1.Shape[0], x2.Shape[0]
	in.x1, in.x2 = x1.Data, x2.Data
	if s.IsConv() {
		if len(x1.Shape) != 4 {
			return in, fmt.Errorf("theory: arch %s needs images [N, H, W, C], got x1 shape %v", s.Arch, x1.Shape)
		}
		in.h, in.w, in.c = x1.Shape[1], x1.Shape[2], x1.Shape[3]
		if s.Padding == spec.Valid {
			shrink := s.Depth * (s.Filter - 1)
			if in.h-shrink < 1 || in.w-shrink < 1 {
				return in, fmt.Errorf("theory: %dx%d images are too small for %d VALID convolutions of filter %d", in.h, in.w, s.Depth, s.Filter)
			}
		}
	} else {
		_, d := x1.Rows()
		in.h, in.w, in.c = 1, 1, d
	}
	return in, nil
}

func checkArray(name string, a npy.Array) error {
	if len(a.Shape) < 2 {
		return fmt.Errorf("theory: %s shape %v: want [N, d] or [N, H, W, C]", name, a.Shape)
	}
	for _, n := range a.Shape {
		if n < 1 {
			return fmt.Errorf("theory: %s shape %v: every axis must be positive", name, a.Shape)
		}
	}
	if npy.Size(a.Shape) != len(a.Data) {
		return fmt.Errorf("theory: %s has %d values for shape %v", name, len(a.Data), a.Shape)
	}
	for i, v := range a.Data {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			_, d := a.Rows()
			return fmt.Errorf("theory: %s has %v at example %d, value %d", name, v, i/d, i%d)
		}
		if math.Abs(v) > maxInput {
			_, d := a.Rows()
			return fmt.Errorf("theory: %s has %v at example %d, value %d: inputs must be below %g in magnitude so that x.x'/d cannot overflow", name, v, i/d, i%d, maxInput)
		}
	}
	return nil
}

// maxInput bounds input values: squares and dot products of up to 2^60
// values stay finite.
const maxInput = 1e130

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// plan is the memory plan of a Compute call.
type plan struct {
	bytes int64
}

// formatBytes writes a byte count in KiB, MiB or GiB.
func formatBytes(b float64) string {
	switch {
	case b >= 1<<30:
		return fmt.Sprintf("%.3g GiB", b/(1<<30))
	case b >= 1<<20:
		return fmt.Sprintf("%.3g MiB", b/(1<<20))
	default:
		return fmt.Sprintf("%.3g KiB", b/(1<<10))
	}
}

// newPlan estimates the peak memory of the computation and refuses plans over
// opt.MemLimit. The estimate counts the two N1 x N2 outputs, the per-depth
// readouts buffered for EachDepth (convolutions), the per-example per-layer
// pixel variances, and each worker's per-pair scratch.
func newPlan(s spec.Spec, in inputs, opt Options) (plan, error) {
	n1, n2 := float64(in.n1), float64(in.n2)
	out := 2 * n1 * n2 * 8
	est := out
	what := "the two output kernels"
	if s.Arch == spec.FCN {
		est += 8 * (n1 + n2) * 4
	} else {
		d := float64(in.h * in.w)
		L := float64(s.Depth)
		ex := n2
		if !in.sym {
			ex += n1
		}
		est += ex * L * d * 8
		var scratch float64
		if s.Arch == spec.CNNGAP {
			scratch = 6 * d * d * 8
		} else {
			scratch = 6 * d * 8
		}
		est += float64(opt.Workers) * scratch
		if opt.EachDepth != nil {
			est += L * out
		}
		what = fmt.Sprintf("outputs, %d-layer pixel variances of %d examples and %d workers' %dx%d-pixel scratch", s.Depth, int(ex), opt.Workers, in.h, in.w)
		if opt.EachDepth != nil {
			what += " and per-depth readouts"
		}
	}
	if est > float64(opt.MemLimit) {
		return plan{}, fmt.Errorf("theory: %s kernel of %dx%d inputs needs an estimated %s (%s), over the memory limit of %s", s.Arch, in.n1, in.n2, formatBytes(est), what, formatBytes(float64(opt.MemLimit)))
	}
	return plan{bytes: int64(est)}, nil
}

// EstimateBytes returns the estimated peak memory of Compute(s, x1, x2, opt)
// in bytes, or the error Compute would return before starting.
func EstimateBytes(s spec.Spec, x1, x2 npy.Array, opt Options) (int64, error) {
	if err := s.Validate(); err != nil {
		return 0, err
	}
	s = s.WithDefaults()
	in, err := prepareInputs(s, x1, x2)
	if err != nil {
		return 0, err
	}
	if opt.Workers <= 0 {
		opt.Workers = runtime.GOMAXPROCS(0)
	}
	opt.MemLimit = math.MaxInt64
	p, err := newPlan(s, in, opt)
	return p.bytes, err
}

// parallelRows calls f(i) for i in [0, n) on workers goroutines, handing out
// rows dynamically so that rows of unequal cost (triangles) balance.
func parallelRows(n, workers int, f func(i int)) {
	if workers > n {
		workers = n
	}
	if workers <= 1 {
		for i := range n {
			f(i)
		}
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				f(i)
			}
		}()
	}
	wg.Wait()
}

// mirror copies the upper triangle of the square matrix m to its lower one.
func mirror(m *mat.Dense) {
	r := m.RawMatrix()
	for i := 0; i < r.Rows; i++ {
		for j := i + 1; j < r.Cols; j++ {
			r.Data[j*r.Stride+i] = r.Data[i*r.Stride+j]
		}
	}
}

// Cond returns the condition numbers lambda_max/lambda_min of the NNGP and
// NTK, which must be square and symmetric (x2 = x1). Deep ordered-phase
// kernels approach a multiple of 1 1^T and are nearly singular; a condition
// number near 1/eps (about 4.5e15) means the kernel is numerically singular
// and solves with it are meaningless. A non-positive smallest eigenvalue gives
// +Inf.
func (k Kernels) Cond() (nngp, ntk float64, err error) {
	if k.NNGP == nil || k.NTK == nil {
		return 0, 0, errors.New("theory: Cond of empty kernels")
	}
	if nngp, err = cond(k.NNGP); err != nil {
		return 0, 0, fmt.Errorf("theory: NNGP: %v", err)
	}
	if ntk, err = cond(k.NTK); err != nil {
		return 0, 0, fmt.Errorf("theory: NTK: %v", err)
	}
	return nngp, ntk, nil
}

func cond(m *mat.Dense) (float64, error) {
	r, c := m.Dims()
	if r != c {
		return 0, fmt.Errorf("%dx%d kernel is not square", r, c)
	}
	sym := mat.NewSymDense(r, nil)
	for i := range r {
		for j := i; j < r; j++ {
			sym.SetSym(i, j, m.At(i, j))
		}
	}
	vals, _, err := linalg.EigenSym(sym, false)
	if err != nil {
		return 0, err
	}
	lo, hi := vals[0], vals[len(vals)-1]
	if lo <= 0 {
		return math.Inf(1), nil
	}
	return hi / lo, nil
}
