package main

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"gonum.org/v1/gonum/mat"

	"github.com/ntkharness/ntkharness/datasets"
	"github.com/ntkharness/ntkharness/experiments/cells"
	"github.com/ntkharness/ntkharness/internal/atomicfile"
	"github.com/ntkharness/ntkharness/internal/progress"
	"github.com/ntkharness/ntkharness/nets"
	"github.com/ntkharness/ntkharness/npy"
	"github.com/ntkharness/ntkharness/spec"
	"github.com/ntkharness/ntkharness/train"
)

func init() {
	register("train", "train a finite network by gradient descent and record its learning curves", runTrain)
}

const trainDescription = `
Train the network described by the architecture flags (or --spec) by
full-batch gradient descent (or minibatch SGD with --batch) on the mean
squared error (1/(2Nk)) sum (f - y)^2, in the NTK parameterization.

The data are a class-balanced seeded subset of MNIST (embedded) or CIFAR-10
(--data or $CIFAR10_DIR), standardized by the training subset's global mean
and standard deviation, with one-hot targets; or your own .npy arrays
(--x-train/--y-train/--x-test/--y-test; targets [N, k] or labels [N]).
Images are [N, H, W, C] channels last; the fcn flattens them.

The step is --lr, or --lr-factor times eta_crit = 2Nk/lambda_max with
lambda_max of the NTK on the training inputs (--lambda). Loss and accuracy
are recorded at steps 0, 1, 2, 4, ... and the last. A run whose loss becomes
NaN or 1e6 times its initial value stops and is reported as diverged (exit
status 0). Ctrl-C (or SIGTERM) stops after the current step, saves a
checkpoint and exits with status 1; --resume continues the run with the
checkpoint's data settings (data set, subset sizes, seed, centring, batch,
input files by content) and architecture: flags not given take the
recorded values, and flags that differ from them are refused.

Writes to --out: spec.json, history.json, history.csv and params/ (one .npy
per tensor, spec.json, input.json and the resumable state.json).`

// resumeFlags are the flags that choose a run's data; a checkpoint records
// them (Options.Settings), and a resumed run takes the recorded value of
// each flag not given and refuses a given one that differs. The input files
// are compared by content (their SHA-256), so a moved file is accepted and
// a changed one is not.
var resumeFlags = []string{"dataset", "data", "n-train", "n-test", "center", "seed", "batch", "x-train", "y-train", "x-test", "y-test"}

// resumeFileFlags are the resumeFlags naming input files, hashed by content.
var resumeFileFlags = map[string]bool{"x-train": true, "y-train": true, "x-test": true, "y-test": true}

// resumeLocationFlags are the resumeFlags naming locations: another one is
// accepted when what it holds is the same (compared by hash once read).
var resumeLocationFlags = map[string]bool{"data": true, "x-train": true, "y-train": true, "x-test": true, "y-test": true}

// adoptResumeFlags sets the data flags not given to the checkpoint's values
// and refuses given flags that differ from them.
func adoptResumeFlags(fs *flagSet, set map[string]bool, paramsDir string, h *train.History) error {
	ck := h.Settings
	if ck == nil {
		// A checkpoint from before the settings were recorded has its seed.
		ck = map[string]string{"seed": fmt.Sprint(h.Seed)}
	}
	for _, name := range resumeFlags {
		v, ok := ck[name]
		if !ok {
			continue
		}
		f := fs.Lookup(name)
		cur := f.Value.String()
		switch {
		case !set[name]:
			if err := f.Value.Set(v); err != nil {
				return fmt.Errorf("train: --resume: the checkpoint in %s records --%s %q: %v", paramsDir, name, v, err)
			}
		case resumeLocationFlags[name] && (cur == "") == (v == ""):
			// Compared by content once read.
		case cur != v:
			return usagef("train: --resume: the checkpoint in %s was made with --%s %s, not %s: continue it with the same settings, or start a new run in another --out", paramsDir, name, quoteEmpty(v), quoteEmpty(cur))
		}
	}
	return nil
}

