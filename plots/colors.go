package plots

import (
	"fmt"
	"image/color"
	"math"

	"gonum.org/v1/plot/palette"
	"gonum.org/v1/plot/vg/draw"
)

// seriesColors is the figure palette (Okabe-Ito, distinguishable with the
// common colour-vision deficiencies), then white and black for overlays on
// dark and light heat maps. Series.Color n picks seriesColors[n-1].
var seriesColors = []color.RGBA{
	{0x00, 0x72, 0xB2, 0xFF}, // 1 blue
	{0xD5, 0x5E, 0x00, 0xFF}, // 2 vermillion
	{0x00, 0x9E, 0x73, 0xFF}, // 3 bluish green
	{0xCC, 0x79, 0xA7, 0xFF}, // 4 reddish purple
	{0xE6, 0x9F, 0x00, 0xFF}, // 5 orange
	{0x56, 0xB4, 0xE9, 0xFF}, // 6 sky blue
	{0x40, 0x40, 0x40, 0xFF}, // 7 dark grey
	{0x8C, 0x6D, 0x1F, 0xFF}, // 8 brown
	{0xFF, 0xFF, 0xFF, 0xFF}, // 9 white
	{0x00, 0x00, 0x00, 0xFF}, // 10 black
}

// autoColors is how many palette entries automatic colouring cycles over.
const autoColors = 8

// Named palette indices for callers (1-based, as Series.Color).
const (
	ColorBlue = iota + 1
	ColorVermillion
	ColorGreen
	ColorPurple
	ColorOrange
	ColorSky
	ColorGrey
	ColorBrown
	ColorWhite
	ColorBlack
)

var glyphShapes = []draw.GlyphDrawer{
	draw.CircleGlyph{}, draw.SquareGlyph{}, draw.TriangleGlyph{}, draw.RingGlyph{},
	draw.PyramidGlyph{}, draw.BoxGlyph{}, draw.CrossGlyph{}, draw.PlusGlyph{},
}

var (
	// MissingColor fills heat-map cells whose value is NaN (not run).
	MissingColor = color.RGBA{0xC8, 0xC8, 0xC8, 0xFF}
	hatchColor   = color.RGBA{0x80, 0x80, 0x80, 0xFF}
	refColor     = color.RGBA{0x50, 0x50, 0x50, 0xFF}
)

// viridisAnchors are ten evenly spaced samples of the viridis colour map
// (perceptually uniform, monotone in lightness, no grey), interpolated
// linearly in RGB. The missing-cell grey is not on this curve.
var viridisAnchors = [...][3]float64{
	{0x44, 0x01, 0x54}, {0x48, 0x28, 0x78}, {0x3E, 0x4A, 0x89}, {0x31, 0x68, 0x8E}, {0x26, 0x82, 0x8E},
	{0x1F, 0x9E, 0x89}, {0x35, 0xB7, 0x79}, {0x6D, 0xCD, 0x59}, {0xB4, 0xDE, 0x2C}, {0xFD, 0xE7, 0x25},
}

// viridis returns the colour at t in [0, 1] (clamped; NaN gives t = 0).
func viridis(t float64) color.RGBA {
	if !(t > 0) {
		t = 0
	}
	if t > 1 {
		t = 1
	}
	s := t * float64(len(viridisAnchors)-1)
	i := int(math.Floor(s))
	if i >= len(viridisAnchors)-1 {
		i = len(viridisAnchors) - 2
	}
	f := s - float64(i)
	a, b := viridisAnchors[i], viridisAnchors[i+1]
	ch := func(k int) uint8 { return uint8(math.Round(a[k] + f*(b[k]-a[k]))) }
	return color.RGBA{ch(0), ch(1), ch(2), 0xFF}
}

// colorScale maps values in [min, max] linearly onto viridis; values
// outside are clamped (+Inf is the top colour), NaN is MissingColor.
// It implements palette.ColorMap for plotter.ColorBar.
type colorScale struct {
	min, max, alpha float64
}

func newColorScale(min, max float64) *colorScale { return &colorScale{min: min, max: max, alpha: 1} }

func (s *colorScale) color(v float64) color.Color {
	if math.IsNaN(v) {
		return MissingColor
	}
	return viridis((v - s.min) / (s.max - s.min))
}

// At implements palette.ColorMap.
func (s *colorScale) At(v float64) (color.Color, error) {
	if !(v >= s.min && v <= s.max) {
		return nil, fmt.Errorf("plots: value %g outside the colour range [%g, %g]", v, s.min, s.max)
	}
	return s.color(v), nil
}

func (s *colorScale) Max() float64       { return s.max }
func (s *colorScale) SetMax(v float64)   { s.max = v }
func (s *colorScale) Min() float64       { return s.min }
func (s *colorScale) SetMin(v float64)   { s.min = v }
func (s *colorScale) Alpha() float64     { return s.alpha }
func (s *colorScale) SetAlpha(a float64) { s.alpha = a }

// Palette implements palette.ColorMap.
func (s *colorScale) Palette(n int) palette.Palette {
	cs := make([]color.Color, n)
	for i := range cs {
		t := 0.0
		if n > 1 {
			t = float64(i) / float64(n-1)
		}
		cs[i] = viridis(t)
	}
	return colorList(cs)
}

type colorList []color.Color

func (l colorList) Colors() []color.Color { return l }
