package plots

import (
	"bytes"
	"encoding/csv"
	"encoding/xml"
	"flag"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/vgimg"
)

var outDir = flag.String("plots.out", "", "also write the sample figures to this directory, for a look")

// pngSize is the pixel size vgimg gives a page of w x h points at dpi:
// points / 72 * dpi, rounded to the nearest pixel.
func pngSize(w, h float64) (int, int) {
	return int(w/72*dpi + 0.5), int(h/72*dpi + 0.5)
}

// svgText returns the character data of every <text> element.
func svgText(t *testing.T, b []byte) []string {
	t.Helper()
	dec := xml.NewDecoder(bytes.NewReader(b))
	var out []string
	inText := false
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("SVG does not parse as XML: %v", err)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			inText = tok.Name.Local == "text"
		case xml.EndElement:
			inText = false
		case xml.CharData:
			if inText {
				out = append(out, string(tok))
			}
		}
	}
	return out
}

func TestSaveWritesEveryFormat(t *testing.T) {
	for name, f := range samples() {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			if *outDir != "" {
				dir = *outDir
			}
			if err := Save(f, dir, name); err != nil {
				t.Fatal(err)
			}
			base := filepath.Join(dir, name)

			w, h, err := Size(f)
			if err != nil {
				t.Fatal(err)
			}
			pw, ph := pngSize(w, h)
			fp, err := os.Open(base + ".png")
			if err != nil {
				t.Fatal(err)
			}
			img, format, err := image.Decode(fp)
			fp.Close()
			if err != nil || format != "png" {
				t.Fatalf("PNG does not decode: format %q, %v", format, err)
			}
			if got := img.Bounds().Size(); got.X != pw || got.Y != ph {
				t.Errorf("PNG is %v pixels, want %d x %d", got, pw, ph)
			}

			svg, err := os.ReadFile(base + ".svg")
			if err != nil {
				t.Fatal(err)
			}
			texts := strings.Join(svgText(t, svg), "\n")
			for _, p := range f.Panels {
				for _, want := range []string{p.Title, p.XLabel, p.YLabel} {
					if !strings.Contains(texts, want) {
						t.Errorf("SVG text lacks %q", want)
					}
				}
			}
			if f.Title != "" && !strings.Contains(texts, f.Title) {
				t.Errorf("SVG text lacks the figure title %q", f.Title)
			}
			// Every labelled series (theory lines included) is in a legend
			// or in the figure key, and every group has its heading.
			for _, p := range f.Panels {
				for _, s := range p.Series {
					if s.Label != "" && p.Legend != LegendNone && !strings.Contains(texts, s.Label) {
						t.Errorf("SVG text lacks the legend entry %q", s.Label)
					}
				}
			}
			for _, g := range f.Groups {
				if !strings.Contains(texts, g) {
					t.Errorf("SVG text lacks the group heading %q", g)
				}
			}

			pdf, err := os.ReadFile(base + ".pdf")
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.HasPrefix(pdf, []byte("%PDF-")) || !bytes.Contains(pdf[len(pdf)-64:], []byte("%%EOF")) {
				t.Errorf("PDF lacks its header or trailer")
			}

			got, err := Load(base + ".json")
			if err != nil {
				t.Fatal(err)
			}
			if !sameFigure(got, f) {
				t.Errorf("JSON does not round-trip the figure")
			}
			if left, _ := filepath.Glob(filepath.Join(dir, ".*tmp*")); len(left) > 0 {
				t.Errorf("temporary files left behind: %v", left)
			}
		})
	}
}

// sameFigure compares two figures, NaN equal to NaN and every other float
// bit for bit.
func sameFigure(a, b Figure) bool {
	return sameValue(reflect.ValueOf(a), reflect.ValueOf(b))
}

func sameValue(a, b reflect.Value) bool {
	if a.Kind() != b.Kind() {
		return false
	}
	switch a.Kind() {
	case reflect.Float64:
		x, y := a.Float(), b.Float()
		return math.Float64bits(x) == math.Float64bits(y) || math.IsNaN(x) && math.IsNaN(y)
	case reflect.Slice:
		if a.IsNil() != b.IsNil() || a.Len() != b.Len() {
			return false
		}
		fallthrough
	case reflect.Array:
		for i := 0; i < a.Len(); i++ {
			if !sameValue(a.Index(i), b.Index(i)) {
				return false
			}
		}
		return true
	case reflect.Pointer:
		if a.IsNil() || b.IsNil() {
			return a.IsNil() == b.IsNil()
		}
		return sameValue(a.Elem(), b.Elem())
	case reflect.Struct:
		for i := 0; i < a.NumField(); i++ {
			if !sameValue(a.Field(i), b.Field(i)) {
				return false
			}
		}
		return true
	default:
		return a.Interface() == b.Interface()
	}
}

