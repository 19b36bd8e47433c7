package sweep

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/ntkharness/ntkharness/npy"
	"github.com/ntkharness/ntkharness/spec"
)

// CellFormat names the layout of cell result files.
const CellFormat = "ntkharness-sweep-cell/1"

// Record is the content of one cell's result file.
type Record struct {
	Format  string                `json:"format"`
	Sweep   string                `json:"sweep"` // the sweep's Hash
	Index   int                   `json:"index"`
	Params  map[string]any        `json:"params"`
	Spec    spec.Spec             `json:"spec"`
	Seed    int64                 `json:"seed"`
	Status  Status                `json:"status"`
	Reason  string                `json:"reason,omitempty"`
	Results map[string]KindRecord `json:"results"`
	Started time.Time             `json:"started"`
	Seconds float64               `json:"seconds"`
	Host    string                `json:"host,omitempty"`
	// Group is the number of cells computed together with this one (as
	// one group, see Group), 0 when it was computed alone; Seconds is
	// then its share of the group's time.
	Group int `json:"group,omitempty"`
}

// KindRecord is one kind's part of a Record.
type KindRecord struct {
	Status  Status                `json:"status"`
	Reason  string                `json:"reason,omitempty"`
	Seconds float64               `json:"seconds"`
	Scalars map[string]Float      `json:"scalars,omitempty"`
	Arrays  map[string]ArrayValue `json:"arrays,omitempty"`
}

// Float is a float64 whose JSON form also carries NaN and ±Inf, as the
// strings "NaN", "+Inf" and "-Inf" (a diverged loss must survive a file).
type Float float64

// MarshalJSON writes finite values as numbers and others as strings.
func (f Float) MarshalJSON() ([]byte, error) {
	v := float64(f)
	switch {
	case math.IsNaN(v):
		return []byte(`"NaN"`), nil
	case math.IsInf(v, 1):
		return []byte(`"+Inf"`), nil
	case math.IsInf(v, -1):
		return []byte(`"-Inf"`), nil
	}
	return strconv.AppendFloat(nil, v, 'g', -1, 64), nil
}

// UnmarshalJSON reads a number or one of "NaN", "+Inf", "Inf", "-Inf".
func (f *Float) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		switch s {
		case "NaN":
			*f = Float(math.NaN())
		case "+Inf", "Inf":
			*f = Float(math.Inf(1))
		case "-Inf":
			*f = Float(math.Inf(-1))
		default:
			return fmt.Errorf("number %q: want a number, NaN, +Inf or -Inf", s)
		}
		return nil
	}
	v, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		return fmt.Errorf("number %s: %v", b, err)
	}
	*f = Float(v)
	return nil
}

// ArrayValue is an array in a result file: its shape and row-major data.
type ArrayValue struct {
	Shape []int   `json:"shape"`
	Data  []Float `json:"data"`
}

// fileValues converts named scalars and arrays to their file form (nil
// for an empty map, so that it is left out).
func fileValues(scalars map[string]float64, arrays map[string]npy.Array) (map[string]Float, map[string]ArrayValue) {
	var fs map[string]Float
	var as map[string]ArrayValue
	if len(scalars) > 0 {
		fs = make(map[string]Float, len(scalars))
		for k, v := range scalars {
			fs[k] = Float(v)
		}
	}
	if len(arrays) > 0 {
		as = make(map[string]ArrayValue, len(arrays))
		for k, a := range arrays {
			as[k] = toArrayValue(a)
		}
	}
	return fs, as
}

func toArrayValue(a npy.Array) ArrayValue {
	d := make([]Float, len(a.Data))
	for i, v := range a.Data {
		d[i] = Float(v)
	}
	return ArrayValue{Shape: append([]int(nil), a.Shape...), Data: d}
}

// Array converts back to an npy.Array.
func (a ArrayValue) Array() npy.Array {
	d := make([]float64, len(a.Data))
	for i, v := range a.Data {
		d[i] = float64(v)
	}
	return npy.Array{Shape: append([]int(nil), a.Shape...), Data: d}
}

// envelope is the file layout: the record's bytes and their SHA-256, so that
// a truncated, partially copied or edited file is detected.
type envelope struct {
	SHA256 string          `json:"sha256"`
	Cell   json.RawMessage `json:"cell"`
}

// encodeRecord returns the file bytes of r.
func encodeRecord(r *Record) ([]byte, error) {
	body, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(body)
	var b bytes.Buffer
	fmt.Fprintf(&b, "{\"sha256\": %q,\n\"cell\": ", hex.EncodeToString(sum[:]))
	b.Write(body)
	b.WriteString("}\n")
	return b.Bytes(), nil
}

// decodeRecord parses file bytes and checks the checksum, the format, and
// that the record belongs to the given sweep hash and index.
func decodeRecord(b []byte, hash string, index int) (*Record, error) {
	var env envelope
	if err := json.Unmarshal(b, &env); err != nil {
		return nil, fmt.Errorf("not a valid cell file: %v", err)
	}
	if len(env.Cell) == 0 {
		return nil, errors.New("not a valid cell file: no cell")
	}
	sum := sha256.Sum256(env.Cell)
	if hex.EncodeToString(sum[:]) != env.SHA256 {
		return nil, errors.New("checksum mismatch (file truncated or modified)")
	}
	var r Record
	if err := json.Unmarshal(env.Cell, &r); err != nil {
		return nil, fmt.Errorf("cell record: %v", err)
	}
	switch {
	case r.Format != CellFormat:
		return nil, fmt.Errorf("format %q, want %q", r.Format, CellFormat)
	case r.Sweep != hash:
		return nil, fmt.Errorf("belongs to sweep %s, not %s", r.Sweep, hash)
	case r.Index != index:
		return nil, fmt.Errorf("holds cell %d, not %d", r.Index, index)
	}
	switch r.Status {
	case StatusOK, StatusDiverged, StatusFailed:
	default:
		return nil, fmt.Errorf("status %q is not ok, diverged or failed", r.Status)
	}
	return &r, nil
}

// CellPath returns the result file of cell i under the results root.
func (s *Sweep) CellPath(root string, i int) string {
	return filepath.Join(s.Dir(root), "cells", fmt.Sprintf("%06d.json", i))
}

// Dir returns the sweep's folder under the results root: root/<hash>.
func (s *Sweep) Dir(root string) string { return filepath.Join(root, s.hash) }

// ReadCell reads and checks cell i's result file under root. A missing file
// gives an error satisfying errors.Is(err, os.ErrNotExist).
func (s *Sweep) ReadCell(root string, i int) (*Record, error) {
	path := s.CellPath(root, i)
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	r, err := decodeRecord(b, s.hash, i)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	return r, nil
}
