package experiments

// Checks of the figures' numbers against computations written here from
// the closed forms of erf (Williams 1997), independent of package theory:
//
//	T(K)    = (2/pi) asin(2 K12 / sqrt((1+2 K11)(1+2 K22)))
//	Tdot(K) = (4/pi) / sqrt((1+2 K11)(1+2 K22) - 4 K12^2)
//
// The eigendecompositions use gonum's mat.EigenSym, not package linalg.

import (
	"math"
	"strconv"
	"strings"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/ntkharness/ntkharness/datasets"
	"github.com/ntkharness/ntkharness/internal/closedform"
	"github.com/ntkharness/ntkharness/internal/testshared"
	"github.com/ntkharness/ntkharness/nets"
	"github.com/ntkharness/ntkharness/npy"
	"github.com/ntkharness/ntkharness/plots"
	"github.com/ntkharness/ntkharness/spec"
)

// erfNTKs returns the NTK of an erf FCN on the rows of x ([n, d]) for
// each depth in depths, by the closed-form recursion of
// closedform.ErfKernels (Neural Tangents conventions: depth L = number of
// nonlinearities, L+1 affine layers).
func erfNTKs(x npy.Array, sw2, sb2 float64, depths []int) map[int]*mat.SymDense {
	maxL := 0
	for _, l := range depths {
		maxL = max(maxL, l)
	}
	_, ntk := closedform.ErfKernels(x.Data, x.Shape[0], x.Shape[1], sw2, sb2, maxL)
	out := map[int]*mat.SymDense{}
	for _, l := range depths {
		out[l] = ntk[l-1]
	}
	return out
}

// erfExpected returns the expected train and test accuracy of one
// infinitely wide erf FCN of each depth 1..maxDepth ([depth-1][time])
// after each of times discrete steps at etaFrac eta_crit, by package
// closedform (no code of package theory): the erf kernel recursion on the
// stacked inputs, the output distribution through gonum's
// eigendecomposition, and Simpson's rule for each point's probability.
func erfExpected(t *testing.T, xTr, xTe npy.Array, y *mat.Dense, lTr, lTe []int, sw2, sb2, etaFrac float64, maxDepth int, times []float64) (train, test [][]float64) {
	t.Helper()
	x := append(append([]float64(nil), xTr.Data...), xTe.Data...)
	nngp, ntk := closedform.ErfKernels(x, xTr.Shape[0]+xTe.Shape[0], xTr.Shape[1], sw2, sb2, maxDepth)
	for l := range maxDepth {
		var tr, te []float64
		for _, tm := range times {
			o, err := closedform.GD(nngp[l], ntk[l], y, etaFrac, tm)
			if err != nil {
				t.Fatalf("sw2 %g depth %d: %v", sw2, l+1, err)
			}
			tr = append(tr, closedform.ExpectedAccuracy(o.TrainMean, o.TrainVar, lTr))
			te = append(te, closedform.ExpectedAccuracy(o.TestMean, o.TestVar, lTe))
		}
		train, test = append(train, tr), append(test, te)
	}
	return train, test
}

// symEigen returns the ascending eigenvalues and the eigenvectors of a.
func symEigen(t *testing.T, a *mat.SymDense) ([]float64, *mat.Dense) {
	t.Helper()
	var e mat.EigenSym
	if !e.Factorize(a, true) {
		t.Fatal("gonum EigenSym did not converge")
	}
	var v mat.Dense
	e.VectorsTo(&v)
	return e.Values(nil), &v
}

// erfQStar is the fixed point of the erf variance map
// q -> sw2 (2/pi) asin(2q/(1+2q)) + sb2, by iteration from q = 1.
func erfQStar(sw2, sb2 float64) float64 {
	q := 1.0
	for i := 0; i < 1000000; i++ {
		nq := sw2*(2/math.Pi)*math.Asin(2*q/(1+2*q)) + sb2
		if math.Abs(nq-q) <= 1e-15*nq {
			return nq
		}
		q = nq
	}
	return q
}

// erfChiCStar is the slope of the erf correlation map at its stable fixed
// point c* < 1 (the chaotic phase): with q* the variance fixed point and
// u = 2 c q*/(1+2q*), c -> (sw2 (2/pi) asin(u) + sb2)/q* has slope
// sw2 (4/pi) / ((1+2q*) sqrt(1 - u^2)). c* comes from iterating the map
// from c = 0 (c = 1 is the unstable fixed point in this phase).
func erfChiCStar(sw2, sb2 float64) (chiC, cStar float64) {
	q := erfQStar(sw2, sb2)
	c := 0.0
	for i := 0; i < 1000000; i++ {
		nc := (sw2*(2/math.Pi)*math.Asin(2*c*q/(1+2*q)) + sb2) / q
		if math.Abs(nc-c) <= 1e-15 {
			c = nc
			break
		}
		c = nc
	}
	u := 2 * c * q / (1 + 2*q)
	return sw2 * (4 / math.Pi) / ((1 + 2*q) * math.Sqrt(1-u*u)), c
}

