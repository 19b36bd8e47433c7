package sweep

import (
	"context"
	"fmt"
	"os"
	"reflect"
	"slices"
	"sync"
	"testing"

	"github.com/ntkharness/ntkharness/spec"
)

// groupCalls records the cells of every call of the test-group kind's
// group function.
var groupCalls struct {
	sync.Mutex
	cells [][]int
}

type groupTestSettings struct {
	Fail       []int `json:"fail"`
	Transient  []int `json:"transient"`
	PanicGroup bool  `json:"panic_group"`
}

// groupTestCell is the test-group kind for one cell: sw2 * depth + seed,
// or the failure its settings ask for.
func groupTestCell(c Cell) (Result, error) {
	var st groupTestSettings
	if err := c.DecodeSettings(&st); err != nil {
		return Result{}, Permanent(err)
	}
	switch {
	case slices.Contains(st.Fail, c.Index):
		return Result{}, Permanentf("cell %d fails", c.Index)
	case slices.Contains(st.Transient, c.Index):
		return Result{}, fmt.Errorf("cell %d is unlucky", c.Index)
	}
	return Result{Scalars: map[string]float64{"value": c.Spec.SW2*float64(c.Spec.Depth) + float64(c.Seed)}}, nil
}

func init() {
	RegisterKind("test-group", func(ctx context.Context, c Cell) (Result, error) { return groupTestCell(c) },
		WithSettings(groupTestSettings{}),
		WithCost(func(c Cell) (Cost, bool) { return Cost{Seconds: 1, MemoryBytes: 100}, true }),
		WithGroup(Group{
			Key: func(c Cell) (string, bool) { return fmt.Sprint(c.Spec.Depth), c.Spec.Depth < 3 },
			Run: func(ctx context.Context, cells []Cell) ([]Result, []error) {
				var st groupTestSettings
				_ = cells[0].DecodeSettings(&st)
				if st.PanicGroup {
					panic("group")
				}
				groupCalls.Lock()
				var idx []int
				for _, c := range cells {
					idx = append(idx, c.Index)
				}
				groupCalls.cells = append(groupCalls.cells, idx)
				groupCalls.Unlock()
				ReportProgress(ctx, 1, 2) // half way
				res, errs := make([]Result, len(cells)), make([]error, len(cells))
				for j, c := range cells {
					res[j], errs[j] = groupTestCell(c)
				}
				return res, errs
			},
			// A group costs one second plus a tenth per cell.
			Cost: func(cells []Cell) (Cost, bool) {
				return Cost{Seconds: 1 + 0.1*float64(len(cells)), MemoryBytes: 100 * int64(len(cells))}, true
			},
			Max: 3,
		}))
}

