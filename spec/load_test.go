package spec

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadTrailingContent(t *testing.T) {
	one := `{"arch": "fcn", "act": "erf", "depth": 2, "sw2": 1.5, "sb2": 0.05}`
	tests := []struct {
		name, text, err string
	}{
		{"one object", one + "\n\n", ""},
		{"two objects", one + "\n" + `{"arch": "cnn-gap", "act": "relu", "depth": 9, "sw2": 2, "sb2": 0}`, "trailing content"},
		{"text", one + " extra", "trailing content"},
		{"bracket", one + "]", "trailing content"},
	}
	for _, tt := range tests {
		path := filepath.Join(t.TempDir(), "spec.json")
		if err := os.WriteFile(path, []byte(tt.text), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := Load(path)
		if tt.err == "" && err != nil || tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err) || !strings.Contains(err.Error(), path)) {
			t.Errorf("%s: Load = %v, want %q", tt.name, err, tt.err)
		}
	}
}
