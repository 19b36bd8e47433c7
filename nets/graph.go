package nets

import (
	"fmt"
	"math"
	"runtime"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"gonum.org/v1/gonum/mat"

	"github.com/ntkharness/ntkharness/activation"
	"github.com/ntkharness/ntkharness/internal/bigmem"
	"github.com/ntkharness/ntkharness/npy"
	"github.com/ntkharness/ntkharness/spec"
)

// newNet checks s and inShape and lays out the layers and zero parameters.
func newNet(s spec.Spec, inShape []int) (*Net, error) {
	n, err := layout(s, inShape)
	if err != nil {
		return nil, err
	}
	// One block for all parameters, so that it spans whole huge pages.
	total := 0
	for _, p := range n.params {
		total += npy.Size(p.Shape)
	}
	buf := bigmem.Floats[float64](total)
	for i := range n.params {
		sz := npy.Size(n.params[i].Shape)
		n.params[i].Data, buf = buf[:sz:sz], buf[sz:]
	}
	return n, nil
}

// layout checks s and inShape and lays out the layers and the parameter
// shapes, without allocating the parameters.
func layout(s spec.Spec, inShape []int) (*Net, error) {
	if err := s.ValidateFinite(); err != nil {
		return nil, err
	}
	s = s.WithDefaults()
	n := &Net{spec: s, inShape: append([]int(nil), inShape...), graphs: map[graphKey]*graph{}}
	sw, sb := math.Sqrt(s.SW2), math.Sqrt(s.SB2)
	addLayer := func(name string, conv bool, fanIn, fanOut, positions int, wShape []int) {
		ly := Layer{Name: name, Conv: conv, FanIn: fanIn, FanOut: fanOut, Positions: positions,
			Scale: sw / math.Sqrt(float64(fanIn)), BiasScale: sb, W: len(n.params), B: len(n.params) + 1}
		wName, bName := "w"+name, "b"+name
		if name == "out" {
			wName, bName = "w_out", "b_out"
		}
		n.params = append(n.params,
			Param{Name: wName, Shape: wShape},
			Param{Name: bName, Shape: []int{fanOut}})
		n.layers = append(n.layers, ly)
	}
	width := s.Width
	if !s.IsConv() {
		if len(inShape) != 1 || inShape[0] < 1 {
			return nil, fmt.Errorf("nets: fcn input shape %v: want [d] with d >= 1", inShape)
		}
		in := inShape[0]
		for l := 1; l <= s.Depth; l++ {
			addLayer(fmt.Sprint(l), false, in, width, 1, []int{in, width})
			n.geoms = append(n.geoms, convGeom{})
			in = width
		}
		addLayer("out", false, in, s.Outputs, 1, []int{in, s.Outputs})
		return n, nil
	}
	if len(inShape) != 3 || inShape[0] < 1 || inShape[1] < 1 || inShape[2] < 1 {
		return nil, fmt.Errorf("nets: %s input shape %v: want [H, W, C] images, channels last", s.Arch, inShape)
	}
	h, w, c := inShape[0], inShape[1], inShape[2]
	pad := 0
	if s.Padding == spec.Same {
		pad = (s.Filter - 1) / 2
	}
	for l := 1; l <= s.Depth; l++ {
		g := convGeom{B: 1, H: h, W: w, C: c, F: s.Filter, Pad: pad}
		ho, wo := g.out()
		if ho < 1 || wo < 1 {
			return nil, fmt.Errorf("nets: %dx%d images are too small for %d VALID %dx%d convolutions", inShape[0], inShape[1], s.Depth, s.Filter, s.Filter)
		}
		f2c := s.Filter * s.Filter * c
		addLayer(fmt.Sprint(l), true, f2c, width, ho*wo, []int{s.Filter, s.Filter, c, width})
		n.geoms = append(n.geoms, g)
		h, w, c = ho, wo, width
	}
	in := c
	if s.Arch == spec.CNNF {
		in = h * w * c
	}
	addLayer("out", false, in, s.Outputs, 1, []int{in, s.Outputs})
	n.geoms = append(n.geoms, convGeom{B: 1, H: h, W: w, C: c})
	return n, nil
}

type graphKind int

