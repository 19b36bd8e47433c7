// Package plots turns result tables into figures and an HTML report. It
// draws; it never computes science: every number on a figure arrives in a
// Figure value, and Save writes the same numbers beside the picture as CSV
// and JSON so a figure can always be checked against its data.
//
// # Figures
//
// A Figure is a grid of Panels (rows x cols, row-major), optionally split
// into column groups under their own headings (for example theory beside
// trained networks). A Panel holds line or marker Series, at most one
// HeatMap, dashed reference lines (for example a critical point) and text
// Notes. Every axis is labelled.
//
// The conventions of the paper's figures: theory is drawn as solid lines
// (Line), finite networks as markers with vertical error bars (Markers with
// YErr), and a theory line and the markers measured for it share a colour of
// the palette (Okabe-Ito, readable with the common colour-vision
// deficiencies). Dashed series are asymptotes, reference curves and
// overlays, such as the depth scales 8 xi_1 and 8 xi_* drawn over a phase
// diagram. Non-finite values cut a line instead of failing, so a quantity
// that diverges at a critical point is drawn as is; values that cannot be
// drawn on a log axis are counted in a footnote and kept in the data files.
//
// # Heat maps
//
// Heat maps either keep the data coordinates of their cell edges (cell i
// spans the midpoints to its neighbours), or, with EqualRows / EqualCols,
// give every row or column the same size on the page through a
// piecewise-linear axis (depths 0..9 then 10..105 by 5), which keeps overlays
// in data coordinates. NaN cells mean "not run" and are drawn grey and
// hatched; flagged cells (for example "diverged") carry a cross. A
// Figure-level ColorBar shares one colour scale between all its heat maps;
// without it every heat map gets its own bar.
//
// # Files
//
// Save(fig, dir, name) writes name.png, name.svg, name.pdf, name.csv (long
// format, one row per point; see CSVHeader) and name.json atomically; Load
// reads the JSON back into a Figure so that a figure can be redrawn without
// recomputing it. JSON keeps NaN (null) and infinities. WriteReport writes a
// self-contained index.html over saved figures, with what theory predicts
// and what the run shows beside each.
package plots
