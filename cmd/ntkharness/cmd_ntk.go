package main

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"

	"gonum.org/v1/gonum/mat"

	"github.com/ntkharness/ntkharness/experiments/cells"
	"github.com/ntkharness/ntkharness/internal/atomicfile"
	"github.com/ntkharness/ntkharness/internal/progress"
	"github.com/ntkharness/ntkharness/nets"
	"github.com/ntkharness/ntkharness/npy"
	"github.com/ntkharness/ntkharness/ntkempirical"
	"github.com/ntkharness/ntkharness/spec"
	"github.com/ntkharness/ntkharness/theory"
)

func init() {
	register("ntk", "empirical NTK of a finite network (at initialization, averaged, or trained) and its spectrum", runNTK)
}

// ntkOutput is the JSON the ntk command prints.
type ntkOutput struct {
	NTK            [][]float64 `json:"ntk"`
	Full           [][]float64 `json:"full,omitempty"`
	Eigenvalues    []float64   `json:"eigenvalues,omitempty"`
	LambdaMin      *float64    `json:"lambda_min,omitempty"`
	LambdaMax      *float64    `json:"lambda_max,omitempty"`
	Kappa          *jsonFloat  `json:"kappa,omitempty"`
	RelativeChange *float64    `json:"relative_change,omitempty"`
	TheoryNTK      [][]float64 `json:"theory_ntk,omitempty"`
	TheoryError    *float64    `json:"theory_relative_error,omitempty"`
}

// jsonFloat writes +Inf (a singular kernel's condition number) as null.
type jsonFloat float64

func (f jsonFloat) MarshalJSON() ([]byte, error) {
	if math.IsInf(float64(f), 0) || math.IsNaN(float64(f)) {
		return []byte("null"), nil
	}
	return json.Marshal(float64(f))
}

