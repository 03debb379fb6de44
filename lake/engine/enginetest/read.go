package enginetest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/big"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/format"

	"github.com/tierflow/tierflow/lake/storage"
)

// null is how a NULL renders in a row map.
const null = "NULL"

// readRows reads every Parquet object of keys with parquet-go (not with the
// engine under test) and renders its rows; partition values come from the
// key's col=value directories below base, as Hive reads them. types gives
// the Hive type each column must be stored as.
func readRows(ctx context.Context, st storage.Storage, base string, keys []string, types map[string]string) ([]map[string]string, error) {
	var out []map[string]string
	for _, key := range keys {
		rows, err := readObject(ctx, st, key, types)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", key, err)
		}
		pv, err := pathValues(base, key)
		if err != nil {
			return nil, err
		}
		for _, r := range rows {
			for k, v := range pv {
				if _, dup := r[k]; dup {
					return nil, fmt.Errorf("%s: partition column %s is also stored in the file", key, k)
				}
				r[k] = v
			}
		}
		out = append(out, rows...)
	}
	return out, nil
}

// pathValues parses the col=value directories of key below base.
func pathValues(base, key string) (map[string]string, error) {
	rel, ok := strings.CutPrefix(key, base+"/")
	if !ok {
		return nil, fmt.Errorf("file %s is not below %s", key, base)
	}
	dirs := strings.Split(rel, "/")
	pv := map[string]string{}
	for _, d := range dirs[:len(dirs)-1] {
		k, v, ok := strings.Cut(d, "=")
		if !ok {
			return nil, fmt.Errorf("file %s: directory %q is not col=value", key, d)
		}
		if v == "__HIVE_DEFAULT_PARTITION__" {
			pv[k] = null
			continue
		}
		u, err := url.PathUnescape(v)
		if err != nil {
			return nil, fmt.Errorf("file %s: directory %q: %w", key, d, err)
		}
		pv[k] = u
	}
	return pv, nil
}

func readObject(ctx context.Context, st storage.Storage, key string, types map[string]string) ([]map[string]string, error) {
	rc, err := st.Open(ctx, key)
	if err != nil {
		return nil, err
	}
	data, err := io.ReadAll(rc)
	rc.Close()
	if err != nil {
		return nil, err
	}
	f, err := parquet.OpenFile(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return nil, err
	}
	fields := f.Schema().Fields()
	names := make([]string, len(fields))
	for i, fd := range fields {
		if !fd.Leaf() {
			return nil, fmt.Errorf("column %s is not a flat column", fd.Name())
		}
		names[i] = strings.ToLower(fd.Name())
		want, ok := types[names[i]]
		if !ok {
			return nil, fmt.Errorf("column %s is not in the result schema", fd.Name())
		}
		if err := checkStoredType(want, fd.Type()); err != nil {
			return nil, fmt.Errorf("column %s: %w", fd.Name(), err)
		}
	}
	var out []map[string]string
	for _, rg := range f.RowGroups() {
		rr := rg.Rows()
		buf := make([]parquet.Row, 256)
		for {
			n, err := rr.ReadRows(buf)
			for _, row := range buf[:n] {
				m := make(map[string]string, len(fields))
				for _, v := range row {
					c := v.Column()
					s, err := decodeValue(fields[c].Type(), v)
					if err != nil {
						rr.Close()
						return nil, fmt.Errorf("column %s: %w", names[c], err)
					}
					m[names[c]] = s
				}
				out = append(out, m)
			}
			if err == io.EOF {
				break
			}
			if err != nil {
				rr.Close()
				return nil, err
			}
		}
		if err := rr.Close(); err != nil {
			return nil, err
		}
	}
	if int64(len(out)) != f.NumRows() {
		return nil, fmt.Errorf("read %d rows, footer says %d", len(out), f.NumRows())
	}
	return out, nil
}

var hiveDecimal = regexp.MustCompile(`^decimal\((\d+),(\d+)\)$`)

