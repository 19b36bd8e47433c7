package main

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestMeanFieldCLIReference runs every row of the reference table
// (theory/testdata/meanfield.json, independent values) through
// `meanfield --json` and checks the output contract: exactly the documented
// keys, null where the reference has null, values to 1e-9.
func TestMeanFieldCLIReference(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "theory", "testdata", "meanfield.json"))
	if err != nil {
		t.Fatal(err)
	}
	var ref struct {
		MeanField []map[string]any `json:"meanfield"`
		Critical  []map[string]any `json:"critical"`
	}
	if err := json.Unmarshal(b, &ref); err != nil {
		t.Fatal(err)
	}
	keys := []string{"q_star", "c_star", "chi_1", "chi_c_star", "xi_1", "xi_star", "xi_c_star", "phase"}
	for _, r := range ref.MeanField {
		args := []string{"meanfield", "--act", r["act"].(string), "--sw2", fmt.Sprint(r["sw2"]), "--sb2", fmt.Sprint(r["sb2"]), "--json"}
		stdout, stderr, status := runCLI(t, args...)
		if status != 0 {
			t.Errorf("%v: status %d, %s", args, status, stderr)
			continue
		}
		if strings.Count(strings.TrimSpace(stdout), "\n") != 0 {
			t.Errorf("%v: output is not one line: %q", args, stdout)
		}
		var got map[string]any
		if err := json.Unmarshal([]byte(stdout), &got); err != nil {
			t.Errorf("%v: %v in %q", args, err, stdout)
			continue
		}
		if len(got) != len(keys) {
			t.Errorf("%v: keys %v, want exactly %v", args, got, keys)
		}
		for _, k := range keys {
			g, ok := got[k]
			if !ok {
				t.Errorf("%v: key %s missing", args, k)
				continue
			}
			w := r[k]
			switch w := w.(type) {
			case nil:
				if g != nil {
					t.Errorf("%v: %s = %v, want null", args, k, g)
				}
			case string:
				if g != w {
					t.Errorf("%v: %s = %v, want %v", args, k, g, w)
				}
			case float64:
				// Depth scales amplify errors of chi by xi/chi (see the
				// theory tests): relative 1e-6; fixed points absolute 1e-9.
				gf, ok := g.(float64)
				tol := 1e-9
				if strings.HasPrefix(k, "xi") {
					tol = 1e-6 * math.Abs(w)
				}
				if !ok || math.Abs(gf-w) > tol {
					t.Errorf("%v: %s = %v, want %v", args, k, g, w)
				}
			}
		}
	}
	for _, r := range ref.Critical {
		args := []string{"meanfield", "--act", r["act"].(string), "--sb2", fmt.Sprint(r["sb2"]), "--critical", "--json"}
		stdout, stderr, status := runCLI(t, args...)
		var got map[string]float64
		if status != 0 || json.Unmarshal([]byte(stdout), &got) != nil || len(got) != 1 ||
			math.Abs(got["sw2_critical"]-r["sw2_critical"].(float64)) > 1e-9 {
			t.Errorf("%v: %q %q status %d, want sw2_critical %v", args, stdout, stderr, status, r["sw2_critical"])
		}
	}
}

func TestMeanFieldCLITable(t *testing.T) {
	stdout, _, status := runCLI(t, "meanfield", "--act", "erf", "--sw2", "1.5", "--sb2", "0.05")
	// erf at sb2 = 0.05, sw2 = 1.5 (chaotic): q* = 0.6018, xi_* = 15.4.
	for _, want := range []string{"phase       chaotic", "q*          0.6017", "xi_*        15.37", "xi_1        -  (ordered phase only)"} {
		if status != 0 || !strings.Contains(stdout, want) {
			t.Errorf("table (status %d) lacks %q:\n%s", status, want, stdout)
		}
	}
	stdout, _, status = runCLI(t, "meanfield", "--act", "erf", "--sb2", "0.18", "--critical")
	if status != 0 || !strings.Contains(stdout, "critical sw2 for erf at sb2=0.18: 1.747") {
		t.Errorf("critical (status %d): %q, want about 1.748", status, stdout)
	}
}

