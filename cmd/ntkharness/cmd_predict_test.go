package main

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ntkharness/ntkharness/internal/reference"
	"github.com/ntkharness/ntkharness/npy"
)

func predictWriteNpy(t *testing.T, path string, rows [][]float64) {
	t.Helper()
	a := npy.New(len(rows), len(rows[0]))
	for i, r := range rows {
		copy(a.Data[i*len(r):], r)
	}
	if err := npy.Save(path, a); err != nil {
		t.Fatal(err)
	}
}

// predictFixture writes the reference prediction case's kernels and
// targets as .npy files for the command line.
func predictFixture(t *testing.T) (reference.PredictionCase, string) {
	t.Helper()
	ref, err := reference.Predictions()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	predictWriteNpy(t, filepath.Join(dir, "k.npy"), ref.NTKTrain)
	predictWriteNpy(t, filepath.Join(dir, "kt.npy"), ref.NTKTest)
	predictWriteNpy(t, filepath.Join(dir, "y.npy"), ref.Y)
	return ref, dir
}

func TestPredictCLIReference(t *testing.T) {
	ref, dir := predictFixture(t)
	for _, dyn := range []string{"flow", "steps"} {
		out := filepath.Join(dir, "out-"+dyn)
		stdout, stderr, status := runCLI(t, "predict", "--ntk-train", filepath.Join(dir, "k.npy"),
			"--ntk-test-train", filepath.Join(dir, "kt.npy"), "--y", filepath.Join(dir, "y.npy"),
			"--times", "1,10,100,1000,inf", "--lr-factor", "0.5", "--"+dyn, "--json", "--out", out)
		if status != 0 {
			t.Fatalf("%s: status %d: %s", dyn, status, stderr)
		}
		var rep struct {
			N, M, K int
			Eta     float64
			Times   []map[string]any
		}
		if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
			t.Fatalf("%s: %v in %q", dyn, err, stdout)
		}
		if rep.N != 5 || rep.M != 2 || rep.K != 3 || math.Abs(rep.Eta-ref.Eta) > 1e-12*ref.Eta || len(rep.Times) != 5 {
			t.Errorf("%s: report %+v, want N=5 M=2 k=3 eta=%v and 5 times", dyn, rep, ref.Eta)
		}
		if rep.Times[4]["t"] != "inf" || rep.Times[4]["test_loss"] != nil {
			t.Errorf("%s: last row %v, want t \"inf\" and null test loss (no --y-test)", dyn, rep.Times[4])
		}
		for i, tc := range ref.Times {
			wantTr, wantTe := tc.FlowTrain, tc.FlowTest
			if dyn == "steps" {
				wantTr, wantTe = tc.StepsTrain, tc.StepsTest
			}
			name := strings.TrimSuffix(strings.TrimSuffix(predictFmtT(tc.T), ".0"), ".")
			predictCompareNpy(t, filepath.Join(out, "train_t"+name+".npy"), wantTr)
			predictCompareNpy(t, filepath.Join(out, "test_t"+name+".npy"), wantTe)
			// The loss is (1/(2 N k)) sum (f - y)^2 of the reference outputs.
			loss := 0.0
			for r := range wantTr {
				for c := range wantTr[r] {
					d := wantTr[r][c] - ref.Y[r][c]
					loss += d * d
				}
			}
			loss /= 2 * 5 * 3
			if got := rep.Times[i]["train_loss"].(float64); math.Abs(got-loss) > 1e-10 {
				t.Errorf("%s t=%v: train loss %v, want %v", dyn, tc.T, got, loss)
			}
		}
		predictCompareNpy(t, filepath.Join(out, "test_tinf.npy"), ref.TestAtInf)
		if _, err := os.Stat(filepath.Join(out, "metrics.json")); err != nil {
			t.Error(err)
		}
	}
}

func predictFmtT(t float64) string {
	b, _ := json.Marshal(t)
	return string(b)
}

func predictCompareNpy(t *testing.T, path string, want [][]float64) {
	t.Helper()
	a, err := npy.Load(path)
	if err != nil {
		t.Error(err)
		return
	}
	if len(a.Shape) != 2 || a.Shape[0] != len(want) || a.Shape[1] != len(want[0]) {
		t.Errorf("%s: shape %v", path, a.Shape)
		return
	}
	for i, r := range want {
		for j, w := range r {
			// 1e-10: the reference tolerance of the theory tests.
			if g := a.Data[i*len(r)+j]; math.Abs(g-w) > 1e-10 {
				t.Errorf("%s: (%d, %d) = %v, want %v", path, i, j, g, w)
			}
		}
	}
}

