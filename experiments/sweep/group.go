package sweep

import (
	"context"
	"fmt"
	"os"
	"runtime/debug"
	"strings"
)

// Group lets a kind compute several cells at once, for instance S networks
// that differ only in their variances, seed and step size trained as one
// stacked ensemble. Run and Estimate partition the cells they are given
// (in index order, so that a cluster task over consecutive cells groups
// within its own cells) by the Key of every grouped kind of the sweep; a
// kind without a Group still computes each cell of a group alone. Results
// are written per cell, as without groups, so a rerun computes only the
// cells of a group that have no result yet.
type Group struct {
	// Key returns the cell's group key: cells whose keys are equal for
	// every grouped kind of the sweep may be computed together; ok false
	// computes the cell alone. Key must be cheap (no data loading).
	Key func(c Cell) (key string, ok bool)
	// Run computes the kind for the cells of one group (at least two, in
	// index order): results[j] and errs[j] are what the kind's CellFunc
	// returns for cells[j], the same numbers to rounding. A transient
	// error of one cell does not discard the results of the others.
	Run func(ctx context.Context, cells []Cell) (results []Result, errs []error)
	// Cost, optional, estimates the cost of computing cells as one group
	// (plans then use it instead of the sum of the cells' costs, and Run
	// splits a group whose memory estimate exceeds the limit).
	Cost func(cells []Cell) (Cost, bool)
	// Max bounds the cells of one group; 0 means no bound.
	Max int
}

// WithGroup lets the kind compute cells in groups (see Group).
func WithGroup(g Group) KindOption {
	if g.Key == nil || g.Run == nil {
		panic("sweep: WithGroup: need Key and Run")
	}
	return func(k *Kind) { k.Group = &g }
}

// groupedKinds returns the kinds of the sweep that compute cells in groups.
func (s *Sweep) groupedKinds() []Kind {
	var ks []Kind
	for _, name := range s.Kinds {
		if k, ok := LookupKind(name); ok && k.Group != nil {
			ks = append(ks, k)
		}
	}
	return ks
}

// Groups partitions cells into the groups Run computes together: cells
// whose keys agree for every grouped kind of the sweep, in the order of
// their first cell, each group in index order and split so that it has at
// most the smallest Max of those kinds and, where a kind estimates a
// group's cost, a memory estimate within memLimit (0: no limit). Cells
// with an invalid spec, or that a kind keeps alone, are groups of one.
// Without grouped kinds every cell is a group of one.
func (s *Sweep) Groups(cells []int, memLimit int64) [][]int {
	ks := s.groupedKinds()
	if len(ks) == 0 {
		out := make([][]int, len(cells))
		for j, i := range cells {
			out[j] = []int{i}
		}
		return out
	}
	maxSize := 0
	for _, k := range ks {
		if k.Group.Max > 0 && (maxSize == 0 || k.Group.Max < maxSize) {
			maxSize = k.Group.Max
		}
	}
	// A cell kept alone is an entry with an empty key (keys of grouped
	// cells are never empty: they hold the kinds' names).
	type entry struct {
		key   string
		cells []int
	}
	var entries []*entry
	byKey := map[string]*entry{}
	for _, i := range cells {
		key, ok := groupKey(ks, s.Cell(i))
		if !ok {
			entries = append(entries, &entry{cells: []int{i}})
			continue
		}
		e := byKey[key]
		if e == nil {
			e = &entry{key: key}
			byKey[key] = e
			entries = append(entries, e)
		}
		e.cells = append(e.cells, i)
	}
	var out [][]int
	for _, e := range entries {
		if e.key == "" {
			out = append(out, e.cells)
			continue
		}
		out = append(out, s.splitGroup(ks, e.cells, maxSize, memLimit)...)
	}
	return out
}

// groupKey is the combined key of c for the grouped kinds ks.
func groupKey(ks []Kind, c Cell) (string, bool) {
	if c.SpecErr != nil || c.Spec.Validate() != nil {
		return "", false
	}
	var b strings.Builder
	for _, k := range ks {
		key, ok := k.Group.Key(c)
		if !ok {
			return "", false
		}
		fmt.Fprintf(&b, "%s\x00%d\x00%s\x00", k.Name, len(key), key)
	}
	return b.String(), true
}

// splitGroup cuts the cells of one key into consecutive groups of at most
// maxSize cells (0: any number) whose group memory estimates stay within
// memLimit (0: no limit).
func (s *Sweep) splitGroup(ks []Kind, idx []int, maxSize int, memLimit int64) [][]int {
	fits := func(g []int) bool {
		if maxSize > 0 && len(g) > maxSize {
			return false
		}
		if memLimit <= 0 || len(g) < 2 {
			return true
		}
		cs := make([]Cell, len(g))
		for j, i := range g {
			cs[j] = s.Cell(i)
		}
		for _, k := range ks {
			if k.Group.Cost == nil {
				continue
			}
			if cost, ok := k.Group.Cost(cs); ok && cost.MemoryBytes > memLimit {
				return false
			}
		}
		return true
	}
	var out [][]int
	var cur []int
	for _, i := range idx {
		if next := append(append([]int(nil), cur...), i); len(cur) == 0 || fits(next) {
			cur = next
			continue
		}
		out = append(out, cur)
		cur = []int{i}
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}

// runGroup calls the kind's group function, turning a panic into a
// permanent failure of every cell of the group, and checks that it
// returned one result and one error per cell.
func runGroup(ctx context.Context, k Kind, cells []Cell) (res []Result, errs []error) {
	defer func() {
		if p := recover(); p != nil {
			if os.Getenv("NTKHARNESS_DEBUG") != "" {
				os.Stderr.Write(debug.Stack())
			}
			res, errs = make([]Result, len(cells)), make([]error, len(cells))
			for j := range errs {
				errs[j] = Permanentf("internal error: %v", p)
			}
		}
	}()
	res, errs = k.Group.Run(ctx, cells)
	if len(res) != len(cells) || len(errs) != len(cells) {
		panic(fmt.Sprintf("group of %s returned %d results and %d errors for %d cells", k.Name, len(res), len(errs), len(cells)))
	}
	return res, errs
}
