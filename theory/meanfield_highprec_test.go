package theory

import (
	"fmt"
	"math"
	"strings"
	"testing"
)

// TestMeanFieldTanhLargeSW2 checks the tanh mean field deep in the chaotic
// phase (pixel variances near sw2) against the independent Gauss-Legendre
// integrals of highprec_test.go: q* by bisection, chi_1 and chi_c* as 1-D
// and 2-D integrals, c* by the secant method on the 2-D integral. The
// tolerance is 1e-9 relative (q*) and absolute (the rest); the two agree
// to about 1e-12.
func TestMeanFieldTanhLargeSW2(t *testing.T) {
	if testing.Short() {
		t.Skip("2-D integrals at variance 1e4")
	}
	for _, tt := range []struct{ sw2, sb2 float64 }{{100, 0.05}, {1e4, 0.05}, {100, 2}} {
		m, err := SolveMeanField(mustAct(t, "tanh"), tt.sw2, tt.sb2)
		if err != nil {
			t.Fatal(err)
		}
		q := hpQStar(tt.sw2, tt.sb2)
		chi1 := hpChi(tt.sw2, q, 1)
		c := hpCStar(tt.sw2, tt.sb2, q, m.CStar)
		chic := hpChi(tt.sw2, q, c)
		t.Logf("sw2=%g sb2=%g: q* %.15g (ref %.15g) chi_1 %.15g (%.15g) c* %.15g (%.15g) chi_c* %.15g (%.15g)",
			tt.sw2, tt.sb2, m.QStar, q, m.Chi1, chi1, m.CStar, c, m.ChiCStar, chic)
		if relErr(m.QStar, q) > 1e-9 {
			t.Errorf("sw2=%g sb2=%g: q* = %.15g, want %.15g", tt.sw2, tt.sb2, m.QStar, q)
		}
		for _, x := range []struct {
			name      string
			got, want float64
		}{{"chi_1", m.Chi1, chi1}, {"c*", m.CStar, c}, {"chi_c*", m.ChiCStar, chic}} {
			if math.Abs(x.got-x.want) > 1e-9 {
				t.Errorf("sw2=%g sb2=%g: %s = %.15g, want %.15g", tt.sw2, tt.sb2, x.name, x.got, x.want)
			}
		}
		xiStar := -1 / (math.Log(chic) - math.Log(chi1))
		xiC := -1 / math.Log(chic)
		if m.Phase != Chaotic || relErr(m.XiStar, xiStar) > 1e-9 || relErr(m.XiCStar, xiC) > 1e-9 || Has(m.Xi1) {
			t.Errorf("sw2=%g sb2=%g: %s xi_* %v xi_c* %v xi_1 %v; want chaotic, %v, %v, none", tt.sw2, tt.sb2, m.Phase, m.XiStar, m.XiCStar, m.Xi1, xiStar, xiC)
		}
	}
}

// TestHighPrecSelfCheck checks the independent integrator on expectations
// with closed forms: E[tanh'(s z)] = E[1 - tanh(s z)^2] at two gradings, and
// the 2-D rule at correlation 0, where it factors.
func TestHighPrecSelfCheck(t *testing.T) {
	for _, s := range []float64{0.3, 3, 100} {
		f := func(z float64) float64 { return hpSech2(s * z) }
		a := hpGauss(f, 0, 1/s)
		b := 1 - hpGauss(func(z float64) float64 { u := math.Tanh(s * z); return u * u }, 0, 0.25/s)
		if math.Abs(a-b) > 1e-14 {
			t.Errorf("s=%g: E[sech^2] %v vs 1 - E[tanh^2] %v", s, a, b)
		}
		if two, one := hpExpect(hpSech2, s*s, 0, 4*s*s), hpGauss(f, 0, 1/s)*hpGauss(func(z float64) float64 { return hpSech2(2 * s * z) }, 0, 0.5/s); math.Abs(two-one) > 1e-14 {
			t.Errorf("s=%g: 2-D at correlation 0 %v vs product %v", s, two, one)
		}
	}
}

// TestMeanFieldGuard injects the coarse 61-node Gauss-Hermite rule, with
// which tanh at sw2 = 100 has an "unstable" c* (chi_c* = 2.58), and checks
// that SolveMeanField reports it as an error naming the quantity and the
// inputs instead of returning numbers.
func TestMeanFieldGuard(t *testing.T) {
	defer setTanhNodes(61)()
	for _, sw2 := range []float64{100, 1e4} {
		m, err := SolveMeanField(mustAct(t, "tanh"), sw2, 0.05)
		if err == nil {
			t.Fatalf("sw2=%g: got %+v, want an error", sw2, m)
		}
		for _, want := range []string{"tanh", "sw2=" + formatG(sw2), "sb2=0.05", "c*", "not stable"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not name %q", err, want)
			}
		}
	}
	// A negative depth scale: chi_c* > 1 with c* = 1 cannot come from
	// SolveMeanField's phases, so check checkMeanField directly.
	bad := MeanField{Act: "tanh", SW2: 1.5, SB2: 0.05, QStar: 0.5, CStar: 1, Chi1: 1.2, ChiCStar: 1.2, Xi1: math.NaN(), XiStar: math.NaN(), XiCStar: -1 / math.Log(1.2)}
	if err := checkMeanField(mustAct(t, "tanh"), bad); err == nil || !strings.Contains(err.Error(), "xi_c*") {
		t.Errorf("negative xi_c*: error %v, want one naming xi_c*", err)
	}
}

func formatG(v float64) string { return fmt.Sprint(v) }
