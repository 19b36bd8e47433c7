package theory

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// meanFieldRef is one row of testdata/meanfield.json (a copy of the
// project's independent reference values; null = the quantity does not
// exist).
type meanFieldRef struct {
	Act      string   `json:"act"`
	SW2      float64  `json:"sw2"`
	SB2      float64  `json:"sb2"`
	QStar    float64  `json:"q_star"`
	CStar    float64  `json:"c_star"`
	Chi1     float64  `json:"chi_1"`
	ChiCStar float64  `json:"chi_c_star"`
	Xi1      *float64 `json:"xi_1"`
	XiStar   *float64 `json:"xi_star"`
	XiCStar  *float64 `json:"xi_c_star"`
	Phase    string   `json:"phase"`
}

type criticalRef struct {
	Act         string  `json:"act"`
	SB2         float64 `json:"sb2"`
	SW2Critical float64 `json:"sw2_critical"`
}

func loadMeanFieldRef(t *testing.T) ([]meanFieldRef, []criticalRef) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "meanfield.json"))
	if err != nil {
		t.Fatal(err)
	}
	var ref struct {
		MeanField []meanFieldRef `json:"meanfield"`
		Critical  []criticalRef  `json:"critical"`
	}
	if err := json.Unmarshal(b, &ref); err != nil {
		t.Fatal(err)
	}
	if len(ref.MeanField) == 0 || len(ref.Critical) == 0 {
		t.Fatal("testdata/meanfield.json: no rows")
	}
	return ref.MeanField, ref.Critical
}

