// Package experiments defines the figures of the paper "Disentangling
// Trainability and Generalization in Deep Neural Networks" as data plus a
// runner. Each figure is computed by the science packages (theory, datasets,
// ...), returned as a plots.Figure with a caption computed from its data,
// and saved by Make into an output directory; plots draws, the command line
// only parses flags.
//
// Every figure has a quick scale, sized for 2 cores in minutes, and (for the
// figures that support it) a paper scale with the paper's grids.
package experiments

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"sort"
	"strings"
	"sync"

	"github.com/ntkharness/ntkharness/datasets"
	"github.com/ntkharness/ntkharness/internal/atomicfile"
	"github.com/ntkharness/ntkharness/plots"
)

// Scales of a figure run.
const (
	Quick = "quick" // minutes on 2 cores
	Paper = "paper" // the paper's grids
)

// Config is the input of a figure run. The zero value plus Out is valid:
// quick scale, CIFAR-10 when available (else embedded MNIST), seed 0.
type Config struct {
	Scale   string // Quick (default) or Paper
	Dataset string // datasets.CIFAR10 (default) or datasets.MNIST
	CIFAR10 string // CIFAR-10 location; empty means $CIFAR10_DIR
	Seed    uint64 // seed of every subset and initialization
	// Progress, when set, is called with the work done so far and the total.
	Progress func(done, total int)

	// The paper scale of the figures with a SweepPlan runs through sweeps:
	// Results is their results root (default DIR/sweeps), Workers the cells
	// computed at once (default 1), NoRun draws from the results already
	// there (computed on a cluster) instead of computing the missing cells,
	// and RetryFailed recomputes cells recorded as failed (after a fix).
	// Partial draws even when cells are missing (as gaps), to watch a
	// sweep in progress; such a figure is never reused. Log receives the
	// sweeps' notices.
	Results     string
	Workers     int
	NoRun       bool
	RetryFailed bool
	Partial     bool
	Log         io.Writer
}

// Result is one computed figure with its caption.
type Result struct {
	Figure  plots.Figure
	Caption plots.ReportFigure // Name is filled by Make
	// Incomplete marks a figure drawn with some of its work missing
	// (Config.Partial); Done never reuses it.
	Incomplete bool
}

// Spec describes one figure of the suite. Run computes the quick scale,
// and the paper scale too when PaperInRun is set (figures cheap enough for
// one machine); otherwise Paper, when set, gives the paper scale's sweeps.
type Spec struct {
	Name       string
	Title      string
	Summary    string
	Run        func(cfg Config) (Result, error)
	PaperInRun bool
	Paper      func(cfg Config) (SweepPlan, error)
}

var registry = map[string]Spec{}

func register(s Spec) {
	if _, dup := registry[s.Name]; dup {
		panic("experiments: figure " + s.Name + " registered twice")
	}
	registry[s.Name] = s
}

// order is the order of the figures in the suite and the report.
var order = []string{"phase", "depthscales", "ntk-depth", "mean-predictor", "trainability", "pooling", "width", "dynamics"}

// Names returns the names of the implemented figures in suite order.
func Names() []string {
	var out []string
	for _, n := range order {
		if _, ok := registry[n]; ok {
			out = append(out, n)
		}
	}
	var extra []string
	for n := range registry {
		if !contains(order, n) {
			extra = append(extra, n)
		}
	}
	sort.Strings(extra)
	return append(out, extra...)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// SweepFigures returns the names of the figures whose paper scale runs
// through sweeps, in suite order.
func SweepFigures() []string {
	var out []string
	for _, n := range Names() {
		if registry[n].Paper != nil {
			out = append(out, n)
		}
	}
	return out
}

// Lookup returns the figure called name.
func Lookup(name string) (Spec, error) {
	s, ok := registry[name]
	if !ok {
		return Spec{}, fmt.Errorf("unknown figure %q (want one of %s, or all)", name, strings.Join(Names(), ", "))
	}
	return s, nil
}

// Validate checks and fills the defaults of c.
func (c Config) validate() (Config, error) {
	switch c.Scale {
	case "":
		c.Scale = Quick
	case Quick, Paper:
	default:
		return c, fmt.Errorf("scale %q: want %s or %s", c.Scale, Quick, Paper)
	}
	switch c.Dataset {
	case "":
		c.Dataset = datasets.CIFAR10
	case datasets.CIFAR10, datasets.MNIST:
	default:
		return c, fmt.Errorf("dataset %q: want %s or %s", c.Dataset, datasets.CIFAR10, datasets.MNIST)
	}
	return c, nil
}

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
	cfg, err := cfg.validate()
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
	cfg, err = cfg.validate()
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
	cfg, err := cfg.validate()
	if err != nil {
		return err
	}
	r := plots.Report{
		Title: "Trainability and generalization of deep networks",
		Intro: "Finite-width reproduction of Xiao, Pennington and Schoenholz (2020), " +
			"Disentangling Trainability and Generalization in Deep Neural Networks, at " + cfg.Scale + " scale. " +
			"Each figure links its data (CSV, JSON) and vector versions.",
		Numbers: []plots.KeyNumber{{Name: "scale", Value: cfg.Scale}, {Name: "requested data set", Value: cfg.Dataset}, {Name: "seed", Value: fmt.Sprint(cfg.Seed)}},
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

// loadData loads the train and test splits of cfg.Dataset, falling back to
// the embedded MNIST when CIFAR-10 is not available. note says which set was
// used (and why, after a fallback) for captions.
//
// why is empty unless CIFAR-10 was requested and could not be loaded.
func loadData(cfg Config) (train, test *datasets.Set, note, why string, err error) {
	key := cfg.Dataset + "\x00" + cfg.CIFAR10
	dataCache.Lock()
	defer dataCache.Unlock()
	if d, ok := dataCache.m[key]; ok {
		return d.train, d.test, d.note, d.why, nil
	}
	if train, test, note, why, err = loadDataUncached(cfg); err != nil {
		return nil, nil, "", "", err
	}
	if dataCache.m == nil {
		dataCache.m = map[string]loadedData{}
	}
	dataCache.m[key] = loadedData{train, test, note, why}
	return train, test, note, why, nil
}

// dataCache keeps the data sets loaded by this process: the sweep cells of
// a paper-scale figure would otherwise each decode the whole data set. Sets
// are never modified in place (every preprocessing step returns a new Set).
var dataCache struct {
	sync.Mutex
	m map[string]loadedData
}

type loadedData struct {
	train, test *datasets.Set
	note, why   string
}

func loadDataUncached(cfg Config) (train, test *datasets.Set, note, why string, err error) {
	if cfg.Dataset == datasets.CIFAR10 {
		train, test, err = datasets.Load(datasets.CIFAR10, datasets.Options{CIFAR10: cfg.CIFAR10})
		if err == nil {
			return train, test, "CIFAR-10", "", nil
		}
		cerr := err
		train, test, err = datasets.Load(datasets.MNIST, datasets.Options{})
		if err != nil {
			return nil, nil, "", "", err
		}
		return train, test, "MNIST (CIFAR-10 not available)", firstLine(cerr.Error()), nil
	}
	train, test, err = datasets.Load(datasets.MNIST, datasets.Options{})
	return train, test, "MNIST", "", err
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// linspace returns n evenly spaced values from a to b inclusive.
func linspace(a, b float64, n int) []float64 {
	if n == 1 {
		return []float64{a}
	}
	out := make([]float64, n)
	for i := range out {
		out[i] = a + (b-a)*float64(i)/float64(n-1)
	}
	return out
}
