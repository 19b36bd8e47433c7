package main

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/ntkharness/ntkharness/activation"
	"github.com/ntkharness/ntkharness/npy"
	"github.com/ntkharness/ntkharness/spec"
	"github.com/ntkharness/ntkharness/theory"
)

// kernelInputs writes seeded Gaussian inputs of the given shape to dir/name.
func kernelInputs(t *testing.T, dir, name string, seed uint64, shape ...int) (string, npy.Array) {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 7))
	a := npy.New(shape...)
	for i := range a.Data {
		a.Data[i] = rng.NormFloat64()
	}
	p := filepath.Join(dir, name)
	if err := npy.Save(p, a); err != nil {
		t.Fatal(err)
	}
	return p, a
}

// equalExactly compares a JSON-decoded matrix with a kernel: Go's JSON
// encoding of float64 is the shortest representation that round-trips, so
// the contract is bit-exact.
func equalExactly(t *testing.T, what string, got [][]float64, want *mat.Dense) {
	t.Helper()
	r, c := want.Dims()
	if len(got) != r {
		t.Fatalf("%s: %d rows, want %d", what, len(got), r)
	}
	for i := range got {
		if len(got[i]) != c {
			t.Fatalf("%s: row %d has %d columns, want %d", what, i, len(got[i]), c)
		}
		for j := range got[i] {
			if got[i][j] != want.At(i, j) {
				t.Fatalf("%s[%d][%d] = %v, want %v", what, i, j, got[i][j], want.At(i, j))
			}
		}
	}
}

func TestKernelJSONContract(t *testing.T) {
	dir := t.TempDir()
	flat1, a1 := kernelInputs(t, dir, "a.npy", 1, 4, 6)
	flat2, a2 := kernelInputs(t, dir, "b.npy", 2, 3, 6)
	img1, i1 := kernelInputs(t, dir, "i1.npy", 3, 3, 4, 4, 2)
	img2, i2 := kernelInputs(t, dir, "i2.npy", 4, 2, 4, 4, 2)
	specPath := filepath.Join(dir, "spec.json")
	if err := (spec.Spec{Arch: "cnn-f", Act: "relu", Depth: 2, SW2: 2, SB2: 0.1}).Save(specPath); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		args   []string
		s      spec.Spec
		x1, x2 npy.Array
		act    theory.Activation
	}{
		{"fcn-erf-sym", []string{"--arch", "fcn", "--act", "erf", "--depth", "3", "--sw2", "1.5", "--sb2", "0.05", "--x1", flat1},
			spec.Spec{Arch: "fcn", Act: "erf", Depth: 3, SW2: 1.5, SB2: 0.05}, a1, npy.Array{}, nil},
		{"fcn-tanh-cross", []string{"--act", "tanh", "--depth", "2", "--sw2", "1.2", "--sb2", "0.1", "--x1", flat1, "--x2", flat2},
			spec.Spec{Arch: "fcn", Act: "tanh", Depth: 2, SW2: 1.2, SB2: 0.1}, a1, a2, nil},
		{"cnn-gap-cross", []string{"--arch", "cnn-gap", "--act", "erf", "--depth", "2", "--sw2", "1.7", "--sb2", "0.2", "--x1", img1, "--x2", img2},
			spec.Spec{Arch: "cnn-gap", Act: "erf", Depth: 2, SW2: 1.7, SB2: 0.2}, i1, i2, nil},
		{"spec-file", []string{"--spec", specPath, "--x1", img1},
			spec.Spec{Arch: "cnn-f", Act: "relu", Depth: 2, SW2: 2, SB2: 0.1}, i1, npy.Array{}, nil},
		{"tanh-strip", []string{"--act", "tanh", "--tanh-quadrature", "strip", "--depth", "2", "--sw2", "2", "--x1", flat2},
			spec.Spec{Arch: "fcn", Act: "tanh", Depth: 2, SW2: 2}, a2, npy.Array{}, theory.TanhStrip()},
		{"tanh-hermite", []string{"--act", "tanh", "--tanh-quadrature", "hermite", "--depth", "2", "--sw2", "2", "--x1", flat2},
			spec.Spec{Arch: "fcn", Act: "tanh", Depth: 2, SW2: 2}, a2, npy.Array{}, theory.HermiteQuadrature(activation.Tanh, 61)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stdout, stderr, status := runCLI(t, append([]string{"kernel", "--json"}, tt.args...)...)
			if status != 0 {
				t.Fatalf("status %d, stderr %q", status, stderr)
			}
			if strings.Count(strings.TrimSpace(stdout), "\n") != 0 {
				t.Errorf("stdout is not one line: %q", stdout)
			}
			var got struct {
				NNGP [][]float64 `json:"nngp"`
				NTK  [][]float64 `json:"ntk"`
			}
			dec := json.NewDecoder(strings.NewReader(stdout))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&got); err != nil {
				t.Fatalf("stdout %q: %v", stdout, err)
			}
			want, err := theory.Compute(tt.s, tt.x1, tt.x2, theory.Options{Activation: tt.act})
			if err != nil {
				t.Fatal(err)
			}
			equalExactly(t, "nngp", got.NNGP, want.NNGP)
			equalExactly(t, "ntk", got.NTK, want.NTK)
		})
	}
}

