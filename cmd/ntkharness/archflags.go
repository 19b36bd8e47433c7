package main

import (
	"fmt"
	"reflect"
	"strings"

	"github.com/ntkharness/ntkharness/spec"
)

// archFlags are the architecture flags of the kernel, ntk and train
// commands, declared, defaulted and validated in this one place:
//
//	--arch fcn|cnn-f|cnn-gap (fcn)   --act erf|relu|tanh (erf)
//	--depth L, --sw2 V               required unless --spec
//	--width W                        finite networks; required unless --spec
//	--sb2 V (0; train: required)     --filter f (3), --padding SAME|VALID (SAME): cnns only
//	--outputs k                      finite networks (10; train: the data's classes)
//	--spec FILE                      the whole architecture as JSON instead of the flags
//
// The infinite-width kernel (finite false) has no --width or --outputs:
// neither changes the per-logit analytic kernel. --spec excludes every other
// architecture flag (an error names the first one given), so a spec file is
// never half overridden. A flag given explicitly is validated even when its
// value is the zero value (--filter 0 and --outputs 0 are errors, not the
// defaults), and --filter or --padding given for an fcn is an error. Every
// fault in the flags is a usage error (exit status 2) on one line; a bad
// spec file is an error naming the file.
type archFlags struct {
	cmd      string
	finite   bool
	fs       *flagSet
	s        spec.Spec
	specPath string
	// instead names what may replace the required flags in the error that
	// reports them missing ("--spec"; ntk: "--spec or --params").
	instead string
	// sb2Required: --sb2 has no default (train).
	sb2Required bool
}

// archFlagNames lists the architecture flags other than --spec.
var archFlagNames = []string{"arch", "act", "depth", "width", "sw2", "sb2", "filter", "padding", "outputs"}

// addArchFlags declares the architecture flags on fs for the command cmd;
// finite adds --width and --outputs.
func addArchFlags(fs *flagSet, cmd string, finite bool) *archFlags {
	a := &archFlags{cmd: cmd, finite: finite, fs: fs, instead: "--spec"}
	fs.StringVar(&a.s.Arch, "arch", spec.FCN, "architecture `A`: fcn, cnn-f or cnn-gap")
	fs.StringVar(&a.s.Act, "act", spec.Erf, "activation `F`: erf, relu or tanh")
	fs.IntVar(&a.s.Depth, "depth", 0, "number of nonlinearities `L` >= 1 (required unless --spec)")
	if finite {
		fs.IntVar(&a.s.Width, "width", 0, "hidden units (fcn) or channels (cnn) per layer `W` >= 1 (required unless --spec)")
	}
	fs.Float64Var(&a.s.SW2, "sw2", 0, "weight variance sigma_w^2 `V` > 0 (required unless --spec)")
	sb2Usage := "bias variance sigma_b^2 `V` >= 0"
	if cmd == "train" {
		// train defaulted --sb2 to 0.05 before the commands shared their
		// flags (kernel and ntk to 0): requiring it turns the change of
		// default into an error instead of a silently different network.
		a.sb2Required = true
		sb2Usage += " (required unless --spec)"
	}
	fs.Float64Var(&a.s.SB2, "sb2", 0, sb2Usage)
	fs.IntVar(&a.s.Filter, "filter", spec.DefaultFilter, "convolution filter size `f` (f x f, odd), cnn-f and cnn-gap only")
	fs.StringVar(&a.s.Padding, "padding", spec.Same, "convolution padding `P`, SAME or VALID, cnn-f and cnn-gap only")
	if finite {
		fs.IntVar(&a.s.Outputs, "outputs", 0, fmt.Sprintf("number of logits `k` of the readout (default %d; train: the number of classes of the data)", spec.DefaultOutputs))
	}
	fs.StringVar(&a.specPath, "spec", "", "read the architecture from this spec JSON `file` (fields arch, act, depth, width, sw2, sb2, filter, padding, outputs, dtype) instead of the other architecture flags, which it excludes")
	return a
}

// given returns the architecture flags given on the command line, --spec
// included, in the order of archFlagNames.
func (a *archFlags) given() []string {
	set := a.fs.given()
	var names []string
	for _, n := range append(archFlagNames, "spec") {
		if set[n] {
			names = append(names, n)
		}
	}
	return names
}

