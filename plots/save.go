package plots

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/ntkharness/ntkharness/internal/atomicfile"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgpdf"
	"gonum.org/v1/plot/vg/vgsvg"
)

// Extensions lists the files Save writes, in order.
var Extensions = []string{".png", ".svg", ".pdf", ".csv", ".json"}

// CSVHeader is the header of the long-format CSV written by Save. Each row
// is one point of one item of one panel:
//
//	panel       panel index (row-major in the grid)
//	panel_title
//	kind        line, markers, line+markers, heat, vline, hline or note
//	item        series index in the panel; "heat" for the heat map;
//	            reference line or note index otherwise
//	label       series label, heat-map quantity, or note text
//	x, y        point, heat-map cell centre, or reference position
//	z           heat-map value (empty otherwise)
//	yerr        error half-width (empty without error bars)
//	flag        heat-map flag, 1 or 0 (empty without flags)
//
// Numbers are written in the shortest form that parses back to the same
// float64; NaN is "NaN" and infinities are "+Inf" and "-Inf".
var CSVHeader = []string{"panel", "panel_title", "kind", "item", "label", "x", "y", "z", "yerr", "flag"}

// fileFormat identifies the JSON files written by Save.
const fileFormat = "ntkharness-figure"

type figureFile struct {
	Format  string
	Version int
	Figure  Figure
}

// Save draws the figure and writes dir/name.png (150 dpi), .svg, .pdf,
// and its data as dir/name.csv (long format, see CSVHeader) and
// dir/name.json (the Figure itself, readable by Load). dir is created if
// needed. Every file is written to a temporary file and renamed, so a
// reader never sees a partial file. name must be a plain file name.
func Save(f Figure, dir, name string) error {
	if name == "" || name != filepath.Base(name) || name == "." || name == ".." || strings.ContainsAny(name, `/\`) {
		return fmt.Errorf("plots: figure name %q: want a plain file name without directories", name)
	}
	if err := f.Validate(); err != nil {
		return err
	}
	l, err := figureLayout(&f)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("plots: output directory: %v", err)
	}
	base := filepath.Join(dir, name)

	img := vgimg.NewWith(vgimg.UseWH(l.w, l.h), vgimg.UseDPI(dpi))
	drawFigure(&f, l, img)
	if err := atomicfile.Write(base+".png", func(w io.Writer) error {
		_, err := vgimg.PngCanvas{Canvas: img}.WriteTo(w)
		return err
	}); err != nil {
		return err
	}
	svg := vgsvg.New(l.w, l.h)
	drawFigure(&f, l, svg)
	if err := atomicfile.Write(base+".svg", func(w io.Writer) error {
		_, err := svg.WriteTo(w)
		return err
	}); err != nil {
		return err
	}
	pdf := vgpdf.New(l.w, l.h)
	drawFigure(&f, l, pdf)
	if err := atomicfile.Write(base+".pdf", func(w io.Writer) error {
		_, err := pdf.WriteTo(w)
		return err
	}); err != nil {
		return err
	}
	if err := atomicfile.Write(base+".csv", func(w io.Writer) error { return WriteCSV(w, &f) }); err != nil {
		return err
	}
	return atomicfile.Write(base+".json", func(w io.Writer) error { return WriteJSON(w, &f) })
}

// Size returns the page size of the figure in points (1/72 inch) as Save
// draws it; the PNG has round(size/72*150) pixels on each side.
func Size(f Figure) (w, h float64, err error) {
	if err := f.Validate(); err != nil {
		return 0, 0, err
	}
	l, err := figureLayout(&f)
	if err != nil {
		return 0, 0, err
	}
	return l.w.Points(), l.h.Points(), nil
}

// WriteJSON writes the figure as JSON (the format Load reads).
func WriteJSON(w io.Writer, f *Figure) error {
	b, err := json.MarshalIndent(figureFile{Format: fileFormat, Version: 1, Figure: *f}, "", " ")
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// Load reads a figure written by Save (name.json) and validates it, so
// that a figure can be redrawn, restyled or checked without rerunning the
// experiment behind it.
func Load(path string) (Figure, error) {
	fp, err := os.Open(path)
	if err != nil {
		return Figure{}, fmt.Errorf("plots: %v", err)
	}
	defer fp.Close()
	f, err := ReadJSON(fp)
	if err != nil {
		return Figure{}, fmt.Errorf("plots: %s: %v", path, err)
	}
	return f, nil
}

// maxJSONBytes bounds what ReadJSON accepts (a figure of 400 panels of
// 100 x 100 cells is well below it).
const maxJSONBytes = 256 << 20

// ReadJSON reads a figure in the format of WriteJSON and validates it.
func ReadJSON(r io.Reader) (Figure, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxJSONBytes+1))
	if err != nil {
		return Figure{}, err
	}
	if len(b) > maxJSONBytes {
		return Figure{}, fmt.Errorf("larger than %d MiB: not a figure file", maxJSONBytes>>20)
	}
	var ff figureFile
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&ff); err != nil {
		return Figure{}, fmt.Errorf("not a figure file: %v", err)
	}
	if ff.Format != fileFormat || ff.Version != 1 {
		return Figure{}, fmt.Errorf("format %q version %d, want %q version 1", ff.Format, ff.Version, fileFormat)
	}
	if err := ff.Figure.Validate(); err != nil {
		return Figure{}, err
	}
	return ff.Figure, nil
}

// FormatFloat writes v as the CSV does: shortest round-trip form, "NaN",
// "+Inf", "-Inf".
func FormatFloat(v float64) string {
	switch {
	case math.IsNaN(v):
		return "NaN"
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

// WriteCSV writes the data of every panel in the long format described by
// CSVHeader.
func WriteCSV(w io.Writer, f *Figure) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(CSVHeader); err != nil {
		return err
	}
	for pi := range f.Panels {
		pn := &f.Panels[pi]
		row := func(kind, item, label string, x, y float64, z, yerr, flag string) error {
			return cw.Write([]string{strconv.Itoa(pi), pn.Title, kind, item, label,
				FormatFloat(x), FormatFloat(y), z, yerr, flag})
		}
		if h := pn.Heat; h != nil {
			for iy := range h.Y {
				for ix := range h.X {
					flag := ""
					if h.Flag != nil {
						flag = "0"
						if h.Flag[iy][ix] {
							flag = "1"
						}
					}
					if err := row("heat", "heat", h.Label, h.X[ix], h.Y[iy], FormatFloat(h.Z[iy][ix]), "", flag); err != nil {
						return err
					}
				}
			}
		}
		for si := range pn.Series {
			s := &pn.Series[si]
			for j := range s.X {
				yerr := ""
				if s.YErr != nil {
					yerr = FormatFloat(s.YErr[j])
				}
				if err := row(s.Style.String(), strconv.Itoa(si), s.Label, s.X[j], s.Y[j], "", yerr, ""); err != nil {
					return err
				}
			}
		}
		for ri, r := range pn.Refs {
			kind, x, y := "hline", math.NaN(), r.At
			if r.Vertical {
				kind, x, y = "vline", r.At, math.NaN()
			}
			if err := row(kind, strconv.Itoa(ri), r.Label, x, y, "", "", ""); err != nil {
				return err
			}
		}
		for ni, n := range pn.Notes {
			if err := row("note", strconv.Itoa(ni), n.Text, n.X, n.Y, "", "", ""); err != nil {
				return err
			}
		}
	}
	cw.Flush()
	return cw.Error()
}
