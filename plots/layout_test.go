package plots

import (
	"fmt"
	"image"
	"image/color"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/vg"
)

// textRecorder is a canvas that draws nothing and records the page box of
// every string drawn on it, following the canvas transforms.
type textRecorder struct {
	w, h  vg.Length
	m     affine
	stack []affine
	texts []recordedText
}

type recordedText struct {
	text string
	box  vg.Rectangle
}

// affine maps (x, y) to (a x + c y + e, b x + d y + f).
type affine struct{ a, b, c, d, e, f float64 }

func (m affine) apply(p vg.Point) vg.Point {
	x, y := float64(p.X), float64(p.Y)
	return vg.Point{X: vg.Length(m.a*x + m.c*y + m.e), Y: vg.Length(m.b*x + m.d*y + m.f)}
}

// then returns m after the local transform n (n applied first).
func (m affine) then(n affine) affine {
	return affine{
		a: m.a*n.a + m.c*n.b, b: m.b*n.a + m.d*n.b,
		c: m.a*n.c + m.c*n.d, d: m.b*n.c + m.d*n.d,
		e: m.a*n.e + m.c*n.f + m.e, f: m.b*n.e + m.d*n.f + m.f,
	}
}

func newTextRecorder(w, h vg.Length) *textRecorder {
	return &textRecorder{w: w, h: h, m: affine{a: 1, d: 1}}
}

func (r *textRecorder) Size() (vg.Length, vg.Length)        { return r.w, r.h }
func (r *textRecorder) SetLineWidth(vg.Length)              {}
func (r *textRecorder) SetLineDash([]vg.Length, vg.Length)  {}
func (r *textRecorder) SetColor(color.Color)                {}
func (r *textRecorder) Stroke(vg.Path)                      {}
func (r *textRecorder) Fill(vg.Path)                        {}
func (r *textRecorder) DrawImage(vg.Rectangle, image.Image) {}
func (r *textRecorder) Push()                               { r.stack = append(r.stack, r.m) }
func (r *textRecorder) Pop() {
	r.m = r.stack[len(r.stack)-1]
	r.stack = r.stack[:len(r.stack)-1]
}
func (r *textRecorder) Rotate(rad float64) {
	s, c := math.Sincos(rad)
	r.m = r.m.then(affine{a: c, b: s, c: -s, d: c})
}
func (r *textRecorder) Translate(p vg.Point) {
	r.m = r.m.then(affine{a: 1, d: 1, e: float64(p.X), f: float64(p.Y)})
}
func (r *textRecorder) Scale(x, y float64) { r.m = r.m.then(affine{a: x, d: y}) }

func (r *textRecorder) FillString(f font.Face, p vg.Point, s string) {
	if strings.TrimSpace(s) == "" || f.Font.Size == 0 {
		return
	}
	w, e := f.Width(s), f.Extents()
	corners := []vg.Point{
		{X: p.X, Y: p.Y - e.Descent}, {X: p.X + w, Y: p.Y - e.Descent},
		{X: p.X, Y: p.Y + e.Ascent}, {X: p.X + w, Y: p.Y + e.Ascent},
	}
	box := vg.Rectangle{Min: vg.Point{X: vg.Length(math.Inf(1)), Y: vg.Length(math.Inf(1))},
		Max: vg.Point{X: vg.Length(math.Inf(-1)), Y: vg.Length(math.Inf(-1))}}
	for _, c := range corners {
		q := r.m.apply(c)
		box.Min.X, box.Min.Y = min(box.Min.X, q.X), min(box.Min.Y, q.Y)
		box.Max.X, box.Max.Y = max(box.Max.X, q.X), max(box.Max.Y, q.Y)
	}
	r.texts = append(r.texts, recordedText{s, box})
}

// layoutTol absorbs rounding in the layout arithmetic, in points.
const layoutTol = 0.5

func boxesOverlap(a, b vg.Rectangle) bool {
	return a.Min.X < b.Max.X-layoutTol && b.Min.X < a.Max.X-layoutTol &&
		a.Min.Y < b.Max.Y-layoutTol && b.Min.Y < a.Max.Y-layoutTol
}

// textInset is how much text boxes shrink before testing text against
// text, in points.
const textInset = 1.5

func shrink(r vg.Rectangle, d vg.Length) vg.Rectangle {
	return vg.Rectangle{Min: vg.Point{X: r.Min.X + d, Y: r.Min.Y + d}, Max: vg.Point{X: r.Max.X - d, Y: r.Max.Y - d}}
}

