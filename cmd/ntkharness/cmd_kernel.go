package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"

	"gonum.org/v1/gonum/mat"

	"github.com/ntkharness/ntkharness/experiments/cells"
	"github.com/ntkharness/ntkharness/internal/atomicfile"
	"github.com/ntkharness/ntkharness/internal/progress"
	"github.com/ntkharness/ntkharness/npy"
	"github.com/ntkharness/ntkharness/theory"
)

func init() {
	register("kernel", "compute the analytic (infinite-width) NNGP and NTK between input arrays", runKernel)
}

const kernelDescription = `
Compute the infinite-width NNGP and NTK kernels (per logit, NTK
parameterization, Dense readout) of the network given by the flags or by
--spec, between the rows of --x1 and of --x2 (x2 = x1 when absent).
Inputs are .npy arrays: [N, d] for fcn, [N, H, W, C] for cnn-f and cnn-gap.

With --json, print one JSON object {"nngp": [[...]], "ntk": [[...]]} (rows
x1, columns x2) on standard output. With --out DIR, write DIR/nngp.npy and
DIR/ntk.npy. At least one of the two is required. For x2 = x1 and at most
512 inputs, a warning on standard error reports a numerically singular
kernel (condition number above 1e12, as in the deep ordered phase).`

// The kernel command warns on standard error when a symmetric kernel of at
// most kernelCondMaxN inputs (an eigendecomposition is cheap there) has a
// condition number above kernelCondWarn (float64 solves lose all but about
// 4 digits).
const (
	kernelCondMaxN = 512
	kernelCondWarn = 1e12
)

// kernelJSON is the --json output contract: rows x1, columns x2.
type kernelJSON struct {
	NNGP [][]float64 `json:"nngp"`
	NTK  [][]float64 `json:"ntk"`
}

func runKernel(args []string) error {
	fs := newFlags("kernel", "(--spec FILE | [--arch A] [--act F] --depth L --sw2 V [--sb2 V]) --x1 a.npy [--x2 b.npy] (--json | --out DIR)", kernelDescription)
	arch := addArchFlags(fs, "kernel", false)
	x1Path := fs.String("x1", "", "inputs of the rows, a .npy array (required)")
	x2Path := fs.String("x2", "", "inputs of the columns, a .npy array (default: the rows' inputs)")
	asJSON := fs.Bool("json", false, `print {"nngp": [[...]], "ntk": [[...]]} on standard output`)
	outDir := fs.String("out", "", "write nngp.npy and ntk.npy into this directory")
	memLimit := fs.Float64("mem-limit", float64(theory.DefaultMemLimit)/(1<<30), "refuse plans whose estimated memory exceeds this many GiB")
	workers := fs.Int("workers", 0, "goroutines to use (0: all cores)")
	timeLimit := fs.Duration("time-limit", defaultTimeLimit, "refuse plans whose estimated run time exceeds this `duration` (e.g. 8h)")
	quiet := fs.Bool("quiet", false, "do not show progress on standard error")
	rule := tanhRuleFlag(fs)
	if err := parseFlags(fs, args, false); err != nil {
		return err
	}
	if *x1Path == "" {
		return usagef("kernel: --x1 is required (see ntkharness kernel --help)")
	}
	if !*asJSON && *outDir == "" {
		return usagef("kernel: give --json or --out DIR (see ntkharness kernel --help)")
	}
	if !(*memLimit > 0) || math.IsInf(*memLimit, 0) {
		return usagef("kernel: --mem-limit %v: must be a positive number of GiB", *memLimit)
	}
	if *workers < 0 {
		return usagef("kernel: --workers %d: must be >= 0", *workers)
	}
	if err := checkTimeLimit("kernel", *timeLimit); err != nil {
		return err
	}
	set := fs.given()
	s, err := arch.resolve(0)
	if err != nil {
		return err
	}
	ruleAct, err := tanhRule("kernel", *rule, set["tanh-quadrature"], s.Act)
	if err != nil {
		return err
	}
	if *outDir != "" {
		if err := atomicfile.CheckDir(*outDir); err != nil {
			return fmt.Errorf("--out: %v", err)
		}
	}
	x1, err := npy.Load(*x1Path)
	if err != nil {
		return fmt.Errorf("--x1 %s: %v", *x1Path, err)
	}
	var x2 npy.Array
	if *x2Path != "" {
		if x2, err = npy.Load(*x2Path); err != nil {
			return fmt.Errorf("--x2 %s: %v", *x2Path, err)
		}
	}
	opt := theory.Options{Workers: *workers, MemLimit: int64(*memLimit * (1 << 30)), Activation: ruleAct}
	// The memory plan (theory refuses it before allocating) and the time
	// plan are checked before the work starts.
	if _, err := theory.EstimateBytes(s, x1, x2, opt); err != nil {
		return err
	}
	if len(x1.Shape) >= 2 {
		in := x1.Shape[1:]
		if !s.IsConv() {
			_, d := x1.Rows()
			in = []int{d}
		}
		n2 := 0
		if *x2Path != "" && len(x2.Shape) >= 1 {
			n2 = x2.Shape[0]
		}
		if err := checkTime("kernel", cells.KernelSeconds(s, in, x1.Shape[0], n2), *timeLimit, *quiet); err != nil {
			return err
		}
	}
	// Progress goes to stderr, so it does not disturb --json on stdout.
	var bar *progress.Bar
	if !*quiet {
		bar = progress.New("kernel", 0)
		opt.Progress = bar.Update
	}
	k, err := theory.Compute(s, x1, x2, opt)
	bar.Finish()
	if err != nil {
		return err
	}
	if *x2Path == "" && x1.Shape[0] <= kernelCondMaxN {
		if cn, ct, err := k.Cond(); err == nil && math.Max(cn, ct) > kernelCondWarn {
			fmt.Fprintf(os.Stderr, "ntkharness: kernel: warning: condition numbers NNGP %.3g, NTK %.3g: the kernel is numerically singular (deep ordered phase?); solves with it are unreliable\n", cn, ct)
		}
	}
	if *outDir != "" {
		if err := os.MkdirAll(*outDir, 0o755); err != nil {
			return err
		}
		for name, m := range map[string]*mat.Dense{"nngp.npy": k.NNGP, "ntk.npy": k.NTK} {
			if err := kernelSave(filepath.Join(*outDir, name), kernelArray(m)); err != nil {
				return err
			}
		}
	}
	if *asJSON {
		b, err := json.Marshal(kernelJSON{NNGP: kernelRows(k.NNGP), NTK: kernelRows(k.NTK)})
		if err != nil {
			return fmt.Errorf("encoding the kernels as JSON: %v", err)
		}
		fmt.Println(string(b))
	}
	return nil
}

// kernelSave writes a atomically, through a buffer (npy.Save hands
// the unbuffered file to the encoder, which issues one write per value).
func kernelSave(path string, a npy.Array) error {
	return atomicfile.Write(path, func(w io.Writer) error {
		bw := bufio.NewWriterSize(w, 1<<20)
		if err := npy.Write(bw, a); err != nil {
			return err
		}
		return bw.Flush()
	})
}

func kernelRows(m *mat.Dense) [][]float64 {
	r, c := m.Dims()
	rows := make([][]float64, r)
	for i := range rows {
		rows[i] = make([]float64, c)
		mat.Row(rows[i], i, m)
	}
	return rows
}

func kernelArray(m *mat.Dense) npy.Array {
	r, c := m.Dims()
	a := npy.New(r, c)
	for i := range r {
		mat.Row(a.Data[i*c:(i+1)*c], i, m)
	}
	return a
}
