package theory

import (
	"math"
	"testing"

	"github.com/ntkharness/ntkharness/spec"
)

// TestConvPairDirect checks convPair against the definition of one layer,
// dstK[a, a'] = sw2 (1/f^2) sum_b srcK[a+b, a'+b] + sb2 with out-of-image
// taps zero and dstT = dstK + sw2 A(srcT) (dstT = dstK without srcT), on
// random pixel-pair matrices: SAME and VALID, filters 1, 3 and 5,
// rectangular images, to 1e-14 (the sums in another order).
func TestConvPairDirect(t *testing.T) {
	const sw2, sb2 = 1.7, 0.3
	for _, c := range []struct {
		h, w, f int
		pad     string
	}{{5, 7, 3, spec.Same}, {6, 4, 5, spec.Same}, {4, 4, 1, spec.Same}, {7, 6, 3, spec.Valid}, {7, 8, 5, spec.Valid}} {
		s := spec.Spec{Arch: spec.CNNGAP, Act: spec.Erf, Depth: 1, Filter: c.f, Padding: c.pad, SW2: sw2, SB2: sb2}
		g := newGeometry(s, inputs{c: 1, h: c.h, w: c.w})
		n, m := g.pixels(0), g.pixels(1)
		srcK, srcT := randomArray(1, n*n).Data, randomArray(2, n*n).Data
		direct := func(src []float64, y, x, y2, x2 int) float64 {
			var sum float64
			for by := range c.f {
				for bx := range c.f {
					yy, xx, yy2, xx2 := y+g.lo+by, x+g.lo+bx, y2+g.lo+by, x2+g.lo+bx
					if yy < 0 || yy >= c.h || xx < 0 || xx >= c.w || yy2 < 0 || yy2 >= c.h || xx2 < 0 || xx2 >= c.w {
						continue
					}
					sum += src[(yy*c.w+xx)*n+yy2*c.w+xx2]
				}
			}
			return sum / float64(c.f*c.f)
		}
		sl := newConvSlab(c.h, c.w, c.f)
		for _, both := range []bool{true, false} {
			dstK, dstT := make([]float64, m*m), make([]float64, m*m)
			var st []float64
			if both {
				st = srcT
			}
			g.convPair(dstK, dstT, srcK, st, sl, 1, sw2, sb2)
			ho, wo := g.h[1], g.w[1]
			for y := range ho {
				for x := range wo {
					for y2 := range ho {
						for x2 := range wo {
							i := (y*wo+x)*m + y2*wo + x2
							k := sw2*direct(srcK, y, x, y2, x2) + sb2
							tt := k
							if both {
								tt += sw2 * direct(srcT, y, x, y2, x2)
							}
							if math.Abs(dstK[i]-k) > 1e-14*(1+math.Abs(k)) || math.Abs(dstT[i]-tt) > 1e-14*(1+math.Abs(tt)) {
								t.Fatalf("%+v both %v: (%d,%d),(%d,%d): K %g T %g, want %g %g", c, both, y, x, y2, x2, dstK[i], dstT[i], k, tt)
							}
						}
					}
				}
			}
		}
	}
}