// awkward holds values that a careless writer would not round-trip.
var awkward = []float64{0.1, 1.0 / 3, -2.5e-300, 1e300, math.Nextafter(1, 2), 5e-324, math.Pi, 0}

func roundTripFigure() Figure {
	nan, inf := math.NaN(), math.Inf(1)
	return Figure{Title: "round trip", Rows: 1, Cols: 3, Panels: []Panel{
		{Title: "lines, comma, \"quotes\"", XLabel: "x", YLabel: "y", Series: []Series{
			{Label: "a,b", X: awkward, Y: []float64{1, 2, nan, inf, -inf, 3, 4, 5}},
			{Label: "m", X: []float64{1, 2, 3}, Y: []float64{0.5, 0.25, nan}, YErr: []float64{0.01, nan, 0.3}, Style: Markers, Color: 4},
		}, Refs: []RefLine{{Vertical: true, At: 0.7, Label: "ref"}, {At: -1}},
			Notes: []Note{{X: 0.2, Y: 0.3, Text: "ordered"}}},
		{},
		{Title: "heat", XLabel: "σ²_w", YLabel: "depth", Heat: &HeatMap{
			Label: "acc", X: []float64{0.5, 1.1, 2.25}, Y: []float64{1, 2, 10, 15},
			Z:    [][]float64{{0, 0.1, 0.2}, {nan, 1.0 / 3, 0.5}, {1, inf, -inf}, {0.25, 0.75, nan}},
			Flag: [][]bool{{false, true, false}, {false, false, false}, {true, true, false}, {false, false, true}},
			Min:  0, Max: 1, EqualRows: true}},
	}}
}

func TestCSVRoundTrip(t *testing.T) {
	f := roundTripFigure()
	var b bytes.Buffer
	if err := WriteCSV(&b, &f); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&b).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(rows[0], CSVHeader) {
		t.Fatalf("header %v, want %v", rows[0], CSVHeader)
	}
	col := map[string]int{}
	for i, h := range rows[0] {
		col[h] = i
	}
	num := func(r []string, name string) float64 {
		v, err := strconv.ParseFloat(r[col[name]], 64)
		if err != nil {
			t.Fatalf("row %v: %s: %v", r, name, err)
		}
		return v
	}
	// Rebuild the data from the rows, independently of the writer.
	type key struct{ panel, item string }
	xs, ys, es := map[key][]float64{}, map[key][]float64{}, map[key][]float64{}
	heat := map[[2]float64]float64{}
	flags := map[[2]float64]string{}
	for _, r := range rows[1:] {
		k := key{r[col["panel"]], r[col["item"]]}
		switch r[col["kind"]] {
		case "heat":
			c := [2]float64{num(r, "x"), num(r, "y")}
			heat[c], flags[c] = num(r, "z"), r[col["flag"]]
		case "line", "markers", "line+markers":
			xs[k] = append(xs[k], num(r, "x"))
			ys[k] = append(ys[k], num(r, "y"))
			if r[col["yerr"]] != "" {
				es[k] = append(es[k], num(r, "yerr"))
			}
		}
	}
	same := func(a, b []float64) bool { return sameValue(reflect.ValueOf(a), reflect.ValueOf(b)) }
	for si, s := range f.Panels[0].Series {
		k := key{"0", strconv.Itoa(si)}
		if !same(xs[k], s.X) || !same(ys[k], s.Y) || !same(es[k], s.YErr) {
			t.Errorf("series %d: CSV gives x %v y %v yerr %v, want %v %v %v", si, xs[k], ys[k], es[k], s.X, s.Y, s.YErr)
		}
	}
	h := f.Panels[2].Heat
	if len(heat) != len(h.X)*len(h.Y) {
		t.Errorf("CSV has %d heat cells, want %d", len(heat), len(h.X)*len(h.Y))
	}
	for iy, y := range h.Y {
		for ix, x := range h.X {
			c := [2]float64{x, y}
			want := "0"
			if h.Flag[iy][ix] {
				want = "1"
			}
			if got := heat[c]; !same([]float64{got}, []float64{h.Z[iy][ix]}) || flags[c] != want {
				t.Errorf("cell (%g, %g): CSV z %g flag %s, want %g %s", x, y, got, flags[c], h.Z[iy][ix], want)
			}
		}
	}
}

