package main

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ntkharness/ntkharness/spec"
)

// TestArchFlags runs the kernel, ntk and train commands with the same
// architecture flags and checks that each accepts and refuses the same
// ones with the same one-line message.
func TestArchFlags(t *testing.T) {
	dir := t.TempDir()
	x, y := writeToyNpy(t, dir, 4, 6, false) // 2 classes
	noWidth := filepath.Join(dir, "nowidth.json")
	if err := (spec.Spec{Arch: spec.FCN, Act: spec.Erf, Depth: 2, SW2: 1.5, SB2: 0.05}).Save(noWidth); err != nil {
		t.Fatal(err)
	}
	full := filepath.Join(dir, "full.json")
	if err := (spec.Spec{Arch: spec.FCN, Act: spec.Erf, Depth: 2, Width: 4, SW2: 1.5, SB2: 0.05}).Save(full); err != nil {
		t.Fatal(err)
	}
	commands := []struct {
		name   string
		finite bool
		rest   func() []string // the command's other flags
	}{
		{"kernel", false, func() []string { return []string{"--x1", x, "--json", "--quiet"} }},
		{"ntk", true, func() []string { return []string{"--x1", x, "--json", "--quiet"} }},
		{"train", true, func() []string {
			return []string{"--x-train", x, "--y-train", y, "--steps", "0", "--quiet", "--out", filepath.Join(t.TempDir(), "run")}
		}},
	}
	tests := []struct {
		name       string
		drop       []string // flags of the complete architecture to leave out
		add        []string
		finiteOnly bool
		status     int
		stderr     string // "" for success
	}{
		{"complete", nil, nil, false, 0, ""},
		{"complete cnn", nil, []string{"--arch", "cnn-gap", "--filter", "1", "--padding", "VALID"}, false, 1, "images"},
		{"spec file", []string{"depth", "width", "sw2", "sb2"}, []string{"--spec", full}, false, 0, ""},
		{"no depth", []string{"depth"}, nil, false, 2, "--depth is required without --spec"},
		{"no sb2", []string{"sb2"}, nil, false, -1, ""}, // train: required; kernel, ntk: 0
		{"no depth and sw2", []string{"depth", "sw2"}, nil, false, 2, "--depth and --sw2 are required without --spec"},
		{"no width", []string{"width"}, nil, true, 2, "--width is required without --spec"},
		{"depth 0", nil, []string{"--depth", "0"}, false, 2, "depth 0"},
		{"negative depth", nil, []string{"--depth", "-2"}, false, 2, "depth -2"},
		{"depth NaN", nil, []string{"--depth", "NaN"}, false, 2, "-depth"},
		{"sw2 0", nil, []string{"--sw2", "0"}, false, 2, "sw2 0"},
		{"negative sw2", nil, []string{"--sw2", "-1"}, false, 2, "sw2 -1"},
		{"sw2 NaN", nil, []string{"--sw2", "NaN"}, false, 2, "sw2 NaN"},
		{"sw2 Inf", nil, []string{"--sw2", "Inf"}, false, 2, "sw2 +Inf"},
		{"negative sb2", nil, []string{"--sb2", "-1"}, false, 2, "sb2 -1"},
		{"sb2 NaN", nil, []string{"--sb2", "NaN"}, false, 2, "sb2 NaN"},
		{"unknown arch", nil, []string{"--arch", "rnn"}, false, 2, `unknown arch "rnn"`},
		{"unknown act", nil, []string{"--act", "gelu"}, false, 2, `unknown activation "gelu"`},
		{"padding on fcn", nil, []string{"--padding", "VALID"}, false, 2, "--filter and --padding apply to cnn-f and cnn-gap, not fcn"},
		{"SAME padding on fcn", nil, []string{"--arch", "fcn", "--padding", "SAME"}, false, 2, "--filter and --padding apply to cnn-f and cnn-gap, not fcn"},
		{"default filter on fcn", nil, []string{"--filter", "3"}, false, 2, "--filter and --padding apply to cnn-f and cnn-gap, not fcn"},
		{"filter 0", nil, []string{"--arch", "cnn-f", "--filter", "0"}, false, 2, "--filter 0: want a positive odd filter size"},
		{"negative filter", nil, []string{"--arch", "cnn-f", "--filter", "-3"}, false, 2, "--filter -3"},
		{"even filter", nil, []string{"--arch", "cnn-f", "--filter", "4"}, false, 2, "--filter 4"},
		{"bad padding", nil, []string{"--arch", "cnn-f", "--padding", "FULL"}, false, 2, `padding "FULL"`},
		{"spec and flags", []string{"width", "sw2", "sb2"}, []string{"--spec", full}, false, 2, "--depth given with --spec"},
		{"spec and padding", []string{"depth", "width", "sw2", "sb2"}, []string{"--spec", full, "--padding", "VALID"}, false, 2, "--padding given with --spec"},
		{"width 0", nil, []string{"--width", "0"}, true, 2, "width 0"},
		{"negative width", nil, []string{"--width", "-4"}, true, 2, "width -4"},
		{"outputs 0", nil, []string{"--outputs", "0"}, true, 2, "--outputs 0: want at least 1 logit"},
		{"negative outputs", nil, []string{"--outputs", "-1"}, true, 2, "--outputs -1"},
		{"spec without width", []string{"depth", "width", "sw2", "sb2"}, []string{"--spec", noWidth}, true, 1, "nowidth.json: spec: width 0"},
	}
	for _, c := range commands {
		for _, tt := range tests {
			if tt.finiteOnly && !c.finite {
				continue
			}
			arch := map[string]string{"depth": "2", "width": "4", "sw2": "1.5", "sb2": "0.05"}
			if !c.finite {
				delete(arch, "width")
			}
			args := []string{c.name}
			for _, n := range []string{"depth", "width", "sw2", "sb2"} {
				if v, ok := arch[n]; ok && !slices.Contains(tt.drop, n) {
					args = append(args, "--"+n, v)
				}
			}
			args = append(append(args, tt.add...), c.rest()...)
			stdout, stderr, status := runCLI(t, args...)
			if tt.status == -1 {
				want, msg := 0, ""
				if c.name == "train" {
					want, msg = 2, "--sb2 is required without --spec"
				}
				if status != want || !strings.Contains(stderr, msg) {
					t.Errorf("%s %s: status %d stderr %q, want %d and %q", c.name, tt.name, status, stderr, want, msg)
				}
				continue
			}
			if status != tt.status || !strings.Contains(stderr, tt.stderr) {
				t.Errorf("%s %s: status %d stderr %q, want %d and %q", c.name, tt.name, status, stderr, tt.status, tt.stderr)
			}
			if tt.status == 0 && stdout == "" {
				t.Errorf("%s %s: no output", c.name, tt.name)
			}
			if strings.Count(strings.TrimSpace(stderr), "\n") > 0 {
				t.Errorf("%s %s: error is not one line: %q", c.name, tt.name, stderr)
			}
		}
	}

	// The kernel has no finite-network flags.
	for _, f := range []string{"--width", "--outputs"} {
		if _, stderr, status := runCLI(t, "kernel", "--depth", "2", "--sw2", "1", f, "4", "--x1", x, "--json"); status != 2 || !strings.Contains(stderr, "not defined") {
			t.Errorf("kernel %s: status %d stderr %q, want an undefined flag", f, status, stderr)
		}
	}
	// train takes the readout from the data: another --outputs is refused.
	if _, stderr, status := runCLI(t, append([]string{"train", "--depth", "2", "--width", "4", "--sw2", "1.5", "--sb2", "0.05", "--outputs", "3"}, commands[2].rest()...)...); status != 2 || !strings.Contains(stderr, "--outputs 3: the training data have 2 classes") {
		t.Errorf("train --outputs 3: status %d stderr %q", status, stderr)
	}
}

