package activation

import (
	"math"
	"math/big"
	"math/rand/v2"
	"testing"
)

const refPrec = 320

// bigErf returns erf(x) by its Taylor series
// (2/sqrt(pi)) sum_n (-1)^n x^(2n+1) / (n! (2n+1)) in 320-bit arithmetic
// (the terms reach about e^(x^2) < 2^53 for |x| <= 6, far above the
// precision lost), rounded to float64 only at the end.
func bigErf(x float64) float64 {
	bx := new(big.Float).SetPrec(refPrec).SetFloat64(x)
	x2 := new(big.Float).SetPrec(refPrec).Mul(bx, bx)
	term := new(big.Float).SetPrec(refPrec).Set(bx) // (-1)^n x^(2n+1)/n!
	sum := new(big.Float).SetPrec(refPrec)
	tmp := new(big.Float).SetPrec(refPrec)
	eps := new(big.Float).SetPrec(refPrec).SetMantExp(big.NewFloat(1), -300)
	for n := 0; ; n++ {
		tmp.Quo(term, new(big.Float).SetPrec(refPrec).SetInt64(int64(2*n+1)))
		sum.Add(sum, tmp)
		if new(big.Float).Abs(tmp).Cmp(eps) < 0 && n > 4 {
			break
		}
		term.Mul(term, x2)
		term.Quo(term, new(big.Float).SetPrec(refPrec).SetInt64(int64(-(n + 1))))
	}
	// 2/sqrt(pi) from pi to 60 digits.
	pi, _ := new(big.Float).SetPrec(refPrec).SetString("3.14159265358979323846264338327950288419716939937510582097494")
	c := new(big.Float).SetPrec(refPrec).Sqrt(pi)
	c.Quo(new(big.Float).SetPrec(refPrec).SetInt64(2), c)
	sum.Mul(sum, c)
	f, _ := sum.Float64()
	return f
}

// bigExp returns e^y (y <= 0) as 1/e^|y| by the Taylor series of e^|y| in
// 320-bit arithmetic, all terms positive.
func bigExp(y float64) float64 {
	a := new(big.Float).SetPrec(refPrec).SetFloat64(-y)
	term := new(big.Float).SetPrec(refPrec).SetInt64(1)
	sum := new(big.Float).SetPrec(refPrec).SetInt64(1)
	for n := 1; n < 2000; n++ {
		term.Mul(term, a)
		term.Quo(term, new(big.Float).SetPrec(refPrec).SetInt64(int64(n)))
		sum.Add(sum, term)
		if term.MantExp(nil) < sum.MantExp(nil)-refPrec {
			break
		}
	}
	f, _ := new(big.Float).SetPrec(refPrec).Quo(new(big.Float).SetPrec(refPrec).SetInt64(1), sum).Float64()
	return f
}

// ulps returns |got - want| in units of the last place of want.
func ulps(got, want float64) float64 {
	if got == want {
		return 0
	}
	u := math.Nextafter(math.Abs(want), math.Inf(1)) - math.Abs(want)
	return math.Abs(got-want) / u
}

// TestErfAccuracy holds erf to 2 ulp and exp to 1.5 ulp of correctly rounded
// references from the 320-bit series at 2000 points each (|x| <= 6 for
// erf, which covers every branch; y in [-40, 0] for exp), and reports
// math.Erf's and math.Exp's errors on the same points.
func TestErfAccuracy(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var we, wm, xe float64
	for i := 0; i < 2000; i++ {
		x := 12*rng.Float64() - 6
		if i < 400 { // the branch boundaries and their neighbourhoods
			x = []float64{erfSmall, 1.25, 3, erfOne, 0.84375}[i%5] + 1e-3*(rng.Float64()-0.5)
		}
		want := bigErf(x)
		if e := ulps(erf(x), want); e > we {
			we, xe = e, x
		}
		wm = max(wm, ulps(math.Erf(x), want))
	}
	var wx, wmx, yx float64
	for i := 0; i < 2000; i++ {
		y := -40 * rng.Float64()
		want := bigExp(y)
		if e := ulps(exp(y), want); e > wx {
			wx, yx = e, y
		}
		wmx = max(wmx, ulps(math.Exp(y), want))
	}
	t.Logf("max errors in ulps: erf %.2f (at %g; math.Erf %.2f), exp %.2f (at %g; math.Exp %.2f)", we, xe, wm, wx, yx, wmx)
	if we > 2 || wx > 1.5 {
		t.Errorf("max errors erf %.2f ulp at %g, exp %.2f ulp at %g; want <= 2 and 1.5", we, xe, wx, yx)
	}
}