func quoteEmpty(s string) string {
	if s == "" {
		return `""`
	}
	return s
}

// dataSettings records the data flags, the SHA-256 of each input file and
// of the data as loaded (after subsetting, standardization and targets).
func dataSettings(fs *flagSet, d train.Data) (map[string]string, error) {
	m := map[string]string{}
	for _, name := range resumeFlags {
		v := fs.Lookup(name).Value.String()
		m[name] = v
		if resumeFileFlags[name] && v != "" {
			sum, err := fileSHA256(v)
			if err != nil {
				return nil, err
			}
			m[name+".sha256"] = sum
		}
	}
	h := sha256.New()
	for _, a := range []npy.Array{d.XTrain, arrayOf(d.YTrain), d.XTest, arrayOf(d.YTest)} {
		hashArray(h, a)
	}
	m["data.sha256"] = hex.EncodeToString(h.Sum(nil))
	return m, nil
}

// checkResumeData refuses data whose hashes differ from the checkpoint's.
func checkResumeData(paramsDir string, ck, now map[string]string) error {
	if ck == nil {
		return nil
	}
	for _, name := range resumeFlags {
		if !resumeFileFlags[name] {
			continue
		}
		key := name + ".sha256"
		if ck[key] != "" && ck[key] != now[key] {
			return fmt.Errorf("train: --resume: --%s %s: its content differs from the file the checkpoint in %s was trained on", name, now[name], paramsDir)
		}
	}
	if ck["data.sha256"] != "" && ck["data.sha256"] != now["data.sha256"] {
		return fmt.Errorf("train: --resume: the data differ from those the checkpoint in %s was trained on (the data set files have changed)", paramsDir)
	}
	return nil
}

func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("%s: %v", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func arrayOf(m *mat.Dense) npy.Array {
	if m == nil {
		return npy.Array{}
	}
	r, c := m.Dims()
	a := npy.New(r, c)
	for i := 0; i < r; i++ {
		copy(a.Data[i*c:(i+1)*c], m.RawRowView(i))
	}
	return a
}

func hashArray(h io.Writer, a npy.Array) {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], uint64(len(a.Shape)))
	h.Write(b[:])
	for _, n := range a.Shape {
		binary.LittleEndian.PutUint64(b[:], uint64(n))
		h.Write(b[:])
	}
	buf := make([]byte, 0, 8<<10)
	for _, v := range a.Data {
		buf = binary.LittleEndian.AppendUint64(buf, math.Float64bits(v))
		if len(buf) == cap(buf) {
			h.Write(buf)
			buf = buf[:0]
		}
	}
	h.Write(buf)
}

