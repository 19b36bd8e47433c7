package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/ntkharness/ntkharness/datasets"
	"github.com/ntkharness/ntkharness/experiments"
	"github.com/ntkharness/ntkharness/internal/atomicfile"
	"github.com/ntkharness/ntkharness/internal/progress"
)

func init() {
	register("figure", "make one figure of the paper (or all) with its data and caption", runFigure)
}

const figureDescription = `
Computes a figure of the paper and writes NAME.png, NAME.svg, NAME.pdf,
NAME.csv and NAME.json (the numbers behind it) and NAME.caption.json (what
theory predicts and what the run shows) into --out, each atomically. NAME is
one of the figures below, or all.

--scale quick (default) sizes every figure for minutes on 2 cores.
CIFAR-10 is used when --cifar10 or $CIFAR10_DIR names it (a location that
cannot be read is an error); without either the figures fall back to the
embedded MNIST, say so on standard error, and name MNIST in their captions.

--scale paper uses the paper's grids. The figures whose paper grids are
too large for one machine (listed at the end) run
through sweeps: the sweep files are written as DIR/NAME.sweepK.json, their
cells computed here into --results (resumable: an interrupted run keeps
every finished cell), and the figure drawn from the gathered results. To
compute the cells on a cluster instead, run the figure once with --no-run
(it writes the sweep files and lists what is missing), emit the jobs with
` + "`" + `ntkharness sweep emit k8s|slurm DIR/NAME.sweepK.json` + "`" + `, copy the results
folder back to --results and run the figure again with --no-run to draw.

A figure already in --out is reused by report only when it was made with
the same scale, data set, seed and program version; --force recomputes.`

// figureFlags are the flags shared by figure and report.
type figureFlags struct {
	scale, dataset, cifar10, out, results *string
	seed                                  *uint64
	workers                               *int
	noRun, retryFailed, partial           *bool
}

func addFigureFlags(fs *flagSet) figureFlags {
	return figureFlags{
		scale:       fs.String("scale", experiments.Quick, "grid size: quick (minutes on 2 cores) or paper"),
		dataset:     fs.String("dataset", datasets.CIFAR10, "data set: cifar10 (falls back to the embedded mnist when absent) or mnist"),
		cifar10:     fs.String("cifar10", "", "CIFAR-10 binary release: folder or .tar.gz `PATH` (default $CIFAR10_DIR)"),
		out:         fs.String("out", "", "output `DIR` (required)"),
		seed:        fs.Uint64("seed", 0, "seed of every subset and initialization"),
		results:     fs.String("results", "", "sweep results `DIR` of the paper scale (default OUT/sweeps)"),
		workers:     fs.Int("workers", 1, "sweep cells computed at once at the paper scale"),
		noRun:       fs.Bool("no-run", false, "paper scale: do not compute missing sweep cells, only draw from --results"),
		retryFailed: fs.Bool("retry-failed", false, "paper scale: recompute sweep cells recorded as failed (after a fix)"),
		partial:     fs.Bool("partial", false, "paper scale: draw even if sweep cells are missing (gaps), e.g. with --no-run while a cluster computes them"),
	}
}

func (f figureFlags) config(name string) (experiments.Config, error) {
	if *f.out == "" {
		return experiments.Config{}, usagef("%s: --out is required (see ntkharness %s --help)", name, name)
	}
	if *f.scale != experiments.Quick && *f.scale != experiments.Paper {
		return experiments.Config{}, usagef("%s: --scale %q: want quick or paper", name, *f.scale)
	}
	if *f.dataset != datasets.CIFAR10 && *f.dataset != datasets.MNIST {
		return experiments.Config{}, usagef("%s: --dataset %q: want cifar10 or mnist", name, *f.dataset)
	}
	if *f.workers < 1 {
		return experiments.Config{}, usagef("%s: --workers %d: want at least 1", name, *f.workers)
	}
	if err := atomicfile.CheckDir(*f.out); err != nil {
		return experiments.Config{}, fmt.Errorf("--out: %v", err)
	}
	cfg := experiments.Config{Scale: *f.scale, Dataset: *f.dataset, CIFAR10: *f.cifar10, Seed: *f.seed,
		Results: *f.results, Workers: *f.workers, NoRun: *f.noRun, RetryFailed: *f.retryFailed, Partial: *f.partial, Log: os.Stderr}
	// The data set is settled before any work: a CIFAR-10 location that
	// cannot be read is an error, and the fallback to MNIST is said once.
	cfg, note, err := cfg.ResolveData()
	if err != nil {
		return cfg, err
	}
	if note != "" {
		fmt.Fprintf(os.Stderr, "ntkharness: %s: %s\n", name, note)
	}
	return cfg, nil
}

func runFigure(args []string) error {
	fs := newFlags("figure", "NAME|all --out DIR [--scale quick|paper] [--dataset cifar10|mnist] [--cifar10 PATH]",
		figureDescription+"\n\nFigures: "+strings.Join(experiments.Names(), ", ")+
			"\nPaper scale through sweeps: "+strings.Join(experiments.SweepFigures(), ", "))
	ff := addFigureFlags(fs)
	// The name may come before or after the flags.
	var name string
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		name, args = args[0], args[1:]
	}
	if err := parseFlags(fs, args, true); err != nil {
		return err
	}
	if name == "" && fs.NArg() > 0 {
		name = fs.Arg(0)
	} else if fs.NArg() > 0 {
		return usagef("figure: unexpected argument %q (see ntkharness figure --help)", fs.Arg(0))
	}
	if fs.NArg() > 1 {
		return usagef("figure: unexpected argument %q (see ntkharness figure --help)", fs.Arg(1))
	}
	if name == "" {
		return usagef("figure: missing figure NAME (one of %s, or all)", strings.Join(experiments.Names(), ", "))
	}
	names := []string{name}
	if name == "all" {
		names = experiments.Names()
	} else if _, err := experiments.Lookup(name); err != nil {
		return usagef("figure: %v", err)
	}
	cfg, err := ff.config("figure")
	if err != nil {
		return err
	}
	for _, n := range names {
		bar := progress.New(n, 0)
		cfg.Progress = bar.Update
		c, err := experiments.Make(n, *ff.out, cfg)
		bar.Finish()
		if err != nil {
			return err
		}
		fmt.Printf("%s: %s\n", n, c.Observed)
	}
	return nil
}