// TestErfDense compares erf with math.Erf every 1e-5 over [-7, 7], odd
// symmetry included, and the special values.
func TestErfDense(t *testing.T) {
	w := 0.0
	for i := -700000; i <= 700000; i++ {
		x := float64(i) / 1e5
		w = max(w, ulps(erf(x), math.Erf(x)))
		if erf(-x) != -erf(x) {
			t.Fatalf("erf(-%g) = %v, -erf(%g) = %v", x, erf(-x), x, -erf(x))
		}
	}
	if w > 2 {
		t.Errorf("erf differs from math.Erf by up to %.2f ulp, want <= 2", w)
	}
	for _, c := range []struct{ x, want float64 }{
		{math.Inf(1), 1}, {math.Inf(-1), -1}, {erfOne, 1}, {100, 1}, {0, 0},
	} {
		if got := erf(c.x); got != c.want {
			t.Errorf("erf(%g) = %v, want %v", c.x, got, c.want)
		}
	}
	if v := erf(math.Copysign(0, -1)); v != 0 || !math.Signbit(v) {
		t.Errorf("erf(-0) = %v, want -0", v)
	}
	if v := erf(math.NaN()); !math.IsNaN(v) {
		t.Errorf("erf(NaN) = %v", v)
	}
	for _, c := range []struct{ y, want float64 }{
		{0, 1}, {-800, 0}, {math.Inf(-1), 0}, {800, math.Inf(1)},
	} {
		if got := exp(c.y); got != c.want {
			t.Errorf("exp(%g) = %v, want %v", c.y, got, c.want)
		}
	}
	if v := exp(math.NaN()); !math.IsNaN(v) {
		t.Errorf("exp(NaN) = %v", v)
	}
	// Near the ends of the tabulated range exp must agree with math.Exp.
	for _, y := range []float64{-708, -707.9, -700, 700, 708} {
		if e := ulps(exp(y), math.Exp(y)); e > 2 {
			t.Errorf("exp(%g) = %v, math.Exp %v (%.1f ulp)", y, exp(y), math.Exp(y), e)
		}
	}
}

// TestExpTable recomputes 2^(j/32) as powers of the fifth square root of 2
// in 200-bit arithmetic and ln2Hi + ln2Lo against ln 2 to 60 digits.
func TestExpTable(t *testing.T) {
	r := new(big.Float).SetPrec(200).SetInt64(2)
	for i := 0; i < 5; i++ {
		r.Sqrt(r)
	}
	p := new(big.Float).SetPrec(200).SetInt64(1)
	for j := range expTable {
		if f, _ := p.Float64(); f != expTable[j] {
			t.Errorf("expTable[%d] = %v, want %v", j, expTable[j], f)
		}
		p.Mul(p, r)
	}
	ln2, _ := new(big.Float).SetPrec(200).SetString("0.693147180559945309417232121458176568075500134360255254120680")
	d := new(big.Float).SetPrec(200).Sub(ln2, new(big.Float).SetFloat64(ln2Hi))
	d.Sub(d, new(big.Float).SetFloat64(ln2Lo))
	if f, _ := d.Float64(); math.Abs(f) > 1e-22 {
		t.Errorf("ln2Hi + ln2Lo - ln 2 = %g", f)
	}
	if m := math.Float64bits(ln2Hi) & (1<<32 - 1); m != 0 {
		t.Errorf("ln2Hi has low mantissa bits %#x, want 0", m)
	}
}

// BenchmarkErf times erf and its derivative's exp(-x^2) against math.Erf
// and math.Exp on pre-activations in [-3, 3].
func BenchmarkErf(b *testing.B) {
	x := make([]float64, 4096)
	for i := range x {
		x[i] = 6*float64(i)/float64(len(x)) - 3
	}
	var sink float64
	for _, c := range []struct {
		name string
		f    func(float64) float64
	}{
		{"erf", erf}, {"math.Erf", math.Erf},
		{"exp", func(v float64) float64 { return exp(-v * v) }},
		{"math.Exp", func(v float64) float64 { return math.Exp(-v * v) }},
	} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				s := 0.0
				for _, v := range x {
					s += c.f(v)
				}
				sink += s
			}
		})
	}
	_ = sink
}
