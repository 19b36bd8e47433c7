package main

import (
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ntkharness/ntkharness/internal/testshared"

	"github.com/ntkharness/ntkharness/npy"
)

// writeToyNpy writes n examples of dimension d (or images h x w x 1 when
// image) and labels of 2 classes to dir and returns the paths.
func writeToyNpy(t *testing.T, dir string, n, d int, image bool) (x, y string) {
	t.Helper()
	rng := rand.New(rand.NewPCG(1, 2))
	shape := []int{n, d}
	if image {
		shape = []int{n, 2, d / 2, 1}
	}
	xa := npy.New(shape...)
	ya := npy.New(n)
	for i := 0; i < n; i++ {
		s := 0.0
		for j := 0; j < d; j++ {
			v := rng.NormFloat64()
			xa.Data[i*d+j] = v
			s += v
		}
		if s > 0 {
			ya.Data[i] = 1
		}
	}
	x, y = filepath.Join(dir, "x.npy"), filepath.Join(dir, "y.npy")
	if err := npy.Save(x, xa); err != nil {
		t.Fatal(err)
	}
	if err := npy.Save(y, ya); err != nil {
		t.Fatal(err)
	}
	return x, y
}

func TestTrainCommand(t *testing.T) {
	dir := t.TempDir()
	x, y := writeToyNpy(t, dir, 8, 6, false)
	out := filepath.Join(dir, "run")
	base := []string{"train", "--depth", "2", "--width", "512", "--sw2", "1.5", "--sb2", "0.05", "--x-train", x, "--y-train", y, "--x-test", x, "--y-test", y,
		"--width", "64", "--depth", "2", "--quiet", "--out", out}

	stdout, stderr, status := runCLI(t, append(base, "--steps", "4", "--lr-factor", "0.5")...)
	if status != 0 || !strings.HasPrefix(stdout, "done: step 4") {
		t.Fatalf("first run: status %d, stdout %q, stderr %q", status, stdout, stderr)
	}
	for _, f := range []string{"spec.json", "history.json", "history.csv", "params/w1.npy", "params/w_out.npy", "params/state.json"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Errorf("missing output: %v", err)
		}
	}
	// The same folder again without --resume is refused.
	if _, stderr, status := runCLI(t, append(base, "--steps", "4")...); status != 2 || !strings.Contains(stderr, "--resume") {
		t.Errorf("rerun without --resume: status %d, stderr %q", status, stderr)
	}
	// Resume to 8 steps: the history continues with 8 as its last point.
	stdout, stderr, status = runCLI(t, append(base, "--steps", "8", "--resume")...)
	if status != 0 || !strings.HasPrefix(stdout, "done: step 8") {
		t.Fatalf("resume: status %d, stdout %q, stderr %q", status, stdout, stderr)
	}
	var h struct {
		Step   int
		Points []struct{ Step int }
	}
	b, _ := os.ReadFile(filepath.Join(out, "history.json"))
	if err := json.Unmarshal(b, &h); err != nil {
		t.Fatal(err)
	}
	if h.Step != 8 || h.Points[len(h.Points)-1].Step != 8 || h.Points[3].Step != 4 {
		t.Errorf("history after resume: %+v", h)
	}
	// A resumed run cannot change the architecture.
	if _, stderr, status := runCLI(t, append(base, "--steps", "9", "--resume", "--width", "32")...); status != 2 || !strings.Contains(stderr, "checkpoint") {
		t.Errorf("resume with another width: status %d, stderr %q", status, stderr)
	}

	// Above the critical step the run diverges: status 0 and a summary.
	stdout, stderr, status = runCLI(t, "train", "--depth", "2", "--sw2", "1.5", "--sb2", "0.05", "--x-train", x, "--y-train", y, "--width", "256", "--quiet",
		"--steps", "200", "--lr-factor", "3", "--out", filepath.Join(dir, "div"))
	if status != 0 || !strings.HasPrefix(stdout, "diverged at step") {
		t.Errorf("lr-factor 3: status %d, stdout %q, stderr %q", status, stdout, stderr)
	}
}

