package cells

import (
	"math"

	"github.com/ntkharness/ntkharness/datasets"
	"github.com/ntkharness/ntkharness/experiments/sweep"
	"github.com/ntkharness/ntkharness/linalg"
	"github.com/ntkharness/ntkharness/nets"
	"github.com/ntkharness/ntkharness/spec"
)

// Rates of the cost models on one core, measured with each backend: a
// training step's FLOPs (a width-512 fcn on 256 MNIST points ran 4096
// steps in 98 CPU-seconds with OpenBLAS, 27 GFLOP/s), the same for
// networks trained as one ensemble, counted as nets.StepFLOPs (small
// matrices, where the activations cost as much as the products: 48
// width-64 fcns on 64 points ran 8 GFLOP per CPU-second at depth 32 and
// 17 at depth 1, 8 64-channel cnns on 40 7x7 images 16, counting three
// forward passes a step, about 7, 11 and 14 in step FLOPs; wide ones: the
// paper trainability sweep's groups of 11 width-512 fcns on 256 MNIST
// points, 4096 steps, ran 33.5 GFLOP per CPU-second in float64 at depth 1
// (563 CPU-seconds) and 61.6 and 60.9 in float32 at depths 1 and 4 (307
// and 1204), on a shared machine; pure Go is taken at the ratio of the
// rates above), the analytic kernel's entry-layer updates (fcn; a conv
// layer costs f^2 per pixel pair it tracks), and eigendecompositions and
// solves.
const (
	costKernelRate   = 8e7     // entry-layer updates per second
	costBytesPerWord = 8       // float64
	costProcess      = 1 << 26 // the process itself (64 MiB)
)

var costTrainFLOPs, costLinalgFLOPs, costEnsembleFLOPs, costWideEnsembleFLOPs = 4e9, 3e9, 1.4e9, 5.3e9 // pure Go

// costFloat32Speedup is the throughput of a float32 ensemble over a
// float64 one (BenchmarkEnsembleStepFCN32F32 and FCN512F32: 1.75-1.89 with
// OpenBLAS, 1.69-1.72 in pure Go; the depth-1 paper group above: 1.84).
var costFloat32Speedup = 1.7

func init() {
	if linalg.Backend() == "openblas" {
		costTrainFLOPs, costLinalgFLOPs, costEnsembleFLOPs, costWideEnsembleFLOPs = 25e9, 25e9, 8.5e9, 33e9
		costFloat32Speedup = 1.8
	}
}

// memory is the memory of d's whole data set kept as bytes (both splits,
// for the life of the process; a cell decodes only its subset, counted by
// the callers) plus the process itself. CIFAR-10 holds its file records
// and the channels-last bytes at once while it loads; MNIST's bytes are
// the file's.
func (d DataSettings) memory() int64 {
	if d.Dataset == datasets.MNIST {
		return 70000*28*28 + costProcess
	}
	return 2*60000*32*32*3 + costProcess
}

// inputShape is the shape of one example of d for architecture arch,
// without loading the data (a fallback from CIFAR-10 to MNIST is not seen).
func (d DataSettings) InputShape(arch string) []int {
	h, c := 32, 3
	if d.Dataset == datasets.MNIST {
		h, c = 28, 1
	}
	if d.Grayscale {
		c = 1
	}
	h /= max(d.Downsample, 1)
	if arch == spec.FCN {
		return []int{h * h * c}
	}
	return []int{h, h, c}
}

// kernelCost is the time and memory of the analytic NTK of s on n inputs.
func kernelCost(s spec.Spec, inShape []int, n int) (seconds float64, bytes int64) {
	pairs := float64(n) * float64(n)
	per := 1.0
	if s.IsConv() {
		pix := float64(inShape[0] * inShape[1])
		f2 := float64(s.Filter * s.Filter)
		per = pix * f2
		if s.Arch == spec.CNNGAP {
			per = pix * pix * f2
		}
	}
	seconds = pairs*per*float64(s.Depth)/costKernelRate + 10*pairs*float64(n)/costLinalgFLOPs
	return seconds, int64(4 * pairs * costBytesPerWord)
}

// KernelSeconds estimates the CPU time on one core of the analytic NNGP and
// NTK of s between n1 and n2 examples of shape inShape ([d] for fcn, else
// [H, W, C]); n2 = 0 is the symmetric kernel of the n1 examples, of which
// only a triangle is computed. The commands use it to warn about and refuse
// plans that take too long before they start.
func KernelSeconds(s spec.Spec, inShape []int, n1, n2 int) float64 {
	s = s.WithDefaults()
	pairs := float64(n1) * float64(n2)
	if n2 == 0 {
		pairs = float64(n1) * float64(n1+1) / 2
	}
	per := 1.0
	if s.IsConv() && len(inShape) == 3 {
		pix := float64(inShape[0] * inShape[1])
		f2 := float64(s.Filter * s.Filter)
		per = pix * f2
		if s.Arch == spec.CNNGAP {
			per = pix * pix * f2
		}
	}
	return pairs * per * float64(s.Depth) / costKernelRate
}

// NTKSeconds estimates the CPU time on one core of the empirical NTK of
// samples networks of spec s between n1 and n2 examples (n2 = 0: the n1
// examples with themselves), as the ntk cells' cost model does: per
// network one forward pass and one reverse pass of the k logits together
// (about k forward passes) per example, and the contractions.
func NTKSeconds(s spec.Spec, inShape []int, n1, n2, samples int) float64 {
	s = s.WithDefaults()
	flops, err := nets.ForwardFLOPs(s, inShape)
	if err != nil || len(inShape) == 0 {
		return 0
	}
	n := float64(n1 + n2)
	m := float64(n1) * float64(max(n1, n2))
	k := float64(s.Outputs)
	return float64(samples) * ((1+k)*flops*n + k*flops*m/float64(max(inShape[0], 1))) / costTrainFLOPs
}

// TrainSeconds estimates the CPU time on one core of steps full-batch
// gradient-descent steps of a network of spec s on n examples (evaluation
// of nTest test examples included), as the train cells' cost model does.
func TrainSeconds(s spec.Spec, inShape []int, n, nTest, steps int) float64 {
	s = s.WithDefaults()
	flops, err := nets.ForwardFLOPs(s, inShape)
	if err != nil {
		return 0
	}
	evals := math.Log2(float64(steps)+1) + 2 // the logged steps 0, 1, 2, 4, ... and the last
	return (3*flops*float64(n)*float64(steps) + flops*float64(n+nTest)*evals) / costTrainFLOPs
}

// cellNetCost decodes c's settings into st, whose embedded DataSettings d
// is, and returns the example shape, the forward FLOPs per example and the
// training memory (batches of at most 256) of c's network; ok is false when
// the cell cannot be costed.
func cellNetCost(c sweep.Cell, st any, d *DataSettings) (in []int, flops float64, mem int64, ok bool) {
	if c.SpecErr != nil || c.DecodeSettings(st) != nil {
		return nil, 0, 0, false
	}
	in = d.InputShape(c.Spec.Arch)
	flops, err := nets.ForwardFLOPs(c.Spec, in)
	if err != nil {
		return nil, 0, 0, false
	}
	mem, err = nets.MemoryEstimate(c.Spec, in, min(d.NTrain, 256))
	return in, flops, mem, err == nil
}