// checkStoredType checks that a Parquet column is stored the way Athena
// reads the Hive type.
func checkStoredType(hive string, t parquet.Type) error {
	lt := t.LogicalType()
	var lv format.LogicalTypeValue
	if lt != nil {
		lv = lt.Value
	}
	ok := false
	switch k := t.Kind(); hive {
	case "string":
		_, isString := lv.(*format.StringType)
		ok = k == parquet.ByteArray && isString
	case "tinyint", "smallint", "int":
		ok = k == parquet.Int32 && (lv == nil || isInt(lv))
	case "bigint":
		ok = k == parquet.Int64 && (lv == nil || isInt(lv))
	case "double":
		ok = k == parquet.Double
	case "float":
		ok = k == parquet.Float
	case "boolean":
		ok = k == parquet.Boolean
	case "date":
		_, isDate := lv.(*format.DateType)
		ok = k == parquet.Int32 && isDate
	case "timestamp":
		_, isTS := lv.(*format.TimestampType)
		ok = k == parquet.Int96 || (k == parquet.Int64 && isTS)
	default:
		m := hiveDecimal.FindStringSubmatch(hive)
		if m == nil {
			return fmt.Errorf("suite does not know Hive type %s", hive)
		}
		d, isDec := lv.(*format.DecimalType)
		ok = isDec && strconv.Itoa(int(d.Precision)) == m[1] && strconv.Itoa(int(d.Scale)) == m[2]
	}
	if !ok {
		return fmt.Errorf("stored as %s %v, which is not Hive %s", t.Kind(), lt, hive)
	}
	return nil
}

func isInt(lv format.LogicalTypeValue) bool {
	_, ok := lv.(*format.IntType)
	return ok
}

// decodeValue renders one Parquet value: decimals with their scale, dates
// as YYYY-MM-DD, timestamps as UTC wall-clock with microseconds.
func decodeValue(t parquet.Type, v parquet.Value) (string, error) {
	if v.IsNull() {
		return null, nil
	}
	var lv format.LogicalTypeValue
	if lt := t.LogicalType(); lt != nil {
		lv = lt.Value
	}
	switch l := lv.(type) {
	case *format.DecimalType:
		var u *big.Int
		switch t.Kind() {
		case parquet.Int32:
			u = big.NewInt(int64(v.Int32()))
		case parquet.Int64:
			u = big.NewInt(v.Int64())
		case parquet.ByteArray, parquet.FixedLenByteArray:
			b := v.ByteArray()
			u = new(big.Int).SetBytes(b)
			if len(b) > 0 && b[0]&0x80 != 0 { // two's complement
				u.Sub(u, new(big.Int).Lsh(big.NewInt(1), uint(8*len(b))))
			}
		default:
			return "", fmt.Errorf("decimal stored as %s", t.Kind())
		}
		return formatDecimal(u, int(l.Scale)), nil
	case *format.DateType:
		return formatDate(int64(v.Int32())), nil
	case *format.TimestampType:
		if l.Unit.Value == nil {
			return "", fmt.Errorf("timestamp without unit")
		}
		d := l.Unit.Value.Duration()
		return formatTimestamp(time.Unix(0, 0).Add(time.Duration(v.Int64()) * d)), nil
	}
	switch t.Kind() {
	case parquet.Boolean:
		return strconv.FormatBool(v.Boolean()), nil
	case parquet.Int32:
		return strconv.FormatInt(int64(v.Int32()), 10), nil
	case parquet.Int64:
		return strconv.FormatInt(v.Int64(), 10), nil
	case parquet.Int96:
		// Impala/Hive timestamp: nanoseconds of the day, then Julian day.
		i := v.Int96()
		nanos := int64(uint64(i[1])<<32 | uint64(i[0]))
		days := int64(i[2]) - 2440588
		return formatTimestamp(time.Unix(days*86400, nanos)), nil
	case parquet.Float:
		return strconv.FormatFloat(float64(v.Float()), 'g', -1, 32), nil
	case parquet.Double:
		return strconv.FormatFloat(v.Double(), 'g', -1, 64), nil
	case parquet.ByteArray, parquet.FixedLenByteArray:
		return string(v.ByteArray()), nil
	}
	return "", fmt.Errorf("unsupported kind %s", t.Kind())
}

func formatDecimal(u *big.Int, scale int) string {
	s := new(big.Int).Abs(u).String()
	if scale > 0 {
		if len(s) <= scale {
			s = strings.Repeat("0", scale-len(s)+1) + s
		}
		s = s[:len(s)-scale] + "." + s[len(s)-scale:]
	}
	if u.Sign() < 0 {
		s = "-" + s
	}
	return s
}

func formatDate(days int64) string {
	return time.Unix(days*86400, 0).UTC().Format(time.DateOnly)
}

func formatTimestamp(t time.Time) string {
	return t.UTC().Format("2006-01-02 15:04:05.000000")
}
