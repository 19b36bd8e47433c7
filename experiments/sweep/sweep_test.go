package sweep

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// grid3 is a 3 x 2 x 2 sweep over depth, seed and sw2 with the synthetic kind.
const grid3 = `{
  "name": "grid3",
  "spec": {"arch": "fcn", "act": "erf", "depth": 1, "sw2": 1, "sb2": 0.18},
  "grid": {"sw2": [0.5, 1.5], "depth": [1, 2, 4], "seed": [0, 7]},
  "kinds": ["synthetic"],
  "settings": {"dataset": "none"}
}`

func mustParse(t *testing.T, src string) *Sweep {
	t.Helper()
	s, err := Parse([]byte(src))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return s
}

// TestCellEnumeration checks the index -> parameters map against nested
// loops written out independently (axes in lexicographic order, the last
// one fastest).
func TestCellEnumeration(t *testing.T) {
	s := mustParse(t, grid3)
	if s.Len() != 12 {
		t.Fatalf("Len = %d, want 3*2*2 = 12", s.Len())
	}
	if got := strings.Join(s.Axes(), ","); got != "depth,seed,sw2" {
		t.Fatalf("Axes = %s, want depth,seed,sw2", got)
	}
	i := 0
	for _, depth := range []int{1, 2, 4} {
		for _, seed := range []int64{0, 7} {
			for _, sw2 := range []float64{0.5, 1.5} {
				c := s.Cell(i)
				if c.Index != i || c.Spec.Depth != depth || c.Seed != seed || c.Spec.SW2 != sw2 || c.Spec.SB2 != 0.18 {
					t.Errorf("cell %d: depth %d seed %d sw2 %v sb2 %v, want %d %d %v 0.18",
						i, c.Spec.Depth, c.Seed, c.Spec.SW2, c.Spec.SB2, depth, seed, sw2)
				}
				if c.Spec.Outputs != 10 || c.Spec.DType != "float64" {
					t.Errorf("cell %d: defaults not filled in: %+v", i, c.Spec)
				}
				i++
			}
		}
	}
}

func TestOrderAndSettingsAxes(t *testing.T) {
	s := mustParse(t, `{"spec": {"arch": "fcn", "act": "relu", "depth": 2, "sw2": 2, "sb2": 0},
		"grid": {"lr": [0.1, 1], "act": ["erf", "tanh", "relu"]}, "order": ["lr", "act"],
		"kinds": ["synthetic"], "settings": {"lr": 5, "steps": 100}, "seed": 42}`)
	want := []struct {
		lr  float64
		act string
	}{{0.1, "erf"}, {0.1, "tanh"}, {0.1, "relu"}, {1, "erf"}, {1, "tanh"}, {1, "relu"}}
	for i, w := range want {
		c := s.Cell(i)
		if c.Settings["lr"] != w.lr || c.Spec.Act != w.act || c.Settings["steps"] != 100.0 || c.Seed != 42 {
			t.Errorf("cell %d: lr %v act %s steps %v seed %d, want %v %s 100 42", i, c.Settings["lr"], c.Spec.Act, c.Settings["steps"], c.Seed, w.lr, w.act)
		}
	}
	// Cells get private copies of the settings.
	s.Cell(0).Settings["steps"] = -1.0
	if s.Cell(1).Settings["steps"] != 100.0 {
		t.Error("a cell's settings alias the sweep's")
	}
}