func inside(in, out vg.Rectangle) bool {
	return in.Min.X >= out.Min.X-layoutTol && in.Max.X <= out.Max.X+layoutTol &&
		in.Min.Y >= out.Min.Y-layoutTol && in.Max.Y <= out.Max.Y+layoutTol
}

// checkLayout draws f and checks what a reader needs at a glance: all text
// on the page and clear of other text, the data areas of each row sharing
// their top edge with the titles at one height just above them, and no
// legend over a point, error bar or line of its panel.
func checkLayout(t *testing.T, f Figure) {
	t.Helper()
	if err := f.Validate(); err != nil {
		t.Fatal(err)
	}
	l, err := figureLayout(&f)
	if err != nil {
		t.Fatal(err)
	}
	rec := newTextRecorder(l.w, l.h)
	boxes := drawFigureBoxes(&f, l, rec)
	page := vg.Rectangle{Max: vg.Point{X: l.w, Y: l.h}}
	var legends []vg.Rectangle
	for _, b := range boxes {
		if b.hasLegend {
			legends = append(legends, b.legend)
			if !inside(b.legend, page) {
				t.Errorf("legend %v leaves the page %v", b.legend, page)
			}
		}
	}
	inLegend := func(r vg.Rectangle) bool {
		for _, lg := range legends {
			if inside(r, lg) {
				return true
			}
		}
		return false
	}
	for i, a := range rec.texts {
		if !inside(a.box, page) {
			t.Errorf("text %q at %v leaves the page %v", a.text, a.box, page)
		}
		for _, lg := range legends {
			if boxesOverlap(a.box, lg) && !inside(a.box, lg) {
				t.Errorf("text %q at %v runs into the legend %v", a.text, a.box, lg)
			}
		}
		for _, b := range rec.texts[i+1:] {
			// Lines of one label are a font size apart, a little less than
			// ascent plus descent: shrink the boxes for this test.
			if boxesOverlap(shrink(a.box, textInset), shrink(b.box, textInset)) && !(inLegend(a.box) && inLegend(b.box)) {
				t.Errorf("texts %q at %v and %q at %v overlap", a.text, a.box, b.text, b.box)
			}
		}
	}
	rowTop := map[int]vg.Length{}
	rowGap := map[int]vg.Length{}
	for i, b := range boxes {
		if f.Panels[i].empty() {
			continue
		}
		if top, ok := rowTop[b.row]; !ok {
			rowTop[b.row] = b.data.Max.Y
		} else if math.Abs(float64(top-b.data.Max.Y)) > layoutTol {
			t.Errorf("panel %d (%q): data area top %.1f, other panels of row %d at %.1f", i, f.Panels[i].Title, b.data.Max.Y, b.row, top)
		}
		if f.Panels[i].Title != "" {
			gap := b.title.Min.Y - b.data.Max.Y
			if gap < 0 || gap > 16 {
				t.Errorf("panel %d (%q): title %.1f pt above its data area, want 0 to 16", i, f.Panels[i].Title, gap)
			}
			if g, ok := rowGap[b.row]; !ok {
				rowGap[b.row] = gap
			} else if math.Abs(float64(g-gap)) > layoutTol {
				t.Errorf("panel %d (%q): title %.1f pt above the data, other titles of row %d %.1f pt", i, f.Panels[i].Title, gap, b.row, g)
			}
		}
		if !b.hasLegend {
			continue
		}
		for _, q := range b.points {
			if q.X > b.legend.Min.X && q.X < b.legend.Max.X && q.Y > b.legend.Min.Y && q.Y < b.legend.Max.Y {
				t.Errorf("panel %d (%q): legend %v hides data at %v", i, f.Panels[i].Title, b.legend, q)
				break
			}
		}
	}
}

