package plots

import (
	"bytes"
	"fmt"
	"html/template"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/ntkharness/ntkharness/internal/atomicfile"
)

// Report is the content of an HTML report over figures saved by Save in
// the same directory.
type Report struct {
	Title   string
	Intro   string      // a paragraph under the title (plain text)
	Numbers []KeyNumber // run-wide numbers (seed, data set, versions, ...)
	Figures []ReportFigure
}

// ReportFigure describes one saved figure.
type ReportFigure struct {
	Name     string // the name given to Save: Name.png is shown, Name.{svg,pdf,csv,json} linked
	Title    string
	Theory   string // what the theory predicts
	Observed string // what this run shows
	Numbers  []KeyNumber
}

// KeyNumber is one row of a table of key numbers. Value is preformatted
// so that the caller decides precision and units.
type KeyNumber struct {
	Name, Value, Note string
}

// reportFigureView is what the template sees for each figure.
type reportFigureView struct {
	ReportFigure
	ID      string
	PNG     string
	Present bool     // PNG exists
	Links   []string // other files that exist, by extension
}

// WriteReport writes dir/index.html (atomically) over the figures of r,
// which Save must have written into dir. The page is self-contained (no
// scripts, no external style sheets; images are relative links) and all
// text is escaped. A figure whose PNG is missing, for example because its
// experiment has not finished, is listed with a visible note instead of
// an image, so a partial run still gives a readable report.
func WriteReport(dir string, r Report) error {
	seen := map[string]bool{}
	views := make([]reportFigureView, len(r.Figures))
	for i, f := range r.Figures {
		if f.Name == "" || f.Name != filepath.Base(f.Name) || strings.ContainsAny(f.Name, `/\`) || f.Name == "." || f.Name == ".." {
			return fmt.Errorf("plots: report figure %d (%q): name %q: want the plain name given to Save", i, f.Title, f.Name)
		}
		if seen[f.Name] {
			return fmt.Errorf("plots: report figure %d: name %q listed twice", i, f.Name)
		}
		seen[f.Name] = true
		v := reportFigureView{ReportFigure: f, ID: fmt.Sprintf("fig-%d", i+1), PNG: f.Name + ".png"}
		if _, err := os.Stat(filepath.Join(dir, v.PNG)); err == nil {
			v.Present = true
		}
		for _, ext := range Extensions[1:] {
			if _, err := os.Stat(filepath.Join(dir, f.Name+ext)); err == nil {
				v.Links = append(v.Links, f.Name+ext)
			}
		}
		views[i] = v
	}
	var b bytes.Buffer
	err := reportTemplate.Execute(&b, struct {
		Report
		Figures []reportFigureView
	}{r, views})
	if err != nil {
		return fmt.Errorf("plots: report: %v", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("plots: report directory: %v", err)
	}
	return atomicfile.Write(filepath.Join(dir, "index.html"), func(w io.Writer) error {
		_, err := w.Write(b.Bytes())
		return err
	})
}

var reportTemplate = template.Must(template.New("report").Funcs(template.FuncMap{
	"ext": filepath.Ext,
}).Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title>
<style>
body { font-family: Georgia, "Liberation Serif", serif; max-width: 72rem; margin: 2rem auto; padding: 0 1rem; color: #222; line-height: 1.45; }
h1 { font-size: 1.7rem; } h2 { font-size: 1.25rem; margin-top: 2.5rem; border-bottom: 1px solid #ccc; }
figure { margin: 1rem 0; } figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { font-size: 0.95rem; } .links { font-size: 0.9rem; }
.missing { background: #f3f3f3; border: 1px dashed #999; padding: 2rem; color: #555; }
table { border-collapse: collapse; margin: 0.8rem 0; font-size: 0.92rem; }
th, td { border: 1px solid #ccc; padding: 0.25rem 0.6rem; text-align: left; vertical-align: top; }
th { background: #f4f4f4; } td.v { font-family: monospace; white-space: nowrap; }
nav ol { columns: 2; }
</style>
</head>
<body>
<h1>{{.Title}}</h1>
{{with .Intro}}<p>{{.}}</p>{{end}}
{{with .Numbers}}<table>
<tr><th>quantity</th><th>value</th><th>note</th></tr>
{{range .}}<tr><td>{{.Name}}</td><td class="v">{{.Value}}</td><td>{{.Note}}</td></tr>
{{end}}</table>{{end}}
{{if .Figures}}<nav><ol>
{{range .Figures}}<li><a href="#{{.ID}}">{{or .Title .Name}}</a></li>
{{end}}</ol></nav>{{end}}
{{range .Figures}}
<section id="{{.ID}}">
<h2>{{or .Title .Name}}</h2>
<figure>
{{if .Present}}<a href="{{.PNG}}"><img src="{{.PNG}}" alt="{{or .Title .Name}}"></a>
{{else}}<div class="missing">figure not available yet: {{.PNG}} is missing</div>
{{end}}<figcaption>
{{with .Theory}}<p><b>Theory.</b> {{.}}</p>{{end}}
{{with .Observed}}<p><b>This run.</b> {{.}}</p>{{end}}
{{with .Links}}<p class="links">Files: {{range $i, $l := .}}{{if $i}} · {{end}}<a href="{{$l}}">{{ext $l}}</a>{{end}}</p>{{end}}
</figcaption>
</figure>
{{with .Numbers}}<table>
<tr><th>quantity</th><th>value</th><th>note</th></tr>
{{range .}}<tr><td>{{.Name}}</td><td class="v">{{.Value}}</td><td>{{.Note}}</td></tr>
{{end}}</table>{{end}}
</section>
{{end}}
</body>
</html>
`))
