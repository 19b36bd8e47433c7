package cells

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"

	"gonum.org/v1/gonum/mat"
	"gonum.org/v1/gonum/stat"

	"github.com/ntkharness/ntkharness/experiments/sweep"
	"github.com/ntkharness/ntkharness/nets"
	"github.com/ntkharness/ntkharness/npy"
	"github.com/ntkharness/ntkharness/ntkempirical"
	"github.com/ntkharness/ntkharness/spec"
	"github.com/ntkharness/ntkharness/theory"
)

// "ntk": the empirical NTK of the cell's network (or the mean over
// settings.samples networks) on its training inputs: its NTKStats and its
// relative distance to the analytic NTK.
func init() {
	sweep.RegisterKind("ntk", runNTKCell, sweep.WithCost(costNTK), sweep.WithSettings(ntkSettings{}))
}

// ntkSettings are the settings of an "ntk" cell.
type ntkSettings struct {
	DataSettings
	Samples int  `json:"samples"` // networks averaged; default 1
	Theory  bool `json:"theory"`  // compare with the analytic NTK; default true
	// PerNetwork reports the mean and SD over the networks of each one's
	// own statistics (<stat> and <stat>_sd) instead of the statistics of
	// the mean kernel; rel_err stays that of the mean kernel.
	PerNetwork bool `json:"per_network"`
	// MaxMemoryGiB bounds the arrays the empirical NTK holds at once; the
	// default 16 fits a width-1024, depth-128 fcn on 64 inputs.
	MaxMemoryGiB float64 `json:"max_memory_gib"`
}

// runNTKCell computes the mean empirical NTK K of samples networks of the
// cell's spec, network m drawn from nets.InitSource(seed, m), on
// the cell's n_train training inputs. Scalars: diag, off, lambda_max,
// lambda_min and kappa of K (NTKStats) or, with per_network, their means
// and SDs over the networks, and with theory also rel_err =
// ||K - Theta||_F / ||Theta||_F against the analytic NTK Theta and Theta's
// own theory_lambda_max, theory_lambda_min and theory_kappa.
func runNTKCell(ctx context.Context, c sweep.Cell) (sweep.Result, error) {
	s, err := cellSpec(c, true)
	if err != nil {
		return sweep.Result{}, err
	}
	st := ntkSettings{DataSettings: DefaultDataSettings(), Samples: 1, Theory: true, MaxMemoryGiB: 16}
	if err := c.DecodeSettings(&st); err != nil {
		return sweep.Result{}, sweep.Permanent(err)
	}
	if st.Samples < 1 || !(st.MaxMemoryGiB > 0) {
		return sweep.Result{}, sweep.Permanentf("ntk: samples %d, max_memory_gib %g: want samples >= 1 and a positive memory", st.Samples, st.MaxMemoryGiB)
	}
	opt := ntkempirical.Options{MaxMemory: int64(st.MaxMemoryGiB * (1 << 30))}
	d, err := st.Load(s.Arch, uint64(c.Seed))
	if err != nil {
		return sweep.Result{}, err
	}
	var k ntkempirical.Kernel
	if !st.PerNetwork || st.Theory {
		k, err = ntkempirical.Mean(s, d.XTrain.Shape[1:], d.XTrain, npy.Array{}, uint64(c.Seed), st.Samples, opt)
		if err != nil {
			return sweep.Result{}, sweep.Permanent(err)
		}
	}
	r := sweep.Result{Status: sweep.StatusOK, Scalars: map[string]float64{}}
	if st.PerNetwork {
		per := make([]NTKStats, st.Samples)
		for m := range per {
			if per[m], err = FiniteNTKStats(s, d.XTrain, nets.InitSource(uint64(c.Seed), m), opt); err != nil {
				return sweep.Result{}, sweep.Permanent(err)
			}
		}
		mean, sd := MeanSD(per)
		putStats(r.Scalars, "", "", mean)
		putStats(r.Scalars, "", "_sd", sd)
	} else if err := addStats(r.Scalars, "", k.NTK); err != nil {
		return sweep.Result{}, sweep.Permanent(err)
	}
	if st.Theory {
		th, err := theory.Compute(s, d.XTrain, npy.Array{}, theory.Options{})
		if err != nil {
			return sweep.Result{}, sweep.Permanent(err)
		}
		if r.Scalars["rel_err"], err = ntkempirical.RelativeFrobenius(k.NTK, th.NTK); err != nil {
			return sweep.Result{}, sweep.Permanent(err)
		}
		if err := addStats(r.Scalars, "theory_", th.NTK); err != nil {
			return sweep.Result{}, sweep.Permanent(err)
		}
	}
	return r, nil
}

