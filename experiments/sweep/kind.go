package sweep

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"sync"

	"github.com/ntkharness/ntkharness/npy"
)

// Status is the outcome of a cell or of one kind within it.
type Status string

// Cell outcomes. Diverged is a result (training blew up; the numbers up to
// that point are kept), not a failure. Failed means the cell cannot run with
// its parameters (invalid spec, memory estimate over the limit, a kind the
// binary does not know); rerunning will not help. Missing appears only in
// gathered tables, for cells without a valid result file.
const (
	StatusOK       Status = "ok"
	StatusDiverged Status = "diverged"
	StatusFailed   Status = "failed"
	StatusMissing  Status = "missing"
)

// Result is what a kind computes for one cell.
type Result struct {
	Status  Status               // StatusOK or StatusDiverged
	Reason  string               // why it diverged, when it did
	Scalars map[string]float64   // named numbers; NaN and ±Inf allowed
	Arrays  map[string]npy.Array // named arrays (spectra, curves)
}

// CellFunc computes one kind for one cell. It must be a deterministic
// function of the cell (its Spec, Seed and Settings), draw every random
// number from a source seeded by them, and return promptly when ctx is
// cancelled. Return an error made with Permanent when the cell can never
// run (its parameters are impossible); any other error is transient and the
// cell is retried on the next run.
type CellFunc func(ctx context.Context, c Cell) (Result, error)

// Cost is the estimated cost of one kind for one cell.
type Cost struct {
	Seconds     float64 // CPU time on one core of a 2-core laptop-class machine
	MemoryBytes int64   // peak resident memory
}

// CostFunc estimates a kind's cost for a cell; ok false means no estimate.
type CostFunc func(c Cell) (cost Cost, ok bool)

// Kind is a registered cell kind.
type Kind struct {
	Name string
	Run  CellFunc
	Cost CostFunc // nil when the kind has no cost model
	// Settings is the type of the kind's settings struct (WithSettings),
	// nil when the kind has not declared its settings.
	Settings reflect.Type
	// Group, when set, computes several cells at once (WithGroup).
	Group *Group
}

// KindOption configures RegisterKind.
type KindOption func(*Kind)

// WithCost gives a kind its cost model, used by plans and by the
// max_memory check before a cell runs.
func WithCost(f CostFunc) KindOption { return func(k *Kind) { k.Cost = f } }

// WithSettings declares the kind's settings: v is (a pointer to) the
// struct its cells decode with DecodeSettings. When the struct has a method
// CheckSettings() error, CheckKinds also calls it on the settings of the
// sweep and on each value of each settings axis (only the keys the kind
// reads set, the others zero). Its JSON keys, embedded
// structs included, are the settings keys the kind reads; CheckKinds refuses
// a sweep whose settings or grid name a key that none of its kinds reads, or
// give a value of the wrong type.
func WithSettings(v any) KindOption {
	t := reflect.TypeOf(v)
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil || t.Kind() != reflect.Struct {
		panic(fmt.Sprintf("sweep: WithSettings(%T): want a struct", v))
	}
	return func(k *Kind) { k.Settings = t }
}

// settingsKeys returns the top-level JSON keys of the struct type t, with
// the fields of embedded structs promoted as encoding/json does.
func settingsKeys(t reflect.Type, keys map[string]bool) {
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		ft := f.Type
		for ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		if f.Anonymous && name == "" && ft.Kind() == reflect.Struct {
			settingsKeys(ft, keys)
			continue
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		keys[name] = true
	}
}

