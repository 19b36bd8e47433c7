package activation

import (
	"math"
	"testing"
)

// TestFloat32Accuracy measures the float32 approximations against package
// math's float64 functions on a grid of every 1e-5 over their range and
// holds them to the bounds their documentation states.
func TestFloat32Accuracy(t *testing.T) {
	worst := func(f func(float32) float32, ref func(float64) float64, lo, hi float64, rel bool) float64 {
		w := 0.0
		for i := int(lo * 1e5); i <= int(hi*1e5); i++ {
			x := float32(float64(i) / 1e5)
			r := ref(float64(x))
			e := math.Abs(float64(f(x)) - r)
			if rel {
				e /= r
			}
			w = max(w, e)
		}
		return w
	}
	erf := worst(Erf32, math.Erf, -6, 6, false)
	tanh := worst(Tanh32, math.Tanh, -10, 10, false)
	exp := worst(Exp32, math.Exp, -87.3, 88.3, true)
	t.Logf("max errors: erf %.2g, tanh %.2g (absolute), exp %.2g (relative)", erf, tanh, exp)
	if erf > 5e-7 || tanh > 5e-7 || exp > 2e-7 {
		t.Errorf("max errors erf %g, tanh %g (want <= 5e-7), exp %g (want <= 2e-7)", erf, tanh, exp)
	}
	if e := Exp32(-100); e != 0 {
		t.Errorf("Exp32(-100) = %g, want 0", e)
	}
	if e := Exp32(100); !math.IsInf(float64(e), 1) {
		t.Errorf("Exp32(100) = %g, want +Inf", e)
	}
	nan := float32(math.NaN())
	for name, f := range map[string]func(float32) float32{"Erf32": Erf32, "Tanh32": Tanh32, "Exp32": Exp32} {
		if v := f(nan); v == v {
			t.Errorf("%s(NaN) = %g, want NaN", name, v)
		}
	}
}

// TestFloat32Forms: the float32 slice forms of every activation agree with
// its float64 forms to float32 accuracy.
func TestFloat32Forms(t *testing.T) {
	const n = 4001
	x32, g32 := make([]float32, n), make([]float32, n)
	x64, g64 := make([]float64, n), make([]float64, n)
	for i := range x32 {
		x32[i] = float32(float64(i-n/2) / 500)
		g32[i] = float32(i%7) - 3
		x64[i], g64[i] = float64(x32[i]), float64(g32[i])
	}
	for _, a := range All() {
		h32, c32 := make([]float32, n), make([]float32, n)
		h64, c64 := make([]float64, n), make([]float64, n)
		a.Forward32(h32, x32)
		a.Forward(h64, x64)
		v32, v64 := x32, x64
		if a.ChainFromOutput {
			v32, v64 = h32, h64
		}
		a.Chain32(c32, v32, g32)
		a.Chain(c64, v64, g64)
		for i := range x32 {
			// phi' g: |g| <= 3 and |phi'| <= 1.13, a few roundings.
			if math.Abs(float64(h32[i])-h64[i]) > 1e-6 || math.Abs(float64(c32[i])-c64[i]) > 4e-6 {
				t.Fatalf("%s at %g: phi %g, chain %g in float32; %g, %g in float64", a.Name, x64[i], h32[i], c32[i], h64[i], c64[i])
			}
		}
	}
}

// BenchmarkForms times phi and the chain rule of every activation in
// float64 (Forward, Chain) and float32 (Forward32, Chain32) on 2^16
// pre-activations in [-2, 2].
func BenchmarkForms(b *testing.B) {
	const n = 1 << 16
	x64, g64, o64 := make([]float64, n), make([]float64, n), make([]float64, n)
	x32, g32, o32 := make([]float32, n), make([]float32, n), make([]float32, n)
	for i := range x64 {
		x64[i] = float64(i%2001)/500 - 2
		g64[i] = float64(i%7) - 3
		x32[i], g32[i] = float32(x64[i]), float32(g64[i])
	}
	for _, a := range All() {
		b.Run(a.Name+"/float64", func(b *testing.B) {
			for b.Loop() {
				a.Forward(o64, x64)
				a.Chain(o64, x64, g64)
			}
		})
		b.Run(a.Name+"/float32", func(b *testing.B) {
			for b.Loop() {
				a.Forward32(o32, x32)
				a.Chain32(o32, x32, g32)
			}
		})
	}
}