func TestRanges(t *testing.T) {
	tests := []struct {
		axis string
		want []float64
	}{
		// Linear: from + (to-from) i/(steps-1).
		{`{"from": 0.5, "to": 3, "steps": 6}`, []float64{0.5, 1, 1.5, 2, 2.5, 3}},
		{`{"from": 2, "to": 2, "steps": 1}`, []float64{2}},
		// Log: powers of ten.
		{`{"from": 0.01, "to": 100, "steps": 5, "log": true}`, []float64{0.01, 0.1, 1, 10, 100}},
	}
	for _, tt := range tests {
		s := mustParse(t, `{"spec": {"arch": "fcn", "act": "erf", "depth": 1, "sw2": 1, "sb2": 0}, "kinds": ["synthetic"], "grid": {"sb2": `+tt.axis+`}}`)
		if s.Len() != len(tt.want) {
			t.Fatalf("%s: %d cells, want %d", tt.axis, s.Len(), len(tt.want))
		}
		for i, w := range tt.want {
			// A few ulps: the values come from one multiply-add (or exp/log).
			if got := s.Cell(i).Spec.SB2; math.Abs(got-w) > 1e-14*math.Max(1, math.Abs(w)) {
				t.Errorf("%s: value %d = %v, want %v", tt.axis, i, got, w)
			}
		}
	}
}

func TestParseErrors(t *testing.T) {
	const sp = `"spec": {"arch": "fcn", "act": "erf", "depth": 1, "sw2": 1, "sb2": 0}`
	tests := []struct {
		name, src, want string
	}{
		{"not json", `{`, "sweep file"},
		{"unknown field", `{` + sp + `, "kinds": ["synthetic"], "grdi": {}}`, `unknown field "grdi"`},
		{"no kinds", `{` + sp + `}`, "no kinds"},
		{"duplicate kind", `{` + sp + `, "kinds": ["synthetic", "synthetic"]}`, "listed twice"},
		{"empty axis", `{` + sp + `, "kinds": ["synthetic"], "grid": {"sw2": []}}`, "no values"},
		{"object values", `{` + sp + `, "kinds": ["synthetic"], "grid": {"sw2": [{"a": 1}]}}`, "numbers, strings or booleans"},
		{"range without to", `{` + sp + `, "kinds": ["synthetic"], "grid": {"sw2": {"from": 1, "steps": 3}}}`, "both from and to"},
		{"range zero steps", `{` + sp + `, "kinds": ["synthetic"], "grid": {"sw2": {"from": 1, "to": 2, "steps": 0}}}`, "steps 0"},
		{"range typo", `{` + sp + `, "kinds": ["synthetic"], "grid": {"sw2": {"from": 1, "to": 2, "step": 3}}}`, `unknown field "step"`},
		{"log range negative", `{` + sp + `, "kinds": ["synthetic"], "grid": {"sw2": {"from": -1, "to": 2, "steps": 3, "log": true}}}`, "positive"},
		{"fractional depth", `{` + sp + `, "kinds": ["synthetic"], "grid": {"depth": [1, 2.5]}}`, "axis depth value 2.5"},
		{"string sw2", `{` + sp + `, "kinds": ["synthetic"], "grid": {"sw2": ["big"]}}`, "axis sw2 value big"},
		{"fractional seed", `{` + sp + `, "kinds": ["synthetic"], "grid": {"seed": [0.5]}}`, "seeds must be integers"},
		{"bad axis name", `{` + sp + `, "kinds": ["synthetic"], "grid": {"a,b": [1]}}`, `axis "a,b"`},
		{"order misses axis", `{` + sp + `, "kinds": ["synthetic"], "grid": {"sw2": [1], "sb2": [0]}, "order": ["sw2"]}`, "order lists 1 axes"},
		{"order unknown axis", `{` + sp + `, "kinds": ["synthetic"], "grid": {"sw2": [1]}, "order": ["sb2"]}`, `axis "sb2", which is not in the grid`},
		{"too many cells", `{` + sp + `, "kinds": ["synthetic"], "grid": {"a": {"from": 0, "to": 1, "steps": 10000}, "b": {"from": 0, "to": 1, "steps": 10000}}}`, "more than 10000000 cells"},
		{"bad max_memory", `{` + sp + `, "kinds": ["synthetic"], "max_memory": "lots"}`, `max_memory "lots"`},
		{"trailing data", `{` + sp + `, "kinds": ["synthetic"]} {}`, "trailing data"},
	}
	for _, tt := range tests {
		_, err := Parse([]byte(tt.src))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %v, want one containing %q", tt.name, err, tt.want)
		}
	}
}

