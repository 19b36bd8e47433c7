package sweep

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func init() {
	// Kinds only the tests use.
	RegisterKind("test-panic", func(ctx context.Context, c Cell) (Result, error) {
		if c.Index == 1 {
			panic("index one")
		}
		return Result{Scalars: map[string]float64{"x": 1}}, nil
	})
	RegisterKind("test-bad-status", func(ctx context.Context, c Cell) (Result, error) {
		return Result{Status: "great"}, nil
	})
	RegisterKind("test-finite", func(ctx context.Context, c Cell) (Result, error) {
		if err := c.Spec.ValidateFinite(); err != nil {
			return Result{}, Permanent(err)
		}
		return Result{Scalars: map[string]float64{"width": float64(c.Spec.Width)}}, nil
	})
}

// sameTable compares two tables cell by cell, ignoring compute times.
// Results must agree bit for bit: cells are deterministic.
func sameTable(t *testing.T, got, want Table) {
	t.Helper()
	if got.Sweep != want.Sweep || !reflect.DeepEqual(got.Params, want.Params) || !reflect.DeepEqual(got.Columns, want.Columns) || len(got.Rows) != len(want.Rows) {
		t.Fatalf("tables differ in shape: %s %v %v %d rows vs %s %v %v %d rows",
			got.Sweep, got.Params, got.Columns, len(got.Rows), want.Sweep, want.Params, want.Columns, len(want.Rows))
	}
	for i := range got.Rows {
		g, w := got.Rows[i], want.Rows[i]
		g.Seconds, w.Seconds = 0, 0
		if !reflect.DeepEqual(bitsRow(g), bitsRow(w)) {
			t.Errorf("row %d differs:\n got %+v\nwant %+v", i, g, w)
		}
	}
}

// bitsRow replaces floats by their bits so that NaN compares equal to NaN.
func bitsRow(r Row) Row {
	v := map[string]float64{}
	for k, x := range r.Values {
		v[k] = float64(math.Float64bits(x))
	}
	r.Values = v
	return r
}

func runAll(t *testing.T, s *Sweep, root string, opt RunOptions) (RunSummary, error) {
	t.Helper()
	opt.Results = root
	return s.Run(context.Background(), opt)
}

// TestRunLocal runs a sweep, checks every cell against the closed form of
// the synthetic kind, and checks that a rerun computes nothing.
func TestRunLocal(t *testing.T) {
	s := mustParse(t, strings.Replace(grid3, `"settings": {"dataset": "none"}`, `"settings": {"synthetic": {"diverge": [5]}}`, 1))
	root := t.TempDir()
	var calls int
	var last float64
	sum, err := runAll(t, s, root, RunOptions{Workers: 3, Progress: func(done float64, total int) {
		calls++
		if total != 12 || done < last {
			t.Errorf("progress %g/%d after %g", done, total, last)
		}
		last = done
	}})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Computed != 12 || sum.OK != 11 || sum.Diverged != 1 || last != 12 || calls != 13 {
		t.Errorf("summary %+v, progress last %g calls %d; want 12 computed, 11 ok, 1 diverged, 12 done in 13 calls", sum, last, calls)
	}
	tab, err := Gather(s, root)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"synthetic.loss", "synthetic.noise", "synthetic.value"}; !reflect.DeepEqual(tab.Columns, want) {
		t.Errorf("columns %v, want %v", tab.Columns, want)
	}
	for i, r := range tab.Rows {
		c := s.Cell(i)
		value := c.Spec.SW2*float64(c.Spec.Depth) + 0.18
		if got := r.Values["synthetic.value"]; got != value {
			t.Errorf("cell %d: value %v, want sw2*depth+sb2 = %v", i, got, value)
		}
		if n := r.Values["synthetic.noise"]; !(n >= 0 && n < 1) {
			t.Errorf("cell %d: noise %v not in [0, 1)", i, n)
		}
		p := r.Arrays["synthetic.powers"]
		if !reflect.DeepEqual(p.Shape, []int{4}) || p.Data[0] != 1 || p.Data[1] != value || math.Abs(p.Data[3]-value*value*value) > 1e-15*value*value*value {
			t.Errorf("cell %d: powers %v, want [1 v v^2 v^3] with v = %v", i, p, value)
		}
		wantStatus := StatusOK
		if i == 5 {
			wantStatus = StatusDiverged
			if !math.IsInf(r.Values["synthetic.loss"], 1) {
				t.Errorf("diverged cell: loss %v, want +Inf", r.Values["synthetic.loss"])
			}
		}
		if r.Status != wantStatus {
			t.Errorf("cell %d: status %s, want %s", i, r.Status, wantStatus)
		}
	}
	// The seed axis changes the noise, and only the noise.
	if a, b := tab.Rows[0], tab.Rows[2]; a.Params["seed"] == b.Params["seed"] || a.Values["synthetic.noise"] == b.Values["synthetic.noise"] || a.Values["synthetic.value"] != b.Values["synthetic.value"] {
		t.Errorf("rows 0 and 2 (seeds 0 and 7): %v and %v", a, b)
	}
	again, err := runAll(t, s, root, RunOptions{Progress: func(done float64, total int) { t.Errorf("rerun: progress %g/%d with nothing to compute", done, total) }})
	if err != nil || again.Computed != 0 || again.Skipped != 12 || again.Diverged != 1 {
		t.Errorf("rerun: %+v, %v; want all 12 skipped", again, err)
	}
	// Progress counts only the cells left to compute.
	os.Remove(s.CellPath(root, 3))
	os.Remove(s.CellPath(root, 8))
	var seen []string
	if _, err := runAll(t, s, root, RunOptions{Progress: func(done float64, total int) { seen = append(seen, fmt.Sprint(done, "/", total)) }}); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(seen, " "); got != "0/2 1/2 2/2" {
		t.Errorf("progress of a resumed run: %s, want 0/2 1/2 2/2", got)
	}
	// A JSON round trip of the table keeps everything, NaN and Inf included.
	var b bytes.Buffer
	if err := tab.WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	back, err := ReadTable(&b)
	if err != nil {
		t.Fatal(err)
	}
	sameTable(t, back, tab)
}

