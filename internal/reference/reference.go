package reference

import (
	_ "embed"
	"encoding/json"
	"fmt"
)

//go:embed kernels.json
var kernelsJSON []byte

// KernelCase is one reference kernel: a network, its inputs (flattened
// row-major with their shapes; X2 empty means x2 = x1) and the expected
// kernels, rows x1 and columns x2.
type KernelCase struct {
	Arch    string      `json:"arch"`
	Act     string      `json:"act"`
	Depth   int         `json:"depth"`
	SW2     float64     `json:"sw2"`
	SB2     float64     `json:"sb2"`
	Filter  int         `json:"filter"`
	Padding string      `json:"padding"`
	X1Shape []int       `json:"x1_shape"`
	X1      []float64   `json:"x1"`
	X2Shape []int       `json:"x2_shape"`
	X2      []float64   `json:"x2"`
	NNGP    [][]float64 `json:"nngp"`
	NTK     [][]float64 `json:"ntk"`
}

// KernelCases returns every reference kernel case.
func KernelCases() ([]KernelCase, error) {
	var f struct{ Cases []KernelCase }
	if err := json.Unmarshal(kernelsJSON, &f); err != nil {
		return nil, fmt.Errorf("reference kernels: %v", err)
	}
	if len(f.Cases) == 0 {
		return nil, fmt.Errorf("reference kernels: no cases")
	}
	return f.Cases, nil
}

//go:embed predictions.json
var predictionsJSON []byte

// PredictionCase is the reference of the gradient-descent predictions: a
// 5-point training / 2-point test NTK with k = 3 outputs, step eta = 0.5
// eta_crit, and the train and test outputs under gradient flow and
// discrete steps at each of Times, starting from zero outputs.
type PredictionCase struct {
	NTKTrain  [][]float64 `json:"ntk_train_train"`
	NTKTest   [][]float64 `json:"ntk_test_train"`
	Y         [][]float64 `json:"y_train"`
	Eta       float64     `json:"eta"`
	TestAtInf [][]float64 `json:"test_at_infinity"`
	Times     []struct {
		T          float64     `json:"t"`
		FlowTrain  [][]float64 `json:"flow_train"`
		FlowTest   [][]float64 `json:"flow_test"`
		StepsTrain [][]float64 `json:"steps_train"`
		StepsTest  [][]float64 `json:"steps_test"`
	} `json:"times"`
}

// Predictions returns the reference predictions.
func Predictions() (PredictionCase, error) {
	var p PredictionCase
	if err := json.Unmarshal(predictionsJSON, &p); err != nil {
		return p, fmt.Errorf("reference predictions: %v", err)
	}
	if len(p.Times) == 0 {
		return p, fmt.Errorf("reference predictions: no times")
	}
	return p, nil
}
