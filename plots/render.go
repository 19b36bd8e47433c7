package plots

import (
	"fmt"
	"image/color"
	"math"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// Page geometry, in points.
const (
	titleHeight      = vg.Length(26)
	titleLineHeight  = vg.Length(16) // each further line of a wrapped title
	groupTitleHeight = vg.Length(20)
	groupGap         = vg.Length(24)
	sharedBarW       = vg.Length(72) // strip at the right of the figure
	ownBarW          = vg.Length(64) // strip taken from a panel's tile
	barThickness     = vg.Length(12)
	keyRowHeight     = vg.Length(18)
	tilePad          = vg.Length(6)
	legendInset      = vg.Length(4)
	legendBoxPad     = vg.Length(3)
	dpi              = 150
	maxFigurePix     = 60e6 // PNG pixels, bounds memory (4 bytes each)
	lineWidth        = vg.Length(1.6)
	markerRadius     = vg.Length(2.6)
	fontTitle        = vg.Length(11)
	fontLabel        = vg.Length(10)
	fontTick         = vg.Length(8.5)
	fontLegend       = vg.Length(8.5)
	fontFigTitle     = vg.Length(13)
	fontNoteLabel    = vg.Length(9)
)

var dashes = []vg.Length{vg.Points(5), vg.Points(3)}

// layout is the page geometry of a figure.
type layout struct {
	w, h         vg.Length // whole page
	panelW       vg.Length
	panelH       vg.Length
	title        vg.Length // height of the title strip
	titleText    string    // the title wrapped to the page width
	bar          vg.Length // width of the shared colour bar strip
	groups       vg.Length // height of the column-group headings
	gap          vg.Length // space between column groups
	key          []keyEntry
	keyRows      int
	keyRowBreaks []int // index of the first entry of each key row
}

// keyEntry is one item of the figure key under heat-map figures.
type keyEntry struct {
	label  string
	thumbs []plot.Thumbnailer
}

func textStyle(size vg.Length) text.Style {
	p := plot.New()
	s := p.Title.TextStyle
	s.Font.Size = size
	s.XAlign = draw.XLeft
	s.YAlign = draw.YBottom
	return s
}

// figureLayout computes the page geometry; it errors when the PNG would be
// unreasonably large.
func figureLayout(f *Figure) (*layout, error) {
	pw, ph := f.PanelWidth, f.PanelHeight
	if pw == 0 {
		pw = defaultPanelWidth
	}
	if ph == 0 {
		ph = defaultPanelHeight
	}
	l := &layout{panelW: vg.Length(pw) * vg.Centimeter, panelH: vg.Length(ph) * vg.Centimeter}
	if f.ColorBar != nil && figureHasHeat(f) {
		l.bar = sharedBarW
	}
	if len(f.Groups) > 0 {
		l.groups = groupTitleHeight
		l.gap = groupGap
	}
	l.w = vg.Length(f.Cols)*l.panelW + l.bar + vg.Length(max(len(f.Groups)-1, 0))*l.gap
	if f.Title != "" {
		lines := wrapText(textStyle(fontFigTitle), f.Title, l.w-l.bar-2*tilePad)
		l.titleText = strings.Join(lines, "\n")
		l.title = titleHeight + vg.Length(len(lines)-1)*titleLineHeight
	}
	l.key = figureKey(f)
	if len(l.key) > 0 {
		sty := textStyle(fontLegend)
		x := vg.Length(0)
		l.keyRowBreaks = []int{0}
		for i, e := range l.key {
			ew := keyEntryWidth(sty, e)
			if x > 0 && x+ew > l.w-2*tilePad {
				l.keyRowBreaks = append(l.keyRowBreaks, i)
				x = 0
			}
			x += ew
		}
		l.keyRows = len(l.keyRowBreaks)
	}
	l.h = vg.Length(f.Rows)*l.panelH + l.title + l.groups + vg.Length(l.keyRows)*keyRowHeight
	if l.keyRows > 0 {
		l.h += tilePad
	}
	px := l.w.Dots(dpi) * l.h.Dots(dpi)
	if px > maxFigurePix {
		return nil, fmt.Errorf("plots: figure %q: %.0f x %.0f cm is too large to draw (%.0f Mpixel at %d dpi, limit %.0f); use smaller panels",
			f.Title, l.w/vg.Centimeter, l.h/vg.Centimeter, px/1e6, dpi, maxFigurePix/1e6)
	}
	return l, nil
}

const keyThumbW = vg.Length(16)

// wrapText breaks s at spaces into lines no wider than w in style sty (a
// single word wider than w gets a line of its own).
func wrapText(sty text.Style, s string, w vg.Length) []string {
	var lines []string
	line := ""
	for _, word := range strings.Fields(s) {
		switch {
		case line == "":
			line = word
		case sty.Width(line+" "+word) <= w:
			line += " " + word
		default:
			lines = append(lines, line)
			line = word
		}
	}
	return append(lines, line)
}

func keyEntryWidth(sty text.Style, e keyEntry) vg.Length {
	return keyThumbW + 4 + sty.Width(e.label) + 14
}

func figureHasHeat(f *Figure) bool {
	for i := range f.Panels {
		if f.Panels[i].Heat != nil {
			return true
		}
	}
	return false
}

// figureKey collects the legend of the heat-map panels: not-run cells,
// flagged cells and the labelled overlay series, once each. Heat-map
// panels have no legend of their own, so that nothing covers the cells.
func figureKey(f *Figure) []keyEntry {
	var key []keyEntry
	seen := map[string]bool{}
	add := func(label string, th ...plot.Thumbnailer) {
		if label == "" || seen[label] {
			return
		}
		seen[label] = true
		key = append(key, keyEntry{label, th})
	}
	missing, flags := false, map[string]bool{}
	for i := range f.Panels {
		h := f.Panels[i].Heat
		if h == nil {
			continue
		}
		for iy := range h.Z {
			for ix, v := range h.Z[iy] {
				if math.IsNaN(v) {
					missing = true
				}
				if h.Flag != nil && h.Flag[iy][ix] {
					flags[flagLabel(h)] = true
				}
			}
		}
	}
	if missing {
		add("not run", missingThumb{})
	}
	for i := range f.Panels {
		if h := f.Panels[i].Heat; h != nil && flags[flagLabel(h)] {
			add(flagLabel(h), flagThumb{})
		}
	}
	for i := range f.Panels {
		p := &f.Panels[i]
		if p.Heat == nil || p.Legend == LegendNone {
			continue
		}
		colors := assignColors(p.Series)
		for j := range p.Series {
			add(p.Series[j].Label, append([]plot.Thumbnailer{heatSwatch{}}, seriesThumbs(&p.Series[j], colors[j])...)...)
		}
		for _, r := range p.Refs {
			add(r.Label, heatSwatch{}, refThumb())
		}
	}
	return key
}

func flagLabel(h *HeatMap) string {
	if h.FlagLabel != "" {
		return h.FlagLabel
	}
	return "flagged"
}

// assignColors returns the palette index (0-based) of every series:
// explicit colours first, then the automatic ones in order, each taking
// the first palette colour not used yet.
func assignColors(ss []Series) []int {
	out := make([]int, len(ss))
	used := map[int]bool{}
	for i, s := range ss {
		if s.Color > 0 {
			out[i] = s.Color - 1
			used[s.Color-1] = true
		}
	}
	next := 0
	for i, s := range ss {
		if s.Color > 0 {
			continue
		}
		for tries := 0; used[next%autoColors] && tries < autoColors; tries++ {
			next++
		}
		out[i] = next % autoColors
		used[next%autoColors] = true
		next++
	}
	return out
}

func seriesLineStyle(s *Series, ci int) draw.LineStyle {
	sty := draw.LineStyle{Color: seriesColors[ci], Width: lineWidth}
	if s.Dashed {
		sty.Dashes = dashes
	}
	return sty
}

func seriesGlyph(ci int) draw.GlyphStyle {
	return draw.GlyphStyle{Color: seriesColors[ci], Radius: markerRadius, Shape: glyphShapes[ci%len(glyphShapes)]}
}

func seriesThumbs(s *Series, ci int) []plot.Thumbnailer {
	var th []plot.Thumbnailer
	if s.Style == Line || s.Style == LineMarkers {
		th = append(th, &plotter.Line{LineStyle: seriesLineStyle(s, ci)})
	}
	if s.Style == Markers || s.Style == LineMarkers {
		th = append(th, &plotter.Scatter{GlyphStyle: seriesGlyph(ci)})
	}
	return th
}

func refThumb() plot.Thumbnailer {
	return &plotter.Line{LineStyle: refStyle()}
}

func refStyle() draw.LineStyle {
	return draw.LineStyle{Color: refColor, Width: vg.Points(1.1), Dashes: []vg.Length{vg.Points(4), vg.Points(2.5)}}
}

// builtPanel is a gonum plot for a Panel plus what is drawn around it.
type builtPanel struct {
	p      *plot.Plot
	legend []keyEntry // drawn inside the data area (non-heat panels)
	place  string
	points [][2]float64  // data points, for automatic legend placement
	pieces []plotter.XYs // drawn lines, likewise
	refs   []RefLine     // likewise
	hidden int           // finite points not drawn because <= 0 on a log axis
	scale  *colorScale   // heat map colour scale, nil without a heat map
	label  string        // heat map quantity
	ownBar bool          // draws its own colour bar
}

// heatRange is the colour range of a heat map: the shared bar, the heat
// map's own Min/Max, or the finite extent of its values.
func heatRange(h *HeatMap, shared *ColorBar) (lo, hi float64) {
	if shared != nil {
		return shared.Min, shared.Max
	}
	if h.Min != h.Max {
		return h.Min, h.Max
	}
	lo, hi = math.Inf(1), math.Inf(-1)
	for _, r := range h.Z {
		for _, v := range r {
			if !badCoord(v) {
				lo, hi = math.Min(lo, v), math.Max(hi, v)
			}
		}
	}
	switch {
	case lo > hi: // nothing finite
		return 0, 1
	case lo == hi:
		w := math.Max(0.5, math.Abs(lo)/2) // ±0.5 alone is lost beyond 2^53
		return lo - w, hi + w
	}
	return lo, hi
}

func styleAxis(a *plot.Axis) {
	a.Label.TextStyle.Font.Size = fontLabel
	a.Tick.Label.Font.Size = fontTick
}

func buildPanel(pn *Panel, shared *ColorBar) *builtPanel {
	bp := &builtPanel{p: plot.New(), place: pn.Legend}
	p := bp.p
	p.Title.Text = pn.Title
	p.Title.TextStyle.Font.Size = fontTitle
	p.Title.Padding = vg.Points(4)
	p.X.Label.Text, p.Y.Label.Text = pn.XLabel, pn.YLabel
	styleAxis(&p.X)
	styleAxis(&p.Y)
	if pn.LogX {
		p.X.Scale, p.X.Tick.Marker = plot.LogScale{}, logTicks{}
	}
	if pn.LogY {
		p.Y.Scale, p.Y.Tick.Marker = plot.LogScale{}, logTicks{}
	}

	var hx, hy [2]float64
	if h := pn.Heat; h != nil {
		xe, ye := cellEdges(h.X, pn.LogX && !h.EqualCols), cellEdges(h.Y, pn.LogY && !h.EqualRows)
		lo, hi := heatRange(h, shared)
		bp.scale, bp.label, bp.ownBar = newColorScale(lo, hi), h.Label, shared == nil
		p.Add(&heatPlotter{h: h, xe: xe, ye: ye, scale: bp.scale})
		p.X.Padding, p.Y.Padding = 0, 0
		if h.EqualCols {
			p.X.Scale, p.X.Tick.Marker = newEdgeScale(h.X, xe), centreTicks{h.X}
		}
		if h.EqualRows {
			p.Y.Scale, p.Y.Tick.Marker = newEdgeScale(h.Y, ye), centreTicks{h.Y}
		}
		hx = [2]float64{xe[0], xe[len(xe)-1]}
		hy = [2]float64{ye[0], ye[len(ye)-1]}
	} else {
		g := plotter.NewGrid()
		g.Vertical.Color = color.Gray{0xE4}
		g.Horizontal.Color = color.Gray{0xE4}
		p.Add(g)
	}

	bp.refs = pn.Refs
	for _, r := range pn.Refs {
		p.Add(&refPlotter{r: r, sty: refStyle()})
		if r.Label != "" && pn.Heat == nil {
			bp.legend = append(bp.legend, keyEntry{r.Label, []plot.Thumbnailer{refThumb()}})
		}
	}

	colors := assignColors(pn.Series)
	for i := range pn.Series {
		s := drawable(&pn.Series[i], pn.LogX, pn.LogY, &bp.hidden)
		ci := colors[i]
		if s.Style == Line || s.Style == LineMarkers {
			for _, piece := range finitePieces(s.X, s.Y) {
				l := &plotter.Line{XYs: piece, LineStyle: seriesLineStyle(s, ci)}
				p.Add(l)
				bp.pieces = append(bp.pieces, piece)
			}
		}
		if s.Style == Markers || s.Style == LineMarkers {
			var xys plotter.XYs
			for j := range s.X {
				if !isInf(s.X[j]) && !isInf(s.Y[j]) {
					xys = append(xys, plotter.XY{X: s.X[j], Y: s.Y[j]})
				}
			}
			if s.YErr != nil {
				p.Add(&errBars{x: s.X, y: s.Y, e: s.YErr, logY: pn.LogY,
					sty: draw.LineStyle{Color: seriesColors[ci], Width: vg.Points(1)}})
			}
			if len(xys) > 0 {
				p.Add(&plotter.Scatter{XYs: xys, GlyphStyle: seriesGlyph(ci)})
			}
		}
		for j := range s.X {
			if !isInf(s.X[j]) && !isInf(s.Y[j]) {
				bp.points = append(bp.points, [2]float64{s.X[j], s.Y[j]})
			}
		}
		if s.Label != "" && pn.Heat == nil {
			bp.legend = append(bp.legend, keyEntry{s.Label, seriesThumbs(s, ci)})
		}
	}
	if len(pn.Notes) > 0 {
		p.Add(&notePlotter{notes: pn.Notes, sty: textStyle(fontNoteLabel)})
		for _, n := range pn.Notes {
			bp.points = append(bp.points, [2]float64{n.X, n.Y})
		}
	}

	if pn.Heat != nil {
		p.X.Min, p.X.Max = hx[0], hx[1]
		p.Y.Min, p.Y.Max = hy[0], hy[1]
	}
	if pn.XLim[0] != pn.XLim[1] {
		p.X.Min, p.X.Max = pn.XLim[0], pn.XLim[1]
	}
	if pn.YLim[0] != pn.YLim[1] {
		p.Y.Min, p.Y.Max = pn.YLim[0], pn.YLim[1]
	}
	fixRange(&p.X, pn.LogX)
	fixRange(&p.Y, pn.LogY)
	return bp
}

// drawable returns s with every point that cannot be drawn set to NaN:
// non-finite coordinates, and, counted in *hidden, values <= 0 on a log
// axis or beyond ±maxCoord. Error bars beyond ±maxCoord are dropped.
func drawable(s *Series, logX, logY bool, hidden *int) *Series {
	c := *s
	c.X, c.Y = append(Floats(nil), s.X...), append(Floats(nil), s.Y...)
	if s.YErr != nil {
		c.YErr = append(Floats(nil), s.YErr...)
		for j, e := range c.YErr {
			if e > maxCoord {
				c.YErr[j] = math.NaN()
			}
		}
	}
	for j := range c.X {
		x, y := c.X[j], c.Y[j]
		if isInf(x) || isInf(y) {
			c.X[j], c.Y[j] = math.NaN(), math.NaN()
			continue
		}
		if badAxisCoord(x, logX) || badAxisCoord(y, logY) {
			c.X[j], c.Y[j] = math.NaN(), math.NaN()
			*hidden++
		}
	}
	return &c
}

// fixRange gives an axis a drawable range when the data leave it empty or
// degenerate (gonum widens a single value by ±1, which a log scale cannot
// take).
func fixRange(a *plot.Axis, log bool) {
	switch {
	case a.Min > a.Max || isInf(a.Min) || isInf(a.Max):
		if log {
			a.Min, a.Max = 1, 10
		} else {
			a.Min, a.Max = 0, 1
		}
	case a.Min == a.Max && log:
		a.Min, a.Max = a.Min/math.Sqrt(10), a.Max*math.Sqrt(10)
	case a.Min == a.Max:
		// gonum widens by ±1, which is lost beyond 2^53.
		w := math.Max(1, math.Abs(a.Min)/2)
		a.Min, a.Max = a.Min-w, a.Max+w
	}
}

// finitePieces splits a line at its non-finite points.
func finitePieces(x, y []float64) []plotter.XYs {
	var out []plotter.XYs
	var cur plotter.XYs
	for i := range x {
		if isInf(x[i]) || isInf(y[i]) {
			if len(cur) > 0 {
				out = append(out, cur)
			}
			cur = nil
			continue
		}
		cur = append(cur, plotter.XY{X: x[i], Y: y[i]})
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}

// drawFigure draws f on a canvas of the layout's size and returns the data
// area of every panel (zero for empty slots), in points from the lower
// left corner of the page.
func drawFigure(f *Figure, l *layout, c vg.CanvasSizer) []vg.Rectangle {
	dc := draw.New(c)
	dc.SetColor(color.White)
	dc.Fill(dc.Rectangle.Path())

	if f.Title != "" {
		sty := textStyle(fontFigTitle)
		sty.XAlign, sty.YAlign = draw.XCenter, draw.YTop
		dc.FillText(sty, vg.Point{X: (dc.Min.X + dc.Max.X - l.bar) / 2, Y: dc.Max.Y - 6}, l.titleText)
	}
	keyH := vg.Length(0)
	if l.keyRows > 0 {
		keyH = vg.Length(l.keyRows)*keyRowHeight + tilePad
	}
	area := draw.Crop(dc, 0, -l.bar, keyH, -l.title-l.groups)

	built := make([]*builtPanel, len(f.Panels))
	grid := make([][]*plot.Plot, f.Rows)
	for r := range grid {
		grid[r] = make([]*plot.Plot, f.Cols)
	}
	for i := range f.Panels {
		if f.Panels[i].empty() {
			continue
		}
		built[i] = buildPanel(&f.Panels[i], f.ColorBar)
		grid[i/f.Cols][i%f.Cols] = built[i].p
	}
	tiles := draw.Tiles{Rows: f.Rows, Cols: f.Cols, PadX: tilePad * 2, PadY: tilePad * 2,
		PadTop: tilePad, PadBottom: tilePad, PadLeft: tilePad, PadRight: tilePad}
	// Panels that draw their own colour bar are laid out narrower, all by
	// the same amount, so that the grid stays aligned.
	own := false
	for _, b := range built {
		if b != nil && b.ownBar {
			own = true
		}
	}
	canvases := alignGroups(f, l, grid, tiles, area)

	areas := make([]vg.Rectangle, len(f.Panels))
	var barTop, barBottom vg.Length = -1, -1
	var sharedScale *colorScale
	for i, b := range built {
		if b == nil {
			continue
		}
		pc := canvases[i/f.Cols][i%f.Cols]
		if own {
			pc.Max.X -= ownBarW
		}
		var outside vg.Length
		if b.place == LegendRight && len(b.legend) > 0 {
			lg := newLegend(b)
			outside = lg.Rectangle(pc).Size().X + 2*legendBoxPad + tilePad
			pc.Max.X -= outside
		}
		b.p.Draw(pc)
		data := b.p.DataCanvas(pc)
		areas[i] = data.Rectangle
		if b.hidden > 0 {
			sty := textStyle(fontTick)
			sty.Color = refColor
			data.FillText(sty, vg.Point{X: data.Min.X + 3, Y: data.Min.Y + 3},
				fmt.Sprintf("%d point(s) ≤ 0 on a log axis or out of range not shown", b.hidden))
		}
		if outside > 0 {
			lc := data
			lc.Min.X = data.Max.X + tilePad + legendBoxPad
			lc.Max.X = pc.Max.X + outside
			lg := newLegend(b)
			lg.Top, lg.Left = true, true
			lg.Draw(lc)
		} else {
			drawLegend(b, data)
		}
		if b.scale == nil {
			continue
		}
		if b.ownBar {
			strip := data
			strip.Min.X = pc.Max.X + ownBarW - barThickness - tilePad
			strip.Max.X = strip.Min.X + barThickness
			drawColorBar(b.scale, b.label, strip)
			continue
		}
		sharedScale = b.scale
		if barTop < 0 || data.Max.Y > barTop {
			barTop = data.Max.Y
		}
		if barBottom < 0 || data.Min.Y < barBottom {
			barBottom = data.Min.Y
		}
	}
	if sharedScale != nil && l.bar > 0 {
		strip := area
		strip.Min.X = area.Max.X + l.bar - barThickness - 2*tilePad
		strip.Max.X = strip.Min.X + barThickness
		strip.Min.Y, strip.Max.Y = barBottom, barTop
		drawColorBar(sharedScale, f.ColorBar.Label, strip)
	}
	if l.keyRows > 0 {
		drawKey(l, draw.Crop(dc, 0, 0, 0, -(dc.Max.Y-dc.Min.Y-keyH)))
	}
	return areas
}

// alignGroups lays the panels out on area: one aligned grid, or one per
// column group with a gap between groups and each group's heading above
// it.
func alignGroups(f *Figure, l *layout, grid [][]*plot.Plot, tiles draw.Tiles, area draw.Canvas) [][]draw.Canvas {
	g := len(f.Groups)
	if g == 0 {
		return plot.Align(grid, tiles, area)
	}
	per := f.Cols / g
	tiles.Cols = per
	out := make([][]draw.Canvas, f.Rows)
	for r := range out {
		out[r] = make([]draw.Canvas, f.Cols)
	}
	w := vg.Length(per) * l.panelW
	sty := textStyle(fontFigTitle - 1)
	sty.XAlign, sty.YAlign = draw.XCenter, draw.YBottom
	for k := 0; k < g; k++ {
		sub := area
		sub.Min.X = area.Min.X + vg.Length(k)*(w+l.gap)
		sub.Max.X = sub.Min.X + w
		part := make([][]*plot.Plot, f.Rows)
		for r := range part {
			part[r] = grid[r][k*per : (k+1)*per]
		}
		cs := plot.Align(part, tiles, sub)
		for r := range cs {
			copy(out[r][k*per:], cs[r])
		}
		sub.FillText(sty, vg.Point{X: (sub.Min.X + sub.Max.X) / 2, Y: sub.Max.Y + 4}, f.Groups[k])
		// A rule under the heading shows the extent of the group.
		sub.StrokeLine2(draw.LineStyle{Color: color.Gray{0x90}, Width: vg.Points(0.6)},
			sub.Min.X+tilePad, sub.Max.Y+2, sub.Max.X-tilePad, sub.Max.Y+2)
	}
	return out
}

// drawColorBar draws a vertical colour bar whose coloured strip fills
// exactly the rectangle strip, with its axis and label to the left.
func drawColorBar(s *colorScale, label string, strip draw.Canvas) {
	p := plot.New()
	p.HideX()
	p.X.Padding, p.Y.Padding = 0, 0
	p.Y.Label.Text = label
	styleAxis(&p.Y)
	p.BackgroundColor = nil
	p.Add(&plotter.ColorBar{ColorMap: s, Vertical: true})
	// Find the canvas whose data area is the strip.
	probe := strip
	probe.Min.X -= 100
	d := p.DataCanvas(probe)
	c := strip
	c.Min.X = strip.Min.X - (d.Min.X - probe.Min.X)
	c.Min.Y -= d.Min.Y - probe.Min.Y
	c.Max.Y += probe.Max.Y - d.Max.Y
	p.Draw(c)
	c.SetLineStyle(draw.LineStyle{Color: color.Gray{0x60}, Width: vg.Points(0.5)})
	c.Stroke(strip.Rectangle.Path())
}

// legendCorners in the order tried by automatic placement.
var legendCorners = []string{LegendTopRight, LegendTopLeft, LegendBottomRight, LegendBottomLeft}

// drawLegend draws the panel legend inside the data area on a translucent
// box, in the requested corner or the corner covering the fewest points.
func drawLegend(b *builtPanel, data draw.Canvas) {
	if len(b.legend) == 0 || b.place == LegendNone {
		return
	}
	lg := newLegend(b)
	place := b.place
	if place == LegendAuto {
		// Page positions of the points and of samples along the lines
		// (a line crossing the legend counts like the points it hides).
		trX, trY := b.p.Transforms(&data)
		var page []vg.Point
		for _, pt := range b.points {
			page = append(page, vg.Point{X: trX(pt[0]), Y: trY(pt[1])})
		}
		const samplesPerSegment = 8
		for _, piece := range b.pieces {
			for j := 1; j < len(piece); j++ {
				a := vg.Point{X: trX(piece[j-1].X), Y: trY(piece[j-1].Y)}
				z := vg.Point{X: trX(piece[j].X), Y: trY(piece[j].Y)}
				for k := 1; k < samplesPerSegment; k++ {
					f := vg.Length(k) / samplesPerSegment
					page = append(page, vg.Point{X: a.X + f*(z.X-a.X), Y: a.Y + f*(z.Y-a.Y)})
				}
			}
		}
		for _, r := range b.refs {
			for k := 0; k <= 4*samplesPerSegment; k++ {
				f := vg.Length(k) / (4 * samplesPerSegment)
				if r.Vertical {
					page = append(page, vg.Point{X: trX(r.At), Y: data.Min.Y + f*(data.Max.Y-data.Min.Y)})
				} else {
					page = append(page, vg.Point{X: data.Min.X + f*(data.Max.X-data.Min.X), Y: trY(r.At)})
				}
			}
		}
		best := -1
		for _, corner := range legendCorners {
			setCorner(&lg, corner)
			r := legendRect(&lg, data)
			n := 0
			for _, q := range page {
				if q.X >= r.Min.X-legendBoxPad && q.X <= r.Max.X+legendBoxPad && q.Y >= r.Min.Y-legendBoxPad && q.Y <= r.Max.Y+legendBoxPad {
					n++
				}
			}
			if best < 0 || n < best {
				best, place = n, corner
			}
		}
	}
	setCorner(&lg, place)
	r := legendRect(&lg, data)
	box := []vg.Point{
		{X: r.Min.X - legendBoxPad, Y: r.Min.Y - legendBoxPad}, {X: r.Max.X + legendBoxPad, Y: r.Min.Y - legendBoxPad},
		{X: r.Max.X + legendBoxPad, Y: r.Max.Y + legendBoxPad}, {X: r.Min.X - legendBoxPad, Y: r.Max.Y + legendBoxPad},
	}
	data.FillPolygon(color.NRGBA{0xFF, 0xFF, 0xFF, 0xD8}, box)
	lg.Draw(data)
}

func newLegend(b *builtPanel) plot.Legend {
	lg := plot.NewLegend()
	lg.TextStyle.Font.Size = fontLegend
	lg.ThumbnailWidth = vg.Points(18)
	lg.Padding = vg.Points(2.5)
	for _, e := range b.legend {
		lg.Add(e.label, e.thumbs...)
	}
	return lg
}

func setCorner(lg *plot.Legend, corner string) {
	lg.Top = corner == LegendTopRight || corner == LegendTopLeft
	lg.Left = corner == LegendTopLeft || corner == LegendBottomLeft
	lg.XOffs, lg.YOffs = -legendInset, -legendInset
	if lg.Left {
		lg.XOffs = legendInset
	}
	if !lg.Top {
		lg.YOffs = legendInset
	}
}

// legendRect is where plot.Legend.Draw puts the legend. (Legend.Rectangle
// in gonum/plot v0.17 swaps left and right and ignores the offsets, so
// only its size is used.)
func legendRect(lg *plot.Legend, c draw.Canvas) vg.Rectangle {
	size := lg.Rectangle(c).Size()
	var r vg.Rectangle
	if lg.Left {
		r.Min.X = c.Min.X + lg.XOffs
	} else {
		r.Min.X = c.Max.X + lg.XOffs - size.X
	}
	if lg.Top {
		r.Min.Y = c.Max.Y + lg.YOffs - size.Y
	} else {
		r.Min.Y = c.Min.Y + lg.YOffs
	}
	r.Max = vg.Point{X: r.Min.X + size.X, Y: r.Min.Y + size.Y}
	return r
}

// drawKey draws the figure key rows in c (the bottom strip).
func drawKey(l *layout, c draw.Canvas) {
	sty := textStyle(fontLegend)
	sty.YAlign = draw.YCenter
	for row, start := range l.keyRowBreaks {
		end := len(l.key)
		if row+1 < len(l.keyRowBreaks) {
			end = l.keyRowBreaks[row+1]
		}
		y := c.Max.Y - vg.Length(row)*keyRowHeight - keyRowHeight/2
		x := c.Min.X + 2*tilePad
		for _, e := range l.key[start:end] {
			th := draw.Canvas{Canvas: c.Canvas, Rectangle: vg.Rectangle{
				Min: vg.Point{X: x, Y: y - 5}, Max: vg.Point{X: x + keyThumbW, Y: y + 5}}}
			for _, t := range e.thumbs {
				t.Thumbnail(&th)
			}
			c.FillText(sty, vg.Point{X: x + keyThumbW + 4, Y: y}, e.label)
			x += keyEntryWidth(sty, e)
		}
	}
}
