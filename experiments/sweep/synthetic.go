package sweep

import (
	"context"
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/ntkharness/ntkharness/npy"
)

// Synthetic is the name of the built-in kind that exercises the machinery
// without any science: it is cheap, deterministic, and can be told to be
// slow, to diverge or to fail, which is what tests and dry runs of a cluster
// set-up need.
//
// For a cell with spec (sw2, sb2, depth) and seed it returns
//
//	value = sw2 * depth + sb2
//	noise = a uniform draw in [0, 1) from a PCG source seeded by
//	        (seed, FNV-1a hash of the cell's parameter string)
//	powers = [value^0, value^1, value^2, value^3]   (an array of shape [4])
//
// Its behaviour is controlled by the settings object "synthetic":
//
//	{"synthetic": {"sleep_ms": 20, "diverge": [3], "fail": [5], "transient": [7], "memory_bytes": 1048576}}
//
// sleep_ms sleeps before returning (honouring cancellation); the cells whose
// indices are listed in diverge return status diverged with loss = +Inf,
// those in fail a permanent error, those in transient a transient error;
// memory_bytes is the memory estimate of its cost model (default 1 MiB).
const Synthetic = "synthetic"

type syntheticSettings struct {
	Synthetic struct {
		SleepMS     int   `json:"sleep_ms"`
		Diverge     []int `json:"diverge"`
		Fail        []int `json:"fail"`
		Transient   []int `json:"transient"`
		MemoryBytes int64 `json:"memory_bytes"`
	} `json:"synthetic"`
}

func init() {
	RegisterKind(Synthetic, runSynthetic, WithCost(costSynthetic), WithSettings(syntheticSettings{}))
}

func costSynthetic(c Cell) (Cost, bool) {
	var st syntheticSettings
	if err := c.DecodeSettings(&st); err != nil {
		return Cost{}, false
	}
	mem := st.Synthetic.MemoryBytes
	if mem == 0 {
		mem = 1 << 20
	}
	return Cost{Seconds: float64(st.Synthetic.SleepMS) / 1000, MemoryBytes: mem}, true
}

func runSynthetic(ctx context.Context, c Cell) (Result, error) {
	var st syntheticSettings
	if err := c.DecodeSettings(&st); err != nil {
		return Result{}, Permanent(err)
	}
	ss := st.Synthetic
	if ss.SleepMS < 0 {
		return Result{}, Permanentf("settings: synthetic.sleep_ms %d: must not be negative", ss.SleepMS)
	}
	if ss.SleepMS > 0 {
		t := time.NewTimer(time.Duration(ss.SleepMS) * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return Result{}, ctx.Err()
		case <-t.C:
		}
	}
	if slices.Contains(ss.Fail, c.Index) {
		return Result{}, Permanentf("cell %d is listed in synthetic.fail", c.Index)
	}
	if slices.Contains(ss.Transient, c.Index) {
		return Result{}, fmt.Errorf("cell %d is listed in synthetic.transient", c.Index)
	}
	h := fnv.New64a()
	h.Write([]byte(c.String()))
	rng := rand.New(rand.NewPCG(uint64(c.Seed), h.Sum64()))
	value := c.Spec.SW2*float64(c.Spec.Depth) + c.Spec.SB2
	powers := npy.New(4)
	for k := range powers.Data {
		powers.Data[k] = math.Pow(value, float64(k))
	}
	r := Result{
		Status:  StatusOK,
		Scalars: map[string]float64{"value": value, "noise": rng.Float64()},
		Arrays:  map[string]npy.Array{"powers": powers},
	}
	if slices.Contains(ss.Diverge, c.Index) {
		r.Status = StatusDiverged
		r.Reason = "cell listed in synthetic.diverge"
		r.Scalars["loss"] = math.Inf(1)
	}
	return r, nil
}
