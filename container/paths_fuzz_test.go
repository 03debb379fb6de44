package container

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"github.com/tierflow/tierflow/jobs"
)

// FuzzFastPaths converts the fuzzer's CSV (after the right header) twice:
// with pass 1's partial scan and pass 2's fused split-and-convert, and with
// every record parsed by csvparse in both passes. The two must agree on
// everything: the outcome, the counts, the rejects sidecar and every byte
// of every file. Inputs of odd length are converted with column checks and
// normalisation (withChecks), so both paths normalise and check too.
//
//	go test ./container -run '^$' -fuzz FuzzFastPaths
func FuzzFastPaths(f *testing.F) {
	csvData, _ := genCSV(1, 40, true)
	f.Add(csvData[strings.IndexByte(string(csvData), '\n')+1:])
	for _, s := range []string{
		goodLine(1) + goodLine(2),
		goodLine(1) + "1,CA\n" + goodLine(3),                             // short record
		goodLine(1) + strings.TrimSuffix(goodLine(2), "\n") + ",extra\n", // long record
		strings.Replace(goodLine(1), "30", "x", 1) + goodLine(2),         // bad int
		strings.Replace(goodLine(1), "30", "99999999999", 1),             // int overflow
		strings.Replace(goodLine(1), "30", "\\N", 1),                     // marker
		strings.Replace(goodLine(1), "Secret Name", `"Se""cret, Name"`, 1),
		strings.Replace(goodLine(1), "Secret Name", "\"multi\nline\"", 1),
		strings.Replace(goodLine(1), "CA", "C\"A", 1), // bare quote in the bucket field
		strings.Replace(goodLine(1), "CA", "\xff", 1), // invalid UTF-8
		strings.ReplaceAll(goodLine(1)+goodLine(2), "\n", "\r\n"),
		"\n\n" + goodLine(1) + "\r\n" + strings.TrimSuffix(goodLine(2), "\n"),
		goodLine(1) + `1,CA,"open`,
		strings.Replace(goodLine(1), ",CA,", ", ca,", 1) + strings.Replace(goodLine(2), ",CA,", ",tx\t,", 1), // normalised
		strings.Replace(goodLine(1), ",CA,", `," ca",`, 1) + strings.Replace(goodLine(2), ",CA,", ",ZZ,", 1), // quoted; not allowed
		strings.Replace(goodLine(1), ",ok\n", ",NOT OK\n", 1) + strings.Replace(goodLine(2), "Secret", "S3cret", 1),
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		if len(body) > 1<<16 {
			return
		}
		in := gz(append([]byte(hdr), body...), 1)
		type outcome struct {
			err     string
			m       *Manifest
			files   map[string][]byte
			rejects []byte
		}
		run := func(slow bool) outcome {
			e := newEnv(t)
			spec := testSpec()
			if len(body)%2 == 1 {
				spec = withChecks(spec, jobs.NormTrim|jobs.NormUpper)
			}
			spec.Rejects.MaxRows, spec.Rejects.MaxFraction = 1<<30, 1
			spec.Convert.MemoryBytes = 32 << 20 // no spill: fast execs (spilling is tested elsewhere)
			spec.Output.RowGroupBytes = 16 << 10
			m, err := e.convert(t, spec, in, func(o *Options) { o.chunkSize = 4 << 10; o.slowPaths = slow })
			o := outcome{m: m, files: filesOf(t, e.dst)}
			if err != nil {
				o.err = err.Error() // both paths must fail alike, message and all
			}
			o.rejects, _ = os.ReadFile(e.dst.path("meta/part-0001.rejects.csv"))
			return o
		}
		fast, slow := run(false), run(true)
		if fast.err != slow.err {
			t.Fatalf("errors differ:\nfast: %s\nslow: %s", fast.err, slow.err)
		}
		if fast.m.RowsRead != slow.m.RowsRead || fast.m.RowsWritten != slow.m.RowsWritten || fast.m.RowsRejected != slow.m.RowsRejected {
			t.Fatalf("rows read/written/rejected: fast %d/%d/%d, slow %d/%d/%d", fast.m.RowsRead, fast.m.RowsWritten, fast.m.RowsRejected,
				slow.m.RowsRead, slow.m.RowsWritten, slow.m.RowsRejected)
		}
		if !bytes.Equal(fast.rejects, slow.rejects) {
			t.Fatalf("rejects differ:\nfast:\n%s\nslow:\n%s", fast.rejects, slow.rejects)
		}
		if len(fast.files) != len(slow.files) {
			t.Fatalf("%d files fast, %d slow", len(fast.files), len(slow.files))
		}
		for k, b := range fast.files {
			if !bytes.Equal(b, slow.files[k]) {
				t.Fatalf("file %s differs", k)
			}
		}
	})
}