func TestPredictCLITestMetrics(t *testing.T) {
	ref, dir := predictFixture(t)
	// Class indices of the converged test predictions' argmax: test accuracy
	// at t = inf must then be 1, and the loss is against one-hot targets.
	labels := make([][]float64, len(ref.TestAtInf))
	loss := 0.0
	for i, r := range ref.TestAtInf {
		best := 0
		for j := range r {
			if r[j] > r[best] {
				best = j
			}
		}
		labels[i] = []float64{float64(best)}
		for j, v := range r {
			oh := 0.0
			if j == best {
				oh = 1
			}
			loss += (v - oh) * (v - oh)
		}
	}
	loss /= 2 * 2 * 3
	predictWriteNpy(t, filepath.Join(dir, "lt.npy"), labels)
	stdout, stderr, status := runCLI(t, "predict", "--ntk-train", filepath.Join(dir, "k.npy"),
		"--ntk-test-train", filepath.Join(dir, "kt.npy"), "--y", filepath.Join(dir, "y.npy"),
		"--y-test", filepath.Join(dir, "lt.npy"), "--times", "inf", "--json")
	var rep struct{ Times []map[string]any }
	if status != 0 || json.Unmarshal([]byte(stdout), &rep) != nil || len(rep.Times) != 1 {
		t.Fatalf("status %d %q %q", status, stdout, stderr)
	}
	r := rep.Times[0]
	if r["test_acc"] != 1.0 || r["train_acc"] != 1.0 || math.Abs(r["test_loss"].(float64)-loss) > 1e-10 {
		t.Errorf("t=inf: %v, want accuracies 1 and test loss %v", r, loss)
	}
	// The table form prints the same row.
	stdout, _, status = runCLI(t, "predict", "--ntk-train", filepath.Join(dir, "k.npy"), "--y", filepath.Join(dir, "y.npy"), "--times", "0")
	if status != 0 || !strings.Contains(stdout, "N=5 M=0 k=3 flow") || !strings.Contains(stdout, "train loss") {
		t.Errorf("table: status %d\n%s", status, stdout)
	}
}

func TestPredictCLIErrors(t *testing.T) {
	ref, dir := predictFixture(t)
	k, kt, y := filepath.Join(dir, "k.npy"), filepath.Join(dir, "kt.npy"), filepath.Join(dir, "y.npy")
	asym := [][]float64{{1, 0.5}, {0.4, 1}}
	predictWriteNpy(t, filepath.Join(dir, "asym.npy"), asym)
	predictWriteNpy(t, filepath.Join(dir, "y4.npy"), ref.Y[:4])
	tests := []struct {
		args   []string
		status int
		stderr string
	}{
		{[]string{"--y", y}, 2, "--ntk-train and --y are required"},
		{[]string{"--ntk-train", k, "--y", y, "--flow", "--steps"}, 2, "exclude each other"},
		{[]string{"--ntk-train", k, "--y", y, "--eta", "1", "--lr-factor", "0.5"}, 2, "exclude each other"},
		{[]string{"--ntk-train", k, "--y", y, "--eta", "-1"}, 2, "--eta -1"},
		{[]string{"--ntk-train", k, "--y", y, "--times", "1,x"}, 2, `"x" is not a non-negative number`},
		{[]string{"--ntk-train", k, "--y", y, "--times", "-3"}, 2, `"-3" is not a non-negative number`},
		{[]string{"--ntk-train", k, "--y", y, "--steps", "--times", "2.5"}, 2, "not a whole number of steps"},
		{[]string{"--ntk-train", k, "--y", y, "--y-test", y}, 2, "need --ntk-test-train"},
		{[]string{"--ntk-train", filepath.Join(dir, "missing.npy"), "--y", y}, 1, "missing.npy"},
		{[]string{"--ntk-train", filepath.Join(dir, "asym.npy"), "--y", y}, 1, "not symmetric"},
		{[]string{"--ntk-train", kt, "--y", y}, 1, "want a square matrix"},
		{[]string{"--ntk-train", k, "--y", filepath.Join(dir, "y4.npy")}, 1, "targets are 4x3, want 5 rows"},
		{[]string{"--ntk-train", k, "--ntk-test-train", kt, "--y", y, "--y-test", y}, 1, "5 rows, want 2"},
		{[]string{"--ntk-train", k, "--y", y, "--steps", "--lr-factor", "1", "--times", "inf"}, 1, "does not converge"},
	}
	for _, tt := range tests {
		args := append([]string{"predict"}, tt.args...)
		_, stderr, status := runCLI(t, args...)
		if status != tt.status || !strings.Contains(stderr, tt.stderr) {
			t.Errorf("%v: status %d stderr %q; want %d and %q", tt.args, status, stderr, tt.status, tt.stderr)
		}
		if strings.Count(strings.TrimSpace(stderr), "\n") > 0 {
			t.Errorf("%v: error is not one line: %q", tt.args, stderr)
		}
	}
}