func runNTK(args []string) error {
	fs := newFlags("ntk", "--x1 a.npy [--x2 b.npy] ([--arch A] [--act F] --depth L --width W --sw2 V [--sb2 V] | --spec FILE | --params DIR) [flags]", `
Compute the empirical neural tangent kernel of a finite network between the
examples of x1 (rows) and x2 (columns; default x2 = x1). The network is
either drawn at initialization from the architecture flags (or --spec) and
--seed (--samples M averages M initializations with seeds S, S+1, ...), or
read with --params from a folder written by training (spec.json, input.json
and one .npy per parameter); --params0 names the initial network's folder, or
--init-seed S redraws it as train --seed S did, and adds the relative change
||Theta_T - Theta_0||_F / ||Theta_0||_F.

The kernel is logit-traced, (1/k) sum_a Theta_aa (Neural Tangents' default,
comparable with the per-logit analytic kernel); --full adds the Nk x Nk
kernel indexed (i*k + a, j*k + b). --method structured contracts per-layer
factors (fast), --method jacobian whole Jacobians (the slow reference).
Inputs are [N, d] for fcn and [N, H, W, C] (channels last) for cnn-f and
cnn-gap.

Output: JSON on standard output ({"ntk": [[...]]}, plus "eigenvalues",
"lambda_min", "lambda_max" and "kappa" with --spectrum; kappa is null for a
singular kernel; "theory_ntk" and "theory_relative_error" with --theory), or
with --out DIR the files ntk.npy (and ntk_full.npy,
eigenvalues.npy, theory_ntk.npy, and summary.json with the scalars).`)
	arch := addArchFlags(fs, "ntk", true)
	arch.instead = "--spec or --params"
	seed := fs.Uint64("seed", 0, "initialization seed `S` (sample m uses S+m)")
	samples := fs.Int("samples", 1, "average the kernels of `M` independent initializations")
	params := fs.String("params", "", "read the network from `DIR` (written by training) instead of initializing it")
	params0 := fs.String("params0", "", "initial network's folder `DIR0`, to report the kernel's relative change (needs --params)")
	initSeed := fs.Uint64("init-seed", 0, "with --params: the initial network is the one drawn with seed `S` (as by train --seed S), to report the kernel's relative change")
	x1Path := fs.String("x1", "", "row inputs, an .npy `file` [N, ...]")
	x2Path := fs.String("x2", "", "column inputs, an .npy `file` (default: x1)")
	method := fs.String("method", string(ntkempirical.Structured), "`method`: structured or jacobian")
	jsonOut := fs.Bool("json", false, "print JSON on standard output (the default without --out)")
	spectrum := fs.Bool("spectrum", false, "add the eigenvalues, lambda_min, lambda_max and kappa of the kernel (x2 = x1 only)")
	full := fs.Bool("full", false, "also compute the full Nk x Nk kernel")
	outDir := fs.String("out", "", "write ntk.npy (and the other arrays) to `DIR` instead of printing JSON")
	maxMem := fs.Int64("max-memory", ntkempirical.DefaultMaxMemory>>20, "working-memory budget in `MiB`")
	withTheory := fs.Bool("theory", false, "add theory's analytic NTK for the same architecture and the relative Frobenius error of the (mean) empirical one")
	quiet := fs.Bool("quiet", false, "do not show progress")
	timeLimit := fs.Duration("time-limit", defaultTimeLimit, "refuse plans whose estimated run time exceeds this `duration` (e.g. 8h)")
	if err := parseFlags(fs, args, false); err != nil {
		return err
	}

	set := fs.given()
	if *x1Path == "" {
		return usagef("ntk: --x1 is required (see ntkharness ntk --help)")
	}
	m := ntkempirical.Method(*method)
	if m != ntkempirical.Structured && m != ntkempirical.Jacobian {
		return usagef("ntk: --method %q: want structured or jacobian", *method)
	}
	if *samples < 1 {
		return usagef("ntk: --samples %d: must be at least 1", *samples)
	}
	if err := checkTimeLimit("ntk", *timeLimit); err != nil {
		return err
	}
	if *maxMem < 1 {
		return usagef("ntk: --max-memory %d: must be a positive number of MiB", *maxMem)
	}
	if (*params0 != "" || set["init-seed"]) && *params == "" {
		return usagef("ntk: --params0 and --init-seed need --params (the trained network)")
	}
	if *params0 != "" && set["init-seed"] {
		return usagef("ntk: give the initial network by --params0 or by --init-seed, not both")
	}
	if *withTheory && *params != "" {
		return usagef("ntk: --theory compares networks at initialization: drop --params")
	}
	if *spectrum && *x2Path != "" {
		return usagef("ntk: --spectrum needs a square kernel: drop --x2")
	}
	var s spec.Spec
	if *params != "" {
		for _, name := range append(arch.given(), "seed", "samples") {
			if set[name] {
				return usagef("ntk: --%s cannot be combined with --params, which reads the network from %s", name, filepath.Join(*params, nets.SpecFile))
			}
		}
	} else {
		var err error
		if s, err = arch.resolve(0); err != nil {
			return err
		}
	}

	if *outDir != "" {
		if err := atomicfile.CheckDir(*outDir); err != nil {
			return fmt.Errorf("--out: %v", err)
		}
	}
	x1, err := npy.Load(*x1Path)
	if err != nil {
		return fmt.Errorf("--x1: %v", err)
	}
	var x2 npy.Array
	if *x2Path != "" {
		if x2, err = npy.Load(*x2Path); err != nil {
			return fmt.Errorf("--x2: %v", err)
		}
	}
	if len(x1.Shape) < 2 {
		return fmt.Errorf("--x1 %s: shape %v: want [N, ...] with one example per row", *x1Path, x1.Shape)
	}
	if x2.Data != nil && len(x2.Shape) < 2 {
		return fmt.Errorf("--x2 %s: shape %v: want [N, ...] with one example per row", *x2Path, x2.Shape)
	}

	n1 := x1.Shape[0]
	n2 := n1
	if x2.Data != nil {
		n2 = x2.Shape[0]
	}
	if *withTheory {
		// The analytic kernel comes last; refuse its plan before the
		// empirical one is computed.
		b, err := theory.EstimateBytes(s, x1, x2, theory.Options{})
		if err != nil {
			return fmt.Errorf("--theory: %v", err)
		}
		if b > theory.DefaultMemLimit {
			return fmt.Errorf("--theory: the analytic %s kernel of %dx%d inputs needs an estimated %.1f GiB, over the memory limit of %.0f GiB", s.Arch, n1, n2, float64(b)/(1<<30), float64(theory.DefaultMemLimit)/(1<<30))
		}
	}
	var bar *progress.Bar
	opt := ntkempirical.Options{Method: m, Full: *full, MaxMemory: *maxMem << 20}
	if !*quiet {
		bar = progress.New(fmt.Sprintf("ntk %dx%d", n1, n2), 0)
		opt.Progress = bar.Update
	}

	// ntkTime checks the time plan of the kernel(s) of a network of spec
	// ns on examples of shape in.
	ntkTime := func(ns spec.Spec, in []int, nNets int) error {
		m := 0
		if x2.Data != nil {
			m = n2
		}
		sec := cells.NTKSeconds(ns, in, n1, m, nNets)
		if *withTheory {
			sec += cells.KernelSeconds(ns, in, n1, m)
		}
		return checkTime("ntk", sec, *timeLimit, *quiet)
	}
	var res ntkempirical.Kernel
	var change, rel *float64 // relative change in training; relative error against theory
	var analytic *mat.Dense  // theory's NTK with --theory
	if *params != "" {
		net, err := nets.Load(*params)
		if err != nil {
			return err
		}
		nNets := 1
		if *params0 != "" || set["init-seed"] {
			nNets = 2
		}
		if err := ntkTime(net.Spec(), net.InputShape(), nNets); err != nil {
			return err
		}
		if *params0 != "" || set["init-seed"] {
			var net0 *nets.Net
			if *params0 != "" {
				net0, err = nets.Load(*params0)
			} else {
				net0, err = nets.New(net.Spec(), net.InputShape(), nets.InitSource(*initSeed, 0))
			}
			if err != nil {
				return err
			}
			c, err := ntkempirical.KernelChange(net0, net, x1, x2, opt)
			if err != nil {
				return err
			}
			res, change = c.Trained, &c.Relative
		} else if res, err = ntkempirical.Compute(net, x1, x2, opt); err != nil {
			return err
		}
	} else {
		shape := x1.Shape[1:]
		if s.Arch == spec.FCN {
			_, d := x1.Rows()
			shape = []int{d}
		} else if len(shape) != 3 {
			return fmt.Errorf("--x1 %s: shape %v: %s needs images [N, H, W, C]", *x1Path, x1.Shape, s.Arch)
		}
		if err := ntkTime(s, shape, *samples); err != nil {
			return err
		}
		if *withTheory {
			c, err := ntkempirical.CompareTheory(s, shape, x1, x2, *seed, *samples, opt, theory.Options{})
			if err != nil {
				return err
			}
			res, analytic, rel = ntkempirical.Kernel{NTK: c.Empirical, Full: c.Full}, c.Analytic, &c.Relative
		} else if res, err = ntkempirical.Mean(s, shape, x1, x2, *seed, *samples, opt); err != nil {
			return err
		}
	}
	bar.Finish()

	out := ntkOutput{NTK: ntkRows(res.NTK), RelativeChange: change, TheoryError: rel}
	if analytic != nil {
		out.TheoryNTK = ntkRows(analytic)
	}
	if res.Full != nil {
		out.Full = ntkRows(res.Full)
	}
	if *spectrum {
		k, err := ntkempirical.Symmetric(res.NTK, 1e-8)
		if err != nil {
			return err
		}
		sp, err := ntkempirical.Eigenvalues(k)
		if err != nil {
			return err
		}
		out.Eigenvalues = sp.Values
		out.LambdaMin, out.LambdaMax = &sp.LambdaMin, &sp.LambdaMax
		kap := jsonFloat(sp.Kappa)
		out.Kappa = &kap
	}

	if *outDir != "" {
		if err := writeNTKDir(*outDir, res, out); err != nil {
			return err
		}
		if !*jsonOut {
			fmt.Printf("wrote %s\n", filepath.Join(*outDir, "ntk.npy"))
			return nil
		}
	}
	b, err := json.Marshal(out)
	if err != nil {
		return err
	}
	_, err = fmt.Println(string(b))
	return err
}