func TestJSONRoundTrip(t *testing.T) {
	f := roundTripFigure()
	dir := t.TempDir()
	path := filepath.Join(dir, "f.json")
	var b bytes.Buffer
	if err := WriteJSON(&b, &f); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if !sameFigure(got, f) {
		t.Errorf("JSON round trip changed the figure:\n got %+v\nwant %+v", got, f)
	}
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		name, content, want string
	}{
		{"garbage.json", "not json", "not a figure file"},
		{"other.json", `{"Format":"something","Version":1,"Figure":{}}`, `format "something"`},
		{"unknown.json", `{"Format":"ntkharness-figure","Version":1,"Figure":{"Rows":1,"Cols":1,"Bogus":2}}`, "Bogus"},
		{"badfloat.json", `{"Format":"ntkharness-figure","Version":1,"Figure":{"Rows":1,"Cols":1,"Panels":[{"XLabel":"x","YLabel":"y","Series":[{"X":[1,"x"],"Y":[1,2]}]}]}}`, "not a number"},
		{"invalid.json", `{"Format":"ntkharness-figure","Version":1,"Figure":{"Rows":1,"Cols":1,"Panels":[{"XLabel":"x","YLabel":"y","Series":[{"X":[1],"Y":[1,2]}]}]}}`, "1 x values but 2 y values"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(dir, c.name)
			if err := os.WriteFile(path, []byte(c.content), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := Load(path)
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), c.name) {
				t.Errorf("Load(%s) error %v, want one naming the file and containing %q", c.name, err, c.want)
			}
		})
	}
	if _, err := Load(filepath.Join(dir, "absent.json")); err == nil {
		t.Error("Load of a missing file: no error")
	}
}

func TestValidateErrors(t *testing.T) {
	ok := func() Panel {
		return Panel{Title: "p", XLabel: "x", YLabel: "y", Series: []Series{{Label: "s", X: []float64{1, 2}, Y: []float64{1, 2}}}}
	}
	heat := func() *HeatMap {
		return &HeatMap{X: []float64{1, 2}, Y: []float64{1, 2, 3}, Z: [][]float64{{1, 2}, {3, 4}, {5, 6}}}
	}
	mod := func(fn func(p *Panel)) Figure {
		p := ok()
		fn(&p)
		return Figure{Title: "f", Rows: 1, Cols: 1, Panels: []Panel{p}}
	}
	cases := []struct {
		name string
		f    Figure
		want string
	}{
		{"no grid", Figure{Panels: []Panel{ok()}}, "rows and cols"},
		{"too many panels", Figure{Rows: 1, Cols: 1, Panels: []Panel{ok(), ok()}}, "do not fit"},
		{"no panels", Figure{Rows: 1, Cols: 1}, "no panels"},
		{"huge grid", Figure{Rows: 100, Cols: 100, Panels: []Panel{ok()}}, "more than"},
		{"panel size", Figure{Rows: 1, Cols: 1, Panels: []Panel{ok()}, PanelWidth: -3}, "panel size"},
		{"colour bar", Figure{Rows: 1, Cols: 1, Panels: []Panel{ok()}, ColorBar: &ColorBar{Min: 1, Max: 1}}, "colour bar range"},
		{"groups", Figure{Rows: 1, Cols: 3, Groups: []string{"a", "b"}, Panels: []Panel{ok()}}, "2 column groups do not divide 3 columns"},
		{"no x label", mod(func(p *Panel) { p.XLabel = "" }), "label"},
		{"legend", mod(func(p *Panel) { p.Legend = "middle" }), "legend placement"},
		{"lengths", mod(func(p *Panel) { p.Series[0].Y = []float64{1} }), `series 0 ("s"): 2 x values but 1 y values`},
		{"yerr length", mod(func(p *Panel) { p.Series[0].YErr = []float64{1} }), "1 error values"},
		{"negative error", mod(func(p *Panel) { p.Series[0].YErr = []float64{1, -1} }), "error -1"},
		{"style", mod(func(p *Panel) { p.Series[0].Style = 7 }), "unknown style"},
		{"colour", mod(func(p *Panel) { p.Series[0].Color = 99 }), "colour 99"},
		{"xlim", mod(func(p *Panel) { p.XLim = [2]float64{2, 1} }), "x range"},
		{"ylim log", mod(func(p *Panel) { p.LogY = true; p.YLim = [2]float64{-1, 1} }), "need min >= 1e-150"},
		{"ref log", mod(func(p *Panel) { p.LogX = true; p.Refs = []RefLine{{Vertical: true, At: 0}} }), "reference line 0"},
		{"ref inf", mod(func(p *Panel) { p.Refs = []RefLine{{At: math.NaN()}} }), "not a finite number"},
		{"ref huge", mod(func(p *Panel) { p.Refs = []RefLine{{At: 1e200}} }), "within ±1e+150"},
		{"xlim huge", mod(func(p *Panel) { p.XLim = [2]float64{-1e300, 1} }), "within ±1e+150"},
		{"note", mod(func(p *Panel) { p.Notes = []Note{{X: math.Inf(1), Text: "n"}} }), `note 0 ("n")`},
		{"heat rows", mod(func(p *Panel) { p.Heat = heat(); p.Heat.Z = p.Heat.Z[:2] }), "z has 2 rows for 3 y values"},
		{"heat cols", mod(func(p *Panel) { p.Heat = heat(); p.Heat.Z[1] = []float64{1} }), "z row 1 has 1 values"},
		{"heat order", mod(func(p *Panel) { p.Heat = heat(); p.Heat.Y[2] = 2 }), "increase strictly"},
		{"heat empty", mod(func(p *Panel) { p.Heat = heat(); p.Heat.X = nil }), "need at least one"},
		{"heat flag", mod(func(p *Panel) { p.Heat = heat(); p.Heat.Flag = [][]bool{{true}} }), "flag has 1 rows"},
		{"heat range", mod(func(p *Panel) { p.Heat = heat(); p.Heat.Min, p.Heat.Max = 2, 1 }), "colour range"},
		{"heat log", mod(func(p *Panel) { p.Heat = heat(); p.LogX = true; p.Heat.X[0] = 0 }), "below 1e-150 on a log axis"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.f.Validate()
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Validate error %v, want one containing %q", err, c.want)
			}
			// Save reports the same fault and writes nothing.
			dir := t.TempDir()
			if err := Save(c.f, dir, "x"); err == nil {
				t.Fatal("Save accepted an invalid figure")
			}
			if left, _ := os.ReadDir(dir); len(left) != 0 {
				t.Errorf("Save of an invalid figure left %d files", len(left))
			}
		})
	}
	f := Figure{Rows: 1, Cols: 1, Panels: []Panel{ok()}}
	for _, name := range []string{"", ".", "..", "a/b", `a\b`, "../x"} {
		if err := Save(f, t.TempDir(), name); err == nil || !strings.Contains(err.Error(), "plain file name") {
			t.Errorf("Save with name %q: error %v, want a plain-file-name error", name, err)
		}
	}
	big := Figure{Rows: 10, Cols: 10, Panels: []Panel{ok()}, PanelWidth: 90, PanelHeight: 90}
	if err := Save(big, t.TempDir(), "big"); err == nil || !strings.Contains(err.Error(), "too large") {
		t.Errorf("Save of a 9 m figure: error %v, want a too-large error", err)
	}
}

