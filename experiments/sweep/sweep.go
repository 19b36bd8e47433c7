// Package sweep runs grids of independent experiment cells, locally or as
// cluster job arrays, and assembles their results into one table.
//
// A sweep file (JSON, or YAML) names a template architecture (a spec.Spec),
// grid axes, free-form settings and the cell kinds to compute:
//
//	{
//	  "name": "phase-diagram",
//	  "spec": {"arch": "fcn", "act": "erf", "depth": 1, "sw2": 1, "sb2": 0.18},
//	  "grid": {"sw2": {"from": 0.5, "to": 3, "steps": 40}, "depth": [1, 2, 4, 8], "seed": [0, 1]},
//	  "kinds": ["theory-gd"],
//	  "settings": {"dataset": "cifar10", "n_train": 256}
//	}
//
// The grid is the Cartesian product of its axes. An axis named after a Spec
// field (arch, act, depth, width, sw2, sb2, filter, padding, outputs, dtype)
// overrides that field of the template; the axis "seed" sets the cell's seed;
// any other axis overrides the top-level settings key of the same name. Axes
// are enumerated in the order of "order" when given, else in lexicographic
// order of their names, the last axis varying fastest: with axes a_1..a_m of
// sizes n_1..n_m, cell index i has coordinates given by the mixed-radix
// digits of i, i = sum_j k_j prod_{l>j} n_l.
//
// Every cell is a deterministic function of the sweep file and its index.
// Results are written atomically to DIR/<hash>/cells/<index>.json, where hash
// is a prefix of the SHA-256 of the sweep's canonical JSON (see Sweep.Hash),
// so a changed sweep never mixes its results with an older one, and a rerun
// skips every cell that already has a valid result file.
//
// # Cell kinds
//
// What a cell computes is a kind, registered once by name. The built-in kind
// "synthetic" needs no other package (see Synthetic). A kind that wraps a
// package of the harness is one file with one RegisterKind call, e.g.
//
//	func init() {
//		sweep.RegisterKind("theory-gd", func(ctx context.Context, c sweep.Cell) (sweep.Result, error) {
//			var st struct{ Dataset string `json:"dataset"` } // the cell's settings
//			if err := c.DecodeSettings(&st); err != nil {
//				return sweep.Result{}, sweep.Permanent(err)
//			}
//			... compute from c.Spec, c.Seed and st; impossible inputs
//			    return sweep.Permanent(err), a NaN loss returns
//			    Result{Status: sweep.StatusDiverged, ...} ...
//			return sweep.Result{Scalars: map[string]float64{"kappa": kappa}}, nil
//		}, sweep.WithCost(func(c sweep.Cell) (sweep.Cost, bool) { ... }),
//			sweep.WithSettings(theoryGDSettings{}))
//	}
//
// WithSettings declares the struct the kind decodes its settings into;
// Sweep.CheckKinds, which the command line runs before planning, running,
// emitting or gathering, then refuses a sweep that names an unknown kind, a
// settings key or grid axis that none of its kinds reads (a misspelt
// "n_trian" would otherwise run with the default), or a value of the wrong
// type.
//
// A kind may also compute several cells at once (WithGroup): cells whose
// group keys agree, say networks that differ only in their variances and
// seeds, are then computed by one call, and Run still writes and resumes
// each cell on its own. Plans show the groups and their cost.
//
// The cost model is optional; with it, plans show the total CPU time and the
// peak memory, and cells whose memory estimate exceeds the sweep's
// max_memory fail before they run instead of being killed for memory.
//
// # Failures and exit statuses
//
// A cell that diverges is a result (status diverged). A cell that cannot run
// (invalid spec, memory estimate over max_memory, an error the kind marks
// Permanent, a panic) is written with status failed and the reason, and the
// worker exits with ExitPermanent (3), which the emitted Kubernetes Job maps
// to FailIndex; a transient error writes nothing and exits 1, so the task is
// retried. Failed cells count as done on reruns unless RetryFailed is set.
package sweep

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"

	"github.com/ntkharness/ntkharness/spec"
	"k8s.io/apimachinery/pkg/api/resource"
	"sigs.k8s.io/yaml"
)

// MaxCells bounds the number of cells of one sweep; a larger grid is almost
// certainly a mistake in the file (and its listing would not fit in memory).
const MaxCells = 10_000_000

// SeedAxis is the axis name that sets a cell's seed.
const SeedAxis = "seed"

