package plots

import (
	"strings"
	"testing"

	"gonum.org/v1/plot/vg"
)

// TestWrapText: lines fit the width (but for a single overlong word), and
// together they hold every word in order.
func TestWrapText(t *testing.T) {
	sty := textStyle(fontFigTitle)
	title := "erf, sb2 = 0.05, MNIST 7x7 grayscale: converged NTK predictor on 40 points (lines), trained networks on 40 (markers) averylongwordthatcannotbebrokenanywhereatall"
	w := vg.Length(200)
	lines := wrapText(sty, title, w)
	if len(lines) < 3 {
		t.Fatalf("%d lines, want several at width %v", len(lines), w)
	}
	for _, l := range lines {
		if sty.Width(l) > w && strings.Contains(l, " ") {
			t.Errorf("line %q is %v wide, over %v", l, sty.Width(l), w)
		}
	}
	if got := strings.Join(lines, " "); got != title {
		t.Errorf("words changed:\n%s\n%s", got, title)
	}
	if one := wrapText(sty, "short", w); len(one) != 1 || one[0] != "short" {
		t.Errorf("short title wrapped as %q", one)
	}
}
