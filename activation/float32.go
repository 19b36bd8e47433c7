package activation

import "math"

// Float32 forms. A float32 network evaluates phi and phi' in float32
// arithmetic to about float32 rounding, not to float64's: its values carry
// relative errors of order 2^-24 anyway. Erf32, Tanh32 and Exp32 are the
// approximations it uses, each a few float32 operations:
//
//	Erf32(x)  = x P(x^2) / Q(x^2) on [-4, 4] (clamped outside, where erf
//	            rounds to +-1), P of degree 6 and Q of degree 4 in x^2;
//	            max |Erf32 - erf| = 4.2e-7 (3.5 units of 2^-23).
//	Tanh32(x) = x on |x| < 4e-4, else x P(x^2) / Q(x^2) on |x| <= 7.905
//	            (clamped outside, where tanh rounds to +-1), degrees 6
//	            and 3 in x^2; max |Tanh32 - tanh| = 3.9e-7.
//	Exp32(x)  = 2^m 2^(j/32) p(r), x = (32 m + j) ln2/32 + r, |r| <= ln2/64,
//	            p the cubic Taylor polynomial of e^r, in float64 arithmetic
//	            rounded to float32 (see exp32Core); max relative error
//	            6e-8, 0 below e^-87.3 (float32's smallest normal), +Inf
//	            above e^88.37.
//
// The rational forms are the minimax fits used by Eigen and TensorFlow for
// their float32 erf and tanh. The tests measure the bounds against the
// float64 functions of package math (bounds 5e-7, 5e-7 and 2e-7).

// Erf32 returns erf(x) to float32 accuracy (see the bounds above).
func Erf32(x float32) float32 { return scalar(erf32s, x) }

// Tanh32 returns tanh(x) to float32 accuracy (see the bounds above).
func Tanh32(x float32) float32 { return scalar(tanh32s, x) }

// Exp32 returns e^x to float32 accuracy (see the bounds above).
func Exp32(x float32) float32 { return scalar(exp32s, x) }

func scalar(f func(out, x []float32), x float32) float32 {
	v := [1]float32{x}
	f(v[:], v[:])
	return v[0]
}

// The approximations are written as loops over slices, their bodies
// inlined (as functions of one value they are too large for the compiler
// to inline, and a call per value would cost a third of the time). out
// may be x.

// erf32s sets out[i] = Erf32(x[i]).
func erf32s(out, x []float32) {
	for i, v := range x {
		// Clamp by comparisons, which keep NaN (the builtins min and
		// max, which order NaN and signed zeros, cost twice as much).
		if v > 4 {
			v = 4
		} else if v < -4 {
			v = -4
		}
		x2 := v * v
		p := float32(-2.72614225801306e-10)
		p = p*x2 + 2.77068142495902e-08
		p = p*x2 - 2.10102402082508e-06
		p = p*x2 - 5.69250639462346e-05
		p = p*x2 - 7.34990630326855e-04
		p = p*x2 - 2.95459980854025e-03
		p = p*x2 - 1.60960333262415e-02
		q := float32(-1.45660718464996e-05)
		q = q*x2 - 2.13374055278905e-04
		q = q*x2 - 1.68282697438203e-03
		q = q*x2 - 7.37332916720468e-03
		q = q*x2 - 1.42647390514189e-02
		out[i] = v * p / q
	}
}

// tanh32s sets out[i] = Tanh32(x[i]).
func tanh32s(out, x []float32) {
	const top = 7.90531110763549805
	for i, v := range x {
		if v > -4e-4 && v < 4e-4 {
			out[i] = v
			continue
		}
		if v > top {
			v = top
		} else if v < -top {
			v = -top
		}
		x2 := v * v
		p := float32(-2.76076847742355e-16)
		p = p*x2 + 2.00018790482477e-13
		p = p*x2 - 8.60467152213735e-11
		p = p*x2 + 5.12229709037114e-08
		p = p*x2 + 1.48572235717979e-05
		p = p*x2 + 6.37261928875436e-04
		p = p*x2 + 4.89352455891786e-03
		q := float32(1.19825839466702e-06)
		q = q*x2 + 1.18534705686654e-04
		q = q*x2 + 2.26843463243900e-03
		q = q*x2 + 4.89352518554385e-03
		out[i] = v * p / q
	}
}

// exp32s sets out[i] = Exp32(x[i]).
func exp32s(out, x []float32) {
	for i, v := range x {
		switch { // NaN falls through both and stays NaN
		case v < -87.33654:
			out[i] = 0
		case v > 88.37626:
			out[i] = float32(math.Inf(1))
		default:
			out[i] = float32(exp32Core(float64(v)))
		}
	}
}

// exp32Core returns e^y for y in float32's range (or NaN) to about 1e-9
// relative, enough to round to float32 correctly but rarely: with
// y = (32 m + j) ln2/32 + r, |r| <= ln2/64, e^y = 2^m 2^(j/32) e^r and
// e^r to r^3 (truncation below 6e-10). Float64 arithmetic costs what
// float32's does and makes the argument reduction exact enough in one part.
func exp32Core(y float64) float64 {
	k := y*(32/math.Ln2) + roundShift
	kf := k - roundShift
	r := y - kf*(math.Ln2/32)
	n := int64(math.Float64bits(k)) << 32 >> 32
	scale := math.Float64frombits(uint64(n>>5+1023) << 52)
	return expTable[n&31] * scale * (1 + r*(1+r*(0.5+r*(1.0/6))))
}

// Forward32 sets out[i] = phi(x[i]) in float32 (the activation's Forward32,
// or its float64 Phi rounded to float32 when it has none).
func (a *Activation) Forward32(out, x []float32) {
	if a.forward32 != nil {
		a.forward32(out, x)
		return
	}
	for i, v := range x {
		out[i] = float32(a.Phi(float64(v)))
	}
}

// Chain32 sets out[i] = g[i] phi'(x[i]) in float32, reading v = x, or
// v = phi(x) when ChainFromOutput is set, as Chain does.
func (a *Activation) Chain32(out, v, g []float32) {
	if a.chain32 != nil {
		a.chain32(out, v, g)
		return
	}
	if a.ChainFromOutput {
		panic("activation: " + a.Name + " chains from its output but has no float32 form")
	}
	for i := range out {
		out[i] = g[i] * float32(a.DPhi(float64(v[i])))
	}
}

func erfForward32(out, x []float32) { erf32s(out, x) }

// erfChain32 sets out = g (2/sqrt(pi)) e^{-x^2}, out possibly g.
func erfChain32(out, x, g []float32) {
	for i, v := range x[:len(out)] {
		out[i] = g[i] * float32(twoOverSqrtPi*exp32Core(-float64(v)*float64(v)))
	}
}

func reluForward32(out, x []float32) {
	for i, v := range x {
		out[i] = max(v, 0)
	}
}

func reluChain32(out, x, g []float32) {
	for i := range out {
		if x[i] > 0 {
			out[i] = g[i]
		} else {
			out[i] = 0
		}
	}
}

func tanhForward32(out, x []float32) { tanh32s(out, x) }

func tanhChain32(out, y, g []float32) {
	for i := range out {
		out[i] = g[i] * (1 - y[i]*y[i])
	}
}