// seriesAt returns the y value of the series labelled label of p at x.
func seriesAt(t *testing.T, p plots.Panel, label string, x float64) float64 {
	t.Helper()
	for _, s := range p.Series {
		if s.Label != label {
			continue
		}
		for i, v := range s.X {
			if v == x {
				return s.Y[i]
			}
		}
		t.Fatalf("panel %q series %q has no point at %g", p.Title, label, x)
	}
	t.Fatalf("panel %q has no series %q", p.Title, label)
	return 0
}

// keyNumber returns the value of the caption number called name, parsed
// as a float (a trailing % is dropped).
func keyNumber(t *testing.T, c plots.ReportFigure, name string) float64 {
	t.Helper()
	for _, k := range c.Numbers {
		if k.Name == name {
			v, err := strconv.ParseFloat(strings.TrimSuffix(k.Value, "%"), 64)
			if err != nil {
				t.Fatalf("caption number %q = %q: %v", name, k.Value, err)
			}
			return v
		}
	}
	t.Fatalf("caption has no number %q (has %+v)", name, c.Numbers)
	return 0
}

// TestNTKDepthFigureIndependent runs the quick ntk-depth figure end to end
// (its finite-width overlay shrunk to width 16, 2 seeds, depths 1 and 2)
// and checks its analytic curves at depths 1 to 400 against erfNTKs on the
// same 64 inputs: the mean diagonal and off-diagonal entries and lambda_max
// to 1e-9 relative (the same float64 recursion in another order; rounding
// grows like depth x epsilon), kappa to 1e-6 where it is below 1e6
// (lambda_min is known to about epsilon lambda_max, so kappa to about
// kappa epsilon). The critical point must have chi_1 = 1 by the closed
// form, and the caption's key numbers must be those of the recursion.
func TestNTKDepthFigureIndependent(t *testing.T) {
	old := ntkDepthNets
	ntkDepthNets = ntkDepthFinite{width: 16, seeds: 2, depths: []int{1, 2}}
	defer func() { ntkDepthNets = old }()
	f, err := Lookup("ntk-depth")
	if err != nil {
		t.Fatal(err)
	}
	res, err := f.Run(Config{Dataset: datasets.MNIST})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"sb2 = 0.05", "64 MNIST inputs", "width 16 networks (markers: mean and SD of 2)"} {
		if !strings.Contains(res.Figure.Title, s) {
			t.Errorf("title %q lacks %q", res.Figure.Title, s)
		}
	}
	if !strings.Contains(res.Caption.Theory, "kappa -> (n + 2)/2") || !strings.Contains(res.Caption.Observed, "Width 16 networks vs analytic") {
		t.Errorf("caption: theory %q, observed %q", res.Caption.Theory, res.Caption.Observed)
	}
	points, err := ntkDepthPoints()
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Figure.Panels) != 3*len(points) {
		t.Fatalf("%d panels, want %d", len(res.Figure.Panels), 3*len(points))
	}
	x := ntkDepthInputs(t, ntkDepthN)
	depths := []int{1, 3, 10, 100, 400}
	for ip, p := range points {
		if p.name == "critical" {
			if c := 4 * p.sw2 / (math.Pi * math.Sqrt(1+4*erfQStar(p.sw2, ntkDepthSB2))); math.Abs(c-1) > 1e-9 {
				t.Errorf("critical sw2 = %.12g has chi_1 = %.12g by the closed form, want 1", p.sw2, c)
			}
		}
		ntks := erfNTKs(x, p.sw2, ntkDepthSB2, depths)
		for _, l := range depths {
			th := ntks[l]
			n := th.SymmetricDim()
			diag, off := 0.0, 0.0
			for i := 0; i < n; i++ {
				for j := 0; j < n; j++ {
					if i == j {
						diag += th.At(i, j)
					} else {
						off += th.At(i, j)
					}
				}
			}
			diag /= float64(n)
			off /= float64(n * (n - 1))
			ev, _ := symEigen(t, th)
			lmax, lmin := ev[n-1], ev[0]
			fl := float64(l)
			for _, c := range []struct {
				panel       int
				label       string
				want, rel   float64
				onlyIfValid bool
			}{
				{3 * ip, "Theta_aa", diag, 1e-9, false},
				{3 * ip, "Theta_ab (mean)", off, 1e-9, false},
				{3*ip + 1, "lambda_max", lmax, 1e-9, false},
				{3*ip + 2, "kappa", lmax / lmin, 1e-6, true},
			} {
				if c.onlyIfValid && !(lmin > 0 && c.want < 1e6) {
					continue
				}
				if got := seriesAt(t, res.Figure.Panels[c.panel], c.label, fl); !relClose(got, c.want, c.rel) {
					t.Errorf("%s depth %d: %s = %.12g in the figure, %.12g by the closed-form recursion", p.name, l, c.label, got, c.want)
				}
			}
			if l == 400 && lmin > 0 && lmax/lmin < 1e6 {
				// Printed with 4 significant digits.
				if got := keyNumber(t, res.Caption, p.name+" kappa at depth 400"); !relClose(got, lmax/lmin, 1e-3) {
					t.Errorf("%s: caption kappa at depth 400 = %g, recursion %g", p.name, got, lmax/lmin)
				}
			}
		}
	}
}

