package main

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gonum.org/v1/gonum/mat"

	"github.com/ntkharness/ntkharness/nets"
	"github.com/ntkharness/ntkharness/npy"
	"github.com/ntkharness/ntkharness/spec"
)

// writeNpy writes n seeded Gaussian examples of the given shape.
func writeNpy(t *testing.T, path string, seed uint64, shape ...int) {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 1))
	a := npy.Array{Shape: shape, Data: make([]float64, npy.Size(shape))}
	for i := range a.Data {
		a.Data[i] = rng.NormFloat64()
	}
	if err := npy.Save(path, a); err != nil {
		t.Fatal(err)
	}
}

func decodeNTK(t *testing.T, stdout string) ntkOutput {
	t.Helper()
	var out ntkOutput
	if err := json.Unmarshal([]byte(stdout), &out); err != nil {
		t.Fatalf("output is not JSON: %v: %q", err, stdout)
	}
	return out
}

func maxAbsDiff(a, b [][]float64) float64 {
	d := 0.0
	for i := range b {
		for j := range b[i] {
			d = math.Max(d, math.Abs(a[i][j]-b[i][j]))
		}
	}
	return d
}

// TestNTKCommand runs the command on small networks of every architecture
// and checks that the structured and jacobian methods print the same
// kernel (rounding, 1e-10 relative), that --spectrum's eigenvalues are
// those of the printed kernel (computed here by gonum's EigenSym, 1e-10
// relative), and that --out writes the printed kernel to ntk.npy.
func TestNTKCommand(t *testing.T) {
	dir := t.TempDir()
	fcnX := filepath.Join(dir, "fcn.npy")
	imgX := filepath.Join(dir, "img.npy")
	imgX2 := filepath.Join(dir, "img2.npy")
	writeNpy(t, fcnX, 1, 4, 5)
	writeNpy(t, imgX, 2, 3, 3, 3, 2)
	writeNpy(t, imgX2, 3, 2, 3, 3, 2)
	tests := []struct {
		name string
		args []string
		n2   int
	}{
		{"fcn", []string{"--arch", "fcn", "--act", "erf", "--depth", "2", "--width", "6", "--sw2", "1.5", "--sb2", "0.1", "--outputs", "3", "--x1", fcnX, "--samples", "2"}, 4},
		{"cnn-f", []string{"--arch", "cnn-f", "--act", "relu", "--depth", "2", "--width", "3", "--sw2", "2", "--sb2", "0.05", "--outputs", "2", "--x1", imgX}, 3},
		{"cnn-gap x2", []string{"--arch", "cnn-gap", "--act", "tanh", "--depth", "1", "--width", "3", "--sw2", "1.7", "--sb2", "0.1", "--outputs", "2", "--x1", imgX, "--x2", imgX2, "--seed", "5"}, 2},
	}
	for _, tc := range tests {
		base := append([]string{"ntk", "--quiet", "--json"}, tc.args...)
		stdout, stderr, status := runCLI(t, append(base, "--method", "structured")...)
		if status != 0 {
			t.Fatalf("%s: status %d: %s", tc.name, status, stderr)
		}
		st := decodeNTK(t, stdout)
		stdout, stderr, status = runCLI(t, append(base, "--method", "jacobian")...)
		if status != 0 {
			t.Fatalf("%s jacobian: status %d: %s", tc.name, status, stderr)
		}
		jc := decodeNTK(t, stdout)
		if len(st.NTK) == 0 || len(st.NTK[0]) != tc.n2 {
			t.Fatalf("%s: kernel has %d rows of %d, want %d columns", tc.name, len(st.NTK), len(st.NTK[0]), tc.n2)
		}
		scale := 0.0
		for _, r := range st.NTK {
			for _, v := range r {
				scale = math.Max(scale, math.Abs(v))
			}
		}
		if d := maxAbsDiff(st.NTK, jc.NTK); d > 1e-10*scale {
			t.Errorf("%s: methods differ by %g", tc.name, d)
		}
		if tc.n2 != len(st.NTK) {
			continue
		}
		outDir := filepath.Join(dir, tc.name)
		stdout, stderr, status = runCLI(t, append(base, "--spectrum", "--out", outDir)...)
		if status != 0 {
			t.Fatalf("%s spectrum: status %d: %s", tc.name, status, stderr)
		}
		sp := decodeNTK(t, stdout)
		n := len(sp.NTK)
		k := mat.NewSymDense(n, nil)
		for i := 0; i < n; i++ {
			for j := i; j < n; j++ {
				k.SetSym(i, j, sp.NTK[i][j])
			}
		}
		var es mat.EigenSym
		if !es.Factorize(k, false) {
			t.Fatal("EigenSym failed")
		}
		want := es.Values(nil)
		for i := range want {
			if math.Abs(sp.Eigenvalues[i]-want[i]) > 1e-10*want[n-1] {
				t.Errorf("%s: eigenvalue %d = %g, want %g", tc.name, i, sp.Eigenvalues[i], want[i])
			}
		}
		if sp.Kappa == nil || math.Abs(float64(*sp.Kappa)-want[n-1]/want[0]) > 1e-6*want[n-1]/want[0] {
			t.Errorf("%s: kappa %v, want %g", tc.name, sp.Kappa, want[n-1]/want[0])
		}
		a, err := npy.Load(filepath.Join(outDir, "ntk.npy"))
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < n; i++ {
			for j := 0; j < n; j++ {
				if a.Data[i*n+j] != sp.NTK[i][j] {
					t.Fatalf("%s: ntk.npy (%d,%d) = %g, printed %g", tc.name, i, j, a.Data[i*n+j], sp.NTK[i][j])
				}
			}
		}
	}
}

