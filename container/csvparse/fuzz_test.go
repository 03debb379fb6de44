package csvparse

import (
	"bytes"
	"reflect"
	"testing"
	"testing/iotest"
)

// FuzzParse compares Parse with the slow reference and, on inputs that
// encoding/csv accepts with strict quotes, with encoding/csv.
func FuzzParse(f *testing.F) {
	for _, c := range parseCases {
		f.Add([]byte(c))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got := checkAgainstReference(t, data, ',')
		checkAgainstEncodingCSV(t, data, got)
	})
}

// FuzzChunker checks that cutting the stream into chunks of any size never
// splits a record: parsing chunk by chunk equals parsing the whole input.
func FuzzChunker(f *testing.F) {
	for _, c := range parseCases {
		f.Add([]byte(c), uint16(64), false)
	}
	f.Add([]byte("\xef\xbb\xbfa,b\n\"x\ny\",z\n"), uint16(70), true)
	f.Fuzz(func(t *testing.T, data []byte, size uint16, oneByte bool) {
		skip := 0
		if bytes.HasPrefix(data, utf8BOM) {
			skip = 3
		}
		want, wantBlank := refParse(data[skip:], ',')
		for i := range want {
			want[i].Start += skip
		}
		var r = bytes.NewReader(data)
		var got []refRecord
		var blank int
		if oneByte {
			got, blank = chunkAll(t, iotest.OneByteReader(r), ',', int(size))
		} else {
			got, blank = chunkAll(t, r, ',', int(size))
		}
		if len(got) == 0 && len(want) == 0 {
			return
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("size %d: chunked %+v\nwhole %+v", size, got, want)
		}
		if blank != wantBlank {
			t.Fatalf("blank %d want %d", blank, wantBlank)
		}
	})
}