func TestTrainCommandErrors(t *testing.T) {
	dir := t.TempDir()
	x, y := writeToyNpy(t, dir, 4, 6, false)
	xi, yi := writeToyNpy(t, t.TempDir(), 4, 6, true)
	frac := filepath.Join(dir, "frac.npy")
	if err := npy.Save(frac, npy.Array{Shape: []int{4}, Data: []float64{0, 1, 0.5, 1}}); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "o")
	data := []string{"--x-train", x, "--y-train", y, "--out", out, "--quiet"}
	tests := []struct {
		args   []string
		status int
		stderr string
	}{
		{[]string{"train", "--depth", "2", "--width", "512", "--sw2", "1.5", "--sb2", "0.05", "--x-train", x, "--y-train", y}, 2, "--out is required"},
		{append([]string{"train", "--depth", "2", "--width", "512", "--sw2", "1.5", "--sb2", "0.05", "--arch", "mlp"}, data...), 2, `unknown arch "mlp"`},
		{append([]string{"train", "--depth", "2", "--width", "512", "--sb2", "0.05", "--sw2", "-1"}, data...), 2, "sw2 -1"},
		{append([]string{"train", "--depth", "2", "--width", "512", "--sw2", "1.5", "--sb2", "0.05", "--lr", "0"}, data...), 2, "--lr 0"},
		{append([]string{"train", "--depth", "2", "--width", "512", "--sw2", "1.5", "--sb2", "0.05", "--lr-factor", "NaN"}, data...), 2, "--lr-factor NaN"},
		{append([]string{"train", "--depth", "2", "--width", "512", "--sw2", "1.5", "--sb2", "0.05", "--steps", "-3"}, data...), 2, "--steps -3"},
		{append([]string{"train", "--depth", "2", "--width", "512", "--sw2", "1.5", "--sb2", "0.05", "--lambda", "exact"}, data...), 2, `--lambda "exact"`},
		{[]string{"train", "--depth", "2", "--width", "512", "--sw2", "1.5", "--sb2", "0.05", "--out", out}, 2, "no data"},
		{[]string{"train", "--depth", "2", "--width", "512", "--sw2", "1.5", "--sb2", "0.05", "--dataset", "mnist", "--x-train", x, "--out", out}, 2, "not both"},
		{[]string{"train", "--depth", "2", "--width", "512", "--sw2", "1.5", "--sb2", "0.05", "--dataset", "svhn", "--out", out}, 2, `unknown --dataset "svhn"`},
		{[]string{"train", "--depth", "2", "--width", "512", "--sw2", "1.5", "--sb2", "0.05", "--x-train", x, "--out", out}, 2, "go together"},
		{[]string{"train", "--depth", "2", "--width", "512", "--sw2", "1.5", "--sb2", "0.05", "--x-train", filepath.Join(dir, "none.npy"), "--y-train", y, "--out", out}, 1, "none.npy"},
		{[]string{"train", "--depth", "2", "--width", "512", "--sw2", "1.5", "--sb2", "0.05", "--x-train", x, "--y-train", frac, "--out", out}, 1, "label 2 is 0.5"},
		// Flat inputs for a CNN.
		{append([]string{"train", "--depth", "2", "--width", "512", "--sw2", "1.5", "--sb2", "0.05", "--arch", "cnn-f"}, data...), 1, "cnn-f needs images [N, H, W, C]"},
		// Too much memory.
		{append([]string{"train", "--sw2", "1.5", "--sb2", "0.05", "--width", "100000", "--depth", "10"}, data...), 1, "over --mem-limit 16 GiB"},
		{append([]string{"train", "--depth", "2", "--width", "512", "--sw2", "1.5", "--sb2", "0.05", "--mem-limit", "0"}, data...), 2, "--mem-limit 0"},
		{[]string{"train", "--resume", "--x-train", x, "--y-train", y, "--out", filepath.Join(dir, "nothing")}, 1, "no checkpoint"},
		// Images for a CNN work; a VALID stack deeper than the image does not.
		{[]string{"train", "--width", "512", "--sw2", "1.5", "--sb2", "0.05", "--arch", "cnn-f", "--padding", "VALID", "--depth", "3", "--x-train", xi, "--y-train", yi, "--out", out}, 1, "too small"},
	}
	for _, tt := range tests {
		_, stderr, status := runCLI(t, tt.args...)
		if status != tt.status || !strings.Contains(stderr, tt.stderr) {
			t.Errorf("%v: status %d stderr %q, want %d and %q", tt.args[1:], status, stderr, tt.status, tt.stderr)
		}
		if strings.Count(strings.TrimSpace(stderr), "\n") > 0 {
			t.Errorf("%v: error is not one line: %q", tt.args[1:], stderr)
		}
	}
}

