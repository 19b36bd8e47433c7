package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/ntkharness/ntkharness/spec"
	"github.com/ntkharness/ntkharness/theory"
)

func init() {
	register("meanfield", "mean-field fixed points, depth scales and phase; or the critical sw2", runMeanField)
}

const meanFieldDescription = `
Computes the mean-field quantities of a deep fully connected network with
activation ACT and variances sw2, sb2: q* (fixed point of the variance map),
c* (stable fixed point of the correlation map), chi_1, chi_c*, the depth
scales xi_1 = -1/ln chi_1, xi_* = -1/(ln chi_c* - ln chi_1),
xi_c* = -1/ln chi_c*, and the phase (ordered chi_1 < 1, chaotic chi_1 > 1,
critical |chi_1 - 1| <= 1e-9). A depth scale that does not exist in the
phase (xi_1 when chaotic, xi_* when ordered, all of them when critical) is
null in JSON and "-" in the table.

With --critical, prints instead the sw2 of the critical line chi_1 = 1 for
the given sb2.

tanh has no closed form: its Gaussian expectations are integrated by the
trapezoidal strip rule (converged, ~1e-12 relative at any variance; see
README). --tanh-quadrature hermite selects instead the 61-node
Gauss-Hermite rule of old results, which is APPROXIMATE (errors of 2e-7 at
variance 1, 1e-3 at variance 4 and 10% near variance 100: at sw2 = 100 it
reports chi_1 = 16 where the value is 5.5); the table then says so.

--json prints one JSON object on one line:
  {"q_star":..,"c_star":..,"chi_1":..,"chi_c_star":..,"xi_1":..,"xi_star":..,"xi_c_star":..,"phase":"ordered|chaotic|critical"}
  {"sw2_critical":..}                                      (with --critical)

Exit status: 2 for a command-line mistake (unknown activation, missing,
negative or non-finite variance); 1 for hyperparameters without a mean-field
solution (relu with sw2 >= 2 has no finite q*; sb2 = 0 with q* = 0).`

// meanFieldJSON is the --json output; nil fields print as null.
type meanFieldJSON struct {
	QStar    float64  `json:"q_star"`
	CStar    float64  `json:"c_star"`
	Chi1     float64  `json:"chi_1"`
	ChiCStar float64  `json:"chi_c_star"`
	Xi1      *float64 `json:"xi_1"`
	XiStar   *float64 `json:"xi_star"`
	XiCStar  *float64 `json:"xi_c_star"`
	Phase    string   `json:"phase"`
}

func mfOptional(v float64) *float64 {
	if !theory.Has(v) {
		return nil
	}
	return &v
}

func runMeanField(args []string) error {
	fs := newFlags("meanfield", "--act ACT --sw2 A --sb2 B [--json] [--tanh-quadrature R] | --act ACT --sb2 B --critical [--json] [--tanh-quadrature R]", meanFieldDescription)
	act := fs.String("act", spec.Erf, "activation: "+strings.Join(spec.Acts, ", "))
	var sw2v, sb2v mfFloat
	fs.Var(&sw2v, "sw2", "weight variance sigma_w^2 = `A` > 0 (required unless --critical)")
	fs.Var(&sb2v, "sb2", "bias variance sigma_b^2 = `B` >= 0 (required)")
	sw2, sb2 := &sw2v.v, &sb2v.v
	critical := fs.Bool("critical", false, "print the critical sw2 (chi_1 = 1) for --sb2 instead")
	asJSON := fs.Bool("json", false, "print one JSON object instead of a table")
	rule := tanhRuleFlag(fs)
	if err := parseFlags(fs, args, false); err != nil {
		return err
	}
	set := map[string]bool{"sw2": sw2v.set, "sb2": sb2v.set}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	a, err := theory.ActivationByName(*act)
	if err != nil {
		return usagef("meanfield: --act %q: unknown activation (want one of %s)", *act, strings.Join(spec.Acts, ", "))
	}
	ruleAct, err := tanhRule("meanfield", *rule, set["tanh-quadrature"], *act)
	if err != nil {
		return err
	}
	if ruleAct != nil {
		a = ruleAct
	}
	if !set["sb2"] {
		return usagef("meanfield: --sb2 is required (see ntkharness meanfield --help)")
	}
	if math.IsNaN(*sb2) || math.IsInf(*sb2, 0) || *sb2 < 0 {
		return usagef("meanfield: --sb2 %v: must be finite and non-negative", *sb2)
	}
	if *critical {
		if set["sw2"] {
			return usagef("meanfield: --sw2 and --critical exclude each other (--critical computes sw2)")
		}
		sw2c, err := theory.CriticalSW2(a, *sb2)
		if err != nil {
			return err
		}
		if *asJSON {
			return mfPrintJSON(struct {
				SW2Critical float64 `json:"sw2_critical"`
			}{sw2c})
		}
		fmt.Printf("critical sw2 for %s%s at sb2=%v: %.15g\n", *act, tanhRuleLabel(*rule), *sb2, sw2c)
		return nil
	}
	if !set["sw2"] {
		return usagef("meanfield: --sw2 is required without --critical (see ntkharness meanfield --help)")
	}
	if math.IsNaN(*sw2) || math.IsInf(*sw2, 0) || *sw2 <= 0 {
		return usagef("meanfield: --sw2 %v: must be finite and positive", *sw2)
	}
	m, err := theory.SolveMeanField(a, *sw2, *sb2)
	if err != nil {
		return err
	}
	if *asJSON {
		return mfPrintJSON(meanFieldJSON{
			QStar: m.QStar, CStar: m.CStar, Chi1: m.Chi1, ChiCStar: m.ChiCStar,
			Xi1: mfOptional(m.Xi1), XiStar: mfOptional(m.XiStar), XiCStar: mfOptional(m.XiCStar),
			Phase: string(m.Phase),
		})
	}
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintf(w, "activation\t%s%s\n", m.Act, tanhRuleLabel(*rule))
	fmt.Fprintf(w, "sw2, sb2\t%v, %v\n", m.SW2, m.SB2)
	fmt.Fprintf(w, "phase\t%s\n", m.Phase)
	fmt.Fprintf(w, "q*\t%.10g\n", m.QStar)
	fmt.Fprintf(w, "c*\t%.10g\n", m.CStar)
	fmt.Fprintf(w, "chi_1\t%.10g\n", m.Chi1)
	fmt.Fprintf(w, "chi_c*\t%.10g\n", m.ChiCStar)
	for _, r := range []struct {
		name, why string
		v         float64
	}{
		{"xi_1", "ordered phase only", m.Xi1},
		{"xi_*", "chaotic phase only", m.XiStar},
		{"xi_c*", "diverges on the critical line", m.XiCStar},
	} {
		if theory.Has(r.v) {
			fmt.Fprintf(w, "%s\t%.6g\n", r.name, r.v)
		} else {
			fmt.Fprintf(w, "%s\t-  (%s)\n", r.name, r.why)
		}
	}
	return w.Flush()
}

// mfPrintJSON writes v as one line of JSON to stdout.
func mfPrintJSON(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = fmt.Printf("%s\n", b)
	return err
}

// mfFloat is a float flag without a default, which records whether it was
// given.
type mfFloat struct {
	v   float64
	set bool
}

func (f *mfFloat) String() string {
	if f == nil || !f.set {
		return ""
	}
	return strconv.FormatFloat(f.v, 'g', -1, 64)
}

func (f *mfFloat) Set(s string) error {
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return errors.New("not a number")
	}
	f.v, f.set = v, true
	return nil
}