// TestNTKCommandParams reads a saved network with --params and --params0:
// the kernel of a network compared with itself changes by exactly 0, and
// doubling the readout weights multiplies the hidden layers' part of the
// kernel by 4 (see ntkempirical's TestKernelChange), which changes it.
func TestNTKCommandParams(t *testing.T) {
	dir := t.TempDir()
	x := filepath.Join(dir, "x.npy")
	writeNpy(t, x, 4, 3, 4)
	s := spec.Spec{Arch: spec.FCN, Act: spec.Erf, Depth: 2, Width: 5, SW2: 1.5, SB2: 0.1, Outputs: 2}
	net, err := nets.New(s, []int{4}, rand.New(rand.NewPCG(1, 2)))
	if err != nil {
		t.Fatal(err)
	}
	init := filepath.Join(dir, "init")
	if err := net.Save(init); err != nil {
		t.Fatal(err)
	}
	ps := net.Params()
	for i := range ps[len(ps)-2].Data {
		ps[len(ps)-2].Data[i] *= 2
	}
	trained := filepath.Join(dir, "trained")
	if err := net.Save(trained); err != nil {
		t.Fatal(err)
	}
	stdout, stderr, status := runCLI(t, "ntk", "--quiet", "--params", init, "--params0", init, "--x1", x)
	if status != 0 {
		t.Fatalf("status %d: %s", status, stderr)
	}
	if out := decodeNTK(t, stdout); out.RelativeChange == nil || *out.RelativeChange != 0 {
		t.Errorf("relative change of a network with itself: %v, want 0", out.RelativeChange)
	}
	stdout, stderr, status = runCLI(t, "ntk", "--quiet", "--params", trained, "--params0", init, "--x1", x)
	if status != 0 {
		t.Fatalf("status %d: %s", status, stderr)
	}
	if out := decodeNTK(t, stdout); out.RelativeChange == nil || *out.RelativeChange < 0.1 {
		t.Errorf("relative change after scaling the readout: %v, want a clear change", out.RelativeChange)
	}

	// --init-seed S redraws the initialization of train --seed S, which
	// draws from PCG(S, 0x6e657473).
	drawn, err := nets.New(s, []int{4}, rand.New(rand.NewPCG(7, 0x6e657473)))
	if err != nil {
		t.Fatal(err)
	}
	seeded := filepath.Join(dir, "seeded")
	if err := drawn.Save(seeded); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		seed string
		zero bool
	}{{"7", true}, {"8", false}} {
		stdout, stderr, status = runCLI(t, "ntk", "--quiet", "--params", seeded, "--init-seed", tc.seed, "--x1", x)
		if status != 0 {
			t.Fatalf("status %d: %s", status, stderr)
		}
		out := decodeNTK(t, stdout)
		if out.RelativeChange == nil || (*out.RelativeChange == 0) != tc.zero {
			t.Errorf("--init-seed %s: relative change %v, want zero: %v", tc.seed, out.RelativeChange, tc.zero)
		}
	}
	if _, stderr, status := runCLI(t, "ntk", "--quiet", "--params", seeded, "--init-seed", "7", "--params0", init, "--x1", x); status != 2 || !strings.Contains(stderr, "not both") {
		t.Errorf("--init-seed with --params0: status %d, %q", status, stderr)
	}
}