func TestKernelOut(t *testing.T) {
	dir := t.TempDir()
	x1, a1 := kernelInputs(t, dir, "a.npy", 5, 5, 3)
	out := filepath.Join(dir, "res")
	_, stderr, status := runCLI(t, "kernel", "--act", "relu", "--depth", "4", "--sw2", "2", "--x1", x1, "--out", out)
	if status != 0 {
		t.Fatalf("status %d, stderr %q", status, stderr)
	}
	want, err := theory.Compute(spec.Spec{Arch: "fcn", Act: "relu", Depth: 4, SW2: 2}, a1, npy.Array{}, theory.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for name, m := range map[string]*mat.Dense{"nngp.npy": want.NNGP, "ntk.npy": want.NTK} {
		a, err := npy.Load(filepath.Join(out, name))
		if err != nil {
			t.Fatal(err)
		}
		if len(a.Shape) != 2 || a.Shape[0] != 5 || a.Shape[1] != 5 {
			t.Fatalf("%s shape %v, want [5 5]", name, a.Shape)
		}
		for i, v := range a.Data {
			if v != m.At(i/5, i%5) {
				t.Fatalf("%s[%d] = %v, want %v", name, i, v, m.At(i/5, i%5))
			}
		}
	}
}

func TestKernelErrors(t *testing.T) {
	dir := t.TempDir()
	flat, _ := kernelInputs(t, dir, "a.npy", 1, 3, 4)
	other, _ := kernelInputs(t, dir, "b.npy", 2, 3, 5)
	nan := filepath.Join(dir, "nan.npy")
	bad := npy.New(2, 2)
	bad.Data[3] = math.NaN()
	if err := npy.Save(nan, bad); err != nil {
		t.Fatal(err)
	}
	img, _ := kernelInputs(t, dir, "img.npy", 3, 40, 8, 8, 1)
	garbage := filepath.Join(dir, "garbage.npy")
	if err := os.WriteFile(garbage, []byte("not an array"), 0o644); err != nil {
		t.Fatal(err)
	}
	base := []string{"kernel", "--depth", "2", "--sw2", "1.5", "--json"}
	tests := []struct {
		name   string
		args   []string
		status int
		stderr string
	}{
		{"no x1", []string{"kernel", "--depth", "2", "--sw2", "1", "--json"}, 2, "--x1 is required"},
		{"no output", []string{"kernel", "--depth", "2", "--sw2", "1", "--x1", flat}, 2, "give --json or --out"},
		{"no depth", []string{"kernel", "--sw2", "1", "--x1", flat, "--json"}, 2, "--depth is required without --spec"},
		{"unknown arch", append(base, "--arch", "rnn", "--x1", flat), 2, `unknown arch "rnn"`},
		{"unknown act", append(base, "--act", "gelu", "--x1", flat), 2, `unknown activation "gelu"`},
		{"depth 0", []string{"kernel", "--depth", "0", "--sw2", "1", "--x1", flat, "--json"}, 2, "depth 0"},
		{"negative sb2", append(base, "--sb2", "-1", "--x1", flat), 2, "sb2 -1"},
		{"nan sw2", []string{"kernel", "--depth", "2", "--sw2", "NaN", "--x1", flat, "--json"}, 2, "sw2 NaN"},
		{"filter on fcn", append(base, "--filter", "5", "--x1", flat), 2, "--filter and --padding apply"},
		{"spec and flags", append(base, "--spec", "s.json", "--x1", flat), 2, "given with --spec"},
		{"bad tanh rule", append(base, "--tanh-quadrature", "simpson", "--x1", flat), 2, `--tanh-quadrature "simpson"`},
		{"strip for erf", append(base, "--tanh-quadrature", "strip", "--x1", flat), 2, "applies to tanh, not erf"},
		{"bad mem limit", append(base, "--mem-limit", "-1", "--x1", flat), 2, "--mem-limit -1"},
		{"missing file", append(base, "--x1", filepath.Join(dir, "none.npy")), 1, "--x1 "},
		{"garbage file", append(base, "--x1", garbage), 1, "garbage.npy"},
		{"shapes disagree", append(base, "--x1", flat, "--x2", other), 1, "disagree"},
		{"flat to cnn", append(base, "--arch", "cnn-f", "--x1", flat), 1, "needs images [N, H, W, C]"},
		{"nan input", append(base, "--x1", nan), 1, "x1 has NaN at example 1"},
		{"over memory", append(base, "--arch", "cnn-gap", "--x1", img, "--mem-limit", "0.0001"), 1, "over the memory limit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stdout, stderr, status := runCLI(t, tt.args...)
			if status != tt.status || !strings.Contains(stderr, tt.stderr) {
				t.Errorf("status %d stderr %q, want %d and %q", status, stderr, tt.status, tt.stderr)
			}
			if strings.Count(strings.TrimSpace(stderr), "\n") > 0 {
				t.Errorf("error is not one line: %q", stderr)
			}
			if stdout != "" {
				t.Errorf("stdout %q on error, want nothing", stdout)
			}
		})
	}
}