// layoutFigures are the shapes of the project's figures, made small.
func layoutFigures() map[string]Figure {
	xs := []float64{1, 2, 4, 8, 16, 32, 64, 128}
	flat := func(v, slope float64) []float64 {
		y := make([]float64, len(xs))
		for i, x := range xs {
			y[i] = v * math.Pow(x, slope)
		}
		return y
	}
	errs := func(y []float64, frac float64) []float64 {
		e := make([]float64, len(y))
		for i, v := range y {
			e[i] = frac * v
		}
		return e
	}
	long := "rms of the data-dependent part of the predictor P(Theta) Y"
	// Lines across the whole width at the top and bottom leave no free
	// corner (the legend needs room made for it).
	lines := Panel{Title: "ordered, sw2 = 1 (xi_1 = 7.04)", XLabel: "depth l", YLabel: "P(Theta^l) Y component"}
	for k, v := range []float64{0.12, 0.11, -0.01, -0.1} {
		lines.Series = append(lines.Series, Series{Label: fmt.Sprintf("test point %d", k), X: xs, Y: flat(v, 0.01)})
	}
	decay := Panel{Title: "chaotic phase", XLabel: "depth l", YLabel: long, LogY: true, Series: []Series{
		{Label: "sw2 = 2.5 (xi_* = 2.77): |P(Theta^l) Y|", X: xs, Y: flat(0.2, -6)},
		{Label: "sw2 = 2.5: l (chi_c*/chi_1)^l", X: xs, Y: flat(0.25, -6), Dashed: true, Color: 1},
	}}
	markers := Panel{Title: "mean of 4 networks vs analytic, a title long enough to wrap on a panel", XLabel: "width (units or channels)",
		YLabel: "||Theta_emp - Theta||_F / ||Theta||_F", LogX: true, LogY: true, Series: []Series{
			{Label: "fcn", X: xs, Y: flat(0.5, -0.5), YErr: errs(flat(0.5, -0.5), 0.3), Style: Markers, Color: 1},
			{Label: "fcn: slope -1/2", X: xs, Y: flat(0.5, -0.5), Dashed: true, Color: 1},
			{Label: "cnn-f", X: xs, Y: flat(0.3, -0.5), YErr: errs(flat(0.3, -0.5), 0.3), Style: Markers, Color: 2},
			{Label: "lost", X: xs, Y: []float64{1, 0, -1, 1, 1, 1, 1, 1}, Style: Markers, Color: 3},
		}}
	heat := func(title string, logX bool) Panel {
		hx, hy := []float64{0.5, 1, 1.5, 2, 2.5}, []float64{1, 2, 3, 4, 5, 10, 20}
		z := make([][]float64, len(hy))
		for i := range z {
			z[i] = make([]float64, len(hx))
			for j := range z[i] {
				z[i][j] = float64(i*j) / 24
			}
		}
		z[0][0] = math.NaN()
		return Panel{Title: title, XLabel: "sw2", YLabel: "depth", LogX: logX,
			Heat:   &HeatMap{Label: "test accuracy of the trained networks", X: hx, Y: hy, Z: z, EqualRows: true},
			Series: []Series{{Label: "8 xi_1", X: []float64{0.6, 1, 1.4}, Y: []float64{2, 5, 19}}},
			Notes:  []Note{{X: 0.6, Y: 15, Text: "ordered"}}}
	}
	return map[string]Figure{
		"line panels with legends": {Title: "Converged NTK predictor of erf FCNs, sb2 = 0.05, 64 MNIST training points",
			Rows: 1, Cols: 3, Panels: []Panel{decay, lines, markers}},
		"heat-map grid with own colour bars": {Title: "Phase diagrams", Rows: 2, Cols: 2,
			Panels: []Panel{heat("erf: q*", false), heat("erf: c*", false), heat("tanh: q*", false), heat("tanh: c*", true)}},
		"heat-map grid with a shared colour bar": {Title: "Trainability", Rows: 2, Cols: 3, ColorBar: &ColorBar{Label: "accuracy", Min: 0, Max: 1},
			Panels: []Panel{heat("theory: t = 1", false), heat("theory: t = 8", false), heat("theory: t = 64", false),
				heat("trained: t = 1", false), heat("trained: t = 8", false)}},
		"multi-panel rows in column groups": {Title: "Theory beside trained networks", Rows: 2, Cols: 4, Groups: []string{"theory", "trained networks"},
			Panels: []Panel{decay, lines, markers, lines, lines, markers, {}, decay}},
	}
}

// TestLayoutAtAGlance checks the layout of every figure shape of the
// project, and of saved real figures.
func TestLayoutAtAGlance(t *testing.T) {
	for name, f := range layoutFigures() {
		t.Run(name, func(t *testing.T) { checkLayout(t, f) })
	}
	files, err := filepath.Glob(filepath.Join("testdata", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no saved figures in testdata: %v", err)
	}
	for _, path := range files {
		t.Run(filepath.Base(path), func(t *testing.T) {
			f, err := Load(path)
			if err != nil {
				t.Fatal(err)
			}
			checkLayout(t, f)
		})
	}
}