func TestHash(t *testing.T) {
	base := mustParse(t, grid3)
	if len(base.Hash()) != HashLen {
		t.Fatalf("hash %q has %d digits, want %d", base.Hash(), len(base.Hash()), HashLen)
	}
	// The canonical form parses to the same sweep, ranges included.
	ranged := mustParse(t, strings.Replace(grid3, `"sw2": [0.5, 1.5]`, `"sw2": {"from": 0.5, "to": 1.5, "steps": 2}`, 1))
	for _, s := range []*Sweep{base, ranged} {
		if again := mustParse(t, string(s.Canonical())); again.Hash() != s.Hash() || again.Len() != s.Len() {
			t.Errorf("canonical form: hash %s len %d, want %s %d", again.Hash(), again.Len(), s.Hash(), s.Len())
		}
	}
	same := []string{
		strings.Replace(grid3, `"name": "grid3"`, `"name": "renamed", "description": "words"`, 1),
		strings.Replace(grid3, `"settings": {"dataset": "none"}`, `"settings": {"dataset":"none"}`, 1),
	}
	for _, src := range same {
		if h := mustParse(t, src).Hash(); h != base.Hash() {
			t.Errorf("hash %s != %s for an equivalent file:\n%s", h, base.Hash(), src)
		}
	}
	different := []string{
		strings.Replace(grid3, `"sb2": 0.18`, `"sb2": 0.19`, 1),
		strings.Replace(grid3, `"seed": [0, 7]`, `"seed": [0, 8]`, 1),
		strings.Replace(grid3, `"settings": {"dataset": "none"}`, `"settings": {"dataset": "mnist"}`, 1),
		strings.Replace(grid3, `"kinds": ["synthetic"]`, `"kinds": ["synthetic"], "max_memory": "1Gi"`, 1),
		strings.Replace(grid3, `"kinds": ["synthetic"]`, `"kinds": ["synthetic"], "order": ["sw2", "seed", "depth"]`, 1),
	}
	for _, src := range different {
		if h := mustParse(t, src).Hash(); h == base.Hash() {
			t.Errorf("hash unchanged for a different sweep:\n%s", src)
		}
	}
}

func TestLoadYAML(t *testing.T) {
	dir := t.TempDir()
	yml := `name: grid3
spec: {arch: fcn, act: erf, depth: 1, sw2: 1, sb2: 0.18}
grid:
  sw2: [0.5, 1.5]
  depth: [1, 2, 4]
  seed: [0, 7]
kinds: [synthetic]
settings: {dataset: none}
`
	if err := os.WriteFile(filepath.Join(dir, "s.yaml"), []byte(yml), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "s.json"), []byte(grid3), 0o644); err != nil {
		t.Fatal(err)
	}
	y, err := Load(filepath.Join(dir, "s.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	j, err := Load(filepath.Join(dir, "s.json"))
	if err != nil {
		t.Fatal(err)
	}
	if y.Hash() != j.Hash() {
		t.Errorf("YAML and JSON of the same sweep hash to %s and %s", y.Hash(), j.Hash())
	}
	if _, err := Load(filepath.Join(dir, "absent.json")); err == nil || !strings.Contains(err.Error(), "absent.json") {
		t.Errorf("missing file: error %v, want one naming the file", err)
	}
}

func TestSelection(t *testing.T) {
	s := mustParse(t, grid3) // 12 cells
	tests := []struct {
		task, per int
		want      string
		err       string
	}{
		{0, 1, "[0]", ""},
		{11, 1, "[11]", ""},
		{2, 5, "[10 11]", ""}, // the last task is short
		{12, 1, "", "task 12 out of range"},
		{3, 5, "", "task 3 out of range"},
		{-1, 1, "", "out of range"},
		{0, 0, "", "at least 1"},
	}
	for _, tt := range tests {
		cells, err := s.TaskCells(tt.task, tt.per)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("TaskCells(%d, %d): error %v, want %q", tt.task, tt.per, err, tt.err)
			}
			continue
		}
		if got := fmt.Sprint(cells); got != tt.want {
			t.Errorf("TaskCells(%d, %d) = %s, want %s", tt.task, tt.per, got, tt.want)
		}
	}
	if got := fmt.Sprint(s.ShardCells(1, 5)); got != "[1 6 11]" {
		t.Errorf("ShardCells(1, 5) = %s, want [1 6 11]", got)
	}
	// The shards partition the cells.
	seen := map[int]int{}
	for i := range 5 {
		for _, c := range s.ShardCells(i, 5) {
			seen[c]++
		}
	}
	for c := range 12 {
		if seen[c] != 1 {
			t.Errorf("cell %d is in %d shards, want 1", c, seen[c])
		}
	}
	for _, bad := range []string{"", "1", "5/5", "-1/3", "a/b", "1/0"} {
		if _, _, err := ParseShard(bad); err == nil {
			t.Errorf("ParseShard(%q) accepted", bad)
		}
	}
	if i, n, err := ParseShard("2/7"); err != nil || i != 2 || n != 7 {
		t.Errorf("ParseShard(2/7) = %d, %d, %v", i, n, err)
	}
}

