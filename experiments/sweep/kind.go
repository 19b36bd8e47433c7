package sweep

import (
	"context"
	"errors"
	"fmt"
	"sort"
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
}

// KindOption configures RegisterKind.
type KindOption func(*Kind)

// WithCost gives a kind its cost model, used by plans and by the
// max_memory check before a cell runs.
func WithCost(f CostFunc) KindOption { return func(k *Kind) { k.Cost = f } }

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
