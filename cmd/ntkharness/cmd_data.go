package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/ntkharness/ntkharness/datasets"
	"github.com/ntkharness/ntkharness/internal/atomicfile"
	"github.com/ntkharness/ntkharness/npy"
)

func init() {
	register("data info", "print sizes, image shape, class counts and pixel statistics of a dataset", runDataInfo)
	register("data export", "write a preprocessed subset of a dataset to .npy files", runDataExport)
}

// dataFlags are the flags that locate a dataset.
type dataFlags struct {
	dataset, mnistDir, cifar10 string
}

func (d *dataFlags) register(fs *flagSet) {
	fs.StringVar(&d.dataset, "dataset", "", "dataset: mnist or cifar10 (required)")
	fs.StringVar(&d.mnistDir, "mnist-dir", "", "directory with the four MNIST idx files, gzipped or not (default: $"+datasets.EnvMNISTDir+", else the copy built into the binary)")
	fs.StringVar(&d.cifar10, "cifar10", "", "CIFAR-10 binary release: the cifar-10-batches-bin folder, its parent, or cifar-10-binary.tar.gz (default: $"+datasets.EnvCIFAR10Dir+")")
}

// check validates the flags before anything is read.
func (d *dataFlags) check(cmd string) error {
	switch strings.ToLower(d.dataset) {
	case "":
		return usagef("%s: --dataset is required (mnist or cifar10)", cmd)
	case datasets.MNIST:
	case datasets.CIFAR10, "cifar-10":
		if d.cifar10 == "" && os.Getenv(datasets.EnvCIFAR10Dir) == "" {
			return usagef("%s: --dataset cifar10 needs --cifar10 PATH or the environment variable %s", cmd, datasets.EnvCIFAR10Dir)
		}
	default:
		return usagef("%s: unknown --dataset %q (want mnist or cifar10)", cmd, d.dataset)
	}
	return nil
}

func (d *dataFlags) load() (train, test *datasets.Set, err error) {
	return datasets.Load(d.dataset, datasets.Options{MNISTDir: d.mnistDir, CIFAR10: d.cifar10})
}

// source describes where the data came from.
func (d *dataFlags) source() string {
	if strings.ToLower(d.dataset) == datasets.MNIST {
		switch {
		case d.mnistDir != "":
			return d.mnistDir
		case os.Getenv(datasets.EnvMNISTDir) != "":
			return os.Getenv(datasets.EnvMNISTDir) + " ($" + datasets.EnvMNISTDir + ")"
		}
		return "copy built into the binary"
	}
	if d.cifar10 != "" {
		return d.cifar10
	}
	return os.Getenv(datasets.EnvCIFAR10Dir) + " ($" + datasets.EnvCIFAR10Dir + ")"
}

func runDataInfo(args []string) error {
	fs := newFlags("data info", "--dataset mnist|cifar10 [--mnist-dir DIR] [--cifar10 PATH]", `
Print, for the training and the test split of a dataset: the number of
images, the image shape (height x width x channels), the number of examples
of each class, and pixel statistics (min, max, mean and population standard
deviation, overall and per channel) on the [0, 1] scale the loader produces
(byte value / 255).`)
	var d dataFlags
	d.register(fs)
	if err := parseFlags(fs, args, false); err != nil {
		return err
	}
	if err := d.check("data info"); err != nil {
		return err
	}
	train, test, err := d.load()
	if err != nil {
		return err
	}
	splits := []*datasets.Set{train, test}
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintf(w, "dataset %s (%s), %d classes, pixel values byte/255 in [0, 1]\n\n", train.Name, d.source(), train.Classes)
	fmt.Fprintln(w, "split\timages\tshape HxWxC\tmin\tmax\tmean\tstd")
	for _, s := range splits {
		st := s.Stats()
		fmt.Fprintf(w, "%s\t%d\t%dx%dx%d\t%.4f\t%.4f\t%.4f\t%.4f\n", s.Split, s.N, s.H, s.W, s.C, st.Min, st.Max, st.Mean, st.Std)
	}
	if train.C > 1 {
		fmt.Fprintln(w, "\nsplit\tchannel\tmin\tmax\tmean\tstd")
		for _, s := range splits {
			for c, st := range s.ChannelStats() {
				fmt.Fprintf(w, "%s\t%d\t%.4f\t%.4f\t%.4f\t%.4f\n", s.Split, c, st.Min, st.Max, st.Mean, st.Std)
			}
		}
	}
	fmt.Fprintln(w, "\nclass\tname\ttrain\ttest")
	tc, ec := train.ClassCounts(), test.ClassCounts()
	for c := range tc {
		fmt.Fprintf(w, "%d\t%s\t%d\t%d\n", c, train.ClassNames[c], tc[c], ec[c])
	}
	return w.Flush()
}

