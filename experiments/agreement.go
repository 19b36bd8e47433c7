package experiments

import (
	"fmt"
	"math"
	"sync"

	"github.com/ntkharness/ntkharness/plots"
)

func init() {
	register(Figure{Name: "agreement", Title: "Trained networks vs the theory of one network",
		Summary: "for every cell of the trainability and pooling figures with both: the trained networks' mean accuracy against the expected accuracy of one infinitely wide network, with the spread of each",
		Run:     runAgreement})
}

// memo keeps the data of quick figures computed in this process, keyed by
// figure and run key, so that a figure built from another's data (the
// agreement figure) does not compute it again within one report.
var memo = struct {
	sync.Mutex
	m map[string]any
}{m: map[string]any{}}

func memoKey(name string, cfg Config) string {
	return fmt.Sprintf("%s %+v", name, keyOf(cfg))
}

func memoGet[T any](name string, cfg Config) (T, bool) {
	memo.Lock()
	defer memo.Unlock()
	v, ok := memo.m[memoKey(name, cfg)].(T)
	return v, ok
}

func memoPut(name string, cfg Config, v any) {
	memo.Lock()
	defer memo.Unlock()
	memo.m[memoKey(name, cfg)] = v
}

// agreementPoint is one cell with both a theory and a trained value: the
// theory's expected accuracy of one network and the standard deviation of
// that accuracy (sampled), and the trained networks' mean accuracy and
// its standard deviation over seeds.
type agreementPoint struct {
	Theory, TheorySD   float64
	Trained, TrainedSD float64
	Last               bool // at the last time the networks ran
}

// combinedSD is sqrt(SD_theory^2 + SD_trained^2), the spread of the
// difference of one draw of each (a missing SD counts as zero).
func (p agreementPoint) combinedSD() float64 {
	a, b := p.TheorySD, p.TrainedSD
	if math.IsNaN(a) {
		a = 0
	}
	if math.IsNaN(b) {
		b = 0
	}
	return math.Hypot(a, b)
}

func (p agreementPoint) within(k float64) bool {
	return math.Abs(p.Trained-p.Theory) <= k*p.combinedSD()
}

// trainabilityAgreement returns the points of the trained trainability
// cells that the theory maps also cover (same sw2, depth and time), train
// and test accuracy separately.
func trainabilityAgreement(th, tr TrainabilityMaps, tg TrainedGrid) (train, test []agreementPoint) {
	g := th.Grid
	last := lastRun(tg.Times, tg.Steps)
	depths := intsToFloats(g.Depths)
	for it := 0; it <= last; it++ {
		jt := nearest(g.Times, tg.Times[it])
		if jt < 0 || g.Times[jt] != tg.Times[it] {
			continue
		}
		for id, d := range tg.Depths {
			jd := nearest(depths, float64(d))
			if jd < 0 || g.Depths[jd] != d {
				continue
			}
			for is, sw2 := range tg.SW2 {
				js := nearest(g.SW2, sw2)
				if js < 0 || math.Abs(g.SW2[js]-sw2) > 1e-12 {
					continue
				}
				add := func(out []agreementPoint, thc, thsd, trc, trsd [][][]float64) []agreementPoint {
					p := agreementPoint{Theory: thc[jt][jd][js], TheorySD: thsd[jt][jd][js], Trained: trc[it][id][is], TrainedSD: trsd[it][id][is], Last: it == last}
					if math.IsNaN(p.Theory) || math.IsNaN(p.Trained) {
						return out
					}
					return append(out, p)
				}
				train = add(train, th.Train, th.TrainSD, tr.Train, tr.TrainSD)
				test = add(test, th.Test, th.TestSD, tr.Test, tr.TestSD)
			}
		}
	}
	return train, test
}

// poolingAgreement returns the points of the pooling figure: per phase,
// architecture and trained depth, the test accuracy after the networks'
// steps.
func poolingAgreement(r poolingResult, st poolingSetup) []agreementPoint {
	var out []agreementPoint
	for ip := range st.Phases {
		for ia := range poolingArchs {
			c := r.Theory[ip][ia]
			for id, d := range st.Depths {
				if d > st.MaxDepth {
					continue
				}
				p := agreementPoint{Theory: c.Expected[d-1], TheorySD: c.ExpectedSD[d-1], Trained: r.NetTest[ip][ia][id], TrainedSD: r.NetTestSD[ip][ia][id], Last: true}
				if !math.IsNaN(p.Theory) && !math.IsNaN(p.Trained) {
					out = append(out, p)
				}
			}
		}
	}
	return out
}

// fractionWithin returns how many points (of those with last set, when
// lastOnly) lie within k combined SDs, and how many there are.
func fractionWithin(pts []agreementPoint, k float64, lastOnly bool) (in, n int) {
	for _, p := range pts {
		if lastOnly && !p.Last {
			continue
		}
		n++
		if p.within(k) {
			in++
		}
	}
	return in, n
}