// TestTrainLambdaSources: lambda_max of the analytic NTK and of a width-512
// network's empirical NTK agree to the finite-width fluctuation, well
// within 10% for this depth-2 erf network on 8 points.
func TestTrainLambdaSources(t *testing.T) {
	dir := t.TempDir()
	x, y := writeToyNpy(t, dir, 8, 6, false)
	lm := map[string]float64{}
	for _, src := range []string{"analytic", "empirical"} {
		out := filepath.Join(dir, src)
		_, stderr, status := runCLI(t, "train", "--depth", "2", "--sw2", "1.5", "--sb2", "0.05", "--x-train", x, "--y-train", y, "--width", "512", "--steps", "0",
			"--lambda", src, "--quiet", "--out", out)
		if status != 0 {
			t.Fatalf("%s: status %d: %s", src, status, stderr)
		}
		var h struct {
			LambdaMax float64 `json:"lambda_max"`
			EtaCrit   float64 `json:"eta_crit"`
			LR        float64 `json:"lr"`
		}
		b, _ := os.ReadFile(filepath.Join(out, "history.json"))
		if err := json.Unmarshal(b, &h); err != nil {
			t.Fatal(err)
		}
		// eta_crit = 2 N k / lambda_max with N = 8, k = 2; lr = 0.5 eta_crit.
		if math.Abs(h.EtaCrit-32/h.LambdaMax) > 1e-12*h.EtaCrit || math.Abs(h.LR-0.5*h.EtaCrit) > 1e-12*h.LR {
			t.Errorf("%s: lambda_max %v, eta_crit %v, lr %v are inconsistent", src, h.LambdaMax, h.EtaCrit, h.LR)
		}
		lm[src] = h.LambdaMax
	}
	if r := lm["empirical"] / lm["analytic"]; math.Abs(r-1) > 0.1 {
		t.Errorf("lambda_max: empirical %v, analytic %v", lm["empirical"], lm["analytic"])
	}
}

// TestTrainInterrupt runs the command in a child process, interrupts it
// with SIGINT and checks that it saved a resumable checkpoint and said so
// on one line with exit status 1, then resumes it.
func TestTrainInterrupt(t *testing.T) {
	if os.Getenv("NTKHARNESS_TRAIN_CHILD") != "" {
		os.Exit(run(strings.Fields(os.Getenv("NTKHARNESS_TRAIN_CHILD"))))
	}
	dir := t.TempDir()
	x, y := writeToyNpy(t, dir, 8, 6, false)
	out := filepath.Join(dir, "run")
	args := "train --x-train " + x + " --y-train " + y + " --width 32 --depth 1 --sw2 1.5 --sb2 0.05 --lr 0.1 --quiet --out " + out
	cmd := exec.Command(os.Args[0], "-test.run=^TestTrainInterrupt$")
	cmd.Env = append(os.Environ(), "NTKHARNESS_TRAIN_CHILD="+args+" --steps 100000000")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1500 * time.Millisecond)
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Fatalf("interrupted run: %v, stderr %q", err, stderr.String())
	}
	if msg := strings.TrimSpace(stderr.String()); !strings.Contains(msg, "interrupted at step") || strings.Contains(msg, "\n") {
		t.Errorf("interrupted run said %q, want one line with the step", msg)
	}
	b, err := os.ReadFile(filepath.Join(out, "params", "state.json"))
	if err != nil {
		t.Fatalf("no checkpoint after SIGINT: %v", err)
	}
	var h struct {
		Status string
		Step   int
	}
	if err := json.Unmarshal(b, &h); err != nil || h.Status != "interrupted" || h.Step < 1 {
		t.Fatalf("checkpoint state %+v (%v)", h, err)
	}
	// Resume to a few more steps than were done.
	steps := strconv.Itoa(h.Step + 3)
	stdout, errOut, status := runCLI(t, append(strings.Fields(args), "--resume", "--steps", steps)...)
	if status != 0 || !strings.HasPrefix(stdout, "done: step "+steps) {
		t.Errorf("resume: status %d, stdout %q, stderr %q", status, stdout, errOut)
	}
}