func TestMeanFieldCLIErrors(t *testing.T) {
	tests := []struct {
		args   []string
		status int
		stderr string
	}{
		{[]string{"--act", "sigmoid", "--sw2", "1", "--sb2", "0.1"}, 2, `--act "sigmoid": unknown activation`},
		{[]string{"--sw2", "-1", "--sb2", "0.1"}, 2, "--sw2 -1: must be finite and positive"},
		{[]string{"--sw2", "0", "--sb2", "0.1"}, 2, "--sw2 0: must be finite and positive"},
		{[]string{"--sw2", "NaN", "--sb2", "0.1"}, 2, "--sw2 NaN"},
		{[]string{"--sw2", "Inf", "--sb2", "0.1"}, 2, "--sw2 +Inf"},
		{[]string{"--sw2", "1", "--sb2", "-0.1"}, 2, "--sb2 -0.1: must be finite and non-negative"},
		{[]string{"--sw2", "abc", "--sb2", "0.1"}, 2, `invalid value "abc" for flag -sw2`},
		{[]string{"--sw2", "1"}, 2, "--sb2 is required"},
		{[]string{"--sb2", "1"}, 2, "--sw2 is required without --critical"},
		{[]string{"--sw2", "1", "--sb2", "1", "--critical"}, 2, "exclude each other"},
		{[]string{"--sb2", "-1", "--critical"}, 2, "--sb2 -1"},
		{[]string{"--act", "relu", "--sw2", "2", "--sb2", "0.1"}, 1, "relu needs sw2 < 2"},
		{[]string{"--act", "relu", "--sw2", "2.5", "--sb2", "0.1", "--json"}, 1, "relu needs sw2 < 2"},
		{[]string{"--act", "erf", "--sw2", "0.5", "--sb2", "0"}, 1, "q* = 0"},
		{[]string{"--act", "tanh", "--sw2", "1", "--sb2", "0.1", "--tanh-quadrature", "simpson"}, 2, `--tanh-quadrature "simpson": want hermite or strip`},
		{[]string{"--act", "erf", "--sw2", "1", "--sb2", "0.1", "--tanh-quadrature", "strip"}, 2, "--tanh-quadrature applies to tanh, not erf"},
		{[]string{"--act", "relu", "--sb2", "0.1", "--critical", "--tanh-quadrature", "hermite"}, 2, "--tanh-quadrature applies to tanh, not relu"},
		// 61-node Gauss-Hermite is 10% off near variance 100: the stability
		// guard refuses the state it computes.
		{[]string{"--act", "tanh", "--sw2", "100", "--sb2", "0.05", "--tanh-quadrature", "hermite"}, 1, "not stable"},
	}
	for _, tt := range tests {
		args := append([]string{"meanfield"}, tt.args...)
		stdout, stderr, status := runCLI(t, args...)
		if status != tt.status || !strings.Contains(stderr, tt.stderr) || stdout != "" {
			t.Errorf("%v: status %d stdout %q stderr %q; want %d and %q", args, status, stdout, stderr, tt.status, tt.stderr)
		}
		if strings.Count(strings.TrimSpace(stderr), "\n") > 0 {
			t.Errorf("%v: error is not one line: %q", args, stderr)
		}
	}
}

// TestMeanFieldCLITanhQuadrature checks --tanh-quadrature: strip is the
// default (identical output), hermite is labelled APPROXIMATE in the table
// and differs from strip by the small error of that rule at moderate
// variance (q* = 0.418, chi_1 = 0.9386), and --help documents both.
func TestMeanFieldCLITanhQuadrature(t *testing.T) {
	base := []string{"meanfield", "--act", "tanh", "--sw2", "1.5", "--sb2", "0.05", "--json"}
	def, _, s1 := runCLI(t, base...)
	strip, _, s2 := runCLI(t, append(base, "--tanh-quadrature", "strip")...)
	herm, _, s3 := runCLI(t, append(base, "--tanh-quadrature", "hermite")...)
	if s1 != 0 || s2 != 0 || s3 != 0 {
		t.Fatalf("status %d %d %d", s1, s2, s3)
	}
	if def != strip {
		t.Errorf("default %q differs from strip %q", def, strip)
	}
	var a, b struct {
		Chi1 float64 `json:"chi_1"`
	}
	if err := json.Unmarshal([]byte(strip), &a); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(herm), &b); err != nil {
		t.Fatal(err)
	}
	if d := math.Abs(a.Chi1 - b.Chi1); d == 0 || d > 1e-8 {
		t.Errorf("chi_1 strip %v, hermite %v: want a small nonzero difference", a.Chi1, b.Chi1)
	}
	table, _, _ := runCLI(t, "meanfield", "--act", "tanh", "--sw2", "1.5", "--sb2", "0.05", "--tanh-quadrature", "hermite")
	if !strings.Contains(table, "tanh (61-node Gauss-Hermite, APPROXIMATE)") {
		t.Errorf("hermite table is not labelled approximate:\n%s", table)
	}
	crit, _, _ := runCLI(t, "meanfield", "--act", "tanh", "--sb2", "0.05", "--critical", "--tanh-quadrature", "hermite")
	if !strings.Contains(crit, "APPROXIMATE") {
		t.Errorf("hermite critical line is not labelled approximate: %q", crit)
	}
	table, _, _ = runCLI(t, "meanfield", "--act", "tanh", "--sw2", "1.5", "--sb2", "0.05")
	if strings.Contains(table, "APPROXIMATE") {
		t.Errorf("default table labelled approximate:\n%s", table)
	}
	hout, herr, _ := runCLI(t, "meanfield", "--help")
	help := hout + herr
	for _, want := range []string{"-tanh-quadrature", "hermite: APPROXIMATE", "strip: converged"} {
		if !strings.Contains(help, want) {
			t.Errorf("--help lacks %q", want)
		}
	}
}
