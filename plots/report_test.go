package plots

import (
	"encoding/xml"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func TestWriteReport(t *testing.T) {
	dir := t.TempDir()
	figs := samples()
	for _, name := range []string{"phase", "width"} {
		if err := Save(figs[name], dir, name); err != nil {
			t.Fatal(err)
		}
	}
	r := Report{
		Title: `Run <1> & "friends"`,
		Intro: "Intro with <script>alert(1)</script>",
		Numbers: []KeyNumber{
			{Name: "seed", Value: "42", Note: "all draws"},
		},
		Figures: []ReportFigure{
			{Name: "phase", Title: "Phase diagram", Theory: "χ₁ = 1 separates <ordered> from chaotic",
				Observed: "matches", Numbers: []KeyNumber{{Name: "critical σ²_w at σ²_b = 0.05", Value: "1.76", Note: "erf"}}},
			{Name: "width", Title: "Width", Theory: "error ∝ n^(-1/2)", Observed: "slope -0.49 & fine"},
			{Name: "dynamics", Title: "Not yet run"},
		},
	}
	if err := WriteReport(dir, r); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "index.html"))
	if err != nil {
		t.Fatal(err)
	}
	html := string(b)

	for _, want := range []string{
		`<img src="phase.png"`, `<img src="width.png"`,
		`href="phase.svg"`, `href="phase.pdf"`, `href="phase.csv"`, `href="phase.json"`,
		"dynamics.png is missing",
		"Run &lt;1&gt; &amp; &#34;friends&#34;",
		"&lt;script&gt;alert(1)&lt;/script&gt;",
		"&lt;ordered&gt;",
		"slope -0.49 &amp; fine",
		"critical σ²_w at σ²_b = 0.05", "1.76",
		"<style>",
	} {
		if !strings.Contains(html, want) {
			t.Errorf("index.html lacks %q", want)
		}
	}
	for _, bad := range []string{"<script>", `<img src="dynamics.png"`, "<link", "http://", "https://"} {
		if strings.Contains(html, bad) {
			t.Errorf("index.html contains %q", bad)
		}
	}
	// Every linked local file exists.
	for _, m := range regexp.MustCompile(`(?:src|href)="([^"#]+)"`).FindAllStringSubmatch(html, -1) {
		if _, err := os.Stat(filepath.Join(dir, m[1])); err != nil {
			t.Errorf("index.html links %q, which does not exist", m[1])
		}
	}
	// The page is well-formed enough for an XML tokenizer once the
	// doctype and void elements are accounted for.
	dec := xml.NewDecoder(strings.NewReader(html))
	dec.Strict = false
	dec.AutoClose = xml.HTMLAutoClose
	dec.Entity = xml.HTMLEntity
	for {
		if _, err := dec.Token(); err != nil {
			if err.Error() != "EOF" {
				t.Errorf("index.html does not tokenize: %v", err)
			}
			break
		}
	}
}

func TestWriteReportErrors(t *testing.T) {
	cases := []struct {
		name string
		r    Report
		want string
	}{
		{"path in name", Report{Figures: []ReportFigure{{Name: "../x"}}}, "plain name"},
		{"empty name", Report{Figures: []ReportFigure{{Title: "t"}}}, "plain name"},
		{"duplicate", Report{Figures: []ReportFigure{{Name: "a"}, {Name: "a"}}}, "listed twice"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			err := WriteReport(dir, c.r)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want one containing %q", err, c.want)
			}
			if _, err := os.Stat(filepath.Join(dir, "index.html")); err == nil {
				t.Error("index.html written despite the error")
			}
		})
	}
}

func ExampleWriteReport() {
	dir, err := os.MkdirTemp("", "plots-report")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)

	fig := Figure{Rows: 1, Cols: 1, Panels: []Panel{{
		Title: "loss", XLabel: "step", YLabel: "loss", LogX: true,
		Series: []Series{{Label: "prediction", X: []float64{1, 10, 100}, Y: []float64{1, 0.5, 0.1}}},
	}}}
	if err := Save(fig, dir, "dynamics"); err != nil {
		fmt.Println(err)
		return
	}
	err = WriteReport(dir, Report{
		Title: "ntkharness run",
		Figures: []ReportFigure{{Name: "dynamics", Title: "Training dynamics",
			Theory: "Linearized GD predicts the loss curve.", Observed: "Wide networks follow it.",
			Numbers: []KeyNumber{{Name: "final loss", Value: "0.1", Note: "t = 100"}}}},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		fmt.Println(e.Name())
	}
	// Output:
	// dynamics.csv
	// dynamics.json
	// dynamics.pdf
	// dynamics.png
	// dynamics.svg
	// index.html
}