func TestTaskFromEnv(t *testing.T) {
	tests := []struct {
		env      map[string]string
		index    int
		name     string
		ok, fail bool
	}{
		{map[string]string{}, 0, "", false, false},
		{map[string]string{"JOB_COMPLETION_INDEX": "4"}, 4, "JOB_COMPLETION_INDEX", true, false},
		{map[string]string{"SLURM_ARRAY_TASK_ID": "9"}, 9, "SLURM_ARRAY_TASK_ID", true, false},
		{map[string]string{"AWS_BATCH_JOB_ARRAY_INDEX": "0"}, 0, "AWS_BATCH_JOB_ARRAY_INDEX", true, false},
		// Kubernetes wins over Slurm when both are set.
		{map[string]string{"SLURM_ARRAY_TASK_ID": "9", "JOB_COMPLETION_INDEX": "2"}, 2, "JOB_COMPLETION_INDEX", true, false},
		{map[string]string{"SLURM_ARRAY_TASK_ID": "x"}, 0, "SLURM_ARRAY_TASK_ID", true, true},
		{map[string]string{"JOB_COMPLETION_INDEX": "-3"}, 0, "JOB_COMPLETION_INDEX", true, true},
	}
	for _, tt := range tests {
		i, name, ok, err := TaskFromEnv(func(k string) string { return tt.env[k] })
		if (err != nil) != tt.fail || ok != tt.ok || name != tt.name || (!tt.fail && i != tt.index) {
			t.Errorf("%v: got %d %q %v %v, want %d %q %v fail=%v", tt.env, i, name, ok, err, tt.index, tt.name, tt.ok, tt.fail)
		}
	}
}

func TestEstimate(t *testing.T) {
	s := mustParse(t, `{"spec": {"arch": "fcn", "act": "erf", "depth": 1, "sw2": 1, "sb2": 0},
		"grid": {"sw2": [0, 1, 2, 3]}, "kinds": ["synthetic"], "max_memory": "1Mi",
		"settings": {"synthetic": {"sleep_ms": 250, "memory_bytes": 2097152}}}`)
	e := s.Estimate()
	// sw2 = 0 is invalid; the other 3 cells cost 0.25 s and 2 MiB each.
	if e.Invalid != 1 || !strings.Contains(e.Example.Error(), "sw2 0") {
		t.Errorf("Invalid = %d (%v), want 1 naming sw2 0", e.Invalid, e.Example)
	}
	if !e.Known || e.Seconds != 0.75 || e.PeakMemory != 2<<20 || e.OverMemory != 3 {
		t.Errorf("estimate %+v, want known, 0.75 s, 2 MiB peak, 3 over max_memory", e)
	}
	u := mustParse(t, `{"spec": {"arch": "fcn", "act": "erf", "depth": 1, "sw2": 1, "sb2": 0}, "kinds": ["synthetic", "nosuchkind"]}`)
	if e := u.Estimate(); e.Known || len(e.Unregistered) != 1 || e.Unregistered[0] != "nosuchkind" {
		t.Errorf("estimate with an unknown kind: %+v", e)
	}
}