// TestKernelSingularWarning: a depth-1000 erf network in the ordered phase
// (sw2 = 1.25, sb2 = 0.05, chi_1 = 0.96) has Theta -> p* 1 1^T up to terms
// of order 1000 chi_1^1000 ~ 1e-14 relative, so its NTK on 6 inputs has a
// condition number above 1e12; the command must say so on stderr and still print
// the JSON. A depth-2 kernel of the same inputs is well conditioned.
func TestKernelSingularWarning(t *testing.T) {
	dir := t.TempDir()
	x, _ := kernelInputs(t, dir, "x.npy", 9, 6, 5)
	for _, tt := range []struct {
		depth string
		warn  bool
	}{{"1000", true}, {"2", false}} {
		stdout, stderr, status := runCLI(t, "kernel", "--depth", tt.depth, "--sw2", "1.25", "--sb2", "0.05", "--x1", x, "--json")
		if status != 0 || !strings.HasPrefix(stdout, `{"nngp":`) {
			t.Fatalf("depth %s: status %d, stdout %q, stderr %q", tt.depth, status, stdout, stderr)
		}
		if got := strings.Contains(stderr, "numerically singular"); got != tt.warn {
			t.Errorf("depth %s: warning printed %v, want %v (stderr %q)", tt.depth, got, tt.warn, stderr)
		}
	}
}
