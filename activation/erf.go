package activation

import "math"

// The float64 erf of the networks and its derivative's exp(-x^2): the
// standard library's math.Erf makes two calls of math.Exp for |x| >= 1.25,
// and math.Exp is not inlined, so erf and erf' cost as much as the small
// products of a width-128 network. These forms are within 2 ulp of the
// correctly rounded values (TestErfAccuracy) and faster (BenchmarkErf).

// expTable[j] = 2^(j/32), correctly rounded (from 200-bit square roots of
// 2; TestExpTable recomputes it).
var expTable = [32]float64{
	1, 1.0218971486541166, 1.0442737824274138, 1.0671404006768237,
	1.0905077326652577, 1.1143867425958924, 1.1387886347566916, 1.1637248587775775,
	1.189207115002721, 1.215247359980469, 1.241857812073484, 1.2690509571917332,
	1.2968395546510096, 1.3252366431597413, 1.3542555469368927, 1.383909881963832,
	1.4142135623730951, 1.4451808069770467, 1.4768261459394993, 1.5091644275934228,
	1.5422108254079407, 1.5759808451078865, 1.6104903319492543, 1.645755478153965,
	1.681792830507429, 1.718619298122478, 1.7562521603732995, 1.7947090750031072,
	1.8340080864093424, 1.8741676341103, 1.9152065613971474, 1.9571441241754002,
}

const (
	// ln2Hi + ln2Lo = ln 2 to about 1e-23; ln2Hi has 20 significant bits,
	// so n ln2Hi is exact for |n| < 2^33.
	ln2Hi = 0.69314670562744141
	ln2Lo = 4.7493250390316726e-07
	// roundShift rounds a float64 of magnitude below 2^51 to an integer
	// when added and subtracted.
	roundShift = 0x1.8p52
)

// exp returns e^y. With y = (32 m + j) ln2/32 + r, |r| <= ln2/64,
//
//	e^y = 2^m 2^(j/32) e^r,
//
// and e^r - 1 by its Taylor polynomial to r^6 (truncation below 4e-18).
// Outside [-708, 708] (results near or beyond the float64 range, and NaN)
// it defers to math.Exp.
func exp(y float64) float64 {
	if !(y >= -708 && y <= 708) {
		return math.Exp(y)
	}
	k := y*(32/math.Ln2) + roundShift
	n := int64(math.Float64bits(k)) & (1<<32 - 1)
	n = n << 32 >> 32 // sign-extend the low 32 bits
	kf := k - roundShift
	r := (y - kf*(ln2Hi/32)) - kf*(ln2Lo/32)
	r2 := r * r
	p := r + r2*((1.0/2+r*(1.0/6))+r2*((1.0/24+r*(1.0/120))+r2*(1.0/720)))
	t := expTable[n&31]
	return (t + t*p) * math.Float64frombits(uint64(n>>5+1023)<<52)
}

// erfTaylor[i] holds the Taylor coefficients of erf about x_i = i/32,
//
//	erf(x_i + h) = sum_n a_n h^n,  a_0 = erf(x_i),
//	a_n = (2/sqrt(pi)) exp(-x_i^2) (-1)^(n-1) H_(n-1)(x_i) / n!  (n >= 1),
//
// with H the Hermite polynomials (H_n = 2x H_(n-1) - 2(n-1) H_(n-2)), to
// degree 8: for |h| <= 1/64 the first dropped term is below 3e-19.
var erfTaylor = func() (t [erfTableLen][erfDegree + 1]float64) {
	for i := range t {
		x := float64(i) / erfPerUnit
		t[i][0] = math.Erf(x)
		c := twoOverSqrtPi * math.Exp(-x*x)
		hPrev, h, fact := 0.0, 1.0, 1.0 // H_(n-2), H_(n-1), n!
		for n := 1; n <= erfDegree; n++ {
			fact *= float64(n)
			a := c * h / fact
			if n%2 == 0 {
				a = -a
			}
			t[i][n] = a
			hPrev, h = h, 2*x*h-2*float64(n-1)*hPrev
		}
	}
	return t
}()

const (
	erfPerUnit  = 32
	erfDegree   = 8
	erfTableLen = 190 // x_i < erfOne
	// erfSmall bounds the series branch: below it erf(x) is small and the
	// sum a_0 + a_1 h would cancel.
	erfSmall = 0.125
	// erfOne is where erfc(x) falls below half an ulp of 1, so erf(x)
	// rounds to 1.
	erfOne = 5.92
)

// erf returns erf(x): math.Erf for |x| < erfSmall, the Taylor polynomial
// about the nearest x_i = i/32 up to erfOne, and +-1 beyond.
func erf(x float64) float64 {
	a := math.Abs(x)
	if !(a >= erfSmall) { // NaN too
		return math.Erf(x)
	}
	if a >= erfOne {
		return math.Copysign(1, x)
	}
	i := int(a*erfPerUnit + 0.5)
	h := a - float64(i)/erfPerUnit // exact
	c := &erfTaylor[i]
	h2 := h * h
	q := (c[2] + h*c[3]) + h2*((c[4]+h*c[5])+h2*((c[6]+h*c[7])+h2*c[8]))
	return math.Copysign(c[0]+h*(c[1]+h*q), x)
}
