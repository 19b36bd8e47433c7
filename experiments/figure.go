package experiments

import (
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/ntkharness/ntkharness/experiments/cells"
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

// Figure describes one figure of the suite. Run computes the quick scale,
// and the paper scale too when PaperInRun is set (figures cheap enough for
// one machine); otherwise Paper, when set, gives the paper scale's sweeps.
type Figure struct {
	Name       string
	Title      string
	Summary    string
	Run        func(cfg Config) (Result, error)
	PaperInRun bool
	Paper      func(cfg Config) (SweepPlan, error)
}

var registry = map[string]Figure{}

func register(s Figure) {
	if _, dup := registry[s.Name]; dup {
		panic("experiments: figure " + s.Name + " registered twice")
	}
	registry[s.Name] = s
}

// order is the order of the figures in the suite and the report.
var order = []string{"phase", "depthscales", "ntk-depth", "mean-predictor", "trainability", "pooling", "agreement", "width", "dynamics"}

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
func Lookup(name string) (Figure, error) {
	s, ok := registry[name]
	if !ok {
		return Figure{}, fmt.Errorf("unknown figure %q (want one of %s, or all)", name, strings.Join(Names(), ", "))
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
	src, err := cells.Source{Dataset: c.Dataset, CIFAR10: c.CIFAR10}.Validate()
	if err != nil {
		return c, err
	}
	c.Dataset = src.Dataset
	return c, nil
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