const (
	kindForward graphKind = iota // x -> f
	kindTrain                    // x, y -> f, loss, dloss/dtheta
	kindVJP                      // x, cot -> f, d sum(cot f)/d(theta, z_l)
)

type graphKey struct {
	kind  graphKind
	batch int
}

// graph is one compiled Gorgonia graph for a kind and batch size. The
// parameter nodes are backed by the Net's parameter slices, so all graphs
// share the parameters.
type graph struct {
	g      *G.ExprGraph
	vm     G.VM
	x, aux *G.Node // input and targets (train) or cotangent (vjp)
	xv     []float64
	auxv   []float64
	out    *G.Node   // f, [B, k]
	loss   *G.Node   // train only
	ins    []*G.Node // layer inputs H_{l-1} (for convolutions the images, not the patches)
	zs     []*G.Node // pre-activations of the hidden layers
	grads  G.Nodes   // train: params; vjp: params then zs
}

// errFloat32Graph refuses the graph-only operations of a float32 Net.
var errFloat32Graph = fmt.Errorf("nets: spec dtype float32: LossGrad, Backward and JacobianRows run Gorgonia graphs, which are float64 only; train float32 networks as an Ensemble and use the structured NTK")

// maxGraphs bounds the compiled graphs a Net keeps.
const maxGraphs = 8

