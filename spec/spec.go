package spec

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"strings"
)

// Architectures.
const (
	FCN    = "fcn"
	CNNF   = "cnn-f"
	CNNGAP = "cnn-gap"
)

// Activations with built-in support.
const (
	Erf  = "erf"
	ReLU = "relu"
	Tanh = "tanh"
)

// Padding modes of convolutions.
const (
	Same  = "SAME"
	Valid = "VALID"
)

// Data types of the finite networks. Kernels are always float64.
const (
	Float64 = "float64"
	Float32 = "float32"
)

// Archs lists the supported architectures.
var Archs = []string{FCN, CNNF, CNNGAP}

// Acts lists the supported activations. Each has one description (phi,
// phi' and its kernel maps) in package activation, in this order.
var Acts = []string{Erf, ReLU, Tanh}

// Spec describes one network architecture and its initialization variances.
type Spec struct {
	Arch    string  `json:"arch"`              // fcn, cnn-f or cnn-gap
	Act     string  `json:"act"`               // erf, relu or tanh
	Depth   int     `json:"depth"`             // number of nonlinearities, >= 1
	Width   int     `json:"width,omitempty"`   // hidden units (fcn) or channels (cnn); 0 for theory only
	SW2     float64 `json:"sw2"`               // weight variance sigma_w^2 > 0
	SB2     float64 `json:"sb2"`               // bias variance sigma_b^2 >= 0
	Filter  int     `json:"filter,omitempty"`  // conv filter size f (f x f), cnn only; default 3
	Padding string  `json:"padding,omitempty"` // SAME (default) or VALID, cnn only
	Outputs int     `json:"outputs,omitempty"` // logits k of the readout; default 10
	DType   string  `json:"dtype,omitempty"`   // float64 (default) or float32, finite networks only
}

// Defaults used by WithDefaults.
const (
	DefaultFilter  = 3
	DefaultOutputs = 10
)

// WithDefaults returns s with empty optional fields set to their defaults.
func (s Spec) WithDefaults() Spec {
	if s.IsConv() {
		if s.Filter == 0 {
			s.Filter = DefaultFilter
		}
		if s.Padding == "" {
			s.Padding = Same
		}
	}
	if s.Outputs == 0 {
		s.Outputs = DefaultOutputs
	}
	if s.DType == "" {
		s.DType = Float64
	}
	return s
}

// IsConv reports whether the architecture is convolutional.
func (s Spec) IsConv() bool { return s.Arch == CNNF || s.Arch == CNNGAP }

// Validate checks s for values no network or kernel can have. It does not
// require Width, so a theory-only Spec is valid; see ValidateFinite.
func (s Spec) Validate() error {
	if !contains(Archs, s.Arch) {
		return fmt.Errorf("spec: unknown arch %q (want one of %s)", s.Arch, strings.Join(Archs, ", "))
	}
	if !contains(Acts, s.Act) {
		return fmt.Errorf("spec: unknown activation %q (want one of %s)", s.Act, strings.Join(Acts, ", "))
	}
	if s.Depth < 1 {
		return fmt.Errorf("spec: depth %d: must be at least 1 (the number of nonlinearities)", s.Depth)
	}
	if math.IsNaN(s.SW2) || math.IsInf(s.SW2, 0) || s.SW2 <= 0 {
		return fmt.Errorf("spec: sw2 %v: must be finite and positive", s.SW2)
	}
	if math.IsNaN(s.SB2) || math.IsInf(s.SB2, 0) || s.SB2 < 0 {
		return fmt.Errorf("spec: sb2 %v: must be finite and non-negative", s.SB2)
	}
	if s.Width < 0 {
		return fmt.Errorf("spec: width %d: must be positive", s.Width)
	}
	if s.Outputs < 0 {
		return fmt.Errorf("spec: outputs %d: must be positive", s.Outputs)
	}
	if s.IsConv() {
		if s.Filter < 0 || (s.Filter > 0 && s.Filter%2 == 0) {
			return fmt.Errorf("spec: filter %d: must be a positive odd number", s.Filter)
		}
		if s.Padding != "" && s.Padding != Same && s.Padding != Valid {
			return fmt.Errorf("spec: padding %q: want SAME or VALID", s.Padding)
		}
	} else {
		if s.Filter != 0 && s.Filter != DefaultFilter {
			return fmt.Errorf("spec: filter %d given for arch %s, which has no convolutions", s.Filter, s.Arch)
		}
	}
	if s.DType != "" && s.DType != Float64 && s.DType != Float32 {
		return fmt.Errorf("spec: dtype %q: want float64 or float32", s.DType)
	}
	return nil
}

// ValidateFinite is Validate plus the fields a finite network needs.
func (s Spec) ValidateFinite() error {
	if err := s.Validate(); err != nil {
		return err
	}
	if s.Width < 1 {
		return fmt.Errorf("spec: width %d: a finite network needs width >= 1", s.Width)
	}
	return nil
}

// Load reads a JSON Spec from path and validates it.
func Load(path string) (Spec, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Spec{}, err
	}
	var s Spec
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return Spec{}, fmt.Errorf("%s: %v", path, err)
	}
	// One object per file: a second one (or any other trailing text) would
	// otherwise be ignored silently.
	if tok, err := dec.Token(); err != io.EOF {
		if err != nil {
			return Spec{}, fmt.Errorf("%s: trailing content after the spec object: %v", path, err)
		}
		return Spec{}, fmt.Errorf("%s: trailing content after the spec object (starting with %v): a spec file holds one JSON object", path, tok)
	}
	if err := s.Validate(); err != nil {
		return Spec{}, fmt.Errorf("%s: %v", path, err)
	}
	return s, nil
}

// Save writes s as indented JSON to path.
func (s Spec) Save(path string) error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}