func TestNTKCommandErrors(t *testing.T) {
	dir := t.TempDir()
	x := filepath.Join(dir, "x.npy")
	writeNpy(t, x, 1, 3, 4)
	bad := filepath.Join(dir, "bad.npy")
	if err := os.WriteFile(bad, []byte("not an array"), 0o644); err != nil {
		t.Fatal(err)
	}
	arch := []string{"--arch", "fcn", "--act", "erf", "--depth", "1", "--width", "3", "--sw2", "1", "--quiet"}
	with := func(extra ...string) []string { return append(append([]string{"ntk"}, arch...), extra...) }
	tests := []struct {
		args   []string
		status int
		stderr string
	}{
		{with(), 2, "--x1 is required"},
		{with("--x1", x, "--method", "forward"), 2, `--method "forward"`},
		{with("--x1", x, "--samples", "0"), 2, "--samples 0"},
		{with("--x1", x, "--x2", x, "--spectrum"), 2, "--spectrum needs a square kernel"},
		{with("--x1", x, "--params", dir), 2, "cannot be combined with --params"},
		{[]string{"ntk", "--x1", x, "--arch", "fcn", "--act", "erf", "--depth", "1", "--width", "3"}, 2, "--sw2 is required"},
		{with("--x1", x, "--depth", "0"), 2, "depth 0"},
		{with("--x1", x, "--act", "sigmoid"), 2, `unknown activation "sigmoid"`},
		{with("--x1", filepath.Join(dir, "missing.npy")), 1, "missing.npy"},
		{with("--x1", bad), 1, "bad.npy"},
		{with("--x1", x, "--max-memory", "0"), 2, "--max-memory 0"},
		{[]string{"ntk", "--quiet", "--params", filepath.Join(dir, "nonet"), "--x1", x}, 1, "nonet"},
		{[]string{"ntk", "--quiet", "--arch", "cnn-f", "--act", "erf", "--depth", "1", "--width", "2", "--sw2", "1", "--x1", x}, 1, "needs images"},
	}
	for _, tc := range tests {
		_, stderr, status := runCLI(t, tc.args...)
		if status != tc.status || !strings.Contains(stderr, tc.stderr) {
			t.Errorf("%v: status %d stderr %q, want %d and %q", tc.args[1:], status, stderr, tc.status, tc.stderr)
		}
		if strings.Count(strings.TrimSpace(stderr), "\n") > 0 {
			t.Errorf("%v: error is not one line: %q", tc.args[1:], stderr)
		}
	}
}

