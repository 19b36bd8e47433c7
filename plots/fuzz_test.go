package plots

import (
	"bytes"
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/plot/vg/vgsvg"
)

// FuzzReadJSON feeds arbitrary bytes to ReadJSON; whatever it accepts must
// draw without panicking.
func FuzzReadJSON(f *testing.F) {
	for _, fig := range []Figure{roundTripFigure(), sampleWidth(), samplePooling()} {
		var b bytes.Buffer
		if err := WriteJSON(&b, &fig); err != nil {
			f.Fatal(err)
		}
		f.Add(b.Bytes())
	}
	f.Add([]byte(`{"Format":"ntkharness-figure","Version":1,"Figure":{"Rows":1,"Cols":1,"Panels":[{"XLabel":"x","YLabel":"y","LogY":true,"Heat":{"X":[1],"Y":[1e-300],"Z":[[null]]}}]}}`))
	f.Add([]byte(`{"Format":"ntkharness-figure","Version":1,"Figure":{"Rows":1,"Cols":2,"Groups":["a","b"],"ColorBar":{"Min":0,"Max":1e308},"Panels":[{"XLabel":"x","YLabel":"y","Series":[{"X":[1e308,-1e308],"Y":["+Inf",5e-324]}]}]}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		fig, err := ReadJSON(bytes.NewReader(data))
		if err != nil {
			return
		}
		l, err := figureLayout(&fig)
		if err != nil {
			return
		}
		drawFigure(&fig, l, vgsvg.New(l.w, l.h))
	})
}

// TestRandomFiguresDraw builds seeded random figures full of awkward
// values (NaN, ±Inf, 0, negatives, huge and tiny magnitudes, repeated
// values) on random axis types; every figure that validates must draw.
func TestRandomFiguresDraw(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	special := []float64{math.NaN(), math.Inf(1), math.Inf(-1), 0, -1, 1e-300, 1e149, -1e149, 1e200, 5e-324, 1, 1}
	val := func() float64 {
		if rng.IntN(4) == 0 {
			return special[rng.IntN(len(special))]
		}
		return rng.NormFloat64() * math.Pow(10, float64(rng.IntN(7)-3))
	}
	vals := func(n int) []float64 {
		v := make([]float64, n)
		for i := range v {
			v[i] = val()
		}
		return v
	}
	increasing := func(n int) []float64 {
		v := make([]float64, n)
		x := rng.Float64()*10 - 2
		for i := range v {
			v[i] = x
			x += rng.ExpFloat64() + 1e-3
		}
		return v
	}
	drawn := 0
	for trial := 0; trial < 300; trial++ {
		p := Panel{Title: "t", XLabel: "x", YLabel: "y", LogX: rng.IntN(3) == 0, LogY: rng.IntN(3) == 0}
		for k := rng.IntN(4); k > 0; k-- {
			n := rng.IntN(6)
			s := Series{Label: "s", X: vals(n), Y: vals(n), Style: Style(rng.IntN(3)), Dashed: rng.IntN(2) == 0}
			if rng.IntN(2) == 0 {
				s.YErr = vals(n)
				for i := range s.YErr {
					s.YErr[i] = math.Abs(s.YErr[i])
				}
			}
			p.Series = append(p.Series, s)
		}
		if rng.IntN(2) == 0 {
			nx, ny := 1+rng.IntN(4), 1+rng.IntN(4)
			h := &HeatMap{Label: "z", X: increasing(nx), Y: increasing(ny), EqualRows: rng.IntN(2) == 0, EqualCols: rng.IntN(2) == 0}
			for i := 0; i < ny; i++ {
				h.Z = append(h.Z, vals(nx))
			}
			p.Heat = h
		}
		if rng.IntN(3) == 0 {
			p.Refs = []RefLine{{Vertical: rng.IntN(2) == 0, At: val(), Label: "r"}}
		}
		if rng.IntN(3) == 0 {
			p.Notes = []Note{{X: val(), Y: val(), Text: "n"}}
		}
		if rng.IntN(4) == 0 {
			a, b := val(), val()
			p.YLim = [2]float64{math.Min(a, b), math.Max(a, b)}
		}
		f := Figure{Rows: 1, Cols: 2, Panels: []Panel{p, p}, PanelWidth: 5, PanelHeight: 4}
		if rng.IntN(3) == 0 {
			f.ColorBar = &ColorBar{Label: "c", Min: 0, Max: 1}
		}
		if f.Validate() != nil {
			continue
		}
		l, err := figureLayout(&f)
		if err != nil {
			continue
		}
		func() {
			defer func() {
				if r := recover(); r != nil {
					t.Errorf("trial %d panicked: %v\nfigure: %+v", trial, r, p)
				}
			}()
			drawFigure(&f, l, vgsvg.New(l.w, l.h))
		}()
		drawn++
	}
	// The generator must exercise the renderer, not only the validator.
	if drawn < 100 {
		t.Errorf("only %d of 300 random figures validated", drawn)
	}
}
