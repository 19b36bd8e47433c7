package plots

import (
	"image/color"
	"math"
	"sort"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// cellEdges returns the n+1 edges of n cells centred on c (increasing):
// midpoints between neighbours, and the end cells as wide as their
// neighbour (a single cell is one unit wide). On a log axis the midpoints
// are geometric, so cells have equal widths on the page for a geometric
// grid.
func cellEdges(c []float64, log bool) []float64 {
	n := len(c)
	e := make([]float64, n+1)
	if n == 1 {
		if log {
			e[0], e[1] = c[0]/math.Sqrt(10), c[0]*math.Sqrt(10)
		} else {
			e[0], e[1] = c[0]-0.5, c[0]+0.5
		}
		return e
	}
	mid := func(a, b float64) float64 {
		if log {
			return math.Sqrt(a * b)
		}
		return (a + b) / 2
	}
	for i := 1; i < n; i++ {
		e[i] = mid(c[i-1], c[i])
	}
	if log {
		e[0] = c[0] * c[0] / e[1]
		e[n] = c[n-1] * c[n-1] / e[n-1]
	} else {
		e[0] = 2*c[0] - e[1]
		e[n] = 2*c[n-1] - e[n-1]
	}
	return e
}

// edgeScale is a plot.Normalizer that gives every cell the same length on
// the page and puts each cell centre in the middle of its cell: the axis is
// piecewise linear through the knots edge[0], centre[0], edge[1], ...,
// centre[n-1], edge[n], which map to 0, 1/2, 1, ..., n - 1/2, n (in cells).
// Beyond the ends it continues the end pieces linearly.
type edgeScale struct{ knots []float64 }

func newEdgeScale(centres, edges []float64) edgeScale {
	k := make([]float64, 0, 2*len(centres)+1)
	for i, c := range centres {
		k = append(k, edges[i], c)
	}
	return edgeScale{append(k, edges[len(centres)])}
}

// pos is the position of x in cells.
func (s edgeScale) pos(x float64) float64 {
	e := s.knots
	n := len(e) - 1
	k := sort.SearchFloat64s(e, x) - 1
	if k < 0 {
		k = 0
	}
	if k > n-1 {
		k = n - 1
	}
	return (float64(k) + (x-e[k])/(e[k+1]-e[k])) / 2
}

// Normalize implements plot.Normalizer.
func (s edgeScale) Normalize(min, max, x float64) float64 {
	a, b := s.pos(min), s.pos(max)
	return (s.pos(x) - a) / (b - a)
}

// centreTicks marks every cell centre, labelling at most maxLabels of them
// evenly (the others are minor ticks).
type centreTicks struct{ centres []float64 }

const maxTickLabels = 11

// Ticks implements plot.Ticker.
func (t centreTicks) Ticks(min, max float64) []plot.Tick {
	var in []float64
	for _, c := range t.centres {
		if c >= min && c <= max {
			in = append(in, c)
		}
	}
	step := (len(in) + maxTickLabels - 1) / maxTickLabels
	if step < 1 {
		step = 1
	}
	ticks := make([]plot.Tick, len(in))
	for i, c := range in {
		ticks[i].Value = c
		if i%step == 0 {
			ticks[i].Label = strconv.FormatFloat(c, 'g', 4, 64)
		}
	}
	return ticks
}

// logTicks labels powers of ten when the range spans at least two of
// them; on a narrower range it labels 1, 2 and 5 times powers of ten, or
// every integer multiple, so that a log axis always carries at least two
// labels (gonum's LogTicks alone may label nothing). Unlabelled ticks mark
// the integer multiples of each power of ten.
type logTicks struct{}

// Ticks implements plot.Ticker.
func (logTicks) Ticks(min, max float64) []plot.Tick {
	if !(min > 0 && max > min) {
		return plot.DefaultTicks{}.Ticks(min, max)
	}
	lo, hi := int(math.Floor(math.Log10(min))), int(math.Ceil(math.Log10(max)))
	if hi-lo > maxDecadeLabels { // a wide range: every step-th power of ten
		step := (hi - lo + maxDecadeLabels - 1) / maxDecadeLabels
		var ticks []plot.Tick
		for e := lo; e <= hi; e++ {
			v := pow10(e)
			if v < min*(1-1e-12) || v > max*(1+1e-12) {
				continue
			}
			t := plot.Tick{Value: v}
			if e%step == 0 {
				t.Label = strconv.FormatFloat(v, 'e', -1, 64) // 1e+40
			}
			ticks = append(ticks, t)
		}
		return ticks
	}
	for _, labelled := range [][]int{{1}, {1, 2, 5}, {1, 2, 3, 4, 5, 6, 7, 8, 9}} {
		var ticks []plot.Tick
		n := 0
		for e := lo; e <= hi; e++ {
			p := pow10(e)
			for m := 1; m <= 9; m++ {
				v := float64(m) * p
				if v < min*(1-1e-12) || v > max*(1+1e-12) {
					continue
				}
				t := plot.Tick{Value: v}
				for _, l := range labelled {
					if m == l {
						t.Label = strconv.FormatFloat(v, 'g', -1, 64)
						n++
					}
				}
				ticks = append(ticks, t)
			}
		}
		if n >= 2 {
			return ticks
		}
	}
	return plot.DefaultTicks{}.Ticks(min, max)
}

// maxDecadeLabels bounds the labelled powers of ten on one log axis; wider
// ranges label every step-th decade and mark the others without labels.
const maxDecadeLabels = 8

// pow10 returns the float64 nearest to 10^e (math.Pow(10, 40) is not, and
// would be labelled 1.0000000000000001e+40).
func pow10(e int) float64 {
	v, _ := strconv.ParseFloat("1e"+strconv.Itoa(e), 64)
	return v
}

// heatPlotter draws a HeatMap cell by cell between cell edges.
type heatPlotter struct {
	h      *HeatMap
	xe, ye []float64
	scale  *colorScale
}

// overlap widens every filled cell so that anti-aliasing leaves no light
// seams between neighbours; it is far below a cell's size.
const overlap = vg.Length(0.3)

// Plot implements plot.Plotter.
func (hp *heatPlotter) Plot(c draw.Canvas, plt *plot.Plot) {
	trX, trY := plt.Transforms(&c)
	h := hp.h
	hatch := draw.LineStyle{Color: hatchColor, Width: vg.Points(0.6)}
	for iy := range h.Y {
		y0, y1 := trY(hp.ye[iy]), trY(hp.ye[iy+1])
		for ix := range h.X {
			x0, x1 := trX(hp.xe[ix]), trX(hp.xe[ix+1])
			v := h.Z[iy][ix]
			pts := []vg.Point{
				{X: x0 - overlap, Y: y0 - overlap}, {X: x1 + overlap, Y: y0 - overlap},
				{X: x1 + overlap, Y: y1 + overlap}, {X: x0 - overlap, Y: y1 + overlap},
			}
			c.FillPolygon(hp.scale.color(v), c.ClipPolygonXY(pts))
			if math.IsNaN(v) {
				c.StrokeLines(hatch, c.ClipLinesXY([]vg.Point{{X: x0, Y: y0}, {X: x1, Y: y1}})...)
			}
		}
	}
	if h.Flag == nil {
		return
	}
	for iy := range h.Y {
		for ix := range h.X {
			if !h.Flag[iy][ix] {
				continue
			}
			x0, x1 := trX(hp.xe[ix]), trX(hp.xe[ix+1])
			y0, y1 := trY(hp.ye[iy]), trY(hp.ye[iy+1])
			r := min(x1-x0, y1-y0) * 0.35
			r = max(min(r, vg.Points(4)), vg.Points(1))
			pt := vg.Point{X: (x0 + x1) / 2, Y: (y0 + y1) / 2}
			if c.Contains(pt) {
				drawFlag(&c, pt, r)
			}
		}
	}
}

// drawFlag draws the flagged-cell mark: a white cross with a black
// outline, visible on both ends of the colour map.
func drawFlag(c *draw.Canvas, pt vg.Point, r vg.Length) {
	c.DrawGlyph(draw.GlyphStyle{Color: color.Black, Radius: r, Shape: thickCross{w: vg.Points(2.4)}}, pt)
	c.DrawGlyph(draw.GlyphStyle{Color: color.White, Radius: r * 0.85, Shape: thickCross{w: vg.Points(1.0)}}, pt)
}

// thickCross is draw.CrossGlyph with a chosen line width.
type thickCross struct{ w vg.Length }

// DrawGlyph implements draw.GlyphDrawer.
func (g thickCross) DrawGlyph(c *draw.Canvas, sty draw.GlyphStyle, pt vg.Point) {
	c.SetLineStyle(draw.LineStyle{Color: sty.Color, Width: g.w})
	r := sty.Radius
	var p vg.Path
	p.Move(vg.Point{X: pt.X - r, Y: pt.Y - r})
	p.Line(vg.Point{X: pt.X + r, Y: pt.Y + r})
	p.Move(vg.Point{X: pt.X - r, Y: pt.Y + r})
	p.Line(vg.Point{X: pt.X + r, Y: pt.Y - r})
	c.Stroke(p)
}

// DataRange implements plot.DataRanger: the outer cell edges.
func (hp *heatPlotter) DataRange() (xmin, xmax, ymin, ymax float64) {
	return hp.xe[0], hp.xe[len(hp.xe)-1], hp.ye[0], hp.ye[len(hp.ye)-1]
}

// errBars draws symmetric vertical error bars with caps. On a log y axis
// a lower end at or below zero is cut at the bottom of the panel.
type errBars struct {
	x, y, e []float64
	sty     draw.LineStyle
	logY    bool
}

const capWidth = vg.Length(4)

// Plot implements plot.Plotter.
func (b *errBars) Plot(c draw.Canvas, plt *plot.Plot) {
	trX, trY := plt.Transforms(&c)
	for i := range b.x {
		x, y, e := b.x[i], b.y[i], b.e[i]
		if isInf(x) || isInf(y) || isInf(e) {
			continue
		}
		px := trX(x)
		hi := trY(y + e)
		cut := b.logY && y-e < minLogCoord
		lo := c.Min.Y
		if !cut {
			lo = trY(y - e)
		}
		lines := [][]vg.Point{
			{{X: px, Y: lo}, {X: px, Y: hi}},
			{{X: px - capWidth/2, Y: hi}, {X: px + capWidth/2, Y: hi}},
		}
		if !cut {
			lines = append(lines, []vg.Point{{X: px - capWidth/2, Y: lo}, {X: px + capWidth/2, Y: lo}})
		}
		c.StrokeLines(b.sty, c.ClipLinesXY(lines...)...)
	}
}

// segments returns each drawn error bar as a two-point line in data
// coordinates (a lower end cut on a log axis ends at the point itself).
func (b *errBars) segments() []plotter.XYs {
	var out []plotter.XYs
	for i := range b.x {
		x, y, e := b.x[i], b.y[i], b.e[i]
		if isInf(x) || isInf(y) || isInf(e) {
			continue
		}
		lo := y - e
		if b.logY && lo < minLogCoord {
			lo = y
		}
		out = append(out, plotter.XYs{{X: x, Y: lo}, {X: x, Y: y + e}})
	}
	return out
}

// DataRange implements plot.DataRanger.
func (b *errBars) DataRange() (xmin, xmax, ymin, ymax float64) {
	xmin, ymin = math.Inf(1), math.Inf(1)
	xmax, ymax = math.Inf(-1), math.Inf(-1)
	for i := range b.x {
		x, y, e := b.x[i], b.y[i], b.e[i]
		if isInf(x) || isInf(y) || isInf(e) {
			continue
		}
		xmin, xmax = math.Min(xmin, x), math.Max(xmax, x)
		ymax = math.Max(ymax, y+e)
		lo := y - e
		if b.logY && lo < minLogCoord {
			lo = y
		}
		ymin = math.Min(ymin, lo)
	}
	return xmin, xmax, ymin, ymax
}

// refPlotter draws a RefLine across the whole data area.
type refPlotter struct {
	r   RefLine
	sty draw.LineStyle
}

// Plot implements plot.Plotter.
func (rp *refPlotter) Plot(c draw.Canvas, plt *plot.Plot) {
	trX, trY := plt.Transforms(&c)
	var line []vg.Point
	if rp.r.Vertical {
		x := trX(rp.r.At)
		line = []vg.Point{{X: x, Y: c.Min.Y}, {X: x, Y: c.Max.Y}}
	} else {
		y := trY(rp.r.At)
		line = []vg.Point{{X: c.Min.X, Y: y}, {X: c.Max.X, Y: y}}
	}
	c.StrokeLines(rp.sty, c.ClipLinesXY(line)...)
}

// DataRange implements plot.DataRanger: only the line's own coordinate
// widens the axes (the infinities leave the other axis alone).
func (rp *refPlotter) DataRange() (xmin, xmax, ymin, ymax float64) {
	inf := math.Inf(1)
	if rp.r.Vertical {
		return rp.r.At, rp.r.At, inf, -inf
	}
	return inf, -inf, rp.r.At, rp.r.At
}

// notePlotter writes text annotations on a translucent white box so that
// they stay readable over a heat map.
type notePlotter struct {
	notes []Note
	sty   text.Style
}

// Plot implements plot.Plotter.
func (np *notePlotter) Plot(c draw.Canvas, plt *plot.Plot) {
	trX, trY := plt.Transforms(&c)
	pad := vg.Points(2)
	for _, n := range np.notes {
		pt := vg.Point{X: trX(n.X), Y: trY(n.Y)}
		if !c.Contains(pt) {
			continue // outside the axis ranges: never draw over a neighbour
		}
		r := np.sty.Rectangle(n.Text)
		box := []vg.Point{
			{X: pt.X + r.Min.X - pad, Y: pt.Y + r.Min.Y - pad}, {X: pt.X + r.Max.X + pad, Y: pt.Y + r.Min.Y - pad},
			{X: pt.X + r.Max.X + pad, Y: pt.Y + r.Max.Y + pad}, {X: pt.X + r.Min.X - pad, Y: pt.Y + r.Max.Y + pad},
		}
		c.FillPolygon(color.NRGBA{0xFF, 0xFF, 0xFF, 0xC8}, c.ClipPolygonXY(box))
		c.FillText(np.sty, pt, n.Text)
	}
}

// DataRange implements plot.DataRanger: the notes' anchor points.
func (np *notePlotter) DataRange() (xmin, xmax, ymin, ymax float64) {
	xmin, ymin = math.Inf(1), math.Inf(1)
	xmax, ymax = math.Inf(-1), math.Inf(-1)
	for _, n := range np.notes {
		xmin, xmax = math.Min(xmin, n.X), math.Max(xmax, n.X)
		ymin, ymax = math.Min(ymin, n.Y), math.Max(ymax, n.Y)
	}
	return xmin, xmax, ymin, ymax
}

// missingThumb is the legend swatch of a not-run cell.
type missingThumb struct{}

// Thumbnail implements plot.Thumbnailer.
func (missingThumb) Thumbnail(c *draw.Canvas) {
	r := c.Rectangle
	c.FillPolygon(MissingColor, []vg.Point{r.Min, {X: r.Max.X, Y: r.Min.Y}, r.Max, {X: r.Min.X, Y: r.Max.Y}})
	c.StrokeLine2(draw.LineStyle{Color: hatchColor, Width: vg.Points(0.6)}, r.Min.X, r.Min.Y, r.Max.X, r.Max.Y)
}

// flagThumb is the legend swatch of a flagged cell: the flag mark on a
// mid-scale cell colour.
type flagThumb struct{}

// Thumbnail implements plot.Thumbnailer.
func (flagThumb) Thumbnail(c *draw.Canvas) {
	r := c.Rectangle
	c.FillPolygon(viridis(0.5), []vg.Point{r.Min, {X: r.Max.X, Y: r.Min.Y}, r.Max, {X: r.Min.X, Y: r.Max.Y}})
	drawFlag(c, c.Center(), min(r.Size().X, r.Size().Y)*0.35)
}

// heatSwatch is the background of an overlay's key entry: a dark cell
// colour, so that light overlay lines stay visible in the key as on the
// map.
type heatSwatch struct{}

// Thumbnail implements plot.Thumbnailer.
func (heatSwatch) Thumbnail(c *draw.Canvas) {
	r := c.Rectangle
	c.FillPolygon(viridis(0.15), []vg.Point{r.Min, {X: r.Max.X, Y: r.Min.Y}, r.Max, {X: r.Min.X, Y: r.Max.Y}})
}