// TestTrainDatasets trains briefly on the embedded MNIST (fcn and cnn-gap)
// and, when the shared CIFAR-10 subset is present, on CIFAR-10 (cnn-f).
func TestTrainDatasets(t *testing.T) {
	tests := []struct {
		name string
		args []string
	}{
		{"mnist-fcn", []string{"--dataset", "mnist", "--arch", "fcn"}},
		{"mnist-cnn-gap", []string{"--dataset", "mnist", "--arch", "cnn-gap", "--act", "relu", "--sw2", "2"}},
		{"cifar10-cnn-f", []string{"--dataset", "cifar10", "--data", "", "--arch", "cnn-f"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := tt.args
			if tt.name == "cifar10-cnn-f" {
				args = append([]string(nil), args...)
				args[3] = testshared.File(t, testshared.CIFAR10)
			}
			out := filepath.Join(t.TempDir(), "run")
			args = append([]string{"train", "--sw2", "1.5", "--sb2", "0.05", "--n-train", "20", "--n-test", "10", "--width", "8", "--depth", "1",
				"--steps", "3", "--quiet", "--out", out}, args...)
			stdout, stderr, status := runCLI(t, args...)
			if status != 0 || !strings.HasPrefix(stdout, "done: step 3") {
				t.Fatalf("status %d, stdout %q, stderr %q", status, stdout, stderr)
			}
			var h struct {
				NTrain int `json:"n_train"`
				NTest  int `json:"n_test"`
				Points []struct {
					TrainLoss float64 `json:"train_loss"`
				}
			}
			b, _ := os.ReadFile(filepath.Join(out, "history.json"))
			if err := json.Unmarshal(b, &h); err != nil {
				t.Fatal(err)
			}
			// lr-factor 0.5 of the analytic eta_crit: the loss must go down.
			if h.NTrain != 20 || h.NTest != 10 || h.Points[len(h.Points)-1].TrainLoss >= h.Points[0].TrainLoss {
				t.Errorf("history %+v", h)
			}
		})
	}
}