// graph returns the compiled graph of a kind for a batch, building it on
// first use. Gorgonia graph construction is not safe for concurrent use, so
// it happens under a package-wide lock.
func (n *Net) graph(kind graphKind, batch int) (*graph, error) {
	if n.spec.DType == spec.Float32 {
		return nil, errFloat32Graph
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	key := graphKey{kind, batch}
	if gr, ok := n.graphs[key]; ok {
		return gr, nil
	}
	if len(n.graphs) >= maxGraphs {
		for k, gr := range n.graphs {
			gr.vm.Close()
			delete(n.graphs, k)
		}
	}
	buildMu.Lock()
	gr, err := n.build(kind, batch)
	buildMu.Unlock()
	if err != nil {
		return nil, fmt.Errorf("nets: building the %s graph: %v", n.spec.Arch, err)
	}
	n.graphs[key] = gr
	return gr, nil
}

// Close releases the compiled graphs; the Net stays usable. It ends with a
// garbage collection: the graphs' tensors carry finalizers, so without it
// their memory outlives them by a cycle and the heap of a loop over
// networks grows about 40% above what one network needs (measured: 8
// width-2048 networks in ntkempirical.Mean, peak RSS 1.29 GB without,
// 0.91 GB with, for 4% more time).
func (n *Net) Close() {
	n.mu.Lock()
	for k, gr := range n.graphs {
		gr.vm.Close()
		delete(n.graphs, k)
	}
	n.mu.Unlock()
	runtime.GC()
}

func (n *Net) build(kind graphKind, batch int) (*graph, error) {
	s := n.spec
	g := G.NewGraph()
	gr := &graph{g: g}
	k := s.Outputs

	xRows, xCols := batch, n.inShape[0]
	if s.IsConv() {
		xRows, xCols = batch*n.inShape[0]*n.inShape[1], n.inShape[2]
	}
	gr.xv = make([]float64, xRows*xCols)
	gr.x = G.NewMatrix(g, G.Float64, G.WithName("x"),
		G.WithValue(tensor.New(tensor.WithShape(xRows, xCols), tensor.WithBacking(gr.xv))))

	var params G.Nodes
	for _, p := range n.params {
		rows, cols := 1, len(p.Data)
		if len(p.Shape) > 1 {
			cols = p.Shape[len(p.Shape)-1]
			rows = len(p.Data) / cols
		}
		params = append(params, G.NewMatrix(g, G.Float64, G.WithName(p.Name),
			G.WithValue(tensor.New(tensor.WithShape(rows, cols), tensor.WithBacking(p.Data)))))
	}

	h := gr.x
	var err error
	for l, ly := range n.layers {
		in := h
		switch {
		case ly.Conv:
			// in stays h: the conv op builds the patches block by block.
		case l == len(n.layers)-1 && s.Arch == spec.CNNF:
			in, err = G.Reshape(h, tensor.Shape{batch, ly.FanIn})
		case l == len(n.layers)-1 && s.Arch == spec.CNNGAP:
			geom := n.geoms[l]
			in, err = G.ApplyOp(gapOp(geom.H*geom.W), h)
		}
		if err != nil {
			return nil, err
		}
		gr.ins = append(gr.ins, in)
		var m *G.Node
		if ly.Conv {
			geom := n.geoms[l]
			geom.B = batch
			m, err = G.ApplyOp(geom.convOp(l > 0), in, params[ly.W])
		} else {
			m, err = G.ApplyOp(matmulOp(l > 0), in, params[ly.W])
		}
		if err != nil {
			return nil, err
		}
		z, err := G.ApplyOp(affineOp(ly.Scale, ly.BiasScale), m, params[ly.B])
		if err != nil {
			return nil, err
		}
		if l == len(n.layers)-1 {
			gr.out = z
			break
		}
		gr.zs = append(gr.zs, z)
		if h, err = activate(s.Act, z); err != nil {
			return nil, err
		}
	}

	switch kind {
	case kindTrain:
		gr.auxv = make([]float64, batch*k)
		gr.aux = G.NewMatrix(g, G.Float64, G.WithName("y"),
			G.WithValue(tensor.New(tensor.WithShape(batch, k), tensor.WithBacking(gr.auxv))))
		if gr.loss, err = G.ApplyOp(mseOp(1/(2*float64(batch*k))), gr.out, gr.aux); err != nil {
			return nil, err
		}
		if gr.grads, err = G.Backpropagate(G.Nodes{gr.loss}, G.Nodes{one(g)}, params); err != nil {
			return nil, err
		}
	case kindVJP:
		gr.auxv = make([]float64, batch*k)
		gr.aux = G.NewMatrix(g, G.Float64, G.WithName("cot"),
			G.WithValue(tensor.New(tensor.WithShape(batch, k), tensor.WithBacking(gr.auxv))))
		sum, err := G.ApplyOp(dotOp, gr.aux, gr.out)
		if err != nil {
			return nil, err
		}
		wrt := append(append(G.Nodes{}, params...), gr.zs...)
		if gr.grads, err = G.Backpropagate(G.Nodes{sum}, G.Nodes{one(g)}, wrt); err != nil {
			return nil, err
		}
	}
	gr.vm = G.NewTapeMachine(g)
	return gr, nil
}

// activate applies phi elementwise, phi being the description of the
// activation named act.
func activate(act string, z *G.Node) (*G.Node, error) {
	d, err := activation.Lookup(act)
	if err != nil {
		return nil, err
	}
	return G.ApplyOp(phiOp(d), z)
}

// run copies the inputs in and runs the graph once.
func (gr *graph) run(x, aux []float64) error {
	copy(gr.xv, x)
	if aux != nil {
		copy(gr.auxv, aux)
	}
	defer gr.vm.Reset()
	if err := gr.vm.RunAll(); err != nil {
		return fmt.Errorf("nets: running the graph: %v", err)
	}
	return nil
}

// valueData returns the float64 values of a node after a run.
func valueData(nd *G.Node) []float64 {
	switch d := nd.Value().Data().(type) {
	case []float64:
		return d
	case float64:
		return []float64{d}
	}
	panic(fmt.Sprintf("nets: node %v holds %T, want float64", nd, nd.Value().Data()))
}

func copyDense(nd *G.Node) *mat.Dense {
	s := nd.Shape()
	return mat.NewDense(s[0], s[1], append([]float64(nil), valueData(nd)...))
}

// denseData returns the row-major values of m.
func denseData(m *mat.Dense) []float64 {
	r, c := m.Dims()
	raw := m.RawMatrix()
	if raw.Stride == c {
		return raw.Data[:r*c]
	}
	d := make([]float64, 0, r*c)
	for i := 0; i < r; i++ {
		d = append(d, raw.Data[i*raw.Stride:i*raw.Stride+c]...)
	}
	return d
}

// one returns a [1, 1] constant 1 in g, the seed of backpropagation from a
// [1, 1] output.
func one(g *G.ExprGraph) *G.Node {
	return g.AddNode(G.NewConstant(tensor.New(tensor.WithShape(1, 1), tensor.WithBacking([]float64{1}))))
}