func mustAct(t testing.TB, name string) Activation {
	t.Helper()
	a, err := ActivationByName(name)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// fixedPointAbsTol is the accuracy the project requires of q*, c*, chi_1 and
// chi_c* (the solver reaches ~1e-13, tanh's strip rule ~1e-12).
const fixedPointAbsTol = 1e-9

// xiRelTol: a depth scale xi = -1/ln chi amplifies an error e in chi to a
// relative error xi e / chi, about 100 * 1e-12 for the rows here.
const xiRelTol = 1e-9

func relErr(got, want float64) float64 {
	return math.Abs(got-want) / math.Max(math.Abs(want), 1e-300)
}

func checkXi(t *testing.T, name string, got float64, want *float64) {
	t.Helper()
	if want == nil {
		if Has(got) {
			t.Errorf("%s = %v, want absent", name, got)
		}
		return
	}
	if !Has(got) || relErr(got, *want) > xiRelTol {
		t.Errorf("%s = %v, want %v (rel tol %g)", name, got, *want, xiRelTol)
	}
}

func TestMeanFieldReference(t *testing.T) {
	rows, _ := loadMeanFieldRef(t)
	for _, r := range rows {
		m, err := SolveMeanField(mustAct(t, r.Act), r.SW2, r.SB2)
		if err != nil {
			t.Errorf("%s sw2=%v sb2=%v: %v", r.Act, r.SW2, r.SB2, err)
			continue
		}
		for _, c := range []struct {
			name      string
			got, want float64
		}{
			{"q*", m.QStar, r.QStar}, {"c*", m.CStar, r.CStar},
			{"chi_1", m.Chi1, r.Chi1}, {"chi_c*", m.ChiCStar, r.ChiCStar},
		} {
			if math.Abs(c.got-c.want) > fixedPointAbsTol {
				t.Errorf("%s sw2=%v sb2=%v: %s = %.15g, want %.15g", r.Act, r.SW2, r.SB2, c.name, c.got, c.want)
			}
		}
		checkXi(t, r.Act+" xi_1", m.Xi1, r.Xi1)
		checkXi(t, r.Act+" xi_*", m.XiStar, r.XiStar)
		checkXi(t, r.Act+" xi_c*", m.XiCStar, r.XiCStar)
		if string(m.Phase) != r.Phase {
			t.Errorf("%s sw2=%v sb2=%v: phase %s, want %s", r.Act, r.SW2, r.SB2, m.Phase, r.Phase)
		}
	}
}

// TestMeanFieldDesignValues checks the reference values of erf at
// sb2 = 0.05 quoted to 4 digits in the package documentation (q*, c*,
// chi_1, chi_c*; xi_1 and xi_* to 3).
func TestMeanFieldDesignValues(t *testing.T) {
	tests := []struct {
		sw2, sb2             float64
		q, c, chi1, chic, xi float64 // NaN: not quoted
		xiIsStar             bool
		tolQ, tolChi, tolXi  float64
		wantPhase            Phase
	}{
		{1.25, 0.05, 0.4352, 1, 0.9614, math.NaN(), 25.4, false, 5e-5, 5e-5, 0.05, Ordered},
		{1.5, 0.05, 0.6018, 0.8205, 1.0347, 0.9696, 15.4, true, 5e-5, 5e-5, 0.05, Chaotic},
	}
	erf := mustAct(t, "erf")
	for _, tt := range tests {
		m, err := SolveMeanField(erf, tt.sw2, tt.sb2)
		if err != nil {
			t.Fatal(err)
		}
		xi := m.Xi1
		if tt.xiIsStar {
			xi = m.XiStar
		}
		if math.Abs(m.QStar-tt.q) > tt.tolQ || math.Abs(m.CStar-tt.c) > tt.tolQ ||
			math.Abs(m.Chi1-tt.chi1) > tt.tolChi || math.Abs(xi-tt.xi) > tt.tolXi ||
			(!math.IsNaN(tt.chic) && math.Abs(m.ChiCStar-tt.chic) > tt.tolChi) || m.Phase != tt.wantPhase {
			t.Errorf("erf sw2=%v sb2=%v: got %+v", tt.sw2, tt.sb2, m)
		}
	}
}

// TestMeanFieldReLUClosedForm: for relu T(q, q, q) = q/2 and
// Tdot(q, q, q) = 1/2, so q* = sb2/(1 - sw2/2), chi_1 = sw2/2 < 1 (always
// ordered), c* = 1, xi_1 = -1/ln(sw2/2).
func TestMeanFieldReLUClosedForm(t *testing.T) {
	relu := mustAct(t, "relu")
	for _, sw2 := range []float64{0.5, 1, 1.5, 1.9, 1.999} {
		for _, sb2 := range []float64{0.01, 0.1, 1, 3} {
			m, err := SolveMeanField(relu, sw2, sb2)
			if err != nil {
				t.Errorf("relu sw2=%v sb2=%v: %v", sw2, sb2, err)
				continue
			}
			q := sb2 / (1 - sw2/2)
			if relErr(m.QStar, q) > 1e-12 || math.Abs(m.Chi1-sw2/2) > 1e-12 || m.CStar != 1 ||
				math.Abs(m.ChiCStar-sw2/2) > 1e-12 || relErr(m.Xi1, -1/math.Log(sw2/2)) > 1e-10 ||
				Has(m.XiStar) || m.Phase != Ordered {
				t.Errorf("relu sw2=%v sb2=%v: got %+v, want q*=%v chi_1=%v", sw2, sb2, m, q, sw2/2)
			}
		}
	}
}

// TestMeanFieldFixedPointProperties checks the defining equations directly,
// on a grid that includes points close to the critical line, where plain
// iteration of the maps would need millions of steps. Near the line c* is
// ill-conditioned: C(c) - c ~ (chi_1 - 1)^2 near its minimum, so an error e
// in T can move c* by up to e/(chi_1 - 1)^2; the grid goes to 1e-6 of the line
// for erf (closed-form T, e ~ 1e-16) but only 1e-3 for tanh (quadrature).
func TestMeanFieldFixedPointProperties(t *testing.T) {
	for _, tt := range []struct {
		name string
		near float64 // relative distance to the critical line
	}{{"erf", 1e-6}, {"tanh", 1e-3}} {
		name := tt.name
		act := mustAct(t, name)
		for _, sb2 := range []float64{0.01, 0.18} {
			crit, err := CriticalSW2(act, sb2)
			if err != nil {
				t.Fatal(err)
			}
			for _, sw2 := range []float64{0.6, crit * (1 - tt.near), crit * (1 + tt.near), crit * (1 + 1e-2), 2.5, 4} {
				m, err := SolveMeanField(act, sw2, sb2)
				if err != nil {
					t.Errorf("%s sw2=%v sb2=%v: %v", name, sw2, sb2, err)
					continue
				}
				q := m.QStar
				if r := sw2*act.T(q, q, q) + sb2 - q; math.Abs(r) > 1e-12 {
					t.Errorf("%s sw2=%v sb2=%v: variance map residual %g", name, sw2, sb2, r)
				}
				if r := (sw2*act.T(q, m.CStar*q, q)+sb2)/q - m.CStar; math.Abs(r) > 1e-12 {
					t.Errorf("%s sw2=%v sb2=%v: correlation map residual %g at c*=%v", name, sw2, sb2, r, m.CStar)
				}
				// Stability: the slope of the c-map at c* is chi_c* <= 1.
				if m.ChiCStar > 1+CriticalTol {
					t.Errorf("%s sw2=%v sb2=%v: unstable c*=%v (chi_c*=%v)", name, sw2, sb2, m.CStar, m.ChiCStar)
				}
				wantPhase := Ordered
				if sw2 > crit {
					wantPhase = Chaotic
				}
				if m.Phase != wantPhase || (wantPhase == Chaotic) != (m.CStar < 1) {
					t.Errorf("%s sw2=%v (critical %v): phase %s, c*=%v", name, sw2, crit, m.Phase, m.CStar)
				}
			}
		}
	}
}

func TestCriticalSW2(t *testing.T) {
	_, rows := loadMeanFieldRef(t)
	type tc struct {
		act      string
		sb2, sw2 float64
		tol      float64
	}
	var tests []tc
	for _, r := range rows {
		tests = append(tests, tc{r.Act, r.SB2, r.SW2Critical, fixedPointAbsTol})
	}
	tests = append(tests,
		tc{"erf", 0.18, 1.748, 5e-4}, // documented value, quoted to 4 digits
		tc{"tanh", 0.05, 1.76, 5e-3}, // documented value, quoted to 3 digits
		tc{"relu", 0.1, 2, 1e-9},     // chi_1 = sw2/2
		tc{"relu", 1, 2, 1e-9},
	)
	for _, tt := range tests {
		got, err := CriticalSW2(mustAct(t, tt.act), tt.sb2)
		if err != nil || math.Abs(got-tt.sw2) > tt.tol {
			t.Errorf("CriticalSW2(%s, %v) = %.15g, %v; want %.15g", tt.act, tt.sb2, got, err, tt.sw2)
			continue
		}
		if tt.act == "relu" {
			continue
		}
		m, err := SolveMeanField(mustAct(t, tt.act), got, tt.sb2)
		if err != nil || m.Phase != Critical || m.CStar != 1 || Has(m.Xi1) || Has(m.XiStar) || Has(m.XiCStar) {
			t.Errorf("%s at its critical sw2 %v: %+v, %v; want critical with diverging depth scales", tt.act, got, m, err)
		}
	}
}

func TestMeanFieldErrors(t *testing.T) {
	erf, relu := mustAct(t, "erf"), mustAct(t, "relu")
	tests := []struct {
		act      Activation
		sw2, sb2 float64
		want     string
	}{
		{relu, 2, 0.1, "relu needs sw2 < 2"},
		{relu, 3, 0.1, "relu needs sw2 < 2"},
		{relu, 2.5, 0, "relu needs sw2 < 2"},
		{relu, 2, 0, "relu needs sw2 < 2"},
		{erf, -1, 0.1, "sw2 -1"},
		{erf, 0, 0.1, "sw2 0"},
		{erf, math.NaN(), 0.1, "sw2 NaN"},
		{erf, math.Inf(1), 0.1, "sw2 +Inf"},
		{erf, 1, -0.1, "sb2 -0.1"},
		{erf, 1, math.NaN(), "sb2 NaN"},
		{erf, 0.5, 0, "q* = 0"}, // sw2 < pi/4: the variance map contracts to 0
		{relu, 1, 0, "q* = 0"},
	}
	for _, tt := range tests {
		m, err := SolveMeanField(tt.act, tt.sw2, tt.sb2)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s sw2=%v sb2=%v: got %+v, %v; want error containing %q", tt.act.Name(), tt.sw2, tt.sb2, m, err, tt.want)
		}
	}
	for _, sb2 := range []float64{-1, math.NaN(), math.Inf(1)} {
		if _, err := CriticalSW2(erf, sb2); err == nil || !strings.Contains(err.Error(), "sb2") {
			t.Errorf("CriticalSW2(erf, %v): error %v, want one naming sb2", sb2, err)
		}
	}
}

// TestMeanFieldZeroBiasChaotic: with sb2 = 0 and an odd phi, C(0) = 0, so in
// the chaotic phase c* = 0 exactly and chi_c* = sw2 Tdot(q*, 0, q*).
func TestMeanFieldZeroBiasChaotic(t *testing.T) {
	erf := mustAct(t, "erf")
	m, err := SolveMeanField(erf, 3, 0)
	if err != nil {
		t.Fatal(err)
	}
	// erf: q* solves q = (2 sw2/pi) asin(2q/(1+2q)); Tdot(q, 0, q) = (4/pi)/(1+2q).
	q := m.QStar
	if r := 3*2/math.Pi*math.Asin(2*q/(1+2*q)) - q; math.Abs(r) > 1e-12 || q <= 0 {
		t.Errorf("q* = %v, residual %g", q, r)
	}
	if m.Phase != Chaotic || m.CStar != 0 || math.Abs(m.ChiCStar-3*4/math.Pi/(1+2*q)) > 1e-12 {
		t.Errorf("got %+v, want chaotic with c* = 0", m)
	}
}
