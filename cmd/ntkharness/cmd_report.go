package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/ntkharness/ntkharness/experiments"
	"github.com/ntkharness/ntkharness/internal/progress"
)

func init() {
	register("report", "make the figures and an HTML report over them (resumable)", runReport)
}

const reportDescription = `
Makes the figures (all, or those of --figures) into --out and writes
--out/index.html with every figure, what theory predicts, what the run shows
and key numbers. A figure whose outputs already exist in --out is reused
unless --force, so an interrupted report resumes where it stopped.`

func runReport(args []string) error {
	fs := newFlags("report", "--out DIR [--figures A,B,...] [--force] [--scale quick|paper] [--dataset cifar10|mnist]",
		reportDescription+"\n\nFigures: "+strings.Join(experiments.Names(), ", "))
	ff := addFigureFlags(fs)
	list := fs.String("figures", "", "comma-separated figure names (default all)")
	force := fs.Bool("force", false, "recompute figures whose outputs exist")
	if err := parseFlags(fs, args, false); err != nil {
		return err
	}
	cfg, err := ff.config("report")
	if err != nil {
		return err
	}
	var names []string
	if *list != "" {
		for _, n := range strings.Split(*list, ",") {
			n = strings.TrimSpace(n)
			if _, err := experiments.Lookup(n); err != nil {
				return usagef("report: --figures: %v", err)
			}
			names = append(names, n)
		}
	}
	var bar *progress.Bar
	cfg.Progress = func(done, total int) { bar.Update(done, total) }
	opt := experiments.ReportOptions{Figures: names, Force: *force, OnFigure: func(n string, reused bool) {
		bar.Finish()
		bar = nil
		if reused {
			fmt.Fprintf(os.Stderr, "%s: reusing the finished figure\n", n)
			return
		}
		bar = progress.New(n, 0)
	}}
	err = experiments.Report(*ff.out, cfg, opt)
	bar.Finish()
	if err != nil {
		return err
	}
	fmt.Printf("wrote %s\n", *ff.out+"/index.html")
	return nil
}
