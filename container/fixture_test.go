package container

import (
	"bytes"
	"compress/gzip"
	"math/big"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/tierflow/tierflow/jobs"
)

// testSchema covers every supported type; name and born are PII.
func testSchema() jobs.Schema {
	col := func(name, source string, k jobs.Kind, pii string) jobs.Column {
		return jobs.Column{Name: name, Source: source, Type: jobs.Type{Kind: k}, PII: pii}
	}
	dec := func(name string, p, s int) jobs.Column {
		return jobs.Column{Name: name, Source: strings.ToUpper(name), Type: jobs.Type{Kind: jobs.Decimal, Precision: p, Scale: s}}
	}
	return jobs.Schema{Columns: []jobs.Column{
		col("id", "ID", jobs.Bigint, "id"),
		col("state", "State", jobs.String, ""),
		col("name", "Name", jobs.String, "name"),
		col("age", "Age", jobs.Int, ""),
		col("score", "Score", jobs.Double, ""),
		col("active", "Active", jobs.Boolean, ""),
		col("born", "Born", jobs.Date, "dob"),
		col("seen", "Seen", jobs.Timestamp, ""),
		dec("amount", 9, 2),
		dec("big", 18, 4),
		dec("huge", 30, 5),
		col("note", "Note", jobs.String, ""),
	}}
}

func testSpec() *jobs.Spec {
	sc := testSchema()
	return &jobs.Spec{
		Name:    "test",
		Schema:  sc,
		Source:  jobs.Source{Header: sc.Sources(), NullMarkers: []string{"", `\N`, "NULL"}},
		Output:  jobs.Output{Table: "t", BucketedBy: []string{"state"}, BucketCount: 60, SortedBy: []string{"state"}},
		Rejects: jobs.Rejects{MaxRows: 1000, MaxFraction: 0.5},
	}
}

var testStates = []string{"CA", "TX", "NY", "FL", "PR", "TN", "AA", "WY", "ÉÈ", ""}

// expRow is one generated row with the values a reader must see (nil = NULL).
type expRow struct {
	vals []any
}

// genCSV renders n rows of testSchema as CSV (header included), covering
// NULLs and NULL markers, quoting, embedded newlines, unicode and
// negatives, and returns the expected values.
func genCSV(seed uint64, n int, crlf bool) ([]byte, []expRow) {
	rng := rand.New(rand.NewPCG(seed, 99))
	var b bytes.Buffer
	nl := "\n"
	if crlf {
		nl = "\r\n"
	}
	b.WriteString(strings.Join(testSchema().Sources(), ",") + nl)
	names := []string{"Ann", "Smith, Jr.", `The "Boss"`, "multi\nline", "日本語", "Zoë", "", "NULL", `\N`, " spaced "}
	var rows []expRow
	null := func() bool { return rng.IntN(6) == 0 }
	nullText := func() string { return []string{"", `\N`, "NULL"}[rng.IntN(3)] }
	quote := func(s string) string {
		if strings.ContainsAny(s, ",\"\n\r") || rng.IntN(5) == 0 {
			return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
		}
		return s
	}
	for i := 0; i < n; i++ {
		var f []string
		var v []any
		id := int64(i)*7919 - 1e9
		f, v = append(f, strconv.FormatInt(id, 10)), append(v, id)
		st := testStates[rng.IntN(len(testStates))]
		f, v = append(f, quote(st)), append(v, st)
		nm := names[rng.IntN(len(names))]
		f, v = append(f, quote(nm)), append(v, nm)
		if null() {
			f, v = append(f, nullText()), append(v, nil)
		} else {
			a := int32(rng.IntN(2000)) - 1000
			if rng.IntN(50) == 0 {
				a = []int32{2147483647, -2147483648}[rng.IntN(2)]
			}
			f, v = append(f, strconv.Itoa(int(a))), append(v, a)
		}
		if null() {
			f, v = append(f, nullText()), append(v, nil)
		} else {
			txt := []string{"-1.5", "0.1", "3e10", "123456.789", "-0.000123", "42", "1.7976931348623157e308", "2.2250738585072014e-308", "-12345678901234567890.5"}[rng.IntN(9)]
			if rng.IntN(2) == 0 {
				txt = strconv.FormatFloat(rng.NormFloat64()*1e6, 'f', rng.IntN(8), 64)
			}
			x, err := strconv.ParseFloat(txt, 64)
			if err != nil {
				panic(err)
			}
			f, v = append(f, txt), append(v, x)
		}
		if null() {
			f, v = append(f, nullText()), append(v, nil)
		} else {
			txt := []string{"true", "false", "T", "f", "Y", "n", "1", "0", "yes", "NO"}[rng.IntN(10)]
			val := strings.ContainsAny(txt[:1], "tTyY1")
			f, v = append(f, txt), append(v, val)
		}
		if null() {
			f, v = append(f, nullText()), append(v, nil)
		} else {
			d := time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, rng.IntN(60000))
			f, v = append(f, d.Format("2006-01-02")), append(v, d)
		}
		if null() {
			f, v = append(f, nullText()), append(v, nil)
		} else {
			t := time.UnixMilli(rng.Int64N(4e12) - 1e12).UTC()
			txt := t.Format("2006-01-02 15:04:05.000")
			if rng.IntN(3) == 0 {
				txt = t.Format("2006-01-02T15:04:05.000Z")
			}
			f, v = append(f, txt), append(v, t)
		}
		for _, d := range []struct{ p, s int }{{9, 2}, {18, 4}, {30, 5}} {
			if null() {
				f, v = append(f, nullText()), append(v, nil)
				continue
			}
			intDigits := 1 + rng.IntN(d.p-d.s)
			var sb strings.Builder
			if rng.IntN(2) == 0 {
				sb.WriteByte('-')
			}
			sb.WriteByte(byte('1' + rng.IntN(9)))
			for k := 1; k < intDigits; k++ {
				sb.WriteByte(byte('0' + rng.IntN(10)))
			}
			fr := rng.IntN(d.s + 1)
			if fr > 0 {
				sb.WriteByte('.')
				for k := 0; k < fr; k++ {
					sb.WriteByte(byte('0' + rng.IntN(10)))
				}
			}
			txt := sb.String()
			// expected unscaled value: text without '.', padded to the scale
			digits := strings.Replace(txt, ".", "", 1) + strings.Repeat("0", d.s-fr)
			u, ok := new(big.Int).SetString(digits, 10)
			if !ok {
				panic(txt)
			}
			f, v = append(f, txt), append(v, u)
		}
		note := []string{"", "plain", "comma, inside", "quote \" inside", "crlf\r\nnote", "ünï©ødé", `\N`}[rng.IntN(7)]
		f, v = append(f, quote(note)), append(v, note)
		b.WriteString(strings.Join(f, ",") + nl)
		rows = append(rows, expRow{vals: v})
	}
	return b.Bytes(), rows
}

// gz compresses data; members > 1 splits it into that many concatenated
// gzip members.
func gz(data []byte, members int) []byte {
	var out bytes.Buffer
	if members < 1 {
		members = 1
	}
	step := len(data)/members + 1
	for i := 0; i < len(data) || i == 0; i += step {
		w := gzip.NewWriter(&out)
		if _, err := w.Write(data[i:min(len(data), i+step)]); err != nil {
			panic(err)
		}
		if err := w.Close(); err != nil {
			panic(err)
		}
		if len(data) == 0 {
			break
		}
	}
	return out.Bytes()
}
