package nets

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/ntkharness/ntkharness/internal/atomicfile"
	"github.com/ntkharness/ntkharness/npy"
	"github.com/ntkharness/ntkharness/spec"
)

// File names inside a parameter folder.
const (
	SpecFile  = "spec.json"  // the spec.Spec
	InputFile = "input.json" // {"input_shape": [...]}, the shape of one example
)

type inputInfo struct {
	InputShape []int `json:"input_shape"`
}

// Save writes the network to dir (created if needed): spec.json,
// input.json and one NAME.npy per parameter, each file written atomically.
func (n *Net) Save(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := atomicfile.WriteJSON(filepath.Join(dir, SpecFile), n.spec); err != nil {
		return err
	}
	if err := atomicfile.WriteJSON(filepath.Join(dir, InputFile), inputInfo{n.inShape}); err != nil {
		return err
	}
	for _, p := range n.params {
		a := npy.Array{Shape: p.Shape, Data: p.Data}
		if err := npy.Save(filepath.Join(dir, p.Name+".npy"), a); err != nil {
			return err
		}
	}
	return nil
}

// Load reads a network written by Save, checking every parameter's shape
// against the spec.
func Load(dir string) (*Net, error) {
	s, err := spec.Load(filepath.Join(dir, SpecFile))
	if err != nil {
		return nil, fmt.Errorf("nets: loading %s: %v", dir, err)
	}
	b, err := os.ReadFile(filepath.Join(dir, InputFile))
	if err != nil {
		return nil, fmt.Errorf("nets: loading %s: %v", dir, err)
	}
	var info inputInfo
	if err := json.Unmarshal(b, &info); err != nil {
		return nil, fmt.Errorf("nets: %s: %v", filepath.Join(dir, InputFile), err)
	}
	n, err := newNet(s, info.InputShape)
	if err != nil {
		return nil, fmt.Errorf("nets: loading %s: %v", dir, err)
	}
	if err := n.LoadParams(dir); err != nil {
		return nil, err
	}
	return n, nil
}

// LoadParams replaces the parameters with the NAME.npy files in dir, which
// must have the shapes of Params() (rounded to float32 for a float32 Net).
func (n *Net) LoadParams(dir string) error {
	for _, p := range n.params {
		path := filepath.Join(dir, p.Name+".npy")
		a, err := npy.Load(path)
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("nets: parameter file %s is missing", path)
			}
			return fmt.Errorf("nets: %v", err)
		}
		if !slices.Equal(a.Shape, p.Shape) {
			return fmt.Errorf("nets: %s has shape %v, the spec needs %v", path, a.Shape, p.Shape)
		}
		copy(p.Data, a.Data)
	}
	n.roundParams()
	return nil
}