// renderPNG draws f as Save does and returns the image and the data area
// of each panel in pixels (y down).
func renderPNG(t *testing.T, f Figure) (image.Image, []image.Rectangle) {
	t.Helper()
	if err := f.Validate(); err != nil {
		t.Fatal(err)
	}
	l, err := figureLayout(&f)
	if err != nil {
		t.Fatal(err)
	}
	c := vgimg.NewWith(vgimg.UseWH(l.w, l.h), vgimg.UseDPI(dpi))
	areas := drawFigure(&f, l, c)
	var b bytes.Buffer
	if _, err := (vgimg.PngCanvas{Canvas: c}).WriteTo(&b); err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(&b)
	if err != nil {
		t.Fatal(err)
	}
	H := img.Bounds().Dy()
	px := func(v vg.Length) int { return int(math.Round(float64(v.Dots(dpi)))) }
	rects := make([]image.Rectangle, len(areas))
	for i, a := range areas {
		rects[i] = image.Rect(px(a.Min.X), H-px(a.Max.Y), px(a.Max.X), H-px(a.Min.Y))
	}
	return img, rects
}

// cellPixel is a pixel inside cell (ix, iy) of an nx x ny heat map filling
// area r, at fraction (fx, fy) of the cell from its lower left corner.
func cellPixel(r image.Rectangle, nx, ny, ix, iy int, fx, fy float64) (int, int) {
	cw := float64(r.Dx()) / float64(nx)
	ch := float64(r.Dy()) / float64(ny)
	x := float64(r.Min.X) + (float64(ix)+fx)*cw
	y := float64(r.Max.Y) - (float64(iy)+fy)*ch
	return int(x), int(y)
}

func rgb(c color.Color) [3]uint8 {
	r, g, b, _ := c.RGBA()
	return [3]uint8{uint8(r >> 8), uint8(g >> 8), uint8(b >> 8)}
}

// The ends of viridis, independent of the interpolation code.
var (
	viridisLow  = [3]uint8{0x44, 0x01, 0x54}
	viridisHigh = [3]uint8{0xFD, 0xE7, 0x25}
	grey        = [3]uint8{0xC8, 0xC8, 0xC8}
)