func runTrain(args []string) error {
	fs := newFlags("train", "([--arch A] [--act F] --depth L --width W --sw2 V [--sb2 V] | --spec FILE) (--dataset D | --x-train F ...) --steps S (--lr-factor F | --lr E) --out DIR", trainDescription)
	arch := addArchFlags(fs, "train", true)
	dataset := fs.String("dataset", "", "dataset: mnist or cifar10 (or give --x-train/--y-train)")
	dataPath := fs.String("data", "", "dataset location: MNIST idx folder, or the cifar-10-batches-bin folder or archive (default: embedded MNIST, $CIFAR10_DIR)")
	nTrain := fs.Int("n-train", 256, "training examples (class-balanced subset of --dataset)")
	nTest := fs.Int("n-test", 256, "test examples (class-balanced subset of --dataset; 0 for none)")
	center := fs.Bool("center", false, "centre the one-hot targets (y - 1/k)")
	xTrain := fs.String("x-train", "", "training inputs .npy, [N, d] or [N, H, W, C]")
	yTrain := fs.String("y-train", "", "training targets .npy, [N, k], or labels [N]")
	xTest := fs.String("x-test", "", "test inputs .npy (optional)")
	yTest := fs.String("y-test", "", "test targets or labels .npy (with --x-test)")
	steps := fs.Int("steps", 1000, "gradient steps")
	lr := fs.Float64("lr", 0, "absolute learning rate eta (overrides --lr-factor)")
	lrFactor := fs.Float64("lr-factor", 0.5, "learning rate as a fraction of eta_crit = 2Nk/lambda_max")
	lambda := fs.String("lambda", "auto", "lambda_max for --lr-factor: analytic (infinite-width NTK), empirical (this network's NTK, power iteration) or auto (analytic, except large cnn-gap kernels)")
	batch := fs.Int("batch", 0, "minibatch size for SGD; 0 is full-batch gradient descent")
	seed := fs.Uint64("seed", 1, "seed of the initialization, the data subset and the batch order")
	resume := fs.Bool("resume", false, "continue the run checkpointed in --out, with its data settings and architecture (flags, if given, must match them)")
	out := fs.String("out", "", "output folder (required)")
	memLimit := fs.Float64("mem-limit", 16, "refuse plans whose estimated memory exceeds this many GiB")
	every := fs.Duration("checkpoint-every", time.Minute, "interval between checkpoints during the run (0: only at the end)")
	quiet := fs.Bool("quiet", false, "no progress bar")
	timeLimit := fs.Duration("time-limit", defaultTimeLimit, "refuse plans whose estimated run time exceeds this `duration` (e.g. 8h)")
	if err := parseFlags(fs, args, false); err != nil {
		return err
	}
	set := fs.given()

	if *out == "" {
		return usagef("train: --out is required (see ntkharness train --help)")
	}
	if *steps < 0 {
		return usagef("train: --steps %d: must be >= 0", *steps)
	}
	if *batch < 0 {
		return usagef("train: --batch %d: must be >= 0", *batch)
	}
	if !(*memLimit > 0) || math.IsInf(*memLimit, 0) {
		return usagef("train: --mem-limit %v: must be a positive, finite number of GiB", *memLimit)
	}
	if err := checkTimeLimit("train", *timeLimit); err != nil {
		return err
	}
	if *every < 0 {
		return usagef("train: --checkpoint-every %v: must not be negative (0: only at the end)", *every)
	}
	if set["lr"] && !(*lr > 0 && !math.IsInf(*lr, 0)) {
		return usagef("train: --lr %v: must be positive and finite", *lr)
	}
	if !set["lr"] && !(*lrFactor > 0 && !math.IsInf(*lrFactor, 0)) {
		return usagef("train: --lr-factor %v: must be positive and finite", *lrFactor)
	}
	switch *lambda {
	case "auto", "analytic", "empirical":
	default:
		return usagef("train: --lambda %q: want analytic, empirical or auto", *lambda)
	}
	// A resumed run takes the architecture flags not given from its
	// checkpoint.
	if err := arch.check(!*resume); err != nil {
		return err
	}

	if err := atomicfile.CheckDir(*out); err != nil {
		return fmt.Errorf("--out: %v", err)
	}
	// A checkpoint folder left half-written by a killed run.
	atomicfile.RemoveStale(*out, "params.tmp")
	paramsDir := filepath.Join(*out, "params")
	var net *nets.Net
	var hist *train.History
	if *resume {
		// The checkpoint's data settings replace the flags not given, and
		// differing ones are refused, before any data is read.
		var err error
		if net, hist, err = train.LoadCheckpoint(paramsDir); err != nil {
			return err
		}
		if err := adoptResumeFlags(fs, set, paramsDir, hist); err != nil {
			return err
		}
	}

	data, outputs, err := loadTrainData(*dataset, *dataPath, *nTrain, *nTest, *center, *seed, *xTrain, *yTrain, *xTest, *yTest)
	if err != nil {
		return err
	}
	settings, err := dataSettings(fs, data)
	if err != nil {
		return err
	}
	var s spec.Spec
	if *resume {
		s = net.Spec()
		if len(arch.given()) > 0 {
			want, err := arch.over(s, outputs)
			if err != nil {
				return err
			}
			if want != s {
				return usagef("train: --resume: the checkpoint in %s is %+v, the flags ask for %+v", paramsDir, s, want)
			}
		}
	} else if s, err = arch.resolve(outputs); err != nil {
		return err
	}
	if s.DType == spec.Float32 {
		return usagef("train: spec dtype float32: the train command runs float64 networks only (its checkpointed Gorgonia graphs); train float32 networks in a sweep's train cells")
	}

	inShape := data.XTrain.Shape[1:]
	if !s.IsConv() {
		_, d := data.XTrain.Rows()
		inShape = []int{d}
	} else if len(inShape) != 3 {
		return fmt.Errorf("train: %s needs images [N, H, W, C]; the training inputs have shape %v", s.Arch, data.XTrain.Shape)
	}
	if err := checkMemory(s, inShape, data, *batch, *memLimit); err != nil {
		return err
	}
	nTestData := 0
	if data.XTest.Shape != nil {
		nTestData = data.XTest.Shape[0]
	}
	left := *steps
	if hist != nil {
		left = max(*steps-hist.Step, 0)
	}
	sec := cells.TrainSeconds(s, inShape, data.XTrain.Shape[0], nTestData, left)
	analytic := *lambda == "analytic"
	if *lambda == "auto" {
		// As opt.LambdaMax below: large CNN-GAP kernels use the network's.
		nx := float64(data.XTrain.Shape[0])
		analytic = s.Arch != spec.CNNGAP || len(inShape) != 3 || nx*nx*float64(inShape[0]*inShape[1])*float64(inShape[0]*inShape[1]) <= 1e7
	}
	if hist == nil && !set["lr"] && analytic {
		sec += cells.KernelSeconds(s, inShape, data.XTrain.Shape[0], 0)
	}
	if err := checkTime("train", sec, *timeLimit, *quiet); err != nil {
		return err
	}

	if *resume {
		if set["lr"] && *lr != hist.LR {
			return usagef("train: --resume: the checkpoint trains with lr %v, not --lr %v", hist.LR, *lr)
		}
		if set["lr-factor"] && *lrFactor != hist.LRFactor {
			return usagef("train: --resume: the checkpoint trains with lr-factor %v, not --lr-factor %v", hist.LRFactor, *lrFactor)
		}
		if err := checkResumeData(paramsDir, hist.Settings, settings); err != nil {
			return err
		}
		if hist.Status == train.Done && hist.Steps >= *steps {
			fmt.Println(hist.Summary())
			return nil
		}
	} else {
		if _, err := os.Stat(filepath.Join(paramsDir, train.StateFile)); err == nil {
			return usagef("train: %s already holds a run: use --resume to continue it or another --out", *out)
		}
		if net, err = nets.New(s, inShape, nets.InitSource(*seed, 0)); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	if err := s.Save(filepath.Join(*out, "spec.json")); err != nil {
		return err
	}

	opt := train.Options{Steps: *steps, Batch: *batch, Seed: *seed, CheckpointEvery: *every, Settings: settings}
	if set["lr"] {
		opt.LR = *lr
	} else {
		opt.LRFactor = *lrFactor
		switch *lambda {
		case "analytic":
			opt.LambdaMax = train.AnalyticLambdaMax
		case "auto":
			// The analytic kernel, or the network's own when the analytic
			// plan is refused (e.g. a CNN-GAP kernel too big for memory).
			opt.LambdaMax = func(n *nets.Net, x npy.Array) (float64, error) {
				if s.Arch == spec.CNNGAP {
					// The analytic CNN-GAP kernel couples every pixel pair,
					// O(N^2 (HW)^2) per layer; past ~1e7 pairs the network's
					// own kernel is far cheaper.
					if nx, hw := float64(x.Shape[0]), float64(x.Shape[1]*x.Shape[2]); nx*nx*hw*hw > 1e7 {
						return train.EmpiricalLambdaMax(n, x, 100, *seed)
					}
				}
				lm, err := train.AnalyticLambdaMax(n, x)
				if err != nil {
					fmt.Fprintf(os.Stderr, "ntkharness: train: %v; using the empirical NTK\n", err)
					return train.EmpiricalLambdaMax(n, x, 100, *seed)
				}
				return lm, nil
			}
		}
	}
	var bar *progress.Bar
	if !*quiet {
		done := 0
		if hist != nil {
			done = hist.Step
		}
		bar = progress.New("train", *steps)
		bar.Update(done, *steps)
		opt.Progress = bar.Update
	}
	writeAll := func(h *train.History) error {
		if err := train.SaveCheckpoint(paramsDir, net, h); err != nil {
			return err
		}
		return train.WriteHistory(filepath.Join(*out, "history.json"), filepath.Join(*out, "history.csv"), h)
	}
	opt.Checkpoint = writeAll

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	hist, err = train.Run(ctx, net, data, opt, hist)
	bar.Finish()
	if err != nil {
		return err
	}
	if hist.Status == train.Interrupted {
		return errors.New(hist.Summary())
	}
	fmt.Println(hist.Summary())
	return nil
}

// loadTrainData reads the training and test sets from a named dataset or
// from .npy files and returns them with the number of outputs k.
func loadTrainData(name, path string, nTrain, nTest int, center bool, seed uint64, xTrain, yTrain, xTest, yTest string) (train.Data, int, error) {
	var d train.Data
	files := xTrain != "" || yTrain != "" || xTest != "" || yTest != ""
	switch {
	case name != "" && files:
		return d, 0, usagef("train: give --dataset or --x-train/--y-train, not both")
	case name == "" && !files:
		return d, 0, usagef("train: no data: give --dataset mnist|cifar10 or --x-train/--y-train")
	case name != "":
		if !datasets.Known(name) {
			return d, 0, usagef("train: unknown --dataset %q (want mnist or cifar10)", name)
		}
		if nTrain < 1 || nTest < 0 {
			return d, 0, usagef("train: --n-train %d, --n-test %d: want n-train >= 1, n-test >= 0", nTrain, nTest)
		}
		opts := datasets.Options{}
		if strings.EqualFold(name, datasets.CIFAR10) {
			opts.CIFAR10 = path
		} else {
			opts.MNISTDir = path
		}
		tr, te, err := datasets.Load(name, opts)
		if err != nil {
			return d, 0, err
		}
		p, err := datasets.PrepareTraining(tr, te, datasets.Preparation{NTrain: nTrain, NTest: nTest, Seed: seed, Center: center})
		if err != nil {
			return d, 0, err
		}
		d.XTrain, d.YTrain = p.Train.Array(), p.YTrain
		if p.Test != nil {
			d.XTest, d.YTest = p.Test.Array(), p.YTest
		}
		return d, p.Train.Classes, nil
	}
	if xTrain == "" || yTrain == "" {
		return d, 0, usagef("train: --x-train and --y-train go together")
	}
	if (xTest == "") != (yTest == "") {
		return d, 0, usagef("train: --x-test and --y-test go together")
	}
	var err error
	var k int
	if d.XTrain, d.YTrain, k, err = loadXY(xTrain, yTrain, 0, center); err != nil {
		return d, 0, err
	}
	if xTest != "" {
		if d.XTest, d.YTest, _, err = loadXY(xTest, yTest, k, center); err != nil {
			return d, 0, err
		}
	}
	return d, k, nil
}

// loadXY reads inputs and targets; labels [N] become one-hot rows of k
// (k = 0: max label + 1) classes.
func loadXY(xPath, yPath string, k int, center bool) (npy.Array, *mat.Dense, int, error) {
	x, err := npy.Load(xPath)
	if err != nil {
		return x, nil, 0, err
	}
	if len(x.Shape) < 2 || x.Shape[0] < 1 {
		return x, nil, 0, fmt.Errorf("%s: shape %v: want [N, d] or [N, H, W, C] with N >= 1", xPath, x.Shape)
	}
	if err := checkFiniteArray(xPath, "inputs", x); err != nil {
		return x, nil, 0, err
	}
	y, err := npy.Load(yPath)
	if err != nil {
		return x, nil, 0, err
	}
	if len(y.Shape) == 2 {
		if err := checkFiniteArray(yPath, "targets", y); err != nil {
			return x, nil, 0, err
		}
	}
	if len(y.Shape) == 0 || y.Shape[0] != x.Shape[0] {
		return x, nil, 0, fmt.Errorf("%s: shape %v: want %d rows like %s", yPath, y.Shape, x.Shape[0], xPath)
	}
	switch len(y.Shape) {
	case 2:
		if k != 0 && y.Shape[1] != k {
			return x, nil, 0, fmt.Errorf("%s: %d targets per example, the training set has %d", yPath, y.Shape[1], k)
		}
		return x, mat.NewDense(y.Shape[0], y.Shape[1], y.Data), y.Shape[1], nil
	case 1:
		labels := make([]int, len(y.Data))
		maxL := 0
		for i, v := range y.Data {
			if v != math.Trunc(v) || v < 0 || v > 1e6 {
				return x, nil, 0, fmt.Errorf("%s: label %d is %v: want a non-negative integer", yPath, i, v)
			}
			labels[i] = int(v)
			maxL = max(maxL, labels[i])
		}
		if k == 0 {
			k = maxL + 1
		} else if maxL >= k {
			return x, nil, 0, fmt.Errorf("%s: label %d but the training set has %d classes", yPath, maxL, k)
		}
		if k < 2 {
			return x, nil, 0, fmt.Errorf("%s: only one class", yPath)
		}
		return x, datasets.OneHot(labels, k, center), k, nil
	}
	return x, nil, 0, fmt.Errorf("%s: shape %v: want targets [N, k] or labels [N]", yPath, y.Shape)
}

// checkFiniteArray refuses an array with a NaN or infinite entry, naming the
// file and the entry.
func checkFiniteArray(path, what string, a npy.Array) error {
	for i, v := range a.Data {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("%s: entry %v is %v: %s must be finite", path, npyIndex(a.Shape, i), v, what)
		}
	}
	return nil
}

