package container

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
)

// badPart renders n rows after the header; row i (1-based) is bad when
// bad(i) says so, in one of three ways pass 1 or pass 2 finds: a value
// that does not parse (pass 2), a short record (pass 2 for a record pass
// 1 routes on its fast path), a bare quote (pass 1).
func badPart(n int, bad func(i int) bool) []byte {
	var b strings.Builder
	b.WriteString(hdr)
	states := []string{"CA", "TX", "NY", "FL", "WY", "PR"}
	for i := 1; i <= n; i++ {
		line := strings.Replace(goodLine(i), ",CA,", ","+states[i%len(states)]+",", 1)
		if bad(i) {
			switch i % 3 {
			case 0:
				line = strings.Replace(line, ",30,", ",x,", 1)
			case 1:
				line = strings.Replace(line, ",ok\n", "\n", 1)
			case 2:
				line = strings.Replace(line, "Secret Name", `Sec"ret`, 1)
			}
		}
		b.WriteString(line)
	}
	return []byte(b.String())
}

// TestRejectThresholdDeterministic fails parts on max_rows with 1 to 4
// workers, budgets that spill or not, and checks that the outcome is the
// same every time: the error's figures, the manifest's counts (which
// balance) and the rejects sidecar, byte for byte. The rejects are the
// part's first max_rows+1 bad rows.
func TestRejectThresholdDeterministic(t *testing.T) {
	const maxRows = 100
	for _, c := range []struct {
		name string
		bad  func(i int) bool
	}{
		{"every row bad", func(int) bool { return true }},
		{"every 7th row bad", func(i int) bool { return i%7 == 0 }},
		// Only rows pass 2 rejects: pass 1 sees nothing wrong.
		{"every 5th row bad in pass 2", func(i int) bool { return i%5 == 0 && i%3 != 2 }},
	} {
		t.Run(c.name, func(t *testing.T) {
			// The rows of the part up to its (max_rows+1)th bad row.
			var checked int64
			for n := 0; n <= maxRows; checked++ {
				if c.bad(int(checked + 1)) {
					n++
				}
			}
			in := gz(badPart(3000, c.bad), 1)
			// The same part converted without limits: the verdict must
			// report its first max_rows+1 rejects exactly as the passes do.
			all := newEnv(t)
			spec := testSpec()
			spec.Rejects.MaxRows, spec.Rejects.MaxFraction = 1<<30, 1
			if _, err := all.convert(t, spec, in, func(o *Options) { o.chunkSize = 8 << 10 }); err != nil {
				t.Fatal(err)
			}
			allRejects := readRejects(t, all)
			var first []byte
			var firstM *Manifest
			for i, workers := range []int{1, 4, 2, 3, 2} {
				e := newEnv(t)
				spec := testSpec()
				spec.Rejects.MaxRows = maxRows
				spec.Convert.Workers = workers
				spec.Convert.MemoryBytes = []int64{1 << 30, 300 << 10}[i%2] // in memory, or spilled in runs
				spec.Output.RowGroupBytes = 16 << 10
				m, err := e.convert(t, spec, in, func(o *Options) { o.chunkSize = 8 << 10 })
				var re *RejectsError
				if !errors.As(err, &re) {
					t.Fatalf("run %d: err = %v, want a *RejectsError", i, err)
				}
				if re.Rejected != maxRows+1 || re.Checked != checked || re.MaxRows != maxRows || re.RejectsURI != e.dst.ObjectURI("meta/part-0001.rejects.csv") {
					t.Fatalf("run %d: %+v, want %d rejects of %d rows checked", i, re, maxRows+1, checked)
				}
				// Text: the figures a user reads in the message.
				if want := fmt.Sprintf("%d of %d rows checked", maxRows+1, checked); !strings.Contains(err.Error(), want) {
					t.Fatalf("run %d: error %q does not say %q", i, err, want)
				}
				if m.RowsRead != m.RowsWritten+m.RowsRejected+m.RowsNotProcessed || m.RowsWritten != 0 || m.RowsRejected != maxRows+1 {
					t.Fatalf("run %d: read %d != written %d + rejected %d + not processed %d", i, m.RowsRead, m.RowsWritten, m.RowsRejected, m.RowsNotProcessed)
				}
				rej, err := os.ReadFile(e.dst.path("meta/part-0001.rejects.csv"))
				if err != nil {
					t.Fatal(err)
				}
				if i == 0 {
					if got := readRejects(t, e); fmt.Sprint(got) != fmt.Sprint(allRejects[:maxRows+1]) {
						t.Fatalf("the verdict's rejects differ from the first %d the passes find:\n%q\n%q", maxRows+1, got, allRejects[:maxRows+1])
					}
					first, firstM = rej, m
					continue
				}
				if m.RowsRead != firstM.RowsRead || m.RowsRejected != firstM.RowsRejected || m.RowsNotProcessed != firstM.RowsNotProcessed {
					t.Errorf("run %d: read/rejected/not processed %d/%d/%d, run 0 %d/%d/%d", i, m.RowsRead, m.RowsRejected, m.RowsNotProcessed,
						firstM.RowsRead, firstM.RowsRejected, firstM.RowsNotProcessed)
				}
				if !bytes.Equal(rej, first) {
					t.Errorf("run %d: rejects sidecar differs from run 0", i)
				}
			}
		})
	}
}