func TestHeatMapCellColours(t *testing.T) {
	nan := math.NaN()
	// A 2 x 2 map with large cells: (0,0) = 0, (1,0) = 1, (0,1) = NaN,
	// (1,1) = flagged. Rows are non-uniform (1, 50) and drawn equal.
	f := Figure{Rows: 1, Cols: 1, Panels: []Panel{{
		Title: "cells", XLabel: "x", YLabel: "y", Legend: LegendNone,
		Heat: &HeatMap{Label: "z", X: []float64{0, 1}, Y: []float64{1, 50},
			Z: [][]float64{{0, 1}, {nan, 0.5}}, Flag: [][]bool{{false, false}, {false, true}}, EqualRows: true},
	}}}
	img, areas := renderPNG(t, f)
	r := areas[0]
	// Sample off the hatch diagonal (which runs corner to corner) and off
	// the cell borders, where anti-aliasing mixes colours.
	cases := []struct {
		name   string
		ix, iy int
		fx, fy float64
		want   [3]uint8
	}{
		{"min value", 0, 0, 0.3, 0.7, viridisLow},
		{"max value", 1, 0, 0.3, 0.7, viridisHigh},
		{"NaN cell", 0, 1, 0.25, 0.75, grey},
		{"NaN cell, other side", 0, 1, 0.75, 0.25, grey},
		{"flag mark at centre", 1, 1, 0.5, 0.5, [3]uint8{0xFF, 0xFF, 0xFF}},
	}
	for _, c := range cases {
		x, y := cellPixel(r, 2, 2, c.ix, c.iy, c.fx, c.fy)
		if got := rgb(img.At(x, y)); got != c.want {
			t.Errorf("%s: pixel (%d, %d) is %v, want %v", c.name, x, y, got, c.want)
		}
	}
	// The hatch line crosses the NaN cell's centre.
	x, y := cellPixel(r, 2, 2, 0, 1, 0.5, 0.5)
	if got := rgb(img.At(x, y)); got == grey {
		t.Errorf("NaN cell centre (%d, %d) is plain grey, want the hatch line", x, y)
	}
}

func TestSharedColourScale(t *testing.T) {
	// Panel A spans [0, 0.5] and panel B [0.5, 1]. With a shared bar
	// [0, 1], the value 0.5 has the same colour in both panels and 1 is
	// the top colour; with separate scales, 0.5 is the top of A and the
	// bottom of B.
	mk := func(lo, hi float64) Panel {
		return Panel{Title: "p", XLabel: "x", YLabel: "y",
			Heat: &HeatMap{Label: "z", X: []float64{0, 1}, Y: []float64{0}, Z: [][]float64{{lo, hi}}}}
	}
	cases := []struct {
		name             string
		bar              *ColorBar
		aLow, aHigh      [3]uint8 // colours of A's cells
		bLowEqualsAHigh  bool
		bHigh            [3]uint8
		aHighNotTopOfMap bool
	}{
		{name: "shared", bar: &ColorBar{Label: "acc", Min: 0, Max: 1}, aLow: viridisLow, bLowEqualsAHigh: true, bHigh: viridisHigh, aHighNotTopOfMap: true},
		{name: "separate", bar: nil, aLow: viridisLow, aHigh: viridisHigh, bHigh: viridisHigh},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := Figure{Rows: 1, Cols: 2, Panels: []Panel{mk(0, 0.5), mk(0.5, 1)}, ColorBar: c.bar}
			img, areas := renderPNG(t, f)
			at := func(p, ix int) [3]uint8 {
				x, y := cellPixel(areas[p], 2, 1, ix, 0, 0.5, 0.5)
				return rgb(img.At(x, y))
			}
			if got := at(0, 0); got != c.aLow {
				t.Errorf("A low cell %v, want %v", got, c.aLow)
			}
			if got := at(1, 1); got != c.bHigh {
				t.Errorf("B high cell %v, want %v", got, c.bHigh)
			}
			if (at(0, 1) == at(1, 0)) != c.bLowEqualsAHigh {
				t.Errorf("value 0.5: A %v, B %v; same colour should be %v", at(0, 1), at(1, 0), c.bLowEqualsAHigh)
			}
			if c.aHighNotTopOfMap && at(0, 1) == viridisHigh {
				t.Errorf("A's 0.5 drawn with the top colour under a [0, 1] shared scale")
			}
			if !c.aHighNotTopOfMap && at(0, 1) != c.aHigh {
				t.Errorf("A high cell %v, want %v", at(0, 1), c.aHigh)
			}
		})
	}
}

