package main

import (
	"fmt"
	"strings"

	"github.com/ntkharness/ntkharness/cmd/ntkharness/internal/progress"
	"github.com/ntkharness/ntkharness/datasets"
	"github.com/ntkharness/ntkharness/experiments"
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
CIFAR-10 is used when --cifar10 or $CIFAR10_DIR names it; otherwise the
figures fall back to the embedded MNIST and say so in their caption.`

// figureFlags are the flags shared by figure and report.
type figureFlags struct {
	scale, dataset, cifar10, out *string
	seed                         *uint64
}

func addFigureFlags(fs *flagSet) figureFlags {
	return figureFlags{
		scale:   fs.String("scale", experiments.Quick, "grid size: quick (minutes on 2 cores) or paper"),
		dataset: fs.String("dataset", datasets.CIFAR10, "data set: cifar10 (falls back to the embedded mnist when absent) or mnist"),
		cifar10: fs.String("cifar10", "", "CIFAR-10 binary release: folder or .tar.gz `PATH` (default $CIFAR10_DIR)"),
		out:     fs.String("out", "", "output `DIR` (required)"),
		seed:    fs.Uint64("seed", 0, "seed of every subset and initialization"),
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
	return experiments.Config{Scale: *f.scale, Dataset: *f.dataset, CIFAR10: *f.cifar10, Seed: *f.seed}, nil
}

func runFigure(args []string) error {
	fs := newFlags("figure", "NAME|all --out DIR [--scale quick|paper] [--dataset cifar10|mnist] [--cifar10 PATH]",
		figureDescription+"\n\nFigures: "+strings.Join(experiments.Names(), ", "))
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
