package plots

import (
	"bytes"
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