func TestCellEdges(t *testing.T) {
	cases := []struct {
		name string
		c    []float64
		log  bool
		want []float64
	}{
		{"one", []float64{3}, false, []float64{2.5, 3.5}},
		{"uniform", []float64{0, 1, 2}, false, []float64{-0.5, 0.5, 1.5, 2.5}},
		{"depths", []float64{8, 9, 10, 15}, false, []float64{7.5, 8.5, 9.5, 12.5, 17.5}},
		{"log", []float64{1, 100, 10000}, true, []float64{0.1, 10, 1000, 100000}},
	}
	for _, c := range cases {
		got := cellEdges(c.c, c.log)
		for i := range c.want {
			// Relative 1e-14: a few roundings in sqrt and products.
			if math.Abs(got[i]-c.want[i]) > 1e-14*math.Abs(c.want[i]) {
				t.Errorf("%s: edges %v, want %v", c.name, got, c.want)
				break
			}
		}
	}
}

func TestEdgeScaleEqualRows(t *testing.T) {
	// Depths 0..9 then 10..105 by 5: every row gets 1/30 of the axis, so
	// the centre of row k is at (k + 1/2)/30 whatever its depth.
	depths := paperDepths()
	e := cellEdges(depths, false)
	s := newEdgeScale(depths, e)
	lo, hi := e[0], e[len(e)-1]
	for k, d := range depths {
		want := (float64(k) + 0.5) / float64(len(depths))
		// 1e-12: the map is a few flops of linear interpolation.
		if got := s.Normalize(lo, hi, d); math.Abs(got-want) > 1e-12 {
			t.Errorf("depth %g: normalized %v, want %v", d, got, want)
		}
	}
	// Edges sit between rows: edge k at k/30.
	for k, x := range e {
		want := float64(k) / float64(len(depths))
		if got := s.Normalize(lo, hi, x); math.Abs(got-want) > 1e-12 {
			t.Errorf("edge %g: normalized %v, want %v", x, got, want)
		}
	}
	if got := s.Normalize(lo, hi, lo); got != 0 {
		t.Errorf("lower edge maps to %v, want 0", got)
	}
	if got := s.Normalize(lo, hi, hi); math.Abs(got-1) > 1e-12 {
		t.Errorf("upper edge maps to %v, want 1", got)
	}
}

func TestLogTicksAlwaysLabelled(t *testing.T) {
	cases := []struct{ min, max float64 }{
		{1, 1000}, {12, 280}, {0.3, 0.9}, {1.1, 1.9}, {3e-5, 4e-5}, {1e-20, 1e20},
	}
	for _, c := range cases {
		n := 0
		for _, tk := range (logTicks{}).Ticks(c.min, c.max) {
			if tk.Label != "" && tk.Value >= c.min && tk.Value <= c.max {
				n++
			}
		}
		if n < 2 {
			t.Errorf("range [%g, %g]: %d labelled ticks, want at least 2", c.min, c.max, n)
		}
	}
}

func TestAssignColors(t *testing.T) {
	cases := []struct {
		explicit []int
		want     []int
	}{
		{[]int{0, 0, 0}, []int{0, 1, 2}},
		{[]int{1, 0, 1, 0}, []int{0, 1, 0, 2}},
		{[]int{0, 2, 0}, []int{0, 1, 2}},
		{[]int{0, 0, 0, 0, 0, 0, 0, 0, 0}, []int{0, 1, 2, 3, 4, 5, 6, 7, 0}},
	}
	for _, c := range cases {
		ss := make([]Series, len(c.explicit))
		for i, e := range c.explicit {
			ss[i].Color = e
		}
		if got := assignColors(ss); !reflect.DeepEqual(got, c.want) {
			t.Errorf("colours %v: got %v, want %v", c.explicit, got, c.want)
		}
	}
}

func TestStyleText(t *testing.T) {
	for _, s := range []Style{Line, Markers, LineMarkers} {
		b, err := s.MarshalText()
		if err != nil {
			t.Fatal(err)
		}
		var back Style
		if err := back.UnmarshalText(b); err != nil || back != s {
			t.Errorf("style %v: text %q reads back as %v, %v", s, b, back, err)
		}
	}
	if _, err := Style(9).MarshalText(); err == nil {
		t.Error("style 9 marshalled without error")
	}
	var s Style
	if err := s.UnmarshalText([]byte("dots")); err == nil {
		t.Error(`style "dots" read without error`)
	}
}