// groupSweep has depths 1, 2, 3 (slowest) and four sw2: cells 0-3 are one
// key, 4-7 another, 8-11 (depth 3) are never grouped.
func groupSweep(t *testing.T, settings map[string]any) *Sweep {
	t.Helper()
	s, err := New(File{Spec: spec.Spec{Arch: spec.FCN, Act: spec.Erf, Depth: 1, SW2: 1, SB2: 0.1},
		Grid:  map[string]Axis{"depth": {Values: []any{1.0, 2.0, 3.0}}, "sw2": {Values: []any{1.0, 2.0, 3.0, 4.0}}},
		Order: []string{"depth", "sw2"}, Kinds: []string{"test-group"}, Settings: settings, Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestGroups(t *testing.T) {
	s := groupSweep(t, nil)
	all := make([]int, s.Len())
	for i := range all {
		all[i] = i
	}
	for _, tt := range []struct {
		name  string
		cells []int
		mem   int64
		want  [][]int
	}{
		{"all", all, 0, [][]int{{0, 1, 2}, {3}, {4, 5, 6}, {7}, {8}, {9}, {10}, {11}}},
		{"memory limit of two cells", all, 200, [][]int{{0, 1}, {2, 3}, {4, 5}, {6, 7}, {8}, {9}, {10}, {11}}},
		{"a task's cells", []int{3, 4, 5, 8}, 0, [][]int{{3}, {4, 5}, {8}}},
		{"scattered", []int{5, 0, 7, 2}, 0, [][]int{{5, 7}, {0, 2}}},
	} {
		if got := s.Groups(tt.cells, tt.mem); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: groups %v, want %v", tt.name, got, tt.want)
		}
	}
	e := s.Estimate()
	// Groups {0,1,2} and {4,5,6} cost 1.3 s each, the six cells alone 1 s.
	if e.Groups != 8 || e.LargestGroup != 3 || e.Seconds != 2*1.3+6 {
		t.Errorf("estimate: %d groups, largest %d, %g s; want 8, 3, %g", e.Groups, e.LargestGroup, e.Seconds, 2*1.3+6)
	}
}

// TestGroupProgress: a group that reports half its work done moves the
// run's progress by half its cells before it finishes, and the progress
// never goes back.
func TestGroupProgress(t *testing.T) {
	s := groupSweep(t, nil)
	var seen []float64
	if _, err := s.Run(context.Background(), RunOptions{Results: t.TempDir(), Progress: func(done float64, total int) {
		if total != 12 {
			t.Errorf("progress total %d, want 12", total)
		}
		seen = append(seen, done)
	}}); err != nil {
		t.Fatal(err)
	}
	// Groups {0,1,2}, {3}, {4,5,6}, ...: the first reports 1.5 of its 3
	// cells, the third 4 + 1.5.
	if !slices.Contains(seen, 1.5) || !slices.Contains(seen, 5.5) || seen[len(seen)-1] != 12 {
		t.Errorf("progress %v: want 1.5 and 5.5 on the way and 12 at the end", seen)
	}
	for i := 1; i < len(seen); i++ {
		if seen[i] < seen[i-1] {
			t.Errorf("progress went back: %v", seen)
			break
		}
	}
	// Outside a run, reporting does nothing.
	ReportProgress(context.Background(), 1, 2)
	groupCalls.Lock()
	groupCalls.cells = nil // TestRunGroups counts the calls of its own runs
	groupCalls.Unlock()
}

// TestRunGroups: a grouped run writes the same per-cell results as the
// cells run one at a time, resumes only the missing cells of a partly done
// group, and keeps per-cell failures per cell.
func TestRunGroups(t *testing.T) {
	ctx := context.Background()
	s := groupSweep(t, nil)
	alone := t.TempDir()
	for i := range s.Len() {
		if _, err := s.Run(ctx, RunOptions{Results: alone, Cells: []int{i}}); err != nil {
			t.Fatal(err)
		}
	}
	groupCalls.Lock()
	n := len(groupCalls.cells)
	groupCalls.Unlock()
	if n != 0 {
		t.Fatalf("cells run one at a time made %d group calls", n)
	}
	calls := func() [][]int {
		groupCalls.Lock()
		defer groupCalls.Unlock()
		c := groupCalls.cells
		groupCalls.cells = nil
		return c
	}
	dir := t.TempDir()
	sum, err := s.Run(ctx, RunOptions{Results: dir, Workers: 2})
	if err != nil || sum.Computed != 12 {
		t.Fatalf("grouped run: %v, %v", sum, err)
	}
	got := calls()
	slices.SortFunc(got, func(a, b []int) int { return a[0] - b[0] })
	if want := [][]int{{0, 1, 2}, {4, 5, 6}}; !reflect.DeepEqual(got, want) {
		t.Errorf("group calls %v, want %v", got, want)
	}
	ta, err := Gather(s, alone)
	if err != nil {
		t.Fatal(err)
	}
	tg, err := Gather(s, dir)
	if err != nil {
		t.Fatal(err)
	}
	sameTable(t, tg, ta)
	for i, want := range []int{3, 3, 3, 0, 3} {
		if r, err := s.ReadCell(dir, i); err != nil || r.Group != want {
			t.Errorf("cell %d: group %v, want %d (%v)", i, r.Group, want, err)
		}
	}

	// Resume: cells 1, 2 and 5 lost; 1 and 2 are recomputed together.
	for _, i := range []int{1, 2, 5} {
		if err := os.Remove(s.CellPath(dir, i)); err != nil {
			t.Fatal(err)
		}
	}
	sum, err = s.Run(ctx, RunOptions{Results: dir})
	if err != nil || sum.Computed != 3 || sum.Skipped != 9 {
		t.Fatalf("resumed run: %v, %v; want 3 computed, 9 skipped", sum, err)
	}
	if got := calls(); !reflect.DeepEqual(got, [][]int{{1, 2}}) {
		t.Errorf("resumed group calls %v, want [[1 2]]", got)
	}
	if tg, err = Gather(s, dir); err != nil {
		t.Fatal(err)
	}
	sameTable(t, tg, ta)

	// Failures stay with their cells.
	s = groupSweep(t, map[string]any{"fail": []any{1.0}, "transient": []any{2.0}})
	dir = t.TempDir()
	sum, err = s.Run(ctx, RunOptions{Results: dir, Cells: []int{0, 1, 2}})
	if err == nil || IsPermanent(err) || sum.Computed != 2 || sum.Failed != 1 || len(sum.Errors) != 1 || sum.Errors[0].Index != 2 {
		t.Fatalf("failing group: %v, %v; want cell 1 failed, cell 2 a transient error", sum, err)
	}
	if r, err := s.ReadCell(dir, 0); err != nil || r.Status != StatusOK {
		t.Errorf("cell 0 of a group with failures: %v, %v", r, err)
	}
	calls()

	// A panicking group fails all its cells permanently.
	s = groupSweep(t, map[string]any{"panic_group": true})
	dir = t.TempDir()
	sum, err = s.Run(ctx, RunOptions{Results: dir, Cells: []int{4, 5}})
	if !IsPermanent(err) || sum.Failed != 2 {
		t.Fatalf("panicking group: %v, %v; want both cells failed", sum, err)
	}
}