// File is a sweep file as written by its author.
type File struct {
	// Name and Description are for people; they do not enter the hash.
	Name        string `json:"name,omitempty"`
	Description string `json:"description,omitempty"`
	// Spec is the architecture template; grid axes named after its fields
	// override them per cell.
	Spec spec.Spec `json:"spec"`
	// Grid maps an axis name to its values.
	Grid map[string]Axis `json:"grid,omitempty"`
	// Order lists the axis names, slowest first; default lexicographic.
	Order []string `json:"order,omitempty"`
	// Kinds names the registered cell kinds every cell computes.
	Kinds []string `json:"kinds"`
	// Settings is passed to the kinds (dataset, training length, ...).
	Settings map[string]any `json:"settings,omitempty"`
	// Seed is the cell seed when the grid has no "seed" axis.
	Seed int64 `json:"seed,omitempty"`
	// MaxMemory (a quantity such as "8Gi" or "512Mi") fails, without running
	// it, any cell whose memory estimate exceeds it.
	MaxMemory string `json:"max_memory,omitempty"`
}

// Axis is the list of values of one grid axis. In a file it is either a
// list of numbers, strings or booleans, or a range
// {"from": a, "to": b, "steps": n} of n evenly spaced numbers from a to b
// inclusive ({"log": true} spaces them evenly in log scale; a, b > 0).
type Axis struct {
	Values []any
	rng    *axisRange // the range it was given as, if any
}

type axisRange struct {
	From  *float64 `json:"from"`
	To    *float64 `json:"to"`
	Steps int      `json:"steps"`
	Log   bool     `json:"log,omitempty"`
}

// UnmarshalJSON reads a list of scalars or a range.
func (a *Axis) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '{' {
		var r axisRange
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&r); err != nil {
			return fmt.Errorf("range: %v (want from, to, steps and optionally log)", err)
		}
		if r.From == nil || r.To == nil {
			return errors.New("range needs both from and to")
		}
		from, to := *r.From, *r.To
		if r.Steps < 1 {
			return fmt.Errorf("range steps %d: must be at least 1", r.Steps)
		}
		if r.Steps > MaxCells {
			return fmt.Errorf("range steps %d: more than %d", r.Steps, MaxCells)
		}
		if r.Steps == 1 && from != to {
			return fmt.Errorf("range from %v to %v with 1 step: give steps >= 2 or from == to", from, to)
		}
		if r.Log && (from <= 0 || to <= 0) {
			return fmt.Errorf("log range from %v to %v: both ends must be positive", from, to)
		}
		a.rng = &r
		a.Values = make([]any, r.Steps)
		for i := range r.Steps {
			var v float64
			switch {
			case i == r.Steps-1:
				v = to
			case r.Log:
				v = math.Exp(math.Log(from) + (math.Log(to)-math.Log(from))*float64(i)/float64(r.Steps-1))
			default:
				v = from + (to-from)*float64(i)/float64(r.Steps-1)
			}
			a.Values[i] = v
		}
		return nil
	}
	var vals []any
	if err := json.Unmarshal(b, &vals); err != nil {
		return fmt.Errorf("axis: want a list of values or a range object: %v", err)
	}
	if len(vals) == 0 {
		return errors.New("axis has no values")
	}
	for i, v := range vals {
		switch v.(type) {
		case float64, string, bool:
		default:
			return fmt.Errorf("value %d (%v): axis values must be numbers, strings or booleans", i, v)
		}
	}
	a.Values = vals
	return nil
}

// MarshalJSON writes the axis as it was given: a range or a list.
func (a Axis) MarshalJSON() ([]byte, error) {
	if a.rng != nil {
		return json.Marshal(a.rng)
	}
	return json.Marshal(a.Values)
}

// Sweep is a parsed and checked sweep file.
type Sweep struct {
	File
	axes      []string // axis names, slowest first
	radix     []int    // len(Grid[axes[j]].Values)
	n         int      // number of cells
	canonical []byte
	hash      string
	maxMem    int64
}

