package gunzip

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"math/rand/v2"
	"testing"
)

// csvLike makes n bytes of text shaped like the converter's input: short
// fields, repeated codes, some random digits.
func csvLike(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 1))
	var b bytes.Buffer
	codes := []string{"Y", "N", "", "CA", "TX", "NY", "Smith", "Garcia", "2024-01-15"}
	for b.Len() < n {
		for f := 0; f < 40; f++ {
			if f > 0 {
				b.WriteByte(',')
			}
			if r.IntN(4) == 0 {
				b.WriteString(string(rune('0' + r.IntN(10))))
				b.WriteString(string(rune('0' + r.IntN(10))))
			} else {
				b.WriteString(codes[r.IntN(len(codes))])
			}
		}
		b.WriteByte('\n')
	}
	return b.Bytes()[:n]
}

func gz(t testing.TB, data []byte, level int) []byte {
	var b bytes.Buffer
	w, err := gzip.NewWriterLevel(&b, level)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// readAll decompresses with Reader, reading in small pieces.
func readAll(src []byte, piece int) ([]byte, error) {
	z, err := NewReader(&slowReader{b: src, n: 3})
	if err != nil {
		return nil, err
	}
	defer z.Close()
	var out bytes.Buffer
	buf := make([]byte, piece)
	for {
		n, err := z.Read(buf)
		out.Write(buf[:n])
		if err == io.EOF {
			return out.Bytes(), nil
		}
		if err != nil {
			return out.Bytes(), err
		}
	}
}

// slowReader returns at most n bytes a Read, to exercise refills at
// every boundary.
type slowReader struct {
	b []byte
	n int
}

func (s *slowReader) Read(p []byte) (int, error) {
	if len(s.b) == 0 {
		return 0, io.EOF
	}
	k := copy(p[:min(len(p), s.n+len(s.b)%7)], s.b)
	s.b = s.b[k:]
	return k, nil
}

func TestRoundTrip(t *testing.T) {
	big := csvLike(3<<20, 1)
	random := make([]byte, 200<<10)
	rng := rand.New(rand.NewPCG(2, 2))
	for i := range random {
		random[i] = byte(rng.Uint32())
	}
	cases := map[string][]byte{
		"empty":  nil,
		"one":    []byte("x"),
		"csv":    big,
		"random": random, // stored blocks at level 0, mostly literals otherwise
		"runs":   bytes.Repeat([]byte("a"), 100000),
	}
	for name, data := range cases {
		for _, level := range []int{gzip.NoCompression, gzip.BestSpeed, 6, gzip.BestCompression, gzip.HuffmanOnly} {
			got, err := readAll(gz(t, data, level), 4093)
			if err != nil {
				t.Fatalf("%s level %d: %v", name, level, err)
			}
			if !bytes.Equal(got, data) {
				t.Fatalf("%s level %d: %d bytes out, want %d (first difference at %d)", name, level, len(got), len(data), firstDiff(got, data))
			}
		}
	}
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

func TestMultiMember(t *testing.T) {
	a, b := csvLike(70000, 3), csvLike(5, 4)
	src := append(append(gz(t, a, 6), gz(t, nil, 6)...), gz(t, b, 1)...)
	got, err := readAll(src, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if want := append(append([]byte{}, a...), b...); !bytes.Equal(got, want) {
		t.Fatalf("%d bytes, want %d", len(got), len(want))
	}
}

func TestHeaderFields(t *testing.T) {
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	w.Name, w.Comment, w.Extra = "part-0001.csv", "a comment", []byte{1, 2, 3, 4}
	w.Write([]byte("hello, world\n"))
	w.Close()
	got, err := readAll(b.Bytes(), 100)
	if err != nil || string(got) != "hello, world\n" {
		t.Fatalf("got %q, %v", got, err)
	}
}

func TestBadInput(t *testing.T) {
	good := gz(t, csvLike(300000, 5), 6)
	flipCRC := append([]byte{}, good...)
	flipCRC[len(flipCRC)-6] ^= 1
	flipSize := append([]byte{}, good...)
	flipSize[len(flipSize)-2] ^= 1
	for _, tc := range []struct {
		name string
		src  []byte
		want error
	}{
		{"not gzip", []byte("id,name\n1,x\n"), ErrHeader},
		{"truncated in the data", good[:len(good)/2], io.ErrUnexpectedEOF},
		{"truncated in the trailer", good[:len(good)-3], io.ErrUnexpectedEOF},
		{"no trailer", good[:len(good)-8], io.ErrUnexpectedEOF},
		{"crc", flipCRC, ErrChecksum},
		{"size", flipSize, ErrChecksum},
		{"trailing garbage", append(append([]byte{}, good...), "junk"...), ErrHeader},
		{"reserved block type", append(gz(t, nil, 6)[:10], 0x07, 0, 0, 0, 0, 0, 0, 0, 0, 0), ErrCorrupt},
	} {
		_, err := readAll(tc.src, 1<<16)
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: error %v, want %v", tc.name, err, tc.want)
		}
		if ge, ok := errors.AsType[*Error](err); ok && (ge.Offset < 0 || ge.Offset > int64(len(tc.src))) {
			t.Errorf("%s: offset %d of %d bytes", tc.name, ge.Offset, len(tc.src))
		} else if tc.want == io.ErrUnexpectedEOF && (!ok || ge.Offset != int64(len(tc.src))) {
			t.Errorf("%s: a truncation is at the end of the input (%d bytes), not %v", tc.name, len(tc.src), err)
		}
	}
	if _, err := NewReader(bytes.NewReader(nil)); err != io.EOF {
		t.Errorf("empty input: %v, want io.EOF", err)
	}
	// A source that returns nothing, and no error, forever.
	z, err := NewReader(io.MultiReader(bytes.NewReader(good[:100]), stuckReader{}))
	if err != nil {
		t.Fatal(err)
	}
	defer z.Close()
	if _, err := io.ReadAll(z); !errors.Is(err, io.ErrNoProgress) {
		t.Errorf("a source stuck without error: %v, want io.ErrNoProgress", err)
	}
}

// stuckReader returns no byte and no error.
type stuckReader struct{}

func (stuckReader) Read([]byte) (int, error) { return 0, nil }

// FuzzInflate checks the decoder against compress/gzip on any input:
// the same bytes out, and an error where it fails.
func FuzzInflate(f *testing.F) {
	f.Add(gz(f, []byte("a,b,c\n1,2,3\n"), 6), false)
	f.Add(gz(f, csvLike(5000, 9), 1), false)
	f.Add(gz(f, csvLike(5000, 9), 0), false)
	f.Add([]byte("plain"), false)
	f.Add([]byte("a,b,c\n1,Y,N,,3\n"), true)
	f.Fuzz(func(t *testing.T, data []byte, compress bool) {
		src := data
		if compress {
			src = gz(t, data, 6)
		}
		want, werr := gunzipStd(src)
		got, gerr := readAll(src, 777)
		if (werr == nil) != (gerr == nil) {
			t.Fatalf("compress/gzip: %v; gunzip: %v", werr, gerr)
		}
		if werr == nil && !bytes.Equal(got, want) {
			t.Fatalf("%d bytes, want %d", len(got), len(want))
		}
	})
}

func gunzipStd(src []byte) ([]byte, error) {
	z, err := gzip.NewReader(bytes.NewReader(src))
	if err != nil {
		return nil, err
	}
	return io.ReadAll(z)
}