func runDataExport(args []string) error {
	fs := newFlags("data export", "--dataset D [--split train|test] [--n N [--per-class] [--seed S]] [--downsample F] [--grayscale] [--normalize none|global|per-channel|norm] [--flatten] [--onehot [--center]] --x X.npy [--y Y.npy]", `
Write images (and labels) of one split of a dataset to .npy files, float64.

Steps, in this order: a class-balanced subset drawn with the seed (--n; 0
keeps the whole split in file order), grayscale (mean of the channels),
average pooling by an integer factor (--downsample), normalization, then
the output layout. Pixel values start as byte/255 in [0, 1].

--normalize: none; global = (x - mean)/std with one mean and one
(population) std over all values of the exported images; per-channel = the
same per channel; norm = every image rescaled to Euclidean norm sqrt(d).
Statistics come from the exported images themselves.

Images are written as [N, H, W, C] (channels last) or, with --flatten, as
[N, H*W*C] rows in (y, x, c) order. Labels are written as [N] float64 class
indices or, with --onehot, as [N, k] one-hot rows, minus 1/k with --center.`)
	var d dataFlags
	d.register(fs)
	split := fs.String("split", "train", "split to export: train or test")
	n := fs.Int("n", 0, "number of examples, class-balanced (0: the whole split)")
	perClass := fs.Bool("per-class", false, "--n counts examples per class (n*k in all) instead of in all")
	seed := fs.Uint64("seed", 0, "seed of the subset draw")
	down := fs.Int("downsample", 1, "average-pool by this integer factor, which must divide the image side (28: 2, 4, 7, 14; 32: 2, 4, 8, 16)")
	gray := fs.Bool("grayscale", false, "average the channels into one")
	norm := fs.String("normalize", "none", "normalization: none, global, per-channel or norm")
	flatten := fs.Bool("flatten", false, "write images as [N, H*W*C] instead of [N, H, W, C]")
	onehot := fs.Bool("onehot", false, "write labels one-hot, [N, k], instead of [N] class indices")
	center := fs.Bool("center", false, "subtract 1/k from one-hot labels (needs --onehot)")
	xPath := fs.String("x", "", "output .npy file for the images (required)")
	yPath := fs.String("y", "", "output .npy file for the labels (optional)")
	if err := parseFlags(fs, args, false); err != nil {
		return err
	}
	const cmd = "data export"
	if err := d.check(cmd); err != nil {
		return err
	}
	switch {
	case *split != "train" && *split != "test":
		return usagef("%s: --split %q: want train or test", cmd, *split)
	case *n < 0:
		return usagef("%s: --n %d: want 0 (whole split) or a positive count", cmd, *n)
	case *perClass && *n == 0:
		return usagef("%s: --per-class needs --n N", cmd)
	case *down < 1:
		return usagef("%s: --downsample %d: want a factor of at least 1", cmd, *down)
	case *center && !*onehot:
		return usagef("%s: --center applies to one-hot labels: add --onehot", cmd)
	case *xPath == "":
		return usagef("%s: --x is required (output .npy file for the images)", cmd)
	case *xPath == *yPath:
		return usagef("%s: --x and --y name the same file %q", cmd, *xPath)
	}
	switch *norm {
	case "none", "global", "per-channel", "norm":
	default:
		return usagef("%s: --normalize %q: want none, global, per-channel or norm", cmd, *norm)
	}

	// The outputs are checked before the data are read and prepared.
	for _, p := range []string{*xPath, *yPath} {
		if p != "" {
			if err := atomicfile.CheckFile(p); err != nil {
				return err
			}
		}
	}
	train, test, err := d.load()
	if err != nil {
		return err
	}
	s := train
	if *split == "test" {
		s = test
	}
	train, test = nil, nil
	if *n > 0 {
		if s, err = s.Subset(*n, *perClass, *seed); err != nil {
			return err
		}
	}
	if *gray {
		s = s.Grayscale()
	}
	if s, err = s.Downsample(*down); err != nil {
		return fmt.Errorf("--downsample: %v", err)
	}
	switch *norm {
	case "global":
		s, err = s.Standardize()
	case "per-channel":
		s, err = s.StandardizeChannels()
	case "norm":
		s, err = s.NormalizeNorm()
	}
	if err != nil {
		return err
	}
	x := s.Array()
	if *flatten {
		x = s.Flat()
	}
	// Images and labels are written as one unit: both complete, or
	// neither replaced.
	files := []atomicfile.File{{Path: *xPath, Fill: func(w io.Writer) error { return npy.Write(w, x) }}}
	msg := fmt.Sprintf("wrote %s %v", *xPath, x.Shape)
	if *yPath != "" {
		y := s.LabelArray()
		if *onehot {
			y = s.OneHot(*center)
		}
		files = append(files, atomicfile.File{Path: *yPath, Fill: func(w io.Writer) error { return npy.Write(w, y) }})
		msg += fmt.Sprintf(" and %s %v", *yPath, y.Shape)
	}
	if err := atomicfile.WriteFiles(files...); err != nil {
		return fmt.Errorf("writing the arrays: %v", err)
	}
	fmt.Printf("%s (%s %s from %s)\n", msg, s.Name, s.Split, d.source())
	return nil
}