// writeNTKDir writes the arrays and a summary of the scalars to dir.
func writeNTKDir(dir string, res ntkempirical.Kernel, out ntkOutput) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	save := func(name string, m *mat.Dense) error {
		r, c := m.Dims()
		return npy.Save(filepath.Join(dir, name), npy.Array{Shape: []int{r, c}, Data: mat.DenseCopyOf(m).RawMatrix().Data})
	}
	if err := save("ntk.npy", res.NTK); err != nil {
		return err
	}
	if res.Full != nil {
		if err := save("ntk_full.npy", res.Full); err != nil {
			return err
		}
	}
	if out.Eigenvalues != nil {
		if err := npy.Save(filepath.Join(dir, "eigenvalues.npy"), npy.Array{Shape: []int{len(out.Eigenvalues)}, Data: out.Eigenvalues}); err != nil {
			return err
		}
	}
	if out.TheoryNTK != nil {
		r, c := len(out.TheoryNTK), len(out.TheoryNTK[0])
		a := npy.Array{Shape: []int{r, c}}
		for _, row := range out.TheoryNTK {
			a.Data = append(a.Data, row...)
		}
		if err := npy.Save(filepath.Join(dir, "theory_ntk.npy"), a); err != nil {
			return err
		}
	}
	if out.Kappa == nil && out.RelativeChange == nil && out.TheoryError == nil {
		return nil
	}
	return atomicfile.WriteJSON(filepath.Join(dir, "summary.json"), struct {
		LambdaMin      *float64   `json:"lambda_min,omitempty"`
		LambdaMax      *float64   `json:"lambda_max,omitempty"`
		Kappa          *jsonFloat `json:"kappa,omitempty"`
		RelativeChange *float64   `json:"relative_change,omitempty"`
		TheoryError    *float64   `json:"theory_relative_error,omitempty"`
	}{out.LambdaMin, out.LambdaMax, out.Kappa, out.RelativeChange, out.TheoryError})
}

// ntkRows returns m as a slice of rows.
func ntkRows(m *mat.Dense) [][]float64 {
	r, _ := m.Dims()
	out := make([][]float64, r)
	for i := range out {
		out[i] = mat.Row(nil, i, m)
	}
	return out
}