var axisName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.-]*$`)

// specFields returns the JSON names of the Spec fields.
func specFields() map[string]bool {
	m := map[string]bool{}
	t := reflect.TypeOf(spec.Spec{})
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if name != "" && name != "-" {
			m[name] = true
		}
	}
	return m
}

// Load reads and checks a sweep file; files ending in .yaml or .yml are YAML,
// anything else JSON.
func Load(path string) (*Sweep, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	ext := strings.ToLower(filepath.Ext(path))
	if ext == ".yaml" || ext == ".yml" {
		b, err = yaml.YAMLToJSON(b)
		if err != nil {
			return nil, fmt.Errorf("%s: %v", path, err)
		}
	}
	s, err := Parse(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	return s, nil
}

// Parse reads and checks a sweep file in JSON.
func Parse(b []byte) (*Sweep, error) {
	var f File
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("sweep file: %v", err)
	}
	if dec.More() {
		return nil, errors.New("sweep file: trailing data after the JSON object")
	}
	return New(f)
}

// New checks f and returns the sweep it describes.
func New(f File) (*Sweep, error) {
	s := &Sweep{File: f}
	if len(f.Kinds) == 0 {
		return nil, errors.New("sweep: no kinds: list the cell kinds to compute, e.g. \"kinds\": [\"synthetic\"]")
	}
	seen := map[string]bool{}
	for _, k := range f.Kinds {
		if seen[k] {
			return nil, fmt.Errorf("sweep: kind %q listed twice", k)
		}
		seen[k] = true
		if !axisName.MatchString(k) {
			return nil, fmt.Errorf("sweep: kind %q: not a valid name", k)
		}
	}
	s.Kinds = append([]string(nil), f.Kinds...)
	sort.Strings(s.Kinds)
	// Axes and their order.
	names := make([]string, 0, len(f.Grid))
	for name, ax := range f.Grid {
		if !axisName.MatchString(name) {
			return nil, fmt.Errorf("sweep: axis %q: names are letters, digits, '_', '.', '-', not starting with a digit", name)
		}
		if len(ax.Values) == 0 {
			return nil, fmt.Errorf("sweep: axis %q has no values", name)
		}
		names = append(names, name)
	}
	sort.Strings(names)
	if len(f.Order) > 0 {
		if len(f.Order) != len(names) {
			return nil, fmt.Errorf("sweep: order lists %d axes but the grid has %d (%s)", len(f.Order), len(names), strings.Join(names, ", "))
		}
		inOrder := map[string]bool{}
		for _, name := range f.Order {
			if _, ok := f.Grid[name]; !ok {
				return nil, fmt.Errorf("sweep: order names axis %q, which is not in the grid", name)
			}
			if inOrder[name] {
				return nil, fmt.Errorf("sweep: order names axis %q twice", name)
			}
			inOrder[name] = true
		}
		names = append([]string(nil), f.Order...)
	}
	s.axes = names
	s.Order = names
	s.n = 1
	for _, name := range names {
		k := len(f.Grid[name].Values)
		s.radix = append(s.radix, k)
		if s.n > MaxCells/k {
			return nil, fmt.Errorf("sweep: the grid has more than %d cells", MaxCells)
		}
		s.n *= k
	}
	// Every axis value must fit the field it sets.
	fields := specFields()
	for _, name := range names {
		for _, v := range f.Grid[name].Values {
			switch {
			case name == SeedAxis:
				if _, err := seedOf(v); err != nil {
					return nil, fmt.Errorf("sweep: axis seed: %v", err)
				}
			case fields[name]:
				if _, err := applySpec(f.Spec, map[string]any{name: v}); err != nil {
					return nil, fmt.Errorf("sweep: axis %s value %v: %v", name, v, err)
				}
			}
		}
	}
	if f.MaxMemory != "" {
		q, err := resource.ParseQuantity(f.MaxMemory)
		if err != nil {
			return nil, fmt.Errorf("sweep: max_memory %q: %v (want e.g. 8Gi or 512Mi)", f.MaxMemory, err)
		}
		if q.Sign() <= 0 {
			return nil, fmt.Errorf("sweep: max_memory %q: must be positive", f.MaxMemory)
		}
		s.maxMem = q.Value()
	}
	// Canonical form: keys sorted (encoding/json sorts map keys), kinds
	// sorted, order explicit, numbers in Go's shortest round-trip form.
	canon, err := json.MarshalIndent(s.File, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("sweep: %v", err)
	}
	s.canonical = append(canon, '\n')
	h := s.File
	h.Name, h.Description = "", ""
	hb, err := json.Marshal(h)
	if err != nil {
		return nil, fmt.Errorf("sweep: %v", err)
	}
	sum := sha256.Sum256(hb)
	s.hash = hex.EncodeToString(sum[:])[:HashLen]
	return s, nil
}

// HashLen is the number of hex digits of the SHA-256 kept in Hash.
const HashLen = 12

// Hash identifies the sweep's content: the first HashLen hex digits of the
// SHA-256 of its canonical JSON with name and description removed.
func (s *Sweep) Hash() string { return s.hash }

// Canonical returns the sweep file in canonical JSON; parsing it gives a
// sweep with the same Hash.
func (s *Sweep) Canonical() []byte { return append([]byte(nil), s.canonical...) }

// Len returns the number of cells.
func (s *Sweep) Len() int { return s.n }

// Axes returns the axis names, slowest varying first.
func (s *Sweep) Axes() []string { return append([]string(nil), s.axes...) }

// MaxMemoryBytes returns the max_memory limit in bytes, 0 when unset.
func (s *Sweep) MaxMemoryBytes() int64 { return s.maxMem }

// Param is the value of one axis in one cell.
type Param struct {
	Name  string
	Value any // float64, string or bool
}

// Cell is one point of the grid, everything a kind needs to compute it.
type Cell struct {
	Index  int
	Params []Param // the axis values, in axis order
	// Spec is the template with the spec axes applied and defaults filled
	// in. It is not validated: kinds call Validate or ValidateFinite.
	Spec     spec.Spec
	Seed     int64
	Settings map[string]any // a private copy; settings axes applied
	// SpecErr is the error of applying the axes to the template, if any.
	SpecErr error
}

// Cell returns cell i, 0 <= i < Len(); it panics on an index out of range.
func (s *Sweep) Cell(i int) Cell {
	if i < 0 || i >= s.n {
		panic(fmt.Sprintf("sweep: cell %d out of range [0, %d)", i, s.n))
	}
	c := Cell{Index: i, Seed: s.Seed}
	c.Params = make([]Param, len(s.axes))
	rem := i
	for j := len(s.axes) - 1; j >= 0; j-- {
		k := rem % s.radix[j]
		rem /= s.radix[j]
		c.Params[j] = Param{s.axes[j], s.Grid[s.axes[j]].Values[k]}
	}
	fields := specFields()
	over := map[string]any{}
	c.Settings = deepCopy(s.Settings)
	for _, p := range c.Params {
		switch {
		case p.Name == SeedAxis:
			c.Seed, _ = seedOf(p.Value) // checked in New
		case fields[p.Name]:
			over[p.Name] = p.Value
		default:
			if c.Settings == nil {
				c.Settings = map[string]any{}
			}
			c.Settings[p.Name] = p.Value
		}
	}
	c.Spec, c.SpecErr = applySpec(s.Spec, over)
	c.Spec = c.Spec.WithDefaults()
	return c
}

// ParamMap returns the cell's axis values by name.
func (c Cell) ParamMap() map[string]any {
	m := make(map[string]any, len(c.Params))
	for _, p := range c.Params {
		m[p.Name] = p.Value
	}
	return m
}

// String lists the axis values, e.g. "depth=2 seed=0 sw2=1.5".
func (c Cell) String() string {
	parts := make([]string, len(c.Params))
	for i, p := range c.Params {
		parts[i] = fmt.Sprintf("%s=%v", p.Name, p.Value)
	}
	return strings.Join(parts, " ")
}

// DecodeSettings unmarshals the cell's settings into v (a pointer to a
// struct with JSON tags); keys that v does not have are ignored, since the
// settings are shared by all kinds of the sweep.
func (c Cell) DecodeSettings(v any) error {
	b, err := json.Marshal(c.Settings)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("settings: %v", err)
	}
	return nil
}

// applySpec sets the named JSON fields of t.
func applySpec(t spec.Spec, over map[string]any) (spec.Spec, error) {
	if len(over) == 0 {
		return t, nil
	}
	b, _ := json.Marshal(t)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	for k, v := range over {
		m[k] = v
	}
	b, _ = json.Marshal(m)
	var out spec.Spec
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&out); err != nil {
		return t, err
	}
	return out, nil
}

func seedOf(v any) (int64, error) {
	f, ok := v.(float64)
	if !ok || f != math.Trunc(f) || math.Abs(f) > 1<<53 {
		return 0, fmt.Errorf("value %v: seeds must be integers", v)
	}
	return int64(f), nil
}

func deepCopy(m map[string]any) map[string]any {
	if m == nil {
		return nil
	}
	b, _ := json.Marshal(m)
	var out map[string]any
	_ = json.Unmarshal(b, &out)
	return out
}