func TestSVGEscapesText(t *testing.T) {
	f := Figure{Rows: 1, Cols: 1, Panels: []Panel{{Title: `a < b & "c"`, XLabel: "σ²_w < 2", YLabel: "y", Series: []Series{{X: []float64{1, 2}, Y: []float64{1, 2}}}}}}
	dir := t.TempDir()
	if err := Save(f, dir, "esc"); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "esc.svg"))
	if err != nil {
		t.Fatal(err)
	}
	texts := strings.Join(svgText(t, b), "\n")
	for _, want := range []string{`a < b & "c"`, "σ²_w < 2"} {
		if !strings.Contains(texts, want) {
			t.Errorf("SVG text lacks %q", want)
		}
	}
}

func TestFormatFloat(t *testing.T) {
	cases := []struct {
		v    float64
		want string
	}{
		{math.NaN(), "NaN"}, {math.Inf(1), "+Inf"}, {math.Inf(-1), "-Inf"}, {0.1, "0.1"}, {1e300, "1e+300"}, {-2, "-2"},
	}
	for _, c := range cases {
		if got := FormatFloat(c.v); got != c.want {
			t.Errorf("FormatFloat(%v) = %q, want %q", c.v, got, c.want)
		}
	}
	for _, v := range awkward {
		back, err := strconv.ParseFloat(FormatFloat(v), 64)
		if err != nil || math.Float64bits(back) != math.Float64bits(v) {
			t.Errorf("%v: %q reads back as %v, %v", v, FormatFloat(v), back, err)
		}
	}
}

