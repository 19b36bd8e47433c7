package experiments

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"

	"github.com/ntkharness/ntkharness/internal/atomicfile"
	"github.com/ntkharness/ntkharness/plots"
)

// captionFile is the caption saved beside each figure.
func captionFile(dir, name string) string { return filepath.Join(dir, name+".caption.json") }

// runKey identifies what a saved figure was computed from: the settings of
// its Config that change the result and the program's version.
type runKey struct {
	Scale   string `json:"scale"`
	Dataset string `json:"dataset"`
	CIFAR10 string `json:"cifar10,omitempty"`
	Seed    uint64 `json:"seed"`
	Version string `json:"version,omitempty"`
	// Incomplete is set on figures drawn with missing work; keyOf never
	// sets it, so Done never matches them.
	Incomplete bool `json:"incomplete,omitempty"`
}

func keyOf(cfg Config) runKey {
	return runKey{Scale: cfg.Scale, Dataset: cfg.Dataset, CIFAR10: cfg.CIFAR10, Seed: cfg.Seed, Version: version()}
}

// savedCaption is the caption file: the caption and the run it belongs to.
type savedCaption struct {
	plots.ReportFigure
	Run runKey `json:"run"`
}

// version is the program's version control revision ("+dirty" when built
// from a modified tree), else its module version when it has one, or ""
// when the build records neither (go build -buildvcs=false from a source
// tree).
func version() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return ""
	}
	rev, dirty := "", false
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	switch {
	case rev != "" && dirty:
		return rev + "+dirty"
	case rev != "":
		return rev
	case info.Main.Version != "(devel)":
		return info.Main.Version
	}
	return ""
}

// Done reports whether dir holds every output of figure name (its picture,
// data and caption) computed with the same scale, data, seed and program
// version as cfg, so that a rerun can reuse it.
func Done(dir, name string, cfg Config) bool {
	cfg, _, err := cfg.ResolveData()
	if err != nil {
		return false
	}
	for _, ext := range plots.Extensions {
		if _, err := os.Stat(filepath.Join(dir, name+"."+strings.TrimPrefix(ext, "."))); err != nil {
			return false
		}
	}
	c, err := loadCaption(dir, name)
	return err == nil && c.Run == keyOf(cfg)
}

// Make computes figure name and saves it into dir as name.{png,svg,pdf,csv,
// json} plus name.caption.json, each written atomically (the caption last,
// so its presence marks a finished figure). It returns the caption.
func Make(name, dir string, cfg Config) (plots.ReportFigure, error) {
	s, err := Lookup(name)
	if err != nil {
		return plots.ReportFigure{}, err
	}
	cfg, _, err = cfg.ResolveData()
	if err != nil {
		return plots.ReportFigure{}, err
	}
	if cfg.Scale == Paper && s.Paper == nil && !s.PaperInRun {
		return plots.ReportFigure{}, fmt.Errorf("figure %s: --scale paper is not implemented yet; use quick", name)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return plots.ReportFigure{}, fmt.Errorf("output directory: %w", err)
	}
	var res Result
	if cfg.Scale == Paper && s.Paper != nil {
		var plan SweepPlan
		if plan, err = s.Paper(cfg); err == nil {
			res, err = runPlan(name, dir, cfg, plan)
		}
	} else {
		res, err = s.Run(cfg)
	}
	if err != nil {
		return plots.ReportFigure{}, fmt.Errorf("figure %s: %w", name, err)
	}
	if err := plots.Save(res.Figure, dir, name); err != nil {
		return plots.ReportFigure{}, fmt.Errorf("figure %s: %w", name, err)
	}
	c := res.Caption
	c.Name = name
	if c.Title == "" {
		c.Title = s.Title
	}
	err = atomicfile.Write(captionFile(dir, name), func(w io.Writer) error {
		e := json.NewEncoder(w)
		e.SetIndent("", "  ")
		key := keyOf(cfg)
		key.Incomplete = res.Incomplete
		return e.Encode(savedCaption{c, key})
	})
	if err != nil {
		return plots.ReportFigure{}, fmt.Errorf("figure %s: caption: %w", name, err)
	}
	return c, nil
}

// LoadCaption reads the caption Make saved for figure name in dir.
func LoadCaption(dir, name string) (plots.ReportFigure, error) {
	c, err := loadCaption(dir, name)
	return c.ReportFigure, err
}

func loadCaption(dir, name string) (savedCaption, error) {
	b, err := os.ReadFile(captionFile(dir, name))
	if err != nil {
		return savedCaption{}, err
	}
	var c savedCaption
	if err := json.Unmarshal(b, &c); err != nil {
		return savedCaption{}, fmt.Errorf("%s: %w", captionFile(dir, name), err)
	}
	return c, nil
}

// ReportOptions tune Report.
type ReportOptions struct {
	Figures []string // default Names()
	Force   bool     // recompute figures even when Done says they can be reused
	// OnFigure, when set, is called before each figure with its name and
	// whether it is reused.
	OnFigure func(name string, reused bool)
}

// Report makes (or reuses) the figures in dir and writes dir/index.html.
// A figure that fails is listed in the report without its picture and its
// error is returned after the report is written.
func Report(dir string, cfg Config, opt ReportOptions) error {
	names := opt.Figures
	if len(names) == 0 {
		names = Names()
	}
	for _, n := range names {
		if _, err := Lookup(n); err != nil {
			return err
		}
	}
	cfg, _, err := cfg.ResolveData()
	if err != nil {
		return err
	}
	r := plots.Report{
		Title: "Trainability and generalization of deep networks",
		Intro: "Finite-width reproduction of Xiao, Pennington and Schoenholz (2020), " +
			"Disentangling Trainability and Generalization in Deep Neural Networks, at " + cfg.Scale + " scale. " +
			"Each figure links its data (CSV, JSON) and vector versions.",
		Numbers: []plots.KeyNumber{{Name: "scale", Value: cfg.Scale}, {Name: "data set", Value: cfg.Dataset}, {Name: "seed", Value: fmt.Sprint(cfg.Seed)}},
	}
	var errs []error
	for _, n := range names {
		reuse := !opt.Force && Done(dir, n, cfg)
		if opt.OnFigure != nil {
			opt.OnFigure(n, reuse)
		}
		var c plots.ReportFigure
		if reuse {
			c, err = LoadCaption(dir, n)
		}
		if !reuse || err != nil {
			c, err = Make(n, dir, cfg)
		}
		if err != nil {
			errs = append(errs, err)
			s, _ := Lookup(n)
			c = plots.ReportFigure{Name: n, Title: s.Title, Observed: "not made: " + err.Error()}
		}
		r.Figures = append(r.Figures, c)
	}
	if err := plots.WriteReport(dir, r); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
