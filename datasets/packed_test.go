package datasets

import (
	"slices"
	"testing"
)

// A packed set draws the same subsets as the decoded set, value for value,
// and decodes each byte b to b/255.
func TestPackedMatchesDecoded(t *testing.T) {
	ptr, pte, err := loadMNISTEmbedded()
	if err != nil {
		t.Fatal(err)
	}
	tr, te := ptr.Unpack(), pte.Unpack()
	if tr.N != 60000 || te.N != 10000 || ptr.Len() != 60000 {
		t.Fatalf("sizes %d, %d (packed %d)", tr.N, te.N, ptr.Len())
	}
	for j, b := range ptr.pix[:5000] {
		if tr.X[j] != float64(b)/255 {
			t.Fatalf("value %d: %v, want %d/255", j, tr.X[j], b)
		}
	}
	for _, c := range []struct {
		p        *Packed
		s        *Set
		n        int
		perClass bool
		seed     uint64
	}{{ptr, tr, 256, false, 3}, {pte, te, 7, true, 9}, {ptr, tr, 1, false, 0}} {
		got, err := c.p.Subset(c.n, c.perClass, c.seed)
		if err != nil {
			t.Fatal(err)
		}
		want, err := c.s.Subset(c.n, c.perClass, c.seed)
		if err != nil {
			t.Fatal(err)
		}
		if got.N != want.N || !slices.Equal(got.X, want.X) || !slices.Equal(got.Labels, want.Labels) ||
			got.Name != want.Name || got.Split != want.Split || got.H != want.H || got.C != want.C {
			t.Errorf("subset n=%d perClass=%v seed=%d of %s differs from the decoded set's", c.n, c.perClass, c.seed, want.label())
		}
	}
	if _, err := ptr.Subset(0, false, 1); err == nil {
		t.Error("subset of 0 accepted")
	}
	if meta := ptr.Meta(); meta.X != nil || len(meta.Labels) != 60000 {
		t.Errorf("Meta: X %v, %d labels", meta.X != nil, len(meta.Labels))
	}
}