// agreementSeries draws points as markers at (theory, trained) with the
// trained SD as vertical bars and the theory SD as a horizontal line cut
// between points.
func agreementSeries(label string, color int, pts []agreementPoint) []plots.Series {
	m := plots.Series{Label: label, Style: plots.Markers, Color: color}
	h := plots.Series{Style: plots.Line, Color: color}
	for _, p := range pts {
		m.X, m.Y, m.YErr = append(m.X, p.Theory), append(m.Y, p.Trained), append(m.YErr, p.TrainedSD)
		if !math.IsNaN(p.TheorySD) && p.TheorySD > 0 {
			h.X = append(h.X, p.Theory-p.TheorySD, p.Theory+p.TheorySD, math.NaN())
			h.Y = append(h.Y, p.Trained, p.Trained, math.NaN())
		}
	}
	out := []plots.Series{m}
	if len(h.X) > 0 {
		out = append(out, h)
	}
	return out
}

func runAgreement(cfg Config) (Result, error) {
	// Progress: the two computations it may need, in sequence.
	sub := cfg
	td, err := computeTrainability(sub)
	if err != nil {
		return Result{}, err
	}
	pd, err := computePoolingData(sub)
	if err != nil {
		return Result{}, err
	}
	return drawAgreement(td, pd), nil
}

func drawAgreement(td trainabilityData, pd poolingDataSet) Result {
	trTrain, trTest := trainabilityAgreement(td.Theory, td.Trained, td.TG)
	pool := poolingAgreement(pd.Result, pd.Setup)
	diag := plots.Series{Label: "y = x", X: []float64{0, 1}, Y: []float64{0, 1}, Style: plots.Line, Dashed: true, Color: 4}
	tg := td.TG
	p1 := plots.Panel{Title: fmt.Sprintf("trainability: erf FCN width %d, %d seeds, t <= %d", tg.Width, td.Trained.Seeds, tg.Steps),
		XLabel: "theory: expected accuracy of one network", YLabel: "trained: mean accuracy", XLim: [2]float64{0, 1}, YLim: [2]float64{0, 1}, Legend: plots.LegendAuto}
	p1.Series = append(p1.Series, diag)
	p1.Series = append(p1.Series, agreementSeries("train accuracy", 1, trTrain)...)
	p1.Series = append(p1.Series, agreementSeries("test accuracy", 2, trTest)...)
	st := pd.Setup
	p2 := plots.Panel{Title: fmt.Sprintf("pooling: fcn, cnn-f, cnn-gap, %d seeds, t = %d", pd.Result.Seeds, st.Steps),
		XLabel: "theory: expected test accuracy of one network", YLabel: "trained: mean test accuracy", XLim: [2]float64{0, 1}, YLim: [2]float64{0, 1}, Legend: plots.LegendAuto}
	p2.Series = append(p2.Series, diag)
	p2.Series = append(p2.Series, agreementSeries("test accuracy", 3, pool)...)
	fig := plots.Figure{Title: "Trained networks against the expected accuracy of one infinitely wide network (bars: SD of one network's accuracy, sampled for the theory, over seeds for the trained)",
		Rows: 1, Cols: 2, Panels: []plots.Panel{p1, p2}}

	frac := func(pts []agreementPoint, lastOnly bool) string {
		in, n := fractionWithin(pts, 2, lastOnly)
		if n == 0 {
			return "no cells"
		}
		return fmt.Sprintf("%d of %d (%.0f%%)", in, n, 100*float64(in)/float64(n))
	}
	all := append(append(append([]agreementPoint(nil), trTrain...), trTest...), pool...)
	obs := fmt.Sprintf("Cells within 2 combined SDs (|trained mean - theory| <= 2 sqrt(SD_theory^2 + SD_trained^2), SDs of one network's accuracy): overall %s; trainability train accuracy %s (at t = %d: %s), test accuracy %s (at t = %d: %s); pooling test accuracy %s.",
		frac(all, false), frac(trTrain, false), tg.Steps, frac(trTrain, true), frac(trTest, false), tg.Steps, frac(trTest, true), frac(pool, false))
	obs += " " + largestGaps(trTest, pool)
	in, n := fractionWithin(all, 2, false)
	nums := []plots.KeyNumber{{Name: "cells within 2 combined SDs", Value: fmt.Sprintf("%d / %d", in, n)}}
	return Result{Figure: fig, Caption: plots.ReportFigure{
		Theory:   "A network trained by gradient descent from a random initialization is, at infinite width, a Gaussian process whose mean is the NTK mean predictor and whose variance comes from the random initial outputs f_0 ~ GP(0, K) (theory.Distribution); its expected accuracy, and the spread of one network's accuracy, are what trained networks of finite width should match. Points on y = x agree; bars are one SD of one network's accuracy each way.",
		Observed: obs,
		Numbers:  nums,
	}}
}

// largestGaps describes the mean signed difference (trained - theory) of
// the test points of each source.
func largestGaps(trTest, pool []agreementPoint) string {
	mean := func(pts []agreementPoint) float64 {
		if len(pts) == 0 {
			return math.NaN()
		}
		s := 0.0
		for _, p := range pts {
			s += p.Trained - p.Theory
		}
		return s / float64(len(pts))
	}
	return fmt.Sprintf("Mean trained minus theory test accuracy: trainability %+.3f, pooling %+.3f.", mean(trTest), mean(pool))
}