// check validates the flags alone, before any file is read: --spec
// excludes the other flags; without --spec, the required flags must be
// given (unless required is false: train --resume takes them from its
// checkpoint) and every flag given must be valid.
func (a *archFlags) check(required bool) error {
	set := a.fs.given()
	if a.specPath != "" {
		for _, n := range archFlagNames {
			if set[n] {
				return usagef("%s: --%s given with --spec: take the architecture from one or the other", a.cmd, n)
			}
		}
		return nil
	}
	if required {
		var missing []string
		for _, n := range []string{"depth", "width", "sw2", "sb2"} {
			if !set[n] && (n != "width" || a.finite) && (n != "sb2" || a.sb2Required) {
				missing = append(missing, "--"+n)
			}
		}
		if len(missing) > 0 {
			verb := "is"
			if len(missing) > 1 {
				verb = "are"
			}
			return usagef("%s: %s %s required without %s (see ntkharness %s --help)", a.cmd, andList(missing), verb, a.instead, a.cmd)
		}
	}
	s := a.s
	if set["filter"] && (s.Filter < 1 || s.Filter%2 == 0) {
		return usagef("%s: --filter %d: want a positive odd filter size", a.cmd, s.Filter)
	}
	if set["outputs"] && s.Outputs < 1 {
		return usagef("%s: --outputs %d: want at least 1 logit", a.cmd, s.Outputs)
	}
	if !s.IsConv() && (set["filter"] || set["padding"]) {
		return usagef("%s: --filter and --padding apply to cnn-f and cnn-gap, not %s", a.cmd, s.Arch)
	}
	if !required {
		// Flags left out come from elsewhere; the whole spec is checked
		// once they have been filled in (over).
		return nil
	}
	return a.validate(a.flagSpec())
}

// flagSpec returns the spec of the flags: an fcn has no filter or padding.
func (a *archFlags) flagSpec() spec.Spec {
	s := a.s
	if !s.IsConv() {
		s.Filter, s.Padding = 0, ""
	}
	return s
}

// validate checks s as a usage error.
func (a *archFlags) validate(s spec.Spec) error {
	check := s.Validate
	if a.finite {
		check = s.ValidateFinite
	}
	if err := check(); err != nil {
		return usagef("%s: %v", a.cmd, err)
	}
	return nil
}

// resolve checks the flags and returns the Spec of the flags or of --spec.
// For a finite network the defaults are filled in (spec.WithDefaults);
// classes > 0 is the number of classes of the training data, which the
// readout must have (train).
func (a *archFlags) resolve(classes int) (spec.Spec, error) {
	if err := a.check(true); err != nil {
		return spec.Spec{}, err
	}
	var s spec.Spec
	if a.specPath != "" {
		var err error
		if s, err = spec.Load(a.specPath); err != nil {
			return s, fmt.Errorf("--spec %v", err)
		}
		if a.finite {
			if err := s.ValidateFinite(); err != nil {
				return s, fmt.Errorf("--spec %s: %v", a.specPath, err)
			}
		}
	} else {
		s = a.flagSpec()
	}
	return a.finish(s, classes)
}

// over returns base (a checkpoint's spec) with the architecture flags given
// on the command line in place of its fields, checked as resolve checks
// them; with --spec, the spec file's architecture.
func (a *archFlags) over(base spec.Spec, classes int) (spec.Spec, error) {
	if a.specPath != "" {
		return a.resolve(classes)
	}
	if err := a.check(false); err != nil {
		return spec.Spec{}, err
	}
	s := overlay(base, a.s, a.fs.given())
	if !s.IsConv() && base.IsConv() {
		// --arch fcn over a cnn: the cnn's filter and padding do not apply.
		s.Filter, s.Padding = 0, ""
	}
	if err := a.validate(s); err != nil {
		return s, err
	}
	return a.finish(s, classes)
}

// finish checks the readout against the data's classes and fills in the
// defaults of a finite network.
func (a *archFlags) finish(s spec.Spec, classes int) (spec.Spec, error) {
	if classes > 0 {
		switch {
		case a.fs.given()["outputs"] && s.Outputs != classes:
			return s, usagef("%s: --outputs %d: the training data have %d classes", a.cmd, s.Outputs, classes)
		case a.specPath != "" && s.Outputs != 0 && s.Outputs != classes:
			return s, fmt.Errorf("--spec %s: outputs %d: the training data have %d classes", a.specPath, s.Outputs, classes)
		}
		s.Outputs = classes
	}
	if a.finite {
		s = s.WithDefaults()
	}
	return s, nil
}

// overlay returns base with the fields of the flags given taken from f. The
// architecture flags are named like the JSON fields of spec.Spec.
func overlay(base, f spec.Spec, given map[string]bool) spec.Spec {
	dst, src := reflect.ValueOf(&base).Elem(), reflect.ValueOf(f)
	for i := 0; i < dst.NumField(); i++ {
		name, _, _ := strings.Cut(dst.Type().Field(i).Tag.Get("json"), ",")
		if given[name] {
			dst.Field(i).Set(src.Field(i))
		}
	}
	return base
}

// andList joins "a", "b", "c" as "a, b and c".
func andList(items []string) string {
	if len(items) < 2 {
		return strings.Join(items, "")
	}
	return strings.Join(items[:len(items)-1], ", ") + " and " + items[len(items)-1]
}