func TestFormatBytes(t *testing.T) {
	tests := []struct {
		n    int64
		want string
	}{{0, "0 B"}, {1023, "1023 B"}, {1024, "1.0 KiB"}, {3 << 29, "1.5 GiB"}, {8 << 30, "8.0 GiB"}}
	for _, tt := range tests {
		if got := FormatBytes(tt.n); got != tt.want {
			t.Errorf("FormatBytes(%d) = %q, want %q", tt.n, got, tt.want)
		}
	}
}

func TestExampleFiles(t *testing.T) {
	tests := []struct {
		path  string
		cells int
		axes  string
	}{
		// 29 depths (1-9, then 10-105 by 5) x 40 sw2.
		{"testdata/phase-diagram.json", 29 * 40, "depth,sw2"},
		{"testdata/smoke.yaml", 4 * 2 * 6, "depth,seed,sw2"},
	}
	for _, tt := range tests {
		s, err := Load(tt.path)
		if err != nil {
			t.Errorf("%s: %v", tt.path, err)
			continue
		}
		if s.Len() != tt.cells || strings.Join(s.Axes(), ",") != tt.axes {
			t.Errorf("%s: %d cells, axes %v; want %d, %s", tt.path, s.Len(), s.Axes(), tt.cells, tt.axes)
		}
		for _, i := range []int{0, s.Len() - 1} {
			if c := s.Cell(i); c.SpecErr != nil || c.Spec.Validate() != nil {
				t.Errorf("%s: cell %d: %v %v", tt.path, i, c.SpecErr, c.Spec.Validate())
			}
		}
	}
}

func TestCheckKinds(t *testing.T) {
	const head = `"spec": {"arch": "fcn", "act": "erf", "depth": 1, "sw2": 1, "sb2": 0}`
	tests := []struct {
		src, err string
	}{
		{`{` + head + `, "kinds": ["synthetic"], "settings": {"synthetic": {"sleep_ms": 1}}}`, ""},
		{`{` + head + `, "kinds": ["synthetic"], "grid": {"seed": [1, 2], "depth": [1, 2]}}`, ""},
		{`{` + head + `, "kinds": ["synthetic"], "settings": {"n_trian": 3}}`, `settings key "n_trian"`},
		{`{` + head + `, "kinds": ["synthetic"], "grid": {"bogus": [1, 2]}}`, `grid axis "bogus"`},
		{`{` + head + `, "kinds": ["synthetic"], "grid": {"synthetic": [1]}}`, "grid axis synthetic value 1"},
		{`{` + head + `, "kinds": ["synthetic"], "settings": {"synthetic": {"sleep": 1}}}`, `unknown field "sleep"`},
		{`{` + head + `, "kinds": ["synthetic", "nosuchkind"]}`, `unknown kind "nosuchkind"`},
		// A kind that has not declared its settings reads any key.
		{`{` + head + `, "kinds": ["synthetic", "test-finite"], "settings": {"anything": 1}}`, ""},
	}
	for _, tt := range tests {
		err := mustParse(t, tt.src).CheckKinds()
		if tt.err == "" && err != nil || tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)) {
			t.Errorf("%s: CheckKinds = %v, want %q", tt.src, err, tt.err)
		}
	}
}