// TestTrainResumeSettings: a resumed run keeps the checkpoint's data
// settings; flags that differ from them, or input files whose content has
// changed, are refused instead of mixing two runs in one history.
func TestTrainResumeSettings(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "mnist")
	base := []string{"train", "--sw2", "1.5", "--sb2", "0.05", "--dataset", "mnist", "--n-train", "20", "--width", "8", "--depth", "1", "--quiet", "--out", out}
	if _, stderr, status := runCLI(t, append(base, "--seed", "7", "--n-test", "64", "--steps", "2")...); status != 0 {
		t.Fatalf("first run: status %d, stderr %q", status, stderr)
	}
	x, y := writeToyNpy(t, dir, 8, 6, false)
	fout := filepath.Join(dir, "files")
	fbase := []string{"train", "--sw2", "1.5", "--sb2", "0.05", "--width", "8", "--depth", "1", "--quiet", "--out", fout}
	if _, stderr, status := runCLI(t, append(fbase, "--x-train", x, "--y-train", y, "--steps", "2")...); status != 0 {
		t.Fatalf("first file run: status %d, stderr %q", status, stderr)
	}
	// The same content under another name is the same input.
	y2 := filepath.Join(dir, "y2.npy")
	b, _ := os.ReadFile(y)
	os.WriteFile(y2, b, 0o644)
	// Changed content under the same name is not.
	xChanged := filepath.Join(t.TempDir(), "x.npy")
	xa, _ := npy.Load(x)
	xa.Data[0] += 1
	npy.Save(xChanged, xa)

	tests := []struct {
		name   string
		args   []string
		status int
		stderr string
	}{
		{"seed", append(base, "--resume", "--steps", "4", "--seed", "8"), 2, "--seed 7, not 8"},
		{"n-test", append(base, "--resume", "--steps", "4", "--n-test", "10"), 2, "--n-test 64, not 10"},
		{"n-train", append(base, "--resume", "--steps", "4", "--n-train", "30"), 2, "--n-train 20, not 30"},
		{"center", append(base, "--resume", "--steps", "4", "--center"), 2, "--center false, not true"},
		{"dataset", append(base, "--resume", "--steps", "4", "--dataset", "cifar10"), 2, "--dataset mnist, not cifar10"},
		{"batch", append(base, "--resume", "--steps", "4", "--batch", "5"), 2, "--batch 0, not 5"},
		{"files for a data set", append(base, "--resume", "--steps", "4", "--x-train", x), 2, `--x-train "", not`},
		{"changed file", append(fbase, "--resume", "--steps", "4", "--x-train", xChanged, "--y-train", y), 1, "x.npy: its content differs"},
		{"same settings", append(base, "--resume", "--steps", "4", "--seed", "7"), 0, ""},
		{"renamed file", append(fbase, "--resume", "--steps", "4", "--y-train", y2), 0, ""},
	}
	for _, tt := range tests {
		_, stderr, status := runCLI(t, tt.args...)
		if status != tt.status || !strings.Contains(stderr, tt.stderr) {
			t.Errorf("%s: status %d stderr %q, want %d and %q", tt.name, status, stderr, tt.status, tt.stderr)
		}
	}
	var h struct {
		Seed   uint64 `json:"seed"`
		NTest  int    `json:"n_test"`
		Step   int    `json:"step"`
		Points []struct {
			TestLoss *float64 `json:"test_loss"`
		} `json:"points"`
	}
	b, _ = os.ReadFile(filepath.Join(out, "params", "state.json"))
	if err := json.Unmarshal(b, &h); err != nil {
		t.Fatal(err)
	}
	if h.Seed != 7 || h.NTest != 64 || h.Step != 4 {
		t.Errorf("state after resume: seed %d, n_test %d, step %d; want 7, 64, 4", h.Seed, h.NTest, h.Step)
	}
}

