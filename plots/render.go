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
	title  string        // the panel title, drawn by drawFigure above the data area
	// The axis labels, drawn by drawFigure centred on the data area; the
	// gonum axes get blank placeholders of as many lines that keep their
	// room (gonum/plot v0.17 measures a label as centred on the middle
	// value of a log axis, near its top end, and pads the data area for
	// a long one).
	xLabel, yLabel string
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
				eb := &errBars{x: s.X, y: s.Y, e: s.YErr, logY: pn.LogY,
					sty: draw.LineStyle{Color: seriesColors[ci], Width: vg.Points(1)}}
				p.Add(eb)
				bp.pieces = append(bp.pieces, eb.segments()...)
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
	if bp.hidden > 0 && pn.Heat == nil {
		// The count of points not drawn is a legend entry, so that the
		// legend placement keeps it off the data like the rest.
		if bp.place == LegendNone {
			bp.legend, bp.place = nil, LegendAuto
		}
		bp.legend = append(bp.legend, keyEntry{label: hiddenNote(bp.hidden)})
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

// panelBoxes is where drawFigure put one panel, in points from the lower
// left corner of the page: the data area, the panel title, the inside or
// outside legend box (zero when none), and the page positions of what the
// legend must not hide (points, error bars and samples along lines).
type panelBoxes struct {
	data, title, legend vg.Rectangle
	row                 int
	hasLegend           bool
	points              []vg.Point
}

// drawFigure draws f on a canvas of the layout's size and returns the data
// area of every panel (zero for empty slots), in points from the lower
// left corner of the page.
func drawFigure(f *Figure, l *layout, c vg.CanvasSizer) []vg.Rectangle {
	boxes := drawFigureBoxes(f, l, c)
	areas := make([]vg.Rectangle, len(boxes))
	for i, b := range boxes {
		areas[i] = b.data
	}
	return areas
}

// Panel title geometry: the gap between the top of the data area (or of a
// tick label reaching above it) and the title.
const titlePad = vg.Length(4)

// legendLayoutPasses bounds the layout passes that make room for legends
// by widening a y range (each can change the tick labels, hence the
// panel sizes).
const legendLayoutPasses = 3

// drawFigureBoxes draws f and returns where each panel went (zero for
// empty slots).
func drawFigureBoxes(f *Figure, l *layout, c vg.CanvasSizer) []panelBoxes {
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
	// Panels that draw their own colour bar are laid out narrower, all by
	// the same amount, so that the grid stays aligned.
	own := false
	for i := range f.Panels {
		if f.Panels[i].empty() {
			continue
		}
		built[i] = buildPanel(&f.Panels[i], f.ColorBar)
		grid[i/f.Cols][i%f.Cols] = built[i].p
		own = own || built[i].ownBar
	}
	tiles := draw.Tiles{Rows: f.Rows, Cols: f.Cols, PadX: tilePad * 2, PadY: tilePad * 2,
		PadTop: tilePad, PadBottom: tilePad, PadLeft: tilePad, PadRight: tilePad}
	fitText(f, l, built, own, tiles, area)

	var canvases [][]draw.Canvas
	var gaps []vg.Length
	for pass := 0; ; pass++ {
		canvases, gaps = layoutPanels(f, l, grid, built, own, tiles, area)
		if pass == legendLayoutPasses {
			break
		}
		widened := false
		for i, b := range built {
			if b == nil || b.place == LegendRight || len(b.legend) == 0 || b.place == LegendNone {
				continue
			}
			pc := canvases[i/f.Cols][i%f.Cols]
			data := b.p.DataCanvas(pc)
			if makeLegendRoom(b, data) {
				widened = true
			}
		}
		if !widened {
			break
		}
	}

	alignGroups(f, l, grid, tiles, area, true) // the group headings
	boxes := make([]panelBoxes, len(f.Panels))
	var barTop, barBottom vg.Length = -1, -1
	var sharedScale *colorScale
	for i, b := range built {
		if b == nil {
			continue
		}
		pb := &boxes[i]
		pb.row = i / f.Cols
		pc := canvases[i/f.Cols][i%f.Cols]
		var outside vg.Length
		if b.place == LegendRight && len(b.legend) > 0 {
			lg := newLegend(b)
			outside = lg.Rectangle(pc).Size().X + 2*legendBoxPad + tilePad
			pc.Max.X -= outside
		}
		// The title is drawn here, at the same height above the data
		// area in every panel of a row, rather than at the top of the
		// panel's tile as gonum/plot does.
		pc.Max.Y -= titleSpace(b.p)
		b.p.Title.Text = ""
		b.p.Draw(pc)
		data := b.p.DataCanvas(pc)
		b.p.Title.Text = b.title
		pb.data = data.Rectangle
		drawAxisLabels(b, pc, data)
		if b.title != "" {
			sty := b.p.Title.TextStyle
			sty.XAlign, sty.YAlign = draw.XCenter, draw.YBottom
			at := vg.Point{X: (data.Min.X + data.Max.X) / 2, Y: data.Max.Y + gaps[i/f.Cols]}
			dc.FillText(sty, at, b.title)
			w, h := sty.Width(b.title), sty.Height(b.title)
			pb.title = vg.Rectangle{Min: vg.Point{X: at.X - w/2, Y: at.Y}, Max: vg.Point{X: at.X + w/2, Y: at.Y + h}}
		}
		if b.scale == nil {
			pb.points = pagePoints(b, data)
		}
		if outside > 0 {
			lc := data
			lc.Min.X = data.Max.X + tilePad + legendBoxPad
			lc.Max.X = pc.Max.X + outside
			lg := newLegend(b)
			lg.Top, lg.Left = true, true
			lg.Draw(lc)
			pb.legend, pb.hasLegend = legendRect(&lg, lc), true
		} else if r, ok := drawLegend(b, data); ok {
			pb.legend, pb.hasLegend = r, true
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
	return boxes
}

// titleSpace is the height gonum/plot reserves for a plot's title.
func titleSpace(p *plot.Plot) vg.Length {
	if p.Title.Text == "" {
		return 0
	}
	sty := p.Title.TextStyle
	return sty.Height(p.Title.Text) - sty.FontExtents().Descent + p.Title.Padding
}

// nominalCanvas is the tile of one panel before alignment, for measuring.
func nominalCanvas(l *layout, own bool) draw.Canvas {
	w := l.panelW - 2*tilePad
	if own {
		w -= ownBarW
	}
	return draw.Canvas{Rectangle: vg.Rectangle{Max: vg.Point{X: w, Y: l.panelH - 2*tilePad}}}
}

// fitText wraps panel titles to the width of their tile and axis labels
// to the length of their axis, so that no label runs off its panel (a y
// label longer than the data area would otherwise leave the page and push
// the data area down).
func fitText(f *Figure, l *layout, built []*builtPanel, own bool, tiles draw.Tiles, area draw.Canvas) {
	nominal := nominalCanvas(l, own)
	for _, b := range built {
		if b == nil {
			continue
		}
		p := b.p
		b.xLabel, b.yLabel = p.X.Label.Text, p.Y.Label.Text
		p.X.Label.Text, p.Y.Label.Text = labelRoom(b.xLabel), labelRoom(b.yLabel)
		// The title is centred on the data area: it wraps to its width
		// (less the room taken by a wrapped y label, which is small).
		// On a panel too small for the wrapped title, it wraps to the
		// tile or, failing that, stays on one line.
		if t := p.Title.Text; t != "" {
			d := p.DataCanvas(nominal)
			for _, w := range []vg.Length{0.95 * (d.Max.X - d.Min.X), nominal.Max.X} {
				p.Title.Text = balancedWrap(p.Title.TextStyle, t, w)
				if h := p.DataCanvas(nominal).Size().Y; h > nominal.Max.Y/3 {
					break
				}
				p.Title.Text = t
			}
			b.title = p.Title.Text
		}
		// Wrapping the y label widens the axis, not the height of the
		// data area; the x label the reverse. One measurement suffices.
		data := p.DataCanvas(nominal)
		if t := b.yLabel; p.Y.Label.TextStyle.Width(t) > data.Max.Y-data.Min.Y {
			b.yLabel = balancedWrap(p.Y.Label.TextStyle, t, data.Max.Y-data.Min.Y)
		}
		if t := b.xLabel; p.X.Label.TextStyle.Width(t) > data.Max.X-data.Min.X {
			b.xLabel = balancedWrap(p.X.Label.TextStyle, t, data.Max.X-data.Min.X)
		}
		p.X.Label.Text, p.Y.Label.Text = labelRoom(b.xLabel), labelRoom(b.yLabel)
	}
}

// balancedWrap wraps s into as few lines no wider than w as wrapText
// does, but with lines of about equal length.
func balancedWrap(sty text.Style, s string, w vg.Length) string {
	n := len(wrapText(sty, s, w))
	for lw := sty.Width(s) / vg.Length(n); lw < w; lw += 2 {
		if lines := wrapText(sty, s, lw); len(lines) <= n {
			return strings.Join(lines, "\n")
		}
	}
	return strings.Join(wrapText(sty, s, w), "\n")
}

// labelRoom is a blank axis label with as many lines as label.
func labelRoom(label string) string {
	if label == "" {
		return ""
	}
	return " " + strings.Repeat("\n ", strings.Count(label, "\n"))
}

// drawAxisLabels draws the axis labels of a panel drawn on canvas pc,
// where gonum/plot keeps their room, centred on the data area.
func drawAxisLabels(b *builtPanel, pc, data draw.Canvas) {
	if b.xLabel != "" {
		sty := b.p.X.Label.TextStyle
		sty.XAlign, sty.YAlign = draw.XCenter, draw.YBottom
		pc.FillText(sty, vg.Point{X: (data.Min.X + data.Max.X) / 2, Y: pc.Min.Y + sty.FontExtents().Descent}, b.xLabel)
	}
	if b.yLabel != "" {
		sty := b.p.Y.Label.TextStyle
		sty.XAlign, sty.YAlign = draw.XCenter, draw.YBottom
		sty.Rotation += math.Pi / 2
		x := pc.Min.X + sty.Height(b.yLabel) - sty.FontExtents().Descent
		pc.FillText(sty, vg.Point{X: x, Y: (data.Min.Y + data.Max.Y) / 2}, b.yLabel)
	}
}

// layoutPanels gives every panel its canvas (titles included), with the
// data areas of each row sharing their top and bottom edges across column
// groups, and returns for each row the gap between the top of the data
// areas and the panel titles.
func layoutPanels(f *Figure, l *layout, grid [][]*plot.Plot, built []*builtPanel, own bool, tiles draw.Tiles, area draw.Canvas) ([][]draw.Canvas, []vg.Length) {
	canvases := alignGroups(f, l, grid, tiles, area, false)
	gaps := make([]vg.Length, f.Rows)
	for r := 0; r < f.Rows; r++ {
		var top, bottom, ceiling, titleH vg.Length
		first := true
		for c := 0; c < f.Cols; c++ {
			i := r*f.Cols + c
			if i >= len(built) || built[i] == nil {
				continue
			}
			pc := &canvases[r][c]
			if own {
				pc.Max.X -= ownBarW
			}
			p := built[i].p
			d := p.DataCanvas(*pc)
			// What gonum/plot left between the title and the data area:
			// tick labels or markers reaching above the data area.
			over := pc.Max.Y - titleSpace(p) - d.Max.Y
			var th vg.Length
			if p.Title.Text != "" {
				th = p.Title.TextStyle.Height(p.Title.Text)
			}
			if first {
				top, bottom, ceiling, gaps[r], titleH = d.Max.Y, d.Min.Y, pc.Max.Y, over, th
				first = false
				continue
			}
			top, bottom, ceiling = min(top, d.Max.Y), max(bottom, d.Min.Y), min(ceiling, pc.Max.Y)
			gaps[r], titleH = max(gaps[r], over), max(titleH, th)
		}
		if first {
			continue
		}
		// Every title of the row sits gaps[r] + titlePad above the data
		// areas and must stay inside the lowest tile top of the row.
		gaps[r] += titlePad
		top = min(top, ceiling-gaps[r]-titleH)
		for c := 0; c < f.Cols; c++ {
			i := r*f.Cols + c
			if i >= len(built) || built[i] == nil {
				continue
			}
			pc := &canvases[r][c]
			d := built[i].p.DataCanvas(*pc)
			pc.Max.Y -= d.Max.Y - top
			pc.Min.Y += bottom - d.Min.Y
		}
	}
	return canvases, gaps
}

// alignGroups lays the panels out on area: one aligned grid, or one per
// column group with a gap between groups and each group's heading above
// it.
func alignGroups(f *Figure, l *layout, grid [][]*plot.Plot, tiles draw.Tiles, area draw.Canvas, headings bool) [][]draw.Canvas {
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
		if !headings {
			continue
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

// pagePoints returns the page positions of what a legend inside the data
// area must not hide: the points, samples along the lines and error bars,
// and the reference lines.
func pagePoints(b *builtPanel, data draw.Canvas) []vg.Point {
	trX, trY := b.p.Transforms(&data)
	var page []vg.Point
	for _, pt := range b.points {
		page = append(page, vg.Point{X: trX(pt[0]), Y: trY(pt[1])})
	}
	const samplesPerSegment = 8
	for _, piece := range b.pieces {
		if len(piece) == 1 {
			page = append(page, vg.Point{X: trX(piece[0].X), Y: trY(piece[0].Y)})
		}
		for j := 1; j < len(piece); j++ {
			a := vg.Point{X: trX(piece[j-1].X), Y: trY(piece[j-1].Y)}
			z := vg.Point{X: trX(piece[j].X), Y: trY(piece[j].Y)}
			for k := 0; k <= samplesPerSegment; k++ {
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
	// Only what is inside the data area is drawn.
	in := page[:0]
	for _, q := range page {
		if q.X >= data.Min.X && q.X <= data.Max.X && q.Y >= data.Min.Y && q.Y <= data.Max.Y {
			in = append(in, q)
		}
	}
	return in
}

// legendBox is the legend rectangle with its padding, as filled.
func legendBox(lg *plot.Legend, data draw.Canvas) vg.Rectangle {
	r := legendRect(lg, data)
	return vg.Rectangle{Min: vg.Point{X: r.Min.X - legendBoxPad, Y: r.Min.Y - legendBoxPad},
		Max: vg.Point{X: r.Max.X + legendBoxPad, Y: r.Max.Y + legendBoxPad}}
}

func covered(r vg.Rectangle, page []vg.Point) int {
	n := 0
	for _, q := range page {
		if q.X >= r.Min.X && q.X <= r.Max.X && q.Y >= r.Min.Y && q.Y <= r.Max.Y {
			n++
		}
	}
	return n
}

// legendCandidates are the corners a panel's legend may take.
func legendCandidates(b *builtPanel) []string {
	if b.place == LegendAuto {
		return legendCorners
	}
	return []string{b.place}
}

// legendMargin is the least distance kept between a legend box and the
// data when the y range is widened to make room for it.
const legendMargin = vg.Length(3)

// maxLegendWiden bounds how much a y range is widened for a legend (as a
// factor of its span on the axis scale); a legend needing more covers data.
const maxLegendWiden = 3

// makeLegendRoom widens the y range of a panel whose legend hides data in
// every corner it may take, so that the data leave the legend's corner
// free: the range grows away from the corner needing the least growth,
// and the legend then takes that corner. It reports whether it widened.
func makeLegendRoom(b *builtPanel, data draw.Canvas) bool {
	page := pagePoints(b, data)
	lg := newLegend(b)
	h := data.Max.Y - data.Min.Y
	best, bestK := "", math.Inf(1)
	for _, corner := range legendCandidates(b) {
		setCorner(&lg, corner)
		r := legendBox(&lg, data)
		if covered(r, page) == 0 {
			return false
		}
		// The data in the legend's columns, as fractions of the height
		// measured from the far edge, must end below the legend.
		top := corner == LegendTopRight || corner == LegendTopLeft
		free := (r.Min.Y - legendMargin - data.Min.Y) / h
		if !top {
			free = (data.Max.Y - r.Max.Y - legendMargin) / h
		}
		if free <= 0 {
			continue
		}
		reach := vg.Length(0)
		for _, q := range page {
			if q.X < r.Min.X-legendMargin || q.X > r.Max.X+legendMargin {
				continue
			}
			if top {
				reach = max(reach, (q.Y-data.Min.Y)/h)
			} else {
				reach = max(reach, (data.Max.Y-q.Y)/h)
			}
		}
		if k := float64(reach / free); k < bestK {
			best, bestK = corner, k
		}
	}
	if best == "" || bestK > maxLegendWiden {
		return false
	}
	// A little more than needed, so that rounding cannot leave a point on
	// the edge of the box.
	k := bestK * 1.02
	ax := &b.p.Y
	lo, hi := ax.Min, ax.Max
	_, log := ax.Scale.(plot.LogScale)
	if log {
		lo, hi = math.Log(lo), math.Log(hi)
	}
	if best == LegendTopRight || best == LegendTopLeft {
		hi = lo + (hi-lo)*k
	} else {
		lo = hi - (hi-lo)*k
	}
	if log {
		lo, hi = math.Exp(lo), math.Exp(hi)
	}
	if badAxisCoord(lo, log) || badAxisCoord(hi, log) {
		return false
	}
	ax.Min, ax.Max = lo, hi
	b.place = best
	return true
}

// drawLegend draws the panel legend inside the data area on a translucent
// box, in the requested corner or the first corner hiding no data (else
// the corner hiding the fewest), and returns the box.
func drawLegend(b *builtPanel, data draw.Canvas) (vg.Rectangle, bool) {
	if len(b.legend) == 0 || b.place == LegendNone {
		return vg.Rectangle{}, false
	}
	lg := newLegend(b)
	place := b.place
	if place == LegendAuto {
		page := pagePoints(b, data)
		best := -1
		for _, corner := range legendCorners {
			setCorner(&lg, corner)
			n := covered(legendBox(&lg, data), page)
			if best < 0 || n < best {
				best, place = n, corner
			}
		}
	}
	setCorner(&lg, place)
	r := legendBox(&lg, data)
	box := []vg.Point{r.Min, {X: r.Max.X, Y: r.Min.Y}, r.Max, {X: r.Min.X, Y: r.Max.Y}}
	data.FillPolygon(color.NRGBA{0xFF, 0xFF, 0xFF, 0xD8}, box)
	lg.Draw(data)
	return r, true
}

// hiddenNote is the legend entry counting the points a panel cannot draw.
func hiddenNote(n int) string {
	return fmt.Sprintf("%d point(s) ≤ 0 on a log axis or out of range not shown", n)
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