// TestMeanPredictorFigureIndependent runs the quick mean-predictor figure
// end to end (about 6 s) and checks its chaotic decay rate against
// ln(chi_c*/chi_1) from erfQStar and erfChiCStar at sw2 = 2.5, sb2 = 0.05:
// chi_1 = sw2 (4/pi) / sqrt(1 + 4 q*). The caption's theory value must be
// that number (printed to 4 decimals) and the measured rate must lie within
// 5% of it: the closed form is the leading large-depth term, whose
// corrections decay faster (measured 0.3%).
func TestMeanPredictorFigureIndependent(t *testing.T) {
	f, err := Lookup("mean-predictor")
	if err != nil {
		t.Fatal(err)
	}
	res, err := f.Run(Config{Dataset: datasets.MNIST})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(res.Figure.Title, "sb2 = 0.05") || !strings.Contains(res.Figure.Title, "64 MNIST training points") {
		t.Errorf("title %q", res.Figure.Title)
	}
	const sw2, sb2 = 2.5, 0.05
	chi1 := sw2 * (4 / math.Pi) / math.Sqrt(1+4*erfQStar(sw2, sb2))
	chiC, cStar := erfChiCStar(sw2, sb2)
	if !(cStar < 1 && chiC < chi1) {
		t.Fatalf("sw2 = 2.5 is not chaotic by the closed forms: c* = %g, chi_c* = %g, chi_1 = %g", cStar, chiC, chi1)
	}
	want := math.Log(chiC / chi1)
	if got := keyNumber(t, res.Caption, "sw2 = 2.5: ln(chi_c*/chi_1)"); math.Abs(got-want) > 1e-4 {
		t.Errorf("caption ln(chi_c*/chi_1) = %g, closed form %.6g", got, want)
	}
	var rate float64
	found := false
	for _, k := range res.Caption.Numbers {
		if strings.HasPrefix(k.Name, "sw2 = 2.5: measured decay rate") {
			rate, err = strconv.ParseFloat(k.Value, 64)
			found = err == nil
		}
	}
	if !found {
		t.Fatalf("caption has no measured decay rate: %+v", res.Caption.Numbers)
	}
	if math.Abs(rate-want) > 0.05*math.Abs(want) {
		t.Errorf("measured decay rate %g per layer, closed-form ln(chi_c*/chi_1) = %.6g (5%% allowed)", rate, want)
	}
}

