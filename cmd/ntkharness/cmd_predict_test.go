package main

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gonum.org/v1/gonum/mat"

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

// TestPredictCLIDiverged: discrete steps above eta_crit diverge (the top
// mode grows like |1 - lr_factor * 2|^t = 5^t). The command must still
// succeed, write metrics.json and mark the diverged times instead of
// failing to encode NaN: at t = 512 and 4096, 5^t overflows float64.
func TestPredictCLIDiverged(t *testing.T) {
	_, dir := predictFixture(t)
	out := filepath.Join(dir, "out")
	args := []string{"predict", "--ntk-train", filepath.Join(dir, "k.npy"), "--ntk-test-train", filepath.Join(dir, "kt.npy"),
		"--y", filepath.Join(dir, "y.npy"), "--steps", "--lr-factor", "3", "--times", "0,1,512,4096"}
	stdout, stderr, status := runCLI(t, append(args, "--json", "--out", out)...)
	if status != 0 {
		t.Fatalf("status %d: %s", status, stderr)
	}
	var rep struct{ Times []map[string]any }
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil || len(rep.Times) != 4 {
		t.Fatalf("%v in %q", err, stdout)
	}
	for i, r := range rep.Times {
		// t = 0 is the initial state; t = 1 is finite (loss grows 25-fold
		// at most, below the 1e6 x initial loss of divergence).
		want := i >= 2
		if r["diverged"] != want {
			t.Errorf("t=%v: diverged %v, want %v", r["t"], r["diverged"], want)
		}
		if want && (r["train_loss"] != nil || r["train_acc"] != nil) {
			t.Errorf("t=%v diverged: %v, want null numbers", r["t"], r)
		}
		if !want && r["train_loss"] == nil {
			t.Errorf("t=%v: %v, want a train loss", r["t"], r)
		}
	}
	b, err := os.ReadFile(filepath.Join(out, "metrics.json"))
	if err != nil || !strings.Contains(string(b), `"diverged": true`) {
		t.Errorf("metrics.json: %v %q", err, b)
	}
	stdout, stderr, status = runCLI(t, args...)
	if status != 0 || strings.Count(stdout, "diverged") < 2 || strings.Contains(stdout, "NaN") {
		t.Errorf("table: status %d %s\n%s", status, stderr, stdout)
	}
}

// TestPredictCLILearningRateOverflow: --lr-factor 1e308 times a finite
// eta_crit is +Inf; the fault is the flag, not the (positive definite)
// kernel.
func TestPredictCLILearningRateOverflow(t *testing.T) {
	_, dir := predictFixture(t)
	_, stderr, status := runCLI(t, "predict", "--ntk-train", filepath.Join(dir, "k.npy"), "--y", filepath.Join(dir, "y.npy"), "--lr-factor", "1e308")
	if status != 2 || !strings.Contains(stderr, "--lr-factor 1e+308") || !strings.Contains(stderr, "not finite") || strings.Contains(stderr, "eigenvalue") {
		t.Errorf("status %d, stderr %q; want status 2 naming --lr-factor and a non-finite learning rate", status, stderr)
	}
}

// predictVarFixture writes a joint NNGP/NTK pair (Theta = K + another Gram
// matrix) on 5 training and 3 test points, two-class one-hot targets and
// test class indices, and returns the joint matrices.
func predictVarFixture(t *testing.T) (dir string, k, theta *mat.Dense, y *mat.Dense, labels []int) {
	t.Helper()
	const n, m = 5, 3
	rng := rand.New(rand.NewPCG(31, 32))
	gram := func(d int) *mat.Dense {
		x := mat.NewDense(n+m, d, nil)
		for i := 0; i < n+m; i++ {
			for j := 0; j < d; j++ {
				x.Set(i, j, rng.NormFloat64())
			}
		}
		var g mat.Dense
		g.Mul(x, x.T())
		g.Scale(1/float64(d), &g)
		return &g
	}
	k = gram(24)
	theta = mat.NewDense(n+m, n+m, nil)
	theta.Add(k, gram(16))
	y = mat.NewDense(n, 2, nil)
	for i, c := range []int{0, 1, 1, 0, 1} {
		y.Set(i, c, 1)
	}
	labels = []int{1, 0, 1}
	dir = t.TempDir()
	rows := func(a mat.Matrix) [][]float64 {
		r, c := a.Dims()
		out := make([][]float64, r)
		for i := range out {
			out[i] = make([]float64, c)
			for j := range out[i] {
				out[i][j] = a.At(i, j)
			}
		}
		return out
	}
	predictWriteNpy(t, filepath.Join(dir, "k.npy"), rows(theta.Slice(0, n, 0, n)))
	predictWriteNpy(t, filepath.Join(dir, "kt.npy"), rows(theta.Slice(n, n+m, 0, n)))
	predictWriteNpy(t, filepath.Join(dir, "n.npy"), rows(k.Slice(0, n, 0, n)))
	predictWriteNpy(t, filepath.Join(dir, "nt.npy"), rows(k.Slice(n, n+m, 0, n)))
	predictWriteNpy(t, filepath.Join(dir, "ntt.npy"), rows(k.Slice(n, n+m, n, n+m)))
	predictWriteNpy(t, filepath.Join(dir, "ntt_diag.npy"), [][]float64{{k.At(5, 5)}, {k.At(6, 6)}, {k.At(7, 7)}})
	predictWriteNpy(t, filepath.Join(dir, "y.npy"), rows(y))
	predictWriteNpy(t, filepath.Join(dir, "yt.npy"), [][]float64{{1}, {0}, {1}})
	return dir, k, theta, y, labels
}

