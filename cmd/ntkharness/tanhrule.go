package main

import (
	"fmt"

	"github.com/ntkharness/ntkharness/activation"
	"github.com/ntkharness/ntkharness/spec"
	"github.com/ntkharness/ntkharness/theory"
)

// tanhRuleHelp documents --tanh-quadrature for every command that has it.
const tanhRuleHelp = "tanh expectations by the trapezoidal strip rule (strip: converged, ~1e-12 relative at any variance) or by 61-node Gauss-Hermite (hermite: APPROXIMATE, errors of 2e-7 at variance 1, 1e-3 at variance 4 and 10% near variance 100; only to reproduce old results)"

// tanhRuleFlag declares --tanh-quadrature on fs.
func tanhRuleFlag(fs *flagSet) *string {
	return fs.String("tanh-quadrature", "strip", tanhRuleHelp)
}

// tanhRule checks the --tanh-quadrature value rule of command cmd (given:
// whether it was on the command line) for the activation act, and returns
// the activation to use instead of act's default: nil for the strip rule,
// the approximate Gauss-Hermite rule for hermite. A bad value, or the flag
// with another activation than tanh, is a usage error.
func tanhRule(cmd, rule string, given bool, act string) (theory.Activation, error) {
	if rule != "hermite" && rule != "strip" {
		return nil, usagef("%s: --tanh-quadrature %q: want hermite or strip", cmd, rule)
	}
	if given && act != spec.Tanh {
		return nil, usagef("%s: --tanh-quadrature applies to tanh, not %s", cmd, act)
	}
	if rule == "hermite" {
		return theory.HermiteQuadrature(activation.Tanh, theory.DefaultQuadratureNodes), nil
	}
	return nil, nil
}

// tanhRuleLabel names the rule for output tables: empty for the default.
func tanhRuleLabel(rule string) string {
	if rule == "hermite" {
		return fmt.Sprintf(" (%d-node Gauss-Hermite, APPROXIMATE)", theory.DefaultQuadratureNodes)
	}
	return ""
}