// TestNTKCommandTheory checks --theory on a depth-1 erf fcn against the
// closed form of the erf NTK: K1 = sw2 x.x'/d + sb2, Theta1 = K1,
// Theta = sw2 T(K1) + sb2 + sw2 Tdot(K1) K1 with
// T = (2/pi) asin(2 K12 / sqrt((1+2 K11)(1+2 K22))) and
// Tdot = (4/pi) / sqrt((1+2 K11)(1+2 K22) - 4 K12^2) (1e-12 relative,
// rounding), and the reported error against 5% at width 1024.
func TestNTKCommandTheory(t *testing.T) {
	dir := t.TempDir()
	x := filepath.Join(dir, "x.npy")
	writeNpy(t, x, 6, 3, 4)
	a, err := npy.Load(x)
	if err != nil {
		t.Fatal(err)
	}
	sw2, sb2 := 1.5, 0.1
	stdout, stderr, status := runCLI(t, "ntk", "--quiet", "--theory", "--arch", "fcn", "--act", "erf", "--depth", "1",
		"--width", "1024", "--sw2", "1.5", "--sb2", "0.1", "--x1", x)
	if status != 0 {
		t.Fatalf("status %d: %s", status, stderr)
	}
	out := decodeNTK(t, stdout)
	k1 := func(i, j int) float64 {
		s := 0.0
		for c := 0; c < 4; c++ {
			s += a.Data[i*4+c] * a.Data[j*4+c]
		}
		return sw2*s/4 + sb2
	}
	for i := 0; i < 3; i++ {
		for j := 0; j < 3; j++ {
			k11, k22, k12 := k1(i, i), k1(j, j), k1(i, j)
			den := (1 + 2*k11) * (1 + 2*k22)
			tt := 2 / math.Pi * math.Asin(2*k12/math.Sqrt(den))
			td := 4 / math.Pi / math.Sqrt(den-4*k12*k12)
			want := sw2*tt + sb2 + sw2*td*k12
			if got := out.TheoryNTK[i][j]; math.Abs(got-want) > 1e-12*math.Abs(want) {
				t.Errorf("theory_ntk(%d,%d) = %.15g, want %.15g", i, j, got, want)
			}
		}
	}
	if out.TheoryError == nil || *out.TheoryError > 0.05 {
		t.Errorf("theory_relative_error %v at width 1024, want <= 0.05", out.TheoryError)
	}
	// --out writes the same numbers as files.
	outDir := filepath.Join(dir, "out")
	if _, stderr, status := runCLI(t, "ntk", "--quiet", "--theory", "--arch", "fcn", "--act", "erf", "--depth", "1",
		"--width", "1024", "--sw2", "1.5", "--sb2", "0.1", "--x1", x, "--out", outDir); status != 0 {
		t.Fatalf("--out: status %d: %s", status, stderr)
	}
	th, err := npy.Load(filepath.Join(outDir, "theory_ntk.npy"))
	if err != nil || th.Data[1] != out.TheoryNTK[0][1] {
		t.Errorf("theory_ntk.npy: %v, %v; want (0,1) = %g", err, th.Data, out.TheoryNTK[0][1])
	}
	b, err := os.ReadFile(filepath.Join(outDir, "summary.json"))
	var sum struct {
		TheoryError *float64 `json:"theory_relative_error"`
	}
	if err != nil || json.Unmarshal(b, &sum) != nil || sum.TheoryError == nil || *sum.TheoryError != *out.TheoryError {
		t.Errorf("summary.json: %v %s: want theory_relative_error %v", err, b, *out.TheoryError)
	}
	if _, stderr, status := runCLI(t, "ntk", "--quiet", "--theory", "--params", dir, "--x1", x); status != 2 || !strings.Contains(stderr, "--theory") {
		t.Errorf("--theory with --params: status %d, %q", status, stderr)
	}
}

// TestNTKMemoryBeforeBuilding: plans over a memory budget are refused from
// the shapes alone, in well under a second, before any network or kernel
// is allocated (width 100000 used to die out of memory with a goroutine
// dump, width 25000 to build 9.8 GB of network before refusing).
func TestNTKMemoryBeforeBuilding(t *testing.T) {
	dir := t.TempDir()
	x := filepath.Join(dir, "x.npy")
	writeNpy(t, x, 1, 4, 6)
	tests := []struct {
		name   string
		args   []string
		stderr string
	}{
		{"width 100000", []string{"--arch", "fcn", "--act", "erf", "--depth", "2", "--width", "100000", "--sw2", "1", "--x1", x}, "over the memory budget of 2.0 GiB"},
		{"width 25000", []string{"--arch", "fcn", "--act", "erf", "--depth", "2", "--width", "25000", "--sw2", "1", "--x1", x}, "over the memory budget"},
		{"samples", []string{"--arch", "fcn", "--act", "erf", "--depth", "2", "--width", "25000", "--sw2", "1", "--samples", "3", "--x1", x}, "over the memory budget"},
		{"jacobian", []string{"--arch", "fcn", "--act", "erf", "--depth", "2", "--width", "100000", "--sw2", "1", "--method", "jacobian", "--x1", x}, "does not fit the memory budget"},
	}
	for _, tt := range tests {
		start := time.Now()
		_, stderr, status := runCLI(t, append(append([]string{"ntk", "--quiet"}, tt.args...), "--max-memory", "2048")...)
		if status != 1 || !strings.Contains(stderr, tt.stderr) {
			t.Errorf("%s: status %d stderr %q, want 1 and %q", tt.name, status, stderr, tt.stderr)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("%s: refused after %v, want before any work", tt.name, d)
		}
	}
}