// TestPredictCLIVariance checks --variance against the formulas evaluated
// here with explicit matrices: after t steps of size eta,
// I - A_t = (I - eta Theta/(N k))^t, B = Theta_TD Theta^-1 A_t, mean B y,
// Sigma_TT = K_TT + B K_DD B^T - B K_DT - K_TD B^T, Sigma_DD = (I - A_t) K_DD (I - A_t);
// with two classes P(correct) = Phi((mu_y - mu_other)/sqrt(2 Sigma(x,x)));
// the expected loss is the loss of the mean plus the mean variance / 2; the
// spread of the test accuracy is compared with 200000 joint draws made here.
func TestPredictCLIVariance(t *testing.T) {
	dir, kj, thj, y, labels := predictVarFixture(t)
	const n, m, kk = 5, 3, 2
	f := func(name string) string { return filepath.Join(dir, name) }
	out := f("out")
	base := []string{"predict", "--ntk-train", f("k.npy"), "--ntk-test-train", f("kt.npy"), "--y", f("y.npy"), "--y-test", f("yt.npy"),
		"--steps", "--lr-factor", "0.5", "--times", "3,inf", "--variance", "--nngp-train", f("n.npy"), "--nngp-test-train", f("nt.npy")}
	stdout, stderr, status := runCLI(t, append(base, "--nngp-test", f("ntt.npy"), "--draws", "20000", "--json", "--out", out)...)
	if status != 0 {
		t.Fatalf("status %d: %s", status, stderr)
	}
	var rep struct {
		Eta   float64
		Times []struct {
			T            any
			TrainVar     []float64 `json:"train_var"`
			TestVar      []float64 `json:"test_var"`
			ExpTrainAcc  *float64  `json:"expected_train_acc"`
			ExpTestAcc   *float64  `json:"expected_test_acc"`
			ExpTestAccSD *float64  `json:"expected_test_acc_sd"`
			ExpTrainLoss *float64  `json:"expected_train_loss"`
			ExpTestLoss  *float64  `json:"expected_test_loss"`
			Band         []float64 `json:"expected_test_acc_band"`
		}
	}
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil || len(rep.Times) != 2 {
		t.Fatalf("%v in %q", err, stdout)
	}
	sub := func(r0, r1, c0, c1 int, a *mat.Dense) *mat.Dense { return mat.DenseCopyOf(a.Slice(r0, r1, c0, c1)) }
	thDD, thTD := sub(0, n, 0, n, thj), sub(n, n+m, 0, n, thj)
	kDD, kTD, kTT := sub(0, n, 0, n, kj), sub(n, n+m, 0, n, kj), sub(n, n+m, n, n+m, kj)
	var thInv mat.Dense
	if err := thInv.Inverse(thDD); err != nil {
		t.Fatal(err)
	}
	yTest := mat.NewDense(m, kk, nil)
	for i, l := range labels {
		yTest.Set(i, l, 1)
	}
	phi := func(x float64) float64 { return 0.5 * math.Erfc(-x/math.Sqrt2) }
	for ti, steps := range []int{3, -1} { // -1: t = inf
		g := mat.NewDense(n, n, nil) // I - A_t
		if steps >= 0 {
			step := mat.NewDense(n, n, nil)
			step.Scale(-rep.Eta/float64(n*kk), thDD)
			for i := 0; i < n; i++ {
				step.Set(i, i, step.At(i, i)+1)
				g.Set(i, i, 1)
			}
			for s := 0; s < steps; s++ {
				g.Mul(g, step)
			}
		}
		var a, b, bk, sTT, cross, gk, sDD, muT, muD mat.Dense
		a.Scale(-1, g)
		for i := 0; i < n; i++ {
			a.Set(i, i, a.At(i, i)+1)
		}
		b.Mul(thTD, &thInv)
		b.Mul(&b, &a)
		bk.Mul(&b, kDD)
		sTT.Mul(&bk, b.T())
		sTT.Add(&sTT, kTT)
		cross.Mul(&b, kTD.T())
		sTT.Sub(&sTT, &cross)
		sTT.Sub(&sTT, cross.T())
		gk.Mul(g, kDD)
		sDD.Mul(&gk, g)
		muT.Mul(&b, y)
		muD.Mul(&a, y)
		row := rep.Times[ti]
		expect := func(mu *mat.Dense, v []float64, lab []int, target *mat.Dense) (acc, loss float64) {
			r, _ := mu.Dims()
			for i := 0; i < r; i++ {
				l := lab[i]
				if v[i] > 0 {
					acc += phi((mu.At(i, l) - mu.At(i, 1-l)) / math.Sqrt(2*v[i]))
				} else if mu.At(i, l) > mu.At(i, 1-l) {
					acc++
				}
				for c := 0; c < kk; c++ {
					d := mu.At(i, c) - target.At(i, c)
					loss += d*d + v[i]
				}
			}
			return acc / float64(r), loss / float64(2*r*kk)
		}
		trainLabels := []int{0, 1, 1, 0, 1}
		wantTrV, wantTeV := make([]float64, n), make([]float64, m)
		for i := range wantTrV {
			wantTrV[i] = sDD.At(i, i)
		}
		for i := range wantTeV {
			wantTeV[i] = sTT.At(i, i)
		}
		wTrAcc, wTrLoss := expect(&muD, wantTrV, trainLabels, y)
		wTeAcc, wTeLoss := expect(&muT, wantTeV, labels, yTest)
		// 1e-9: the explicit inverse route loses cond(Theta) digits.
		close := func(what string, got *float64, want float64) {
			if got == nil || math.Abs(*got-want) > 1e-9 {
				t.Errorf("t=%v %s: %v, want %v", row.T, what, got, want)
			}
		}
		for i := range wantTrV {
			close(fmt.Sprintf("train_var[%d]", i), &row.TrainVar[i], math.Max(0, wantTrV[i]))
		}
		for i := range wantTeV {
			close(fmt.Sprintf("test_var[%d]", i), &row.TestVar[i], wantTeV[i])
		}
		close("expected_train_acc", row.ExpTrainAcc, wTrAcc)
		close("expected_test_acc", row.ExpTestAcc, wTeAcc)
		close("expected_train_loss", row.ExpTrainLoss, wTrLoss)
		close("expected_test_loss", row.ExpTestLoss, wTeLoss)
		// Spread of the test accuracy from 200000 joint draws made here.
		var ch mat.Cholesky
		if !ch.Factorize(mat.NewSymDense(m, mat.DenseCopyOf(&sTT).RawMatrix().Data)) {
			t.Fatal("test covariance not positive definite")
		}
		var l mat.TriDense
		ch.LTo(&l)
		rng := rand.New(rand.NewPCG(41, uint64(ti)))
		const draws = 200000
		s1, s2 := 0.0, 0.0
		for d := 0; d < draws; d++ {
			z := mat.NewDense(m, kk, nil)
			for i := 0; i < m; i++ {
				for c := 0; c < kk; c++ {
					z.Set(i, c, rng.NormFloat64())
				}
			}
			var fz mat.Dense
			fz.Mul(&l, z)
			acc := 0.0
			for i, lab := range labels {
				if fz.At(i, lab)+muT.At(i, lab) > fz.At(i, 1-lab)+muT.At(i, 1-lab) {
					acc += 1.0 / m
				}
			}
			s1 += acc
			s2 += acc * acc
		}
		sd := math.Sqrt(s2/draws - (s1/draws)*(s1/draws))
		// The CLI's SD from 20000 draws: relative SE about 1/sqrt(2 * 20000)
		// = 0.5% for a Gaussian, a few times that for this 4-valued
		// accuracy; 5% covers it with margin.
		if row.ExpTestAccSD == nil || math.Abs(*row.ExpTestAccSD-sd) > 0.05*sd || len(row.Band) != 2 || row.Band[0] > s1/draws || row.Band[1] < s1/draws {
			t.Errorf("t=%v: test accuracy SD %v band %v; joint draws here give SD %v, mean %v", row.T, row.ExpTestAccSD, row.Band, sd, s1/draws)
		}
		t.Logf("t=%v: expected test acc %.4f, SD %.4f (here %.4f), band %v", row.T, *row.ExpTestAcc, *row.ExpTestAccSD, sd, row.Band)
	}
	for _, name := range []string{"train_var_t3.npy", "test_var_t3.npy", "train_var_tinf.npy", "test_var_tinf.npy", "metrics.json"} {
		if _, err := os.Stat(filepath.Join(out, name)); err != nil {
			t.Error(err)
		}
	}
	if a, err := npy.Load(filepath.Join(out, "test_var_t3.npy")); err != nil || len(a.Data) != m || a.Data[2] != rep.Times[0].TestVar[2] {
		t.Errorf("test_var_t3.npy: %v %v, want %v", a.Data, err, rep.Times[0].TestVar)
	}

	// The diagonal alone: the same variances, no spread.
	stdout, _, status = runCLI(t, append(base, "--nngp-test", f("ntt_diag.npy"), "--json")...)
	var rd struct{ Times []map[string]any }
	if status != 0 || json.Unmarshal([]byte(stdout), &rd) != nil {
		t.Fatalf("diagonal --nngp-test: status %d %q", status, stdout)
	}
	if tv := rd.Times[0]["test_var"].([]any); tv[1].(float64) != rep.Times[0].TestVar[1] || rd.Times[0]["expected_test_acc_sd"] != nil || rd.Times[0]["expected_test_acc"] == nil {
		t.Errorf("diagonal --nngp-test: %v", rd.Times[0])
	}
	// Without test NNGP kernels: test variances and expectations are null.
	stdout, _, status = runCLI(t, "predict", "--ntk-train", f("k.npy"), "--ntk-test-train", f("kt.npy"), "--y", f("y.npy"), "--y-test", f("yt.npy"),
		"--times", "3", "--variance", "--nngp-train", f("n.npy"), "--json")
	if status != 0 || json.Unmarshal([]byte(stdout), &rd) != nil {
		t.Fatalf("no test NNGP: status %d %q", status, stdout)
	}
	if r := rd.Times[0]; r["test_var"] != nil || r["expected_test_acc"] != nil || r["expected_test_loss"] != nil || r["train_var"] == nil || r["test_acc"] == nil {
		t.Errorf("no test NNGP kernels: %v", r)
	}
	// The table prints the variance summary, expected accuracy and band.
	stdout, _, status = runCLI(t, append(base, "--nngp-test", f("ntt.npy"))...)
	if status != 0 || !strings.Contains(stdout, "E test acc") || !strings.Contains(stdout, "5-95% band") || !strings.Contains(stdout, "(SD ") {
		t.Errorf("table: status %d\n%s", status, stdout)
	}
}

