package spec

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestValidate(t *testing.T) {
	ok := Spec{Arch: FCN, Act: Erf, Depth: 3, SW2: 1.5, SB2: 0.05}
	tests := []struct {
		name string
		edit func(*Spec)
		want string // "" means valid
	}{
		{"theory-only fcn", func(s *Spec) {}, ""},
		{"cnn with defaults", func(s *Spec) { s.Arch = CNNGAP }, ""},
		{"unknown arch", func(s *Spec) { s.Arch = "resnet" }, `unknown arch "resnet"`},
		{"unknown act", func(s *Spec) { s.Act = "gelu" }, `unknown activation "gelu"`},
		{"depth 0", func(s *Spec) { s.Depth = 0 }, "depth 0"},
		{"sw2 zero", func(s *Spec) { s.SW2 = 0 }, "sw2 0"},
		{"sw2 NaN", func(s *Spec) { s.SW2 = math.NaN() }, "sw2 NaN"},
		{"sb2 negative", func(s *Spec) { s.SB2 = -0.1 }, "sb2 -0.1"},
		{"sb2 Inf", func(s *Spec) { s.SB2 = math.Inf(1) }, "sb2 +Inf"},
		{"even filter", func(s *Spec) { s.Arch = CNNF; s.Filter = 4 }, "filter 4"},
		{"filter on fcn", func(s *Spec) { s.Filter = 5 }, "no convolutions"},
		{"bad padding", func(s *Spec) { s.Arch = CNNF; s.Padding = "FULL" }, `padding "FULL"`},
		{"bad dtype", func(s *Spec) { s.DType = "float16" }, `dtype "float16"`},
	}
	for _, tt := range tests {
		s := ok
		tt.edit(&s)
		err := s.Validate()
		if tt.want == "" && err != nil || tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
			t.Errorf("%s: got %v, want %q", tt.name, err, tt.want)
		}
	}
	if err := ok.ValidateFinite(); err == nil || !strings.Contains(err.Error(), "width 0") {
		t.Errorf("ValidateFinite without width: %v", err)
	}
}

func TestDefaultsAndRoundTrip(t *testing.T) {
	s := Spec{Arch: CNNF, Act: ReLU, Depth: 2, Width: 8, SW2: 2, SB2: 0}.WithDefaults()
	if s.Filter != 3 || s.Padding != Same || s.Outputs != 10 || s.DType != Float64 {
		t.Errorf("defaults not applied: %+v", s)
	}
	path := filepath.Join(t.TempDir(), "spec.json")
	if err := s.Save(path); err != nil {
		t.Fatal(err)
	}
	back, err := Load(path)
	if err != nil || back != s {
		t.Errorf("round trip: %+v, %v; want %+v", back, err, s)
	}
	os.WriteFile(path, []byte(`{"arch":"fcn","act":"erf","depth":1,"sw2":1,"sb2":0,"widht":3}`), 0o644)
	if _, err := Load(path); err == nil || !strings.Contains(err.Error(), "widht") {
		t.Errorf("misspelt field accepted: %v", err)
	}
}
