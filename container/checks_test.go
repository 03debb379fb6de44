package container

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/tierflow/tierflow/container/hive"
	"github.com/tierflow/tierflow/jobs"
)

// withChecks gives testSpec's columns checks: state normalised by norm and
// limited to testStates, note limited by a pattern, name (PII) too.
func withChecks(spec *jobs.Spec, norm jobs.Normalization) *jobs.Spec {
	for i := range spec.Schema.Columns {
		c := &spec.Schema.Columns[i]
		switch c.Name {
		case "state":
			c.Normalize = norm
			c.Check = &jobs.Check{Allowed: testStates}
		case "note":
			c.Check = &jobs.Check{Pattern: `[a-z ,"\\]*|[^A-Z]{8,}`}
		case "name":
			c.Check = &jobs.Check{Pattern: `[^0-9]*`}
		}
	}
	return spec
}

// readStates reads (id, state) of every row back with DuckDB and checks
// each row is in the bucket its file names, by Hive's hash of the value
// written.
func readStates(t *testing.T, e *env, m *Manifest) map[int64]string {
	t.Helper()
	db := openDuck(t)
	got := map[int64]string{}
	for _, f := range m.Files {
		rows, err := db.Query(fmt.Sprintf("SELECT id, state FROM read_parquet('%s')", e.dst.path(f.Key)))
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var id int64
			var st string
			if err := rows.Scan(&id, &st); err != nil {
				t.Fatal(err)
			}
			if b := hive.Bucket(hive.StringV1([]byte(st)), 60); b != f.Bucket {
				t.Errorf("file %s (bucket %d) holds state %q of bucket %d", f.Key, f.Bucket, st, b)
			}
			got[id] = st
		}
		rows.Close()
	}
	return got
}

func TestColumnChecks(t *testing.T) {
	states := []string{"CA", " CA", "ca", "Ca\t", "tx", "ZZ", "C A", "ÉÈ", ""}
	var data strings.Builder
	data.WriteString(hdr)
	for i, st := range states {
		data.WriteString(strings.Replace(goodLine(i+1), ",CA,", ","+st+",", 1))
	}
	n := len(states) + 1
	data.WriteString(strings.Replace(goodLine(n), ",ok\n", ",NOT OK\n", 1))          // note fails its pattern (pass 2)
	data.WriteString(strings.Replace(goodLine(n+1), "Secret Name", "Secret 007", 1)) // PII name fails its pattern
	data.WriteString(strings.Replace(goodLine(n+2), ",CA,", `,"c""a",`, 1))          // quoted: pass 1's slow path
	lines := strings.SplitAfter(data.String(), "\n")

	for _, c := range []struct {
		name    string
		norm    jobs.Normalization
		written map[int64]string  // id → state read back
		bad     map[string]string // line → column: reason
	}{
		{"no normalisation", 0,
			map[int64]string{1: "CA", 8: "ÉÈ", 9: ""},
			map[string]string{"3": "state", "4": "state", "5": "state", "6": "state", "7": "state", "8": "state", "11": "note", "12": "name", "13": "state"}},
		{"trim, upper", jobs.NormTrim | jobs.NormUpper,
			map[int64]string{1: "CA", 2: "CA", 3: "CA", 4: "CA", 5: "TX", 8: "ÉÈ", 9: ""},
			map[string]string{"7": "state", "8": "state", "11": "note", "12": "name", "13": "state"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t)
			spec := withChecks(testSpec(), c.norm)
			spec.Rejects.MaxFraction = 1
			m, err := e.convert(t, spec, gz([]byte(data.String()), 1), nil)
			if err != nil {
				t.Fatal(err)
			}
			got := readStates(t, e, m)
			if fmt.Sprint(got) != fmt.Sprint(c.written) {
				t.Errorf("read back %v, want %v", got, c.written)
			}
			rej := readRejects(t, e)
			if m.RowsRejected != int64(len(c.bad)) || len(rej) != len(c.bad) || m.RowsWritten != int64(len(c.written)) {
				t.Fatalf("written %d rejected %d, rejects %q", m.RowsWritten, m.RowsRejected, rej)
			}
			for _, r := range rej {
				col, ok := c.bad[r[1]]
				if !ok || r[3] != col {
					t.Errorf("reject %q: want column %q", r, col)
				}
				want := "value not in check.allowed (10 values)"
				if col != "state" {
					want = "value does not match check.pattern"
				}
				if !strings.HasPrefix(r[4], want) {
					t.Errorf("reject at line %s: reason %q, want %q", r[1], r[4], want)
				}
				if strings.Contains(r[5], "Secret") || strings.Contains(r[4], "007") {
					t.Errorf("reject at line %s leaks a PII value: %q", r[1], r)
				}
				if off, _ := strconv.Atoi(r[2]); !strings.HasPrefix(data.String()[off:], lines[atoi(r[1])-1]) {
					t.Errorf("reject at line %s: offset %s is not the line's", r[1], r[2])
				}
			}
		})
	}
}