func TestPredictCLIVarianceErrors(t *testing.T) {
	dir, _, _, _, _ := predictVarFixture(t)
	f := func(name string) string { return filepath.Join(dir, name) }
	base := []string{"--ntk-train", f("k.npy"), "--ntk-test-train", f("kt.npy"), "--y", f("y.npy")}
	for _, tt := range []struct {
		args   []string
		status int
		stderr string
	}{
		{[]string{"--variance"}, 2, "--variance needs --nngp-train"},
		{[]string{"--nngp-train", f("n.npy")}, 2, "need --variance"},
		{[]string{"--variance", "--nngp-train", f("n.npy"), "--f0-train", f("y.npy")}, 2, "excludes --f0-train"},
		{[]string{"--variance", "--nngp-train", f("n.npy"), "--nngp-test", f("ntt.npy")}, 2, "--nngp-test needs --nngp-test-train"},
		{[]string{"--variance", "--nngp-train", f("n.npy"), "--draws", "1"}, 2, "--draws 1"},
		{[]string{"--variance", "--nngp-train", f("nt.npy")}, 1, "--nngp-train " + f("nt.npy") + ": shape 3x5, want 5x5"},
		{[]string{"--variance", "--nngp-train", f("n.npy"), "--nngp-test-train", f("n.npy")}, 1, "shape 5x5, want 3x5"},
		{[]string{"--variance", "--nngp-train", f("n.npy"), "--nngp-test-train", f("nt.npy"), "--nngp-test", f("nt.npy")}, 1, "want 3x3 or a vector of 3"},
	} {
		_, stderr, status := runCLI(t, append(append([]string{"predict"}, base...), tt.args...)...)
		if status != tt.status || !strings.Contains(stderr, tt.stderr) || strings.Count(strings.TrimSpace(stderr), "\n") > 0 {
			t.Errorf("%v: status %d stderr %q; want %d and one line with %q", tt.args, status, stderr, tt.status, tt.stderr)
		}
	}
}
