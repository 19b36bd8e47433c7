package datasets

import "fmt"

// Packed is a labelled set of images kept as the bytes they were read
// from, one byte per value in the layout of Set.X, so that a process can
// hold a whole data set in one eighth of its float64 size and decode only
// the examples it draws:
//
//	Set.X[j] = Pix[j] / 255.
//
// Subset and Take return decoded Sets equal to those of the decoded whole
// set (Unpack), value for value.
type Packed struct {
	meta Set     // everything but X
	pix  []uint8 // N*H*W*C bytes
}

// newPacked returns the packed set of meta's shape and labels over pix.
func newPacked(meta Set, pix []uint8) *Packed {
	meta.X = nil
	return &Packed{meta: meta, pix: pix}
}

// Len returns the number of images.
func (p *Packed) Len() int { return p.meta.N }

// Meta returns the set's name, split, shape, labels and class names, with
// no pixel values (X is nil). The labels are shared: do not modify them.
func (p *Packed) Meta() Set { return p.meta }

// Unpack decodes the whole set.
func (p *Packed) Unpack() *Set {
	s := p.meta.withShape(p.meta.N, p.meta.H, p.meta.W, p.meta.C)
	for j, b := range p.pix {
		s.X[j] = byteScale[b]
	}
	return s
}

// Take decodes the examples with the given indices, in that order (see
// Set.Take). It panics if an index is out of range.
func (p *Packed) Take(idx []int) *Set {
	m := &p.meta
	t := m.withShape(len(idx), m.H, m.W, m.C)
	t.Labels = make([]int, len(idx))
	d := m.Dim()
	for j, i := range idx {
		if i < 0 || i >= m.N {
			panic(fmt.Sprintf("datasets: index %d out of range [0, %d)", i, m.N))
		}
		out := t.X[j*d : (j+1)*d]
		for k, b := range p.pix[i*d : (i+1)*d] {
			out[k] = byteScale[b]
		}
		t.Labels[j] = m.Labels[i]
	}
	return t
}

// Subset decodes the class-balanced seeded subset that Set.Subset draws
// from the decoded set: the same examples in the same order.
func (p *Packed) Subset(n int, perClass bool, seed uint64) (*Set, error) {
	idx, err := p.meta.balancedIndices(n, perClass, seed)
	if err != nil {
		return nil, err
	}
	return p.Take(idx), nil
}

// Subsetter draws class-balanced seeded subsets as decoded Sets: a Set or
// a Packed set, which draw the same subsets.
type Subsetter interface {
	Subset(n int, perClass bool, seed uint64) (*Set, error)
}