// addStats stores the NTKStats of kernel k into m under prefix.
func addStats(m map[string]float64, prefix string, k mat.Matrix) error {
	sym, err := ntkempirical.Symmetric(k, 1e-10)
	if err != nil {
		return err
	}
	st, err := NTKStatsOf(sym)
	if err != nil {
		return err
	}
	putStats(m, prefix, "", st)
	return nil
}

// putStats stores st into m as prefix<stat>suffix.
func putStats(m map[string]float64, prefix, suffix string, st NTKStats) {
	m[prefix+"diag"+suffix], m[prefix+"off"+suffix] = st.Diag, st.Off
	m[prefix+"lambda_max"+suffix], m[prefix+"lambda_min"+suffix], m[prefix+"kappa"+suffix] = st.LMax, st.LMin, st.Kappa
}

// costNTK counts, per network, one forward and one backward pass per logit
// and example (the structured method) plus the n x n Gram products.
func costNTK(c sweep.Cell) (sweep.Cost, bool) {
	st := ntkSettings{DataSettings: DefaultDataSettings(), Samples: 1, Theory: true}
	in, flops, mem, ok := cellNetCost(c, &st, &st.DataSettings)
	if !ok {
		return sweep.Cost{}, false
	}
	n := float64(st.NTrain)
	sec := float64(st.Samples) * float64(c.Spec.Outputs) * (3*flops*n + flops*n*n/float64(max(in[0], 1))) / costTrainFLOPs
	if st.Theory {
		ksec, _ := kernelCost(c.Spec, in, st.NTrain)
		sec += ksec
	}
	return sweep.Cost{Seconds: sec, MemoryBytes: 2*mem + st.memory()}, true
}

// NTKStats are the statistics of an n x n symmetric kernel K (n >= 2)
// drawn by the ntk-depth figure: the mean diagonal (1/n) sum_a K_aa, the
// mean off-diagonal (1/(n(n-1))) sum_{a != b} K_ab, the extreme
// eigenvalues and kappa = lambda_max / lambda_min (NaN when lambda_min <= 0
// in floating point, where the kernel is singular to working precision).
type NTKStats struct {
	Diag, Off  float64
	LMax, LMin float64
	Kappa      float64
}

// NTKStatsOf returns the NTKStats of any symmetric kernel k, analytic or
// empirical (pass an empirical kernel through ntkempirical.Symmetric
// first). The eigenvalues come from ntkempirical.Eigenvalues
// (linalg.EigenSym); it is an error when k is smaller than 2x2 or holds
// NaN or Inf.
func NTKStatsOf(k mat.Symmetric) (NTKStats, error) {
	n := k.SymmetricDim()
	if n < 2 {
		return NTKStats{}, fmt.Errorf("NTK statistics: kernel is %dx%d, the off-diagonal mean needs at least 2 inputs", n, n)
	}
	diag, off := 0.0, 0.0
	for i := 0; i < n; i++ {
		for j := 0; j < n; j++ {
			if i == j {
				diag += k.At(i, j)
			} else {
				off += k.At(i, j)
			}
		}
	}
	sp, err := ntkempirical.Eigenvalues(k)
	if err != nil {
		return NTKStats{}, fmt.Errorf("NTK statistics of a %dx%d kernel: %w", n, n, err)
	}
	kappa := math.NaN()
	if sp.LambdaMin > 0 {
		kappa = sp.Kappa
	}
	return NTKStats{Diag: diag / float64(n), Off: off / float64(n*(n-1)), LMax: sp.LambdaMax, LMin: sp.LambdaMin, Kappa: kappa}, nil
}

// FiniteNTKStats draws the network s from rng and returns the NTKStats of
// its empirical NTK on x.
func FiniteNTKStats(s spec.Spec, x npy.Array, rng *rand.Rand, opt ntkempirical.Options) (NTKStats, error) {
	net, err := nets.New(s, x.Shape[1:], rng)
	if err != nil {
		return NTKStats{}, err
	}
	k, err := ntkempirical.Compute(net, x, npy.Array{}, opt)
	net.Close() // also collects the graph's memory, see nets.Net.Close
	if err != nil {
		return NTKStats{}, err
	}
	sym, err := ntkempirical.Symmetric(k.NTK, 1e-10)
	if err != nil {
		return NTKStats{}, err
	}
	return NTKStatsOf(sym)
}

// MeanSD returns the mean and the sample standard deviation (divisor
// len-1, NaN for one value) of each statistic over ss.
func MeanSD(ss []NTKStats) (mean, sd NTKStats) {
	fields := func(s *NTKStats) []*float64 { return []*float64{&s.Diag, &s.Off, &s.LMax, &s.LMin, &s.Kappa} }
	mf, sf := fields(&mean), fields(&sd)
	v := make([]float64, len(ss))
	for i := range mf {
		for j := range ss {
			v[j] = *fields(&ss[j])[i]
		}
		*mf[i], *sf[i] = stat.MeanStdDev(v, nil)
	}
	return mean, sd
}