// TestArchFlagsResume: train --resume takes the architecture from its
// checkpoint; the architecture flags given are validated as for a new run
// and must match the checkpoint. ntk --params refuses them all.
func TestArchFlagsResume(t *testing.T) {
	dir := t.TempDir()
	x, y := writeToyNpy(t, dir, 4, 6, false)
	out := filepath.Join(dir, "run")
	data := []string{"train", "--x-train", x, "--y-train", y, "--quiet", "--out", out}
	if _, stderr, status := runCLI(t, append(data, "--depth", "1", "--width", "4", "--sw2", "1.5", "--sb2", "0.05", "--steps", "1")...); status != 0 {
		t.Fatalf("first run: status %d stderr %q", status, stderr)
	}
	tests := []struct {
		name   string
		add    []string
		status int
		stderr string
	}{
		{"no flags", nil, 0, ""},
		{"matching flags", []string{"--width", "4", "--sw2", "1.5", "--arch", "fcn"}, 0, ""},
		{"padding on fcn", []string{"--padding", "VALID"}, 2, "--filter and --padding apply to cnn-f and cnn-gap, not fcn"},
		{"filter 0", []string{"--arch", "cnn-f", "--filter", "0"}, 2, "--filter 0: want a positive odd filter size"},
		{"width 0", []string{"--width", "0"}, 2, "width 0"},
		{"sw2 NaN", []string{"--sw2", "NaN"}, 2, "sw2 NaN"},
		{"outputs 0", []string{"--outputs", "0"}, 2, "--outputs 0"},
		{"other width", []string{"--width", "8"}, 2, "the flags ask for"},
		{"spec and flags", []string{"--spec", filepath.Join(out, "spec.json"), "--depth", "1"}, 2, "--depth given with --spec"},
	}
	for _, tt := range tests {
		args := append(append(append([]string(nil), data...), "--resume", "--steps", "2"), tt.add...)
		_, stderr, status := runCLI(t, args...)
		if status != tt.status || !strings.Contains(stderr, tt.stderr) || strings.Count(strings.TrimSpace(stderr), "\n") > 0 {
			t.Errorf("resume %s: status %d stderr %q, want %d and one line with %q", tt.name, status, stderr, tt.status, tt.stderr)
		}
	}
	for _, f := range [][]string{{"--padding", "VALID"}, {"--spec", filepath.Join(out, "spec.json")}, {"--outputs", "0"}} {
		_, stderr, status := runCLI(t, append([]string{"ntk", "--quiet", "--x1", x, "--params", filepath.Join(out, "params")}, f...)...)
		if status != 2 || !strings.Contains(stderr, f[0]+" cannot be combined with --params") {
			t.Errorf("ntk --params %v: status %d stderr %q", f, status, stderr)
		}
	}
}