// TestCorruptFiles damages result files in the ways a crash, a partial copy
// or a mix-up can, and checks that each is detected and recomputed.
func TestCorruptFiles(t *testing.T) {
	s := mustParse(t, grid3)
	other := mustParse(t, strings.Replace(grid3, `"sb2": 0.18`, `"sb2": 0.5`, 1))
	root, otherRoot := t.TempDir(), t.TempDir()
	if _, err := runAll(t, s, root, RunOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := runAll(t, other, otherRoot, RunOptions{}); err != nil {
		t.Fatal(err)
	}
	ref, _ := Gather(s, root)
	read := func(i int) []byte {
		b, err := os.ReadFile(s.CellPath(root, i))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	damage := []struct {
		name string
		cell int
		make func() []byte
		want string
	}{
		{"empty", 0, func() []byte { return nil }, "not a valid cell file"},
		{"truncated", 1, func() []byte { b := read(1); return b[:len(b)/2] }, "not a valid cell file"},
		{"edited value", 2, func() []byte {
			return bytes.Replace(read(2), []byte(`"sw2": 0.5`), []byte(`"sw2": 0.6`), 1)
		}, "checksum mismatch"},
		{"another cell's file", 3, func() []byte { return read(4) }, "holds cell 4, not 3"},
		{"another sweep's file", 5, func() []byte {
			b, _ := os.ReadFile(other.CellPath(otherRoot, 5))
			return b
		}, "belongs to sweep"},
		{"garbage", 6, func() []byte { return []byte("\x00\x01 not json") }, "not a valid cell file"},
	}
	for _, d := range damage {
		if err := os.WriteFile(s.CellPath(root, d.cell), d.make(), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := s.ReadCell(root, d.cell); err == nil || !strings.Contains(err.Error(), d.want) {
			t.Errorf("%s: ReadCell error %v, want %q", d.name, err, d.want)
		}
	}
	tab, _ := Gather(s, root)
	for _, d := range damage {
		if r := tab.Rows[d.cell]; r.Status != StatusMissing || !strings.Contains(r.Reason, "invalid result file") {
			t.Errorf("%s: gathered as %s (%s), want missing with the reason", d.name, r.Status, r.Reason)
		}
	}
	var log bytes.Buffer
	sum, err := runAll(t, s, root, RunOptions{Workers: 2, Log: &log})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Corrupt != len(damage) || sum.Computed != len(damage) || sum.Skipped != 12-len(damage) {
		t.Errorf("summary %+v, want %d corrupt files recomputed", sum, len(damage))
	}
	if strings.Count(log.String(), "recomputing") != len(damage) {
		t.Errorf("log does not name every recomputed cell:\n%s", log.String())
	}
	tab, _ = Gather(s, root)
	sameTable(t, tab, ref)
}

// TestFailureSemantics: diverged is a result; impossible cells are recorded
// as failed with the reason and make the error permanent (exit status 3);
// transient errors leave no file and are retried.
func TestFailureSemantics(t *testing.T) {
	const sp = `"spec": {"arch": "fcn", "act": "erf", "depth": 1, "sw2": 1, "sb2": 0}`
	tests := []struct {
		name      string
		src       string
		exit      int
		status    []Status // per cell after the run; "" means no file
		reasonHas string   // in the first failed cell's reason
	}{
		{"all ok", `{` + sp + `, "grid": {"sw2": [1, 2]}, "kinds": ["synthetic"]}`,
			ExitOK, []Status{StatusOK, StatusOK}, ""},
		{"diverged is a result", `{` + sp + `, "grid": {"sw2": [1, 2]}, "kinds": ["synthetic"], "settings": {"synthetic": {"diverge": [0, 1]}}}`,
			ExitOK, []Status{StatusDiverged, StatusDiverged}, ""},
		{"invalid spec", `{` + sp + `, "grid": {"sw2": [1, -2]}, "kinds": ["synthetic"]}`,
			ExitPermanent, []Status{StatusOK, StatusFailed}, "sw2 -2: must be finite and positive"},
		{"kind reports permanent", `{` + sp + `, "grid": {"sw2": [1, 2]}, "kinds": ["synthetic"], "settings": {"synthetic": {"fail": [0]}}}`,
			ExitPermanent, []Status{StatusFailed, StatusOK}, "listed in synthetic.fail"},
		{"finite net without width", `{` + sp + `, "grid": {"width": [0, 64]}, "kinds": ["test-finite"]}`,
			ExitPermanent, []Status{StatusFailed, StatusOK}, "test-finite: spec: width 0"},
		{"memory over limit", `{` + sp + `, "grid": {"sw2": [1, 2]}, "kinds": ["synthetic"], "max_memory": "1Mi", "settings": {"synthetic": {"memory_bytes": 2097152}}}`,
			ExitPermanent, []Status{StatusFailed, StatusFailed}, "memory estimate 2.0 MiB exceeds max_memory 1Mi"},
		{"panic", `{` + sp + `, "grid": {"sw2": [1, 2]}, "kinds": ["test-panic"]}`,
			ExitPermanent, []Status{StatusOK, StatusFailed}, "internal error: index one"},
		{"bad status", `{` + sp + `, "kinds": ["test-bad-status"]}`,
			ExitPermanent, []Status{StatusFailed}, `returned status "great"`},
		{"transient", `{` + sp + `, "grid": {"sw2": [1, 2]}, "kinds": ["synthetic"], "settings": {"synthetic": {"transient": [1]}}}`,
			ExitTransient, []Status{StatusOK, ""}, ""},
		{"transient beats permanent", `{` + sp + `, "grid": {"sw2": [1, 2]}, "kinds": ["synthetic"], "settings": {"synthetic": {"transient": [1], "fail": [0]}}}`,
			ExitTransient, []Status{StatusFailed, ""}, "listed in synthetic.fail"},
	}
	for _, tt := range tests {
		s := mustParse(t, tt.src)
		root := t.TempDir()
		sum, err := runAll(t, s, root, RunOptions{Workers: 2})
		if got := ExitCode(err); got != tt.exit {
			t.Errorf("%s: exit %d (%v), want %d", tt.name, got, err, tt.exit)
		}
		firstReason := ""
		for i, want := range tt.status {
			r, rerr := s.ReadCell(root, i)
			switch {
			case want == "" && !errors.Is(rerr, os.ErrNotExist):
				t.Errorf("%s: cell %d has a file (%v), want none", tt.name, i, rerr)
			case want != "" && (rerr != nil || r.Status != want):
				t.Errorf("%s: cell %d: %v %v, want status %s", tt.name, i, r, rerr, want)
			case want == StatusFailed && firstReason == "":
				firstReason = r.Reason
			}
		}
		if !strings.Contains(firstReason, tt.reasonHas) {
			t.Errorf("%s: reason %q, want it to contain %q", tt.name, firstReason, tt.reasonHas)
		}
		if tt.exit == ExitPermanent {
			// A rerun keeps failed cells and still reports them.
			again, err := runAll(t, s, root, RunOptions{})
			if ExitCode(err) != ExitPermanent || again.Computed != 0 || again.Failed != sum.Failed {
				t.Errorf("%s: rerun %+v %v, want the failures reported again without recomputing", tt.name, again, err)
			}
			again, _ = runAll(t, s, root, RunOptions{RetryFailed: true})
			if again.Computed != sum.Failed {
				t.Errorf("%s: retry-failed recomputed %d cells, want %d", tt.name, again.Computed, sum.Failed)
			}
		}
	}
}

func TestRunErrors(t *testing.T) {
	s := mustParse(t, `{"spec": {"arch": "fcn", "act": "erf", "depth": 1, "sw2": 1, "sb2": 0}, "kinds": ["synthetic", "nosuchkind"]}`)
	root := t.TempDir()
	_, err := runAll(t, s, root, RunOptions{})
	if !IsPermanent(err) || !strings.Contains(err.Error(), `kind "nosuchkind" is not available`) {
		t.Errorf("unknown kind: %v, want a permanent error naming it", err)
	}
	if _, err := os.Stat(s.Dir(root)); !os.IsNotExist(err) {
		t.Errorf("unknown kind: results folder created")
	}
	g := mustParse(t, grid3)
	if _, err := runAll(t, g, root, RunOptions{Cells: []int{12}}); err == nil || !strings.Contains(err.Error(), "cell 12 out of range") {
		t.Errorf("cell out of range: %v", err)
	}
	if _, err := g.Run(context.Background(), RunOptions{}); err == nil {
		t.Error("no results folder: accepted")
	}
	// A results root that is a file.
	file := filepath.Join(root, "file")
	os.WriteFile(file, nil, 0o644)
	if _, err := runAll(t, g, file, RunOptions{}); err == nil || IsPermanent(err) {
		t.Errorf("results root is a file: %v, want a transient error", err)
	}
	// Cancellation stops the run with a transient error and keeps what was done.
	slow := mustParse(t, strings.Replace(grid3, `"settings": {"dataset": "none"}`, `"settings": {"synthetic": {"sleep_ms": 5000}}`, 1))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	sum, err := slow.Run(ctx, RunOptions{Results: root})
	if err == nil || IsPermanent(err) || sum.Computed != 0 {
		t.Errorf("cancelled run: %+v %v", sum, err)
	}
}

func TestFloatJSON(t *testing.T) {
	for _, v := range []float64{0, -0.5, 1e-300, math.MaxFloat64, math.NaN(), math.Inf(1), math.Inf(-1), 0.1 + 0.2} {
		b, err := Float(v).MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		var back Float
		if err := back.UnmarshalJSON(b); err != nil {
			t.Fatalf("%v -> %s: %v", v, b, err)
		}
		if math.Float64bits(float64(back)) != math.Float64bits(v) && !(math.IsNaN(v) && math.IsNaN(float64(back))) {
			t.Errorf("%v -> %s -> %v", v, b, back)
		}
	}
	var f Float
	if err := f.UnmarshalJSON([]byte(`"lots"`)); err == nil {
		t.Error(`"lots" accepted as a number`)
	}
}

func TestWriteCSV(t *testing.T) {
	tab := Table{Params: []string{"act", "sw2"}, Columns: []string{"k.a", "k.b"}, Rows: []Row{
		{Index: 0, Params: map[string]any{"act": "erf", "sw2": 0.5}, Status: StatusOK, Seconds: 1.5, Values: map[string]float64{"k.a": 1, "k.b": math.NaN()}},
		{Index: 1, Params: map[string]any{"act": "relu", "sw2": 2.0}, Status: StatusMissing, Reason: "no result file, really"},
	}}
	var b bytes.Buffer
	if err := tab.WriteCSV(&b); err != nil {
		t.Fatal(err)
	}
	want := "index,act,sw2,status,reason,seconds,k.a,k.b\n" +
		"0,erf,0.5,ok,,1.5,1,NaN\n" +
		"1,relu,2,missing,\"no result file, really\",0,,\n"
	if b.String() != want {
		t.Errorf("CSV:\n%s\nwant:\n%s", b.String(), want)
	}
}

func ExampleSweep_Cell() {
	s, err := Parse([]byte(`{
		"spec": {"arch": "fcn", "act": "erf", "depth": 1, "sw2": 1, "sb2": 0.18},
		"grid": {"sw2": {"from": 1, "to": 2, "steps": 3}, "depth": [1, 10]},
		"kinds": ["synthetic"]}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	for i := range s.Len() {
		fmt.Println(i, s.Cell(i))
	}
	// Output:
	// 0 depth=1 sw2=1
	// 1 depth=1 sw2=1.5
	// 2 depth=1 sw2=2
	// 3 depth=10 sw2=1
	// 4 depth=10 sw2=1.5
	// 5 depth=10 sw2=2
}

// TestStaleTemps: a run removes the temporary files of writers killed long
// ago and leaves those of writers that may still be live.
func TestStaleTemps(t *testing.T) {
	s := mustParse(t, grid3)
	root := t.TempDir()
	dir := s.cellsDir(root)
	os.MkdirAll(dir, 0o755)
	old := filepath.Join(dir, ".000001.json.tmp-123")
	fresh := filepath.Join(dir, ".000002.json.tmp-456")
	for _, p := range []string{old, fresh} {
		if err := os.WriteFile(p, []byte("{\"sha256\""), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	past := time.Now().Add(-2 * staleAfter)
	os.Chtimes(old, past, past)
	if _, err := runAll(t, s, root, RunOptions{Cells: []int{0}}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(old); !os.IsNotExist(err) {
		t.Errorf("stale temporary file kept: %v", err)
	}
	if _, err := os.Stat(fresh); err != nil {
		t.Errorf("fresh temporary file removed: %v", err)
	}
}
