package sweep

import (
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"

	"github.com/ntkharness/ntkharness/npy"
)

// Table is a sweep's results, one row per cell in index order, including
// cells that have no valid result (status missing).
type Table struct {
	Sweep  string   // the sweep's Hash
	Name   string   // the sweep's name
	Params []string // axis names, slowest first
	// Columns lists the scalar result columns "kind.name", sorted.
	Columns []string
	Rows    []Row
}

// Row is one cell of a Table.
type Row struct {
	Index   int
	Params  map[string]any // axis name -> value (float64, string or bool)
	Status  Status         // ok, diverged, failed or missing
	Reason  string         // why failed, diverged or missing
	Seconds float64        // compute time of the cell (0 when missing)
	// Values holds the scalar results by column name "kind.name".
	Values map[string]float64
	// Arrays holds the array results by "kind.name".
	Arrays map[string]npy.Array
}

// Value returns the named scalar result and whether the row has it.
func (r Row) Value(column string) (float64, bool) {
	v, ok := r.Values[column]
	return v, ok
}

// Counts returns the number of rows per status.
func (t Table) Counts() map[Status]int {
	m := map[Status]int{}
	for _, r := range t.Rows {
		m[r.Status]++
	}
	return m
}

// Gather assembles whatever cells of s exist under the results root into a
// table. Cells without a file, or with an invalid one, are rows with status
// missing (Reason says which); it is an error only if the results cannot be
// read at all.
func Gather(s *Sweep, root string) (Table, error) {
	t := Table{Sweep: s.hash, Name: s.Name, Params: s.Axes(), Rows: make([]Row, s.n)}
	if _, err := os.Stat(root); err != nil {
		return t, fmt.Errorf("sweep: results folder: %v", err)
	}
	cols := map[string]bool{}
	for i := range s.n {
		c := s.Cell(i)
		row := Row{Index: i, Params: c.ParamMap(), Status: StatusMissing}
		r, err := s.ReadCell(root, i)
		switch {
		case errors.Is(err, os.ErrNotExist):
			row.Reason = "no result file"
		case err != nil:
			row.Reason = "invalid result file: " + err.Error()
		default:
			row.Status, row.Reason, row.Seconds = r.Status, r.Reason, r.Seconds
			for kind, kr := range r.Results {
				for name, v := range kr.Scalars {
					if row.Values == nil {
						row.Values = map[string]float64{}
					}
					col := kind + "." + name
					row.Values[col] = float64(v)
					cols[col] = true
				}
				for name, a := range kr.Arrays {
					if row.Arrays == nil {
						row.Arrays = map[string]npy.Array{}
					}
					row.Arrays[kind+"."+name] = a.Array()
				}
			}
		}
		t.Rows[i] = row
	}
	for c := range cols {
		t.Columns = append(t.Columns, c)
	}
	sort.Strings(t.Columns)
	return t, nil
}

// WriteCSV writes the table with the header
// index, <axes...>, status, reason, seconds, <columns...>; a result the cell
// does not have is an empty field, non-finite numbers are NaN, +Inf, -Inf.
func (t Table) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	head := append([]string{"index"}, t.Params...)
	head = append(head, "status", "reason", "seconds")
	head = append(head, t.Columns...)
	if err := cw.Write(head); err != nil {
		return err
	}
	for _, r := range t.Rows {
		rec := []string{strconv.Itoa(r.Index)}
		for _, p := range t.Params {
			rec = append(rec, formatValue(r.Params[p]))
		}
		rec = append(rec, string(r.Status), r.Reason, strconv.FormatFloat(r.Seconds, 'g', 6, 64))
		for _, c := range t.Columns {
			if v, ok := r.Values[c]; ok {
				rec = append(rec, strconv.FormatFloat(v, 'g', -1, 64))
			} else {
				rec = append(rec, "")
			}
		}
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

func formatValue(v any) string {
	switch x := v.(type) {
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	case nil:
		return ""
	default:
		return fmt.Sprint(x)
	}
}

type tableJSON struct {
	Sweep   string    `json:"sweep"`
	Name    string    `json:"name,omitempty"`
	Params  []string  `json:"params"`
	Columns []string  `json:"columns"`
	Rows    []rowJSON `json:"rows"`
}

type rowJSON struct {
	Index   int                   `json:"index"`
	Params  map[string]any        `json:"params"`
	Status  Status                `json:"status"`
	Reason  string                `json:"reason,omitempty"`
	Seconds float64               `json:"seconds"`
	Values  map[string]Float      `json:"values,omitempty"`
	Arrays  map[string]ArrayValue `json:"arrays,omitempty"`
}

// WriteJSON writes the table as JSON, arrays included; non-finite numbers
// are the strings "NaN", "+Inf" and "-Inf". ReadTable reads it back.
func (t Table) WriteJSON(w io.Writer) error {
	out := tableJSON{Sweep: t.Sweep, Name: t.Name, Params: t.Params, Columns: t.Columns, Rows: make([]rowJSON, len(t.Rows))}
	if out.Columns == nil {
		out.Columns = []string{}
	}
	for i, r := range t.Rows {
		jr := rowJSON{Index: r.Index, Params: r.Params, Status: r.Status, Reason: r.Reason, Seconds: r.Seconds}
		jr.Values, jr.Arrays = fileValues(r.Values, r.Arrays)
		out.Rows[i] = jr
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", " ")
	return enc.Encode(out)
}

// ReadTable reads a table written by WriteJSON.
func ReadTable(r io.Reader) (Table, error) {
	var in tableJSON
	dec := json.NewDecoder(r)
	if err := dec.Decode(&in); err != nil {
		return Table{}, fmt.Errorf("sweep table: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return Table{}, errors.New("sweep table: trailing content after the table object")
	}
	t := Table{Sweep: in.Sweep, Name: in.Name, Params: in.Params, Columns: in.Columns, Rows: make([]Row, len(in.Rows))}
	for i, jr := range in.Rows {
		r := Row{Index: jr.Index, Params: jr.Params, Status: jr.Status, Reason: jr.Reason, Seconds: jr.Seconds}
		if len(jr.Values) > 0 {
			r.Values = make(map[string]float64, len(jr.Values))
			for k, v := range jr.Values {
				r.Values[k] = float64(v)
			}
		}
		if len(jr.Arrays) > 0 {
			r.Arrays = make(map[string]npy.Array, len(jr.Arrays))
			for k, a := range jr.Arrays {
				r.Arrays[k] = a.Array()
			}
		}
		t.Rows[i] = r
	}
	return t, nil
}
