package datasets

import (
	"bytes"
	"testing"
)

// FuzzReadIDX feeds arbitrary bytes, plain or as a gzip stream, to the idx
// reader. It must return data of exactly the announced size or an error
// naming the file, and never panic.
func FuzzReadIDX(f *testing.F) {
	fx := newMNISTFixture()
	for _, b := range [][]byte{fx.trainImg, fx.trainLab, gz(fx.testImg), gz(fx.testLab)[:20], idxFile(0x803, []uint32{1 << 30, 1 << 30, 2}, nil), {0x1f, 0x8b}, nil} {
		f.Add(b, uint8(3))
		f.Add(b, uint8(1))
	}
	f.Fuzz(func(t *testing.T, b []byte, dims uint8) {
		d := int(dims%3) + 1
		x, err := ReadIDX(bytes.NewReader(b), "fuzz.idx", d)
		if err != nil {
			if !bytes.HasPrefix([]byte(err.Error()), []byte("fuzz.idx: ")) {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		n := 1
		for _, v := range x.Dims {
			n *= v
		}
		if len(x.Dims) != d || len(x.Data) != n {
			t.Fatalf("dims %v with %d bytes of data", x.Dims, len(x.Data))
		}
	})
}

// FuzzCIFAR10 feeds arbitrary bytes to the CIFAR-10 batch decoder and, as
// an archive, to the archive reader and the split assembly.
func FuzzCIFAR10(f *testing.F) {
	good := cifarBatch(0, 9)
	f.Add(good)
	f.Add(good[:100])
	f.Add(cifarBatch(10))
	tb := tarOf(f, []string{"x/data_batch_1.bin", "x/test_batch.bin", "x/batches.meta.txt"}, [][]byte{good, cifarBatch(4), []byte("a\nb\n")})
	f.Add(tb)
	f.Add(gz(tb))
	f.Add(gz(tb)[:200])
	f.Fuzz(func(t *testing.T, b []byte) {
		if s, err := DecodeCIFAR10(b, "fuzz.bin"); err == nil {
			if s.N*cifarRecord != len(b) || len(s.X) != s.N*3072 {
				t.Fatalf("%d bytes decoded to %d images", len(b), s.N)
			}
			for _, v := range s.X {
				if v < 0 || v > 1 {
					t.Fatalf("pixel value %v outside [0, 1]", v)
				}
			}
		}
		files, err := ReadCIFAR10Archive(bytes.NewReader(b), "fuzz.tar")
		if err != nil {
			return
		}
		train, test, err := assembleCIFAR(files, "fuzz.tar")
		if err != nil {
			return
		}
		for _, s := range []*Set{train.Unpack(), test.Unpack()} {
			if err := s.validate(); err != nil {
				t.Fatalf("assembled an invalid set: %v", err)
			}
		}
	})
}