// TestArchFlagDefaults: the one set of defaults, filled in by resolve.
func TestArchFlagDefaults(t *testing.T) {
	tests := []struct {
		finite  bool
		args    []string
		classes int
		want    spec.Spec
	}{
		{false, []string{"--depth", "3", "--sw2", "2"}, 0,
			spec.Spec{Arch: "fcn", Act: "erf", Depth: 3, SW2: 2}},
		{false, []string{"--arch", "cnn-f", "--depth", "3", "--sw2", "2", "--sb2", "0.1"}, 0,
			spec.Spec{Arch: "cnn-f", Act: "erf", Depth: 3, SW2: 2, SB2: 0.1, Filter: 3, Padding: "SAME"}},
		{true, []string{"--depth", "3", "--width", "8", "--sw2", "2"}, 0,
			spec.Spec{Arch: "fcn", Act: "erf", Depth: 3, Width: 8, SW2: 2, Outputs: 10, DType: "float64"}},
		{true, []string{"--arch", "cnn-gap", "--act", "relu", "--depth", "1", "--width", "8", "--sw2", "2", "--filter", "5", "--padding", "VALID", "--outputs", "4"}, 0,
			spec.Spec{Arch: "cnn-gap", Act: "relu", Depth: 1, Width: 8, SW2: 2, Filter: 5, Padding: "VALID", Outputs: 4, DType: "float64"}},
		{true, []string{"--depth", "3", "--width", "8", "--sw2", "2"}, 7,
			spec.Spec{Arch: "fcn", Act: "erf", Depth: 3, Width: 8, SW2: 2, Outputs: 7, DType: "float64"}},
	}
	for _, tt := range tests {
		fs := newFlags("test", "", "")
		a := addArchFlags(fs, "test", tt.finite)
		if err := parseFlags(fs, tt.args, false); err != nil {
			t.Fatal(err)
		}
		got, err := a.resolve(tt.classes)
		if err != nil || got != tt.want {
			t.Errorf("%v (classes %d): %+v, %v; want %+v", tt.args, tt.classes, got, err, tt.want)
		}
	}
}

// TestOverlay: every architecture flag names a field of spec.Spec, which
// overlay takes from the flags when given, and only then.
func TestOverlay(t *testing.T) {
	base := spec.Spec{Arch: "cnn-f", Act: "relu", Depth: 3, Width: 8, SW2: 2, SB2: 0.1, Filter: 5, Padding: "VALID", Outputs: 4, DType: "float64"}
	f := spec.Spec{Arch: "cnn-gap", Act: "erf", Depth: 1, Width: 2, SW2: 1, Filter: 3, Padding: "SAME"}
	all := map[string]bool{}
	for _, n := range archFlagNames {
		all[n] = true
	}
	want := f
	want.DType = base.DType
	if got := overlay(base, f, all); got != want {
		t.Errorf("all flags given: %+v, want %+v", got, want)
	}
	want = base
	want.Width = 2
	if got := overlay(base, f, map[string]bool{"width": true, "quiet": true}); got != want {
		t.Errorf("--width given: %+v, want %+v", got, want)
	}
}