// TestWidthFigureIndependent runs the width figure's runner end to end on
// a shrunken setting (fcn widths 32, 128, 512 and two tiny CNN widths, 4
// initializations each; 2 trained widths for 16 steps) and fits the fcn
// log-log slope of the error of the mean empirical NTK here. Theory: the
// error of the mean of S kernels falls like (width S)^-1/2. Asserted: the
// slope within [-0.8, -0.3] (a 16x width range with 4 seeds per width
// leaves each error with a ~20% seed spread, up to ~0.15 on the slope, and
// the finite-width bias adds a 1/width part; measured -0.58 on the quick
// grid), and the caption's slope is the fitted one.
func TestWidthFigureIndependent(t *testing.T) {
	oldS, oldW, oldSteps := widthSetting, changeWidths, changeSteps
	defer func() { widthSetting, changeWidths, changeSteps = oldS, oldW, oldSteps }()
	widthSetting.widths = map[string][]int{spec.FCN: {32, 128, 512}, spec.CNNF: {2, 4}, spec.CNNGAP: {2, 4}}
	changeWidths, changeSteps = []int{16, 64}, 16
	f, err := Lookup("width")
	if err != nil {
		t.Fatal(err)
	}
	res, err := f.Run(Config{Dataset: datasets.MNIST})
	if err != nil {
		t.Fatal(err)
	}
	if want := "Finite width: erf depth 3, sw2 = 1.5, sb2 = 0.05, 8 MNIST images (7x7 gray)"; res.Figure.Title != want {
		t.Errorf("title %q, want %q", res.Figure.Title, want)
	}
	s := res.Figure.Panels[0].Series[0]
	if s.Label != spec.FCN || len(s.X) != 3 {
		t.Fatalf("first series %q with %d points, want fcn with 3", s.Label, len(s.X))
	}
	// Least-squares slope of log(error) on log(width).
	var mx, my float64
	for i := range s.X {
		mx += math.Log(s.X[i]) / 3
		my += math.Log(s.Y[i]) / 3
	}
	var sxy, sxx float64
	for i := range s.X {
		dx := math.Log(s.X[i]) - mx
		sxy += dx * (math.Log(s.Y[i]) - my)
		sxx += dx * dx
	}
	slope := sxy / sxx
	if !(slope >= -0.8 && slope <= -0.3) {
		t.Errorf("fcn error slope %.3f (errors %v at widths %v), want -1/2 within [-0.8, -0.3]", slope, s.Y, s.X)
	}
	if got := keyNumber(t, res.Caption, "fcn slope"); math.Abs(got-slope) > 1e-3 {
		t.Errorf("caption fcn slope %g, fitted here %g", got, slope)
	}
	ch := res.Figure.Panels[1].Series[0]
	if len(ch.Y) != 2 || !(ch.Y[1] < ch.Y[0]) {
		t.Errorf("training change %v at widths %v: want one value per trained width, smaller at the larger", ch.Y, ch.X)
	}
}

