package main

import (
	"fmt"
	"os"
	"runtime"
	"time"
)

// defaultTimeLimit is the --time-limit of kernel, ntk and train.
const defaultTimeLimit = time.Hour

// checkTime compares a plan's estimated CPU time on one core, spread over
// the cores in use, with the --time-limit: above a minute the estimate is
// printed on stderr (so a long run is expected) unless quiet, above the
// limit the plan is refused before it starts, saying how to raise the limit.
func checkTime(cmd string, cpuSeconds float64, limit time.Duration, quiet bool) error {
	wall := time.Duration(cpuSeconds / float64(max(runtime.GOMAXPROCS(0), 1)) * float64(time.Second))
	if cpuSeconds > 1e12 || wall < 0 {
		wall = time.Duration(1<<63 - 1)
	}
	if wall > limit {
		return fmt.Errorf("the plan is estimated to take %s on %d cores, over --time-limit %s: use fewer examples, smaller images or a smaller network, or raise the limit with --time-limit %s",
			roughDuration(wall), runtime.GOMAXPROCS(0), limit, roughDuration(2*wall))
	}
	if wall > time.Minute && !quiet {
		fmt.Fprintf(os.Stderr, "ntkharness: %s: estimated time %s on %d cores\n", cmd, roughDuration(wall), runtime.GOMAXPROCS(0))
	}
	return nil
}

// roughDuration rounds d for people: 3h40m, 12m, 45s.
func roughDuration(d time.Duration) string {
	switch {
	case d >= 1000*time.Hour:
		return fmt.Sprintf("%.0fh", d.Hours())
	case d >= time.Hour:
		return d.Round(10 * time.Minute).String()
	case d >= time.Minute:
		return d.Round(time.Minute).String()
	}
	return d.Round(time.Second).String()
}

// checkTimeLimit refuses a --time-limit that is not positive.
func checkTimeLimit(cmd string, limit time.Duration) error {
	if limit <= 0 {
		return usagef("%s: --time-limit %s: must be positive (e.g. 30m or 8h)", cmd, limit)
	}
	return nil
}
