package plots

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strings"
)

// Style says how a Series is drawn.
type Style int

const (
	// Line draws a continuous line through the points (theory). Non-finite
	// values split the line into separate pieces instead of failing, so a
	// quantity that diverges at a critical point can be drawn as is.
	Line Style = iota
	// Markers draws one marker per point (empirical results), with
	// vertical error bars when YErr is set.
	Markers
	// LineMarkers draws both.
	LineMarkers
)

var styleNames = [...]string{Line: "line", Markers: "markers", LineMarkers: "line+markers"}

// String returns the name used in CSV and JSON files.
func (s Style) String() string {
	if s >= 0 && int(s) < len(styleNames) {
		return styleNames[s]
	}
	return fmt.Sprintf("Style(%d)", int(s))
}

// MarshalText implements encoding.TextMarshaler.
func (s Style) MarshalText() ([]byte, error) {
	if s < 0 || int(s) >= len(styleNames) {
		return nil, fmt.Errorf("plots: unknown style %d", int(s))
	}
	return []byte(styleNames[s]), nil
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (s *Style) UnmarshalText(b []byte) error {
	for i, n := range styleNames {
		if n == string(b) {
			*s = Style(i)
			return nil
		}
	}
	return fmt.Errorf("plots: unknown style %q (want line, markers or line+markers)", b)
}

// Series is a set of (x, y) points with an optional symmetric error YErr
// (half-width of the error bar, same length as Y, NaN for none).
type Series struct {
	Label  string // legend entry; empty keeps the series out of the legend
	X, Y   Floats
	YErr   Floats `json:",omitempty"`
	Style  Style
	Dashed bool // dashed line (asymptotes, reference curves, overlays)
	// Color picks a colour of the figure palette: 0 takes the next colour
	// not yet used in the panel, n > 0 takes colour n (1-based), so a
	// theory line and the markers measured for it can share a colour.
	Color int `json:",omitempty"`
}

// HeatMap is a grid of values Z[iy][ix] at cell centres (X[ix], Y[iy]),
// X and Y strictly increasing. NaN in Z means the cell was not computed and
// is drawn grey and hatched. Flag, when non-nil, has the shape of Z and
// marks cells with a cross (for example runs that diverged); FlagLabel
// names the flag in the legend.
type HeatMap struct {
	Label     string // the quantity, shown on the colour bar
	X, Y      Floats
	Z         Grid
	Flag      [][]bool `json:",omitempty"`
	FlagLabel string   `json:",omitempty"`
	// Min and Max fix the colour range; when Min == Max the range is the
	// finite extent of Z. A Figure ColorBar overrides both.
	Min, Max float64
	// EqualRows draws every row (EqualCols every column) with the same
	// height (width) whatever the spacing of Y (X), with the axis ticks
	// at the cell centres. Use it for depths like 0..9 then 10..105 by 5.
	EqualRows, EqualCols bool `json:",omitempty"`
}

// RefLine is a straight dashed reference line across the whole panel:
// vertical at x = At, or horizontal at y = At.
type RefLine struct {
	Vertical bool
	At       float64
	Label    string `json:",omitempty"` // legend entry, may be empty
}

// Note is a text annotation whose lower-left corner is at data coordinates
// (X, Y), such as "ordered" or "chaotic" on a phase diagram.
type Note struct {
	X, Y float64
	Text string
}

// Legend placements for Panel.Legend.
const (
	LegendAuto        = ""             // the inside corner hiding the fewest points and line samples
	LegendTopRight    = "top-right"    //
	LegendTopLeft     = "top-left"     //
	LegendBottomRight = "bottom-right" //
	LegendBottomLeft  = "bottom-left"  //
	LegendRight       = "right"        // outside, right of the data area (the panel's plot narrows)
	LegendNone        = "none"         // no legend
)

// Panel is one plot of a figure. Every axis must be labelled. Series
// points that cannot be drawn are skipped, never an error: NaN and
// infinite coordinates (a line is cut there), and values <= 0 on a log
// axis, which the panel counts in a footnote; all of them stay in the CSV
// and JSON. Values beyond ±1e150 (below 1e-150 on a log axis) are skipped
// and counted likewise. Error
// bars that reach zero or below on a log axis are cut at
// the axis. Heat-map coordinates, reference lines, notes and limits must
// be positive on a log axis. XLim/YLim fix the axis range when their two
// values differ; otherwise the range fits the data (for a panel with a
// heat map: the heat map's cells).
type Panel struct {
	Title          string
	XLabel, YLabel string
	LogX, LogY     bool       `json:",omitempty"`
	XLim, YLim     [2]float64 `json:",omitzero"`
	Heat           *HeatMap   `json:",omitempty"`
	Series         []Series   `json:",omitempty"`
	Refs           []RefLine  `json:",omitempty"`
	Notes          []Note     `json:",omitempty"`
	Legend         string     `json:",omitempty"` // one of the Legend* constants
}

// ColorBar is one colour scale shared by every heat map of a figure, drawn
// once at the right of the figure.
type ColorBar struct {
	Label    string
	Min, Max float64 // Min < Max
}

// Figure is a grid of panels, filled row by row. Rows*Cols must hold all
// panels; a panel with no title, labels or data leaves its slot empty.
type Figure struct {
	Title      string `json:",omitempty"`
	Rows, Cols int
	Panels     []Panel
	ColorBar   *ColorBar `json:",omitempty"`
	// Groups, when set, splits the columns into len(Groups) equal blocks
	// drawn apart, each under its own heading (for example "theory" and
	// "trained networks" side by side). Cols must be a multiple of
	// len(Groups).
	Groups []string `json:",omitempty"`
	// PanelWidth and PanelHeight are the size of one panel in centimetres,
	// each 0 (default: 11 x 8.5) or in [3, 100].
	PanelWidth, PanelHeight float64 `json:",omitempty"`
}

const (
	defaultPanelWidth  = 11  // cm
	defaultPanelHeight = 8.5 // cm
	minPanelSide       = 3   // cm, room for axes and labels
	maxPanelSide       = 100 // cm, bounds the PNG size
	maxPanels          = 400
)

// Floats is a []float64 whose JSON form keeps non-finite values: NaN is
// null and infinities are the strings "+Inf" and "-Inf". Finite values are
// written in the shortest form that reads back to the same float64.
// A []float64 can be assigned to a Floats directly.
type Floats []float64

// MarshalJSON implements json.Marshaler.
func (f Floats) MarshalJSON() ([]byte, error) {
	if f == nil {
		return []byte("null"), nil
	}
	var b bytes.Buffer
	b.WriteByte('[')
	for i, v := range f {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(jsonFloat(v))
	}
	b.WriteByte(']')
	return b.Bytes(), nil
}

// UnmarshalJSON implements json.Unmarshaler.
func (f *Floats) UnmarshalJSON(b []byte) error {
	var raw []json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	if raw == nil {
		*f = nil
		return nil
	}
	out := make(Floats, len(raw))
	for i, r := range raw {
		v, err := parseJSONFloat(r)
		if err != nil {
			return fmt.Errorf("element %d: %v", i, err)
		}
		out[i] = v
	}
	*f = out
	return nil
}

// Grid is a [][]float64 with the JSON form of Floats for each row.
type Grid [][]float64

// MarshalJSON implements json.Marshaler.
func (g Grid) MarshalJSON() ([]byte, error) {
	rows := make([]Floats, len(g))
	for i, r := range g {
		rows[i] = r
	}
	return json.Marshal(rows)
}

// UnmarshalJSON implements json.Unmarshaler.
func (g *Grid) UnmarshalJSON(b []byte) error {
	var rows []Floats
	if err := json.Unmarshal(b, &rows); err != nil {
		return err
	}
	out := make(Grid, len(rows))
	for i, r := range rows {
		out[i] = r
	}
	*g = out
	return nil
}

func jsonFloat(v float64) string {
	switch {
	case math.IsNaN(v):
		return "null"
	case math.IsInf(v, 1):
		return `"+Inf"`
	case math.IsInf(v, -1):
		return `"-Inf"`
	}
	b, _ := json.Marshal(v)
	return string(b)
}

func parseJSONFloat(r json.RawMessage) (float64, error) {
	s := strings.TrimSpace(string(r))
	switch s {
	case "null":
		return math.NaN(), nil
	case `"+Inf"`, `"Inf"`:
		return math.Inf(1), nil
	case `"-Inf"`:
		return math.Inf(-1), nil
	}
	var v float64
	if err := json.Unmarshal(r, &v); err != nil {
		return 0, fmt.Errorf("%s is not a number, null, \"+Inf\" or \"-Inf\"", s)
	}
	return v, nil
}

// Validate checks that the figure can be drawn: grid shape, data lengths,
// increasing heat map coordinates, positive data on log axes, labelled
// axes, colour ranges. The error names the panel and series at fault.
func (f *Figure) Validate() error {
	if f.Rows < 1 || f.Cols < 1 {
		return fmt.Errorf("plots: figure %q: grid %d x %d: rows and cols must be at least 1", f.Title, f.Rows, f.Cols)
	}
	if f.Rows*f.Cols > maxPanels {
		return fmt.Errorf("plots: figure %q: grid %d x %d has more than %d panels", f.Title, f.Rows, f.Cols, maxPanels)
	}
	if len(f.Panels) > f.Rows*f.Cols {
		return fmt.Errorf("plots: figure %q: %d panels do not fit a %d x %d grid", f.Title, len(f.Panels), f.Rows, f.Cols)
	}
	if len(f.Panels) == 0 {
		return fmt.Errorf("plots: figure %q has no panels", f.Title)
	}
	if g := len(f.Groups); g > 0 && f.Cols%g != 0 {
		return fmt.Errorf("plots: figure %q: %d column groups do not divide %d columns", f.Title, g, f.Cols)
	}
	for _, v := range []float64{f.PanelWidth, f.PanelHeight} {
		if !(v == 0 || v >= minPanelSide && v <= maxPanelSide) {
			return fmt.Errorf("plots: figure %q: panel size %g x %g cm: each side must be in [%d, %d] (0 = default)", f.Title, f.PanelWidth, f.PanelHeight, minPanelSide, maxPanelSide)
		}
	}
	if f.ColorBar != nil && (!(f.ColorBar.Min < f.ColorBar.Max) || badCoord(f.ColorBar.Min) || badCoord(f.ColorBar.Max)) {
		return fmt.Errorf("plots: figure %q: colour bar range [%g, %g]: need min < max, both within ±%g", f.Title, f.ColorBar.Min, f.ColorBar.Max, maxCoord)
	}
	for i := range f.Panels {
		if err := f.Panels[i].validate(); err != nil {
			return fmt.Errorf("plots: figure %q panel %d (%q): %v", f.Title, i, f.Panels[i].Title, err)
		}
	}
	return nil
}

// isInf reports whether v is not a finite number (±Inf or NaN).
func isInf(v float64) bool { return math.IsInf(v, 0) || math.IsNaN(v) }

// maxCoord bounds the magnitude of anything placed on an axis or a colour
// scale: beyond it, ranges and tick spacings overflow float64. On a log
// axis values must also be at least minLogCoord, so that cell edges and
// range paddings (products and quotients of coordinates) cannot underflow
// to zero.
const (
	maxCoord    = 1e150
	minLogCoord = 1e-150
)

// badLogCoord reports whether v cannot be placed on a log axis.
func badLogCoord(v float64) bool { return badCoord(v) || v < minLogCoord }

// badAxisCoord reports whether v cannot be placed on an axis of the given
// type.
func badAxisCoord(v float64, log bool) bool {
	if log {
		return badLogCoord(v)
	}
	return badCoord(v)
}

// badCoord reports whether v cannot be placed on an axis.
func badCoord(v float64) bool { return isInf(v) || math.Abs(v) > maxCoord }

// empty reports whether the panel is an unused grid slot.
func (p *Panel) empty() bool {
	return p.Title == "" && p.XLabel == "" && p.YLabel == "" && p.Heat == nil &&
		len(p.Series) == 0 && len(p.Refs) == 0 && len(p.Notes) == 0
}

func (p *Panel) validate() error {
	if p.empty() {
		return nil
	}
	if strings.TrimSpace(p.XLabel) == "" || strings.TrimSpace(p.YLabel) == "" {
		return fmt.Errorf("every axis needs a label (x %q, y %q)", p.XLabel, p.YLabel)
	}
	switch p.Legend {
	case LegendAuto, LegendTopRight, LegendTopLeft, LegendBottomRight, LegendBottomLeft, LegendRight, LegendNone:
	default:
		return fmt.Errorf("legend placement %q: want %q, %q, %q, %q, %q, %q or empty (auto)", p.Legend,
			LegendTopRight, LegendTopLeft, LegendBottomRight, LegendBottomLeft, LegendRight, LegendNone)
	}
	for _, lim := range []struct {
		name string
		v    [2]float64
		log  bool
	}{{"x", p.XLim, p.LogX}, {"y", p.YLim, p.LogY}} {
		if lim.v[0] == lim.v[1] {
			continue
		}
		if badCoord(lim.v[0]) || badCoord(lim.v[1]) || lim.v[0] > lim.v[1] {
			return fmt.Errorf("%s range %v: need min < max, both within ±%g", lim.name, lim.v, maxCoord)
		}
		if lim.log && lim.v[0] < minLogCoord {
			return fmt.Errorf("%s range %v on a log axis: need min >= %g", lim.name, lim.v, minLogCoord)
		}
	}
	hasData := len(p.Series) > 0 || p.Heat != nil
	if !hasData && len(p.Refs) > 0 && (p.XLim[0] == p.XLim[1] || p.YLim[0] == p.YLim[1]) {
		return fmt.Errorf("reference lines alone need XLim and YLim")
	}
	if h := p.Heat; h != nil {
		if err := h.validate(p.LogX, p.LogY); err != nil {
			return fmt.Errorf("heat map %q: %v", h.Label, err)
		}
	}
	for i := range p.Series {
		s := &p.Series[i]
		if err := s.validate(p.LogX, p.LogY); err != nil {
			return fmt.Errorf("series %d (%q): %v", i, s.Label, err)
		}
	}
	for i, r := range p.Refs {
		if badCoord(r.At) {
			return fmt.Errorf("reference line %d (%q) at %g: not a finite number within ±%g", i, r.Label, r.At, maxCoord)
		}
		if (r.Vertical && p.LogX || !r.Vertical && p.LogY) && r.At < minLogCoord {
			return fmt.Errorf("reference line %d (%q) at %g on a log axis: must be >= %g", i, r.Label, r.At, minLogCoord)
		}
	}
	for i, n := range p.Notes {
		if badAxisCoord(n.X, p.LogX) || badAxisCoord(n.Y, p.LogY) {
			return fmt.Errorf("note %d (%q) at (%g, %g): not a finite point of the axes", i, n.Text, n.X, n.Y)
		}
	}
	return nil
}

func (s *Series) validate(logX, logY bool) error {
	if len(s.X) != len(s.Y) {
		return fmt.Errorf("%d x values but %d y values", len(s.X), len(s.Y))
	}
	if s.YErr != nil && len(s.YErr) != len(s.Y) {
		return fmt.Errorf("%d error values for %d points", len(s.YErr), len(s.Y))
	}
	if s.Style < Line || s.Style > LineMarkers {
		return fmt.Errorf("unknown style %d", int(s.Style))
	}
	if s.Color < 0 || s.Color > len(seriesColors) {
		return fmt.Errorf("colour %d: want 0 (automatic) to %d", s.Color, len(seriesColors))
	}
	for i := range s.X {
		if s.YErr != nil {
			if e := s.YErr[i]; e < 0 || math.IsInf(e, 0) {
				return fmt.Errorf("point %d: error %g: want a finite value >= 0 or NaN", i, e)
			}
		}
	}
	return nil
}

func (h *HeatMap) validate(logX, logY bool) error {
	if len(h.X) == 0 || len(h.Y) == 0 {
		return fmt.Errorf("%d x and %d y cells: need at least one of each", len(h.X), len(h.Y))
	}
	for _, ax := range []struct {
		name string
		v    Floats
		log  bool
	}{{"x", h.X, logX}, {"y", h.Y, logY}} {
		for i, v := range ax.v {
			if badCoord(v) {
				return fmt.Errorf("%s[%d] = %g: not a finite number within ±%g", ax.name, i, v, maxCoord)
			}
			if ax.log && v < minLogCoord {
				return fmt.Errorf("%s[%d] = %g: below %g on a log axis", ax.name, i, v, minLogCoord)
			}
			if i > 0 && !(v > ax.v[i-1]) {
				return fmt.Errorf("%s values must increase strictly: %s[%d] = %g after %g", ax.name, ax.name, i, v, ax.v[i-1])
			}
		}
	}
	if len(h.Z) != len(h.Y) {
		return fmt.Errorf("z has %d rows for %d y values", len(h.Z), len(h.Y))
	}
	for i, r := range h.Z {
		if len(r) != len(h.X) {
			return fmt.Errorf("z row %d has %d values for %d x values", i, len(r), len(h.X))
		}
	}
	if h.Flag != nil {
		if len(h.Flag) != len(h.Y) {
			return fmt.Errorf("flag has %d rows for %d y values", len(h.Flag), len(h.Y))
		}
		for i, r := range h.Flag {
			if len(r) != len(h.X) {
				return fmt.Errorf("flag row %d has %d values for %d x values", i, len(r), len(h.X))
			}
		}
	}
	if h.Min != h.Max && (badCoord(h.Min) || badCoord(h.Max) || h.Min > h.Max) {
		return fmt.Errorf("colour range [%g, %g]: need min < max, both within ±%g", h.Min, h.Max, maxCoord)
	}
	return nil
}