// TestDynamicsFigureIndependent runs the dynamics figure's direct runner
// (the quick scale's code) on one width and one seed and recomputes its
// analytic-NTK curves here: the erf NTK of the 16 + 16 points by erfNTKs,
// its train block diagonalized by gonum, eta = eta_frac 2 N k / lambda_max,
// and after t steps
//
//	f_train(t) = y + V (1 - eta Lambda/(N k))^t V^T (f0 - y)
//	f_test(t)  = f0_test + Theta_td V Lambda^-1 (1 - (1 - eta Lambda/(N k))^t) V^T (y - f0)
//
// with f0 the initial outputs of the seed's network. Losses must agree to
// 1e-6 relative: two float64 evaluations of the same kernel and modes (the
// smallest eigenvalues, ill-conditioned, enter the test outputs only
// through the bounded factor (1 - (1-x)^t)/lambda).
func TestDynamicsFigureIndependent(t *testing.T) {
	g := DynamicsGrid{Widths: []int{256}, Seeds: []uint64{0}, Depth: 3, SW2: 1.5, SB2: 0.05, NTrain: 16, NTest: 16, Steps: 32, EtaFrac: 0.5}
	cfg := Config{Dataset: datasets.MNIST}
	res, err := dynamicsDirect(cfg, g)
	if err != nil {
		t.Fatal(err)
	}
	if want := "erf FCN depth 3, sw2 = 1.5, sb2 = 0.05, 16 MNIST training points, eta = 0.5 eta_crit, 1 seed(s)"; res.Figure.Title != want {
		t.Errorf("title %q, want %q", res.Figure.Title, want)
	}
	if !strings.Contains(res.Caption.Observed, "Width 256 at step 32") {
		t.Errorf("observed caption %q", res.Caption.Observed)
	}
	d, err := g.data(cfg).Load(spec.FCN, 0)
	if err != nil {
		t.Fatal(err)
	}
	n, m, k := g.NTrain, g.NTest, d.Y.RawMatrix().Cols
	net, err := nets.New(g.spec(256, k), d.XTrain.Shape[1:], nets.InitSource(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	f0, err := net.Forward(d.XTrain)
	if err != nil {
		t.Fatal(err)
	}
	f0te, err := net.Forward(d.XTest)
	net.Close()
	if err != nil {
		t.Fatal(err)
	}
	dim := d.XTrain.Shape[1]
	all := npy.New(n+m, dim)
	copy(all.Data, d.XTrain.Data)
	copy(all.Data[n*dim:], d.XTest.Data)
	theta := erfNTKs(all, g.SW2, g.SB2, []int{g.Depth})[g.Depth]
	tr := mat.NewSymDense(n, nil)
	for i := 0; i < n; i++ {
		for j := i; j < n; j++ {
			tr.SetSym(i, j, theta.At(i, j))
		}
	}
	td := mat.NewDense(m, n, nil)
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			td.Set(i, j, theta.At(n+i, j))
		}
	}
	lam, v := symEigen(t, tr)
	nk := float64(n * k)
	eta := g.EtaFrac * 2 * nk / lam[n-1]
	var r0, ry mat.Dense // V^T (f0 - y), V^T (y - f0)
	var diff mat.Dense
	diff.Sub(f0, d.Y)
	r0.Mul(v.T(), &diff)
	ry.Scale(-1, &r0)
	loss := func(f, y mat.Matrix) float64 {
		r, c := f.Dims()
		s := 0.0
		for i := 0; i < r; i++ {
			for j := 0; j < c; j++ {
				e := f.At(i, j) - y.At(i, j)
				s += e * e
			}
		}
		return s / (2 * float64(r*c))
	}
	trainPanel, testPanel := res.Figure.Panels[0], res.Figure.Panels[1]
	steps := trainPanel.Series[0].X
	if len(steps) < 3 {
		t.Fatalf("only %d logged steps", len(steps))
	}
	for _, st := range steps {
		dTr, dTe := mat.NewDense(n, k, nil), mat.NewDense(n, k, nil)
		for i := 0; i < n; i++ {
			x := eta * lam[i] / nk
			decay := math.Exp(st * math.Log1p(-x))
			grow := -math.Expm1(st*math.Log1p(-x)) / lam[i]
			for j := 0; j < k; j++ {
				dTr.Set(i, j, decay*r0.At(i, j))
				dTe.Set(i, j, grow*ry.At(i, j))
			}
		}
		var ftr, fte, tmp mat.Dense
		ftr.Mul(v, dTr)
		ftr.Add(&ftr, d.Y)
		tmp.Mul(v, dTe)
		fte.Mul(td, &tmp)
		fte.Add(&fte, f0te)
		wantTr, wantTe := loss(&ftr, d.Y), loss(&fte, d.YTest)
		if got := seriesAt(t, trainPanel, "linearized, analytic NTK", st); !relClose(got, wantTr, 1e-6) {
			t.Errorf("step %g: analytic train loss %.10g in the figure, %.10g by the independent eigen computation", st, got, wantTr)
		}
		if got := seriesAt(t, testPanel, "linearized, analytic NTK", st); !relClose(got, wantTe, 1e-6) {
			t.Errorf("step %g: analytic test loss %.10g in the figure, %.10g by the independent eigen computation", st, got, wantTe)
		}
	}
}

// TestMeanPredictorCIFAR10 runs the quick mean-predictor figure end to end
// on the shared CIFAR-10 subset (skipped without it): the caption must
// name CIFAR-10 with no fallback, and the chaotic decay rate, a property
// of the mean field alone, must again lie within 5% of the closed-form
// ln(chi_c*/chi_1) (see TestMeanPredictorFigureIndependent).
func TestMeanPredictorCIFAR10(t *testing.T) {
	path := testshared.File(t, testshared.CIFAR10)
	f, err := Lookup("mean-predictor")
	if err != nil {
		t.Fatal(err)
	}
	res, err := f.Run(Config{Dataset: datasets.CIFAR10, CIFAR10: path})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(res.Figure.Title, "CIFAR-10") {
		t.Errorf("title %q does not name CIFAR-10", res.Figure.Title)
	}
	for _, k := range res.Caption.Numbers {
		if k.Name == "CIFAR-10" {
			t.Errorf("CIFAR-10 was not used: %s", k.Note)
		}
	}
	const sw2, sb2 = 2.5, 0.05
	chiC, _ := erfChiCStar(sw2, sb2)
	want := math.Log(chiC / (sw2 * (4 / math.Pi) / math.Sqrt(1+4*erfQStar(sw2, sb2))))
	for _, k := range res.Caption.Numbers {
		if strings.HasPrefix(k.Name, "sw2 = 2.5: measured decay rate") {
			rate, err := strconv.ParseFloat(k.Value, 64)
			if err != nil || math.Abs(rate-want) > 0.05*math.Abs(want) {
				t.Errorf("CIFAR-10 decay rate %q per layer, closed form %.6g (5%% allowed)", k.Value, want)
			}
			return
		}
	}
	t.Errorf("caption has no measured decay rate: %+v", res.Caption.Numbers)
}