// npyIndex is the multi-index of flat entry i of an array of shape.
func npyIndex(shape []int, i int) []int {
	idx := make([]int, len(shape))
	for d := len(shape) - 1; d >= 0; d-- {
		if shape[d] > 0 {
			idx[d] = i % shape[d]
			i /= shape[d]
		}
	}
	return idx
}

// checkMemory refuses a plan whose estimate exceeds the limit in GiB: the
// training graph on one batch (full batches are run in chunks of 256), a
// forward graph for evaluation, and the data.
func checkMemory(s spec.Spec, inShape []int, d train.Data, batch int, limitGiB float64) error {
	n := d.XTrain.Shape[0]
	b := min(n, 256)
	if batch > 0 {
		b = min(batch, n)
	}
	est, err := nets.MemoryEstimate(s, inShape, b)
	if err != nil {
		return err
	}
	fwd, _ := nets.MemoryEstimate(s, inShape, min(256, max(n, 1)))
	est += fwd/2 + 8*int64(len(d.XTrain.Data)+len(d.XTest.Data))
	if limit := limitGiB * (1 << 30); float64(est) > limit {
		return fmt.Errorf("train: the plan needs about %.1f GiB (width %d, depth %d, batch %d), over --mem-limit %g GiB: reduce --width or --batch", float64(est)/(1<<30), s.Width, s.Depth, b, limitGiB)
	}
	return nil
}