func ExampleSave() {
	dir, err := os.MkdirTemp("", "plots-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)

	depth := []float64{1, 2, 4, 8, 16, 32, 64}
	theory := make([]float64, len(depth))
	for i, l := range depth {
		theory[i] = l * math.Pow(0.95, l) // a closed form to draw
	}
	fig := Figure{Rows: 1, Cols: 1, Panels: []Panel{{
		Title: "mean predictor", XLabel: "depth l", YLabel: "|P(Θ) Y|", LogX: true,
		Series: []Series{
			{Label: "theory", X: depth, Y: theory},
			{Label: "measured", X: depth[:3], Y: []float64{0.9, 1.8, 3.3}, YErr: []float64{0.1, 0.1, 0.2}, Style: Markers},
		},
	}}}
	if err := Save(fig, dir, "mean-predictor"); err != nil {
		fmt.Println(err)
		return
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		fmt.Println(e.Name())
	}
	// Output:
	// mean-predictor.csv
	// mean-predictor.json
	// mean-predictor.pdf
	// mean-predictor.png
	// mean-predictor.svg
}

// TestEdgeCasesDraw draws degenerate but valid figures in every format:
// none may panic, and each must produce decodable files.
func TestEdgeCasesDraw(t *testing.T) {
	nan, inf := math.NaN(), math.Inf(1)
	line := func(x, y []float64) Series { return Series{Label: "s", X: x, Y: y} }
	many := make([]Series, 11)
	for i := range many {
		many[i] = Series{Label: fmt.Sprintf("s%d", i), X: []float64{1, 2}, Y: []float64{float64(i), float64(i + 1)}, Style: LineMarkers}
	}
	cases := []struct {
		name string
		p    Panel
	}{
		{"single point log-log", Panel{LogX: true, LogY: true, Series: []Series{{X: []float64{3}, Y: []float64{7}, Style: LineMarkers}}}},
		{"constant on log y", Panel{LogY: true, Series: []Series{line([]float64{1, 2, 3}, []float64{5, 5, 5})}}},
		{"constant linear", Panel{Series: []Series{line([]float64{1, 1}, []float64{2, 2})}}},
		{"all NaN series", Panel{Series: []Series{line([]float64{1, 2}, []float64{nan, nan})}}},
		{"infinities cut the line", Panel{Series: []Series{line([]float64{1, 2, 3, 4}, []float64{1, inf, -inf, 2})}}},
		{"one NaN cell", Panel{Heat: &HeatMap{X: []float64{1}, Y: []float64{1}, Z: [][]float64{{nan}}}}},
		{"constant heat", Panel{Heat: &HeatMap{X: []float64{1, 2}, Y: []float64{1, 2}, Z: [][]float64{{3, 3}, {3, 3}}}}},
		{"all flagged, equal rows and cols", Panel{Heat: &HeatMap{X: []float64{1, 2, 10}, Y: []float64{1, 50},
			Z: [][]float64{{0, 1, inf}, {-inf, 0.5, nan}}, Flag: [][]bool{{true, true, true}, {true, true, true}}, EqualRows: true, EqualCols: true}}},
		{"log heat", Panel{LogX: true, LogY: true, Heat: &HeatMap{X: []float64{1, 10, 100}, Y: []float64{0.1, 1}, Z: [][]float64{{1, 2, 3}, {4, 5, 6}}}}},
		{"error bars through zero on log y", Panel{LogY: true, Series: []Series{{X: []float64{1, 2}, Y: []float64{1, 2}, YErr: []float64{5, nan}, Style: Markers}}}},
		{"reference lines only", Panel{XLim: [2]float64{0, 1}, YLim: [2]float64{1, 10}, LogY: true, Refs: []RefLine{{Vertical: true, At: 0.5}, {At: 3, Label: "h"}}}},
		{"notes only, one outside the limits", Panel{XLim: [2]float64{0, 1}, YLim: [2]float64{0, 1}, Notes: []Note{{X: 0.5, Y: 0.5, Text: "in"}, {X: 5, Y: 5, Text: "out"}}}},
		{"eleven series", Panel{Series: many, Legend: LegendBottomLeft}},
		{"non-positive and infinite markers on log axes", Panel{LogX: true, LogY: true, Series: []Series{
			{Label: "m", X: []float64{1, 2, 3, -1, 5}, Y: []float64{1, 0, inf, 2, 3}, YErr: []float64{0.1, 0.1, 0.1, 0.1, 0.1}, Style: LineMarkers}}}},
		{"huge and constant values", Panel{Series: []Series{
			{Label: "h", X: []float64{1e300, -1e300, 2, 3}, Y: []float64{1, 2, 1e20, 1e20}, YErr: []float64{0, 1, 1e200, 1e3}, Style: LineMarkers}}}},
		{"legend outside", Panel{Series: many, Legend: LegendRight, Refs: []RefLine{{At: 3, Label: "three"}}}},
		{"overlay outside the heat map", Panel{Heat: &HeatMap{X: []float64{0, 1}, Y: []float64{0, 1}, Z: [][]float64{{0, 1}, {1, 0}}},
			Series: []Series{line([]float64{-5, 5}, []float64{-5, 5})}, Refs: []RefLine{{Vertical: true, At: 9}}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.p.Title, c.p.XLabel, c.p.YLabel = c.name, "x", "y"
			f := Figure{Rows: 2, Cols: 2, Panels: []Panel{c.p, {}, {}, c.p}, PanelWidth: 5, PanelHeight: 4}
			dir := t.TempDir()
			if err := Save(f, dir, "f"); err != nil {
				t.Fatal(err)
			}
			fp, err := os.Open(filepath.Join(dir, "f.png"))
			if err != nil {
				t.Fatal(err)
			}
			defer fp.Close()
			if _, err := png.Decode(fp); err != nil {
				t.Fatal(err)
			}
			got, err := Load(filepath.Join(dir, "f.json"))
			if err != nil || !sameFigure(got, f) {
				t.Errorf("JSON round trip: %v", err)
			}
		})
	}
}

func TestLogAxisFootnote(t *testing.T) {
	cases := []struct {
		name string
		y    []float64
		want string // "" = no footnote
	}{
		{"all positive", []float64{1, 2, 3, 4}, ""},
		{"two non-positive", []float64{1, 0, -1, 4}, "2 point(s) ≤ 0 on a log axis"},
		{"NaN and Inf are not counted", []float64{1, math.NaN(), math.Inf(1), 4}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := Figure{Rows: 1, Cols: 1, Panels: []Panel{{XLabel: "x", YLabel: "y", LogY: true,
				Series: []Series{{X: []float64{1, 2, 3, 4}, Y: c.y, Style: Markers}}}}}
			dir := t.TempDir()
			if err := Save(f, dir, "f"); err != nil {
				t.Fatal(err)
			}
			b, err := os.ReadFile(filepath.Join(dir, "f.svg"))
			if err != nil {
				t.Fatal(err)
			}
			texts := strings.Join(svgText(t, b), "\n")
			if c.want == "" && strings.Contains(texts, "not shown") {
				t.Errorf("unexpected footnote in %q", texts)
			}
			if c.want != "" && !strings.Contains(texts, c.want) {
				t.Errorf("SVG text lacks %q", c.want)
			}
		})
	}
}

// TestLogTicksWideRange: an axis over 40 decades labels at most
// maxDecadeLabels+1 powers of ten, each printed exactly ("1e+40", not
// "1.0000000000000001e+40").
func TestLogTicksWideRange(t *testing.T) {
	var labels []string
	for _, tk := range (logTicks{}).Ticks(1, 1e40) {
		if tk.Label != "" {
			labels = append(labels, tk.Label)
		}
	}
	if len(labels) < 2 || len(labels) > maxDecadeLabels+1 {
		t.Errorf("%d labels %v, want 2..%d", len(labels), labels, maxDecadeLabels+1)
	}
	for _, l := range labels {
		if !regexp.MustCompile(`^1e[+-]\d\d$`).MatchString(l) {
			t.Errorf("label %q is not a clean power of ten", l)
		}
	}
}