// TestTrainNonFinite: a learning rate that overflows is a divergence (exit
// 0, state saved), and NaN or infinite entries in any input or target file
// are input errors naming the file and the entry.
func TestTrainNonFinite(t *testing.T) {
	dir := t.TempDir()
	x, y := writeToyNpy(t, dir, 8, 6, false)
	xa, _ := npy.Load(x)
	ya, _ := npy.Load(y)
	onehot := npy.New(8, 2)
	for i, l := range ya.Data {
		onehot.Data[2*i+int(l)] = 1
	}
	bad := func(name string, a npy.Array, i int, v float64) string {
		b := npy.Array{Shape: a.Shape, Data: append([]float64(nil), a.Data...)}
		b.Data[i] = v
		p := filepath.Join(dir, name)
		if err := npy.Save(p, b); err != nil {
			t.Fatal(err)
		}
		return p
	}
	yNaN := bad("ynan.npy", onehot, 5, math.NaN())
	yInf := bad("yinf.npy", onehot, 0, math.Inf(-1))
	xNaN := bad("xnan.npy", xa, 13, math.NaN())
	labelNaN := bad("lnan.npy", ya, 2, math.NaN())
	tests := []struct {
		name   string
		args   []string
		status int
		stdout string
		stderr string
	}{
		{"lr-factor overflow", []string{"--x-train", x, "--y-train", y, "--lr-factor", "1e308"}, 0, "diverged at step", ""},
		{"lr overflow", []string{"--x-train", x, "--y-train", y, "--lr", "1e300"}, 0, "diverged at step", ""},
		{"NaN train target", []string{"--x-train", x, "--y-train", yNaN}, 1, "", "ynan.npy: entry [2 1] is NaN"},
		{"Inf train target", []string{"--x-train", x, "--y-train", yInf}, 1, "", "yinf.npy: entry [0 0] is -Inf"},
		{"NaN test target", []string{"--x-train", x, "--y-train", onehotPath(t, dir, onehot), "--x-test", x, "--y-test", yNaN}, 1, "", "ynan.npy: entry [2 1] is NaN"},
		{"NaN input", []string{"--x-train", xNaN, "--y-train", y}, 1, "", "xnan.npy: entry [2 1] is NaN"},
		{"NaN test input", []string{"--x-train", x, "--y-train", y, "--x-test", xNaN, "--y-test", y}, 1, "", "xnan.npy: entry [2 1] is NaN"},
		{"NaN label", []string{"--x-train", x, "--y-train", labelNaN}, 1, "", "label 2 is NaN"},
	}
	for i, tt := range tests {
		out := filepath.Join(dir, "run"+strconv.Itoa(i))
		args := append([]string{"train", "--depth", "2", "--sw2", "1.5", "--sb2", "0.05", "--width", "16", "--steps", "3", "--quiet", "--out", out}, tt.args...)
		stdout, stderr, status := runCLI(t, args...)
		if status != tt.status || !strings.Contains(stdout, tt.stdout) || !strings.Contains(stderr, tt.stderr) {
			t.Errorf("%s: status %d stdout %q stderr %q, want %d, %q and %q", tt.name, status, stdout, stderr, tt.status, tt.stdout, tt.stderr)
		}
		if _, err := os.Stat(filepath.Join(out, "params.tmp")); err == nil {
			t.Errorf("%s: params.tmp left behind", tt.name)
		}
		if tt.status == 0 {
			b, err := os.ReadFile(filepath.Join(out, "params", "state.json"))
			if err != nil || !strings.Contains(string(b), `"diverged"`) {
				t.Errorf("%s: state.json %s (%v), want a diverged run", tt.name, b, err)
			}
		}
	}
}

func onehotPath(t *testing.T, dir string, a npy.Array) string {
	p := filepath.Join(dir, "onehot.npy")
	if err := npy.Save(p, a); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestTrainRefusesFloat32: train (float64 checkpointed graphs) refuses a
// float32 spec as a usage error on one line naming the dtype, while ntk
// computes the float32 network's kernel.
func TestTrainRefusesFloat32(t *testing.T) {
	dir := t.TempDir()
	x, y := writeToyNpy(t, dir, 4, 6, false)
	sp := filepath.Join(dir, "spec.json")
	if err := os.WriteFile(sp, []byte(`{"arch": "fcn", "act": "erf", "depth": 2, "width": 8, "sw2": 1.5, "sb2": 0.05, "outputs": 2, "dtype": "float32"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	_, stderr, status := runCLI(t, "train", "--quiet", "--spec", sp, "--x-train", x, "--y-train", y, "--steps", "1", "--lr", "0.1", "--out", filepath.Join(dir, "run"))
	if status != 2 || !strings.Contains(stderr, "spec dtype float32") || strings.Count(strings.TrimSpace(stderr), "\n") > 0 {
		t.Errorf("train with a float32 spec: status %d stderr %q, want 2 and one line naming spec dtype float32", status, stderr)
	}
	if _, stderr, status := runCLI(t, "ntk", "--quiet", "--spec", sp, "--x1", x); status != 0 {
		t.Errorf("ntk with a float32 spec: status %d stderr %q", status, stderr)
	}
}