// CheckKinds checks the sweep against the registered kinds before anything
// runs: every kind must be registered, and when all of them declare their
// settings (WithSettings), every settings key and every grid axis that is
// neither the seed nor a spec field must be read by at least one of them,
// and its values must decode into the settings of the kinds that read it
// (unknown keys inside nested settings objects are refused too).
func (s *Sweep) CheckKinds() error {
	var ks []Kind
	for _, name := range s.Kinds {
		k, ok := LookupKind(name)
		if !ok {
			return fmt.Errorf("sweep: unknown kind %q (available: %s)", name, strings.Join(Kinds(), ", "))
		}
		ks = append(ks, k)
	}
	for _, k := range ks {
		if k.Settings == nil {
			return nil // a kind without declared settings reads any key
		}
	}
	keysOf := make([]map[string]bool, len(ks))
	known := map[string]bool{}
	for i, k := range ks {
		keysOf[i] = map[string]bool{}
		settingsKeys(k.Settings, keysOf[i])
		for key := range keysOf[i] {
			known[key] = true
		}
	}
	knownList := func() string {
		l := make([]string, 0, len(known))
		for k := range known {
			l = append(l, k)
		}
		sort.Strings(l)
		return strings.Join(l, ", ")
	}
	settingKeys := make([]string, 0, len(s.Settings))
	for key := range s.Settings {
		settingKeys = append(settingKeys, key)
	}
	sort.Strings(settingKeys)
	for _, key := range settingKeys {
		if !known[key] {
			return fmt.Errorf("sweep: settings key %q is not a setting of %s (they read: %s)", key, strings.Join(s.Kinds, ", "), knownList())
		}
	}
	fields := specFields()
	for _, name := range s.axes {
		if name != SeedAxis && !fields[name] && !known[name] {
			return fmt.Errorf("sweep: grid axis %q is not the seed, a spec field or a setting of %s (they read: %s)", name, strings.Join(s.Kinds, ", "), knownList())
		}
	}
	// The values: the settings, then each value of each settings axis.
	check := func(settings map[string]any, what string) error {
		for i, k := range ks {
			sub := map[string]any{}
			for key, v := range settings {
				if keysOf[i][key] {
					sub[key] = v
				}
			}
			b, err := json.Marshal(sub)
			if err != nil {
				return fmt.Errorf("sweep: %s: %v", what, err)
			}
			dec := json.NewDecoder(bytes.NewReader(b))
			dec.DisallowUnknownFields()
			v := reflect.New(k.Settings).Interface()
			if err := dec.Decode(v); err != nil {
				return fmt.Errorf("sweep: %s: kind %s: %v", what, k.Name, err)
			}
			if c, ok := v.(interface{ CheckSettings() error }); ok {
				if err := c.CheckSettings(); err != nil {
					return fmt.Errorf("sweep: %s: kind %s: %v", what, k.Name, err)
				}
			}
		}
		return nil
	}
	if err := check(s.Settings, "settings"); err != nil {
		return err
	}
	for _, name := range s.axes {
		if name == SeedAxis || fields[name] {
			continue
		}
		ax := s.Grid[name]
		vals := ax.Values
		if ax.rng != nil {
			vals = vals[:1] // all numbers
		}
		for _, v := range vals {
			if err := check(map[string]any{name: v}, fmt.Sprintf("grid axis %s value %v", name, v)); err != nil {
				return err
			}
		}
	}
	return nil
}

var (
	kindsMu sync.RWMutex
	kinds   = map[string]Kind{}
)

// RegisterKind makes a cell kind available to sweeps under name. It is meant
// for init functions and panics if name is empty, fn is nil or the name is
// taken.
func RegisterKind(name string, fn CellFunc, opts ...KindOption) {
	if name == "" || fn == nil || !axisName.MatchString(name) {
		panic(fmt.Sprintf("sweep: RegisterKind(%q): need a valid name and a non-nil function", name))
	}
	k := Kind{Name: name, Run: fn}
	for _, o := range opts {
		o(&k)
	}
	kindsMu.Lock()
	defer kindsMu.Unlock()
	if _, dup := kinds[name]; dup {
		panic("sweep: kind registered twice: " + name)
	}
	kinds[name] = k
}

// LookupKind returns the kind registered under name.
func LookupKind(name string) (Kind, bool) {
	kindsMu.RLock()
	defer kindsMu.RUnlock()
	k, ok := kinds[name]
	return k, ok
}

// Kinds returns the names of the registered kinds, sorted.
func Kinds() []string {
	kindsMu.RLock()
	defer kindsMu.RUnlock()
	names := make([]string, 0, len(kinds))
	for n := range kinds {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// PermanentError marks a cell that can never run with its parameters.
type PermanentError struct{ Err error }

func (e *PermanentError) Error() string { return e.Err.Error() }
func (e *PermanentError) Unwrap() error { return e.Err }

// Permanent wraps err to say that retrying the cell cannot help.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &PermanentError{err}
}

// Permanentf is Permanent(fmt.Errorf(format, args...)).
func Permanentf(format string, args ...any) error { return Permanent(fmt.Errorf(format, args...)) }

// IsPermanent reports whether err (or an error it wraps) is permanent.
func IsPermanent(err error) bool {
	var p *PermanentError
	return errors.As(err, &p)
}

// Exit statuses of a worker process (ntkharness sweep run), chosen so that a
// cluster retries only what a retry can fix.
const (
	ExitOK        = 0 // every selected cell has a result (ok or diverged)
	ExitTransient = 1 // some cell hit a transient error: retry the task
	ExitUsage     = 2 // bad command line or sweep file: do not retry
	ExitPermanent = 3 // some cell failed permanently (recorded in its file): do not retry
)

// ExitCode maps an error of Run to the worker's exit status.
func ExitCode(err error) int {
	switch {
	case err == nil:
		return ExitOK
	case IsPermanent(err):
		return ExitPermanent
	default:
		return ExitTransient
	}
}
