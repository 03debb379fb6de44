package awsfake

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/tierflow/tierflow/lake/engine/sqltok"
)

// CTAS is a parsed CREATE TABLE ... WITH (...) AS statement.
type CTAS struct {
	Database string // target database (lowercase); the query's database if unqualified
	Table    string // target table (lowercase)
	// Properties holds every WITH property as written: strings unquoted,
	// numbers as text, arrays as comma-joined strings.
	Properties       map[string]string
	Format           string   // format, uppercase; PARQUET if absent
	WriteCompression string   // write_compression (or parquet_compression), uppercase
	ExternalLocation string   // external_location
	PartitionedBy    []string // partitioned_by, lowercase
	BucketedBy       []string // bucketed_by, lowercase
	BucketCount      int      // bucket_count
	Select           string   // the query after AS
}

// ctasProperties are the Hive-table CTAS properties Athena documents
// (research/athena-compat.md §6).
var ctasProperties = map[string]bool{
	"table_type": true, "external_location": true, "is_external": true, "format": true,
	"write_compression": true, "parquet_compression": true, "orc_compression": true,
	"compression_level": true, "field_delimiter": true, "partitioned_by": true,
	"bucketed_by": true, "bucket_count": true,
}

// parseCTAS reads a CTAS. It returns nil, nil for a statement that is not
// CREATE TABLE ... AS, and an error in Athena's words for a malformed one.
func parseCTAS(sql, defaultDB string) (*CTAS, error) {
	toks, err := sqltok.Lex(sql)
	if err != nil {
		return nil, fmt.Errorf("line 1:1: %v", err)
	}
	if len(toks) < 2 || !toks[0].Is("CREATE") || !toks[1].Is("TABLE") {
		return nil, nil
	}
	i := 2
	if i+2 < len(toks) && toks[i].Is("IF") && toks[i+1].Is("NOT") && toks[i+2].Is("EXISTS") {
		i += 3
	}
	var parts []string
	for {
		if i >= len(toks) || (toks[i].Kind != 'w' && toks[i].Kind != 'q') {
			return nil, syntaxError(toks, i, "table name")
		}
		parts = append(parts, strings.ToLower(toks[i].Text))
		i++
		if i < len(toks) && toks[i].Text == "." && toks[i].Kind == 'p' {
			i++
			continue
		}
		break
	}
	c := &CTAS{Properties: map[string]string{}, Format: "PARQUET"}
	switch len(parts) {
	case 1:
		c.Database, c.Table = strings.ToLower(defaultDB), parts[0]
	case 2:
		c.Database, c.Table = parts[0], parts[1]
	case 3:
		if parts[0] != "awsdatacatalog" {
			return nil, fmt.Errorf("Catalog '%s' does not exist", parts[0])
		}
		c.Database, c.Table = parts[1], parts[2]
	default:
		return nil, fmt.Errorf("Too many dots in table name: %s", strings.Join(parts, "."))
	}
	if i < len(toks) && toks[i].Is("WITH") {
		i++
		if i >= len(toks) || toks[i].Text != "(" {
			return nil, syntaxError(toks, i, "'('")
		}
		i++
		for {
			if i+2 >= len(toks) || toks[i].Kind != 'w' || toks[i+1].Text != "=" {
				return nil, syntaxError(toks, i, "property = value")
			}
			key := strings.ToLower(toks[i].Text)
			if !ctasProperties[key] {
				return nil, fmt.Errorf("Catalog 'awsdatacatalog' table property '%s' does not exist", key)
			}
			if _, dup := c.Properties[key]; dup {
				return nil, fmt.Errorf("Duplicate property: %s", key)
			}
			i += 2
			val, next, err := propertyValue(toks, i)
			if err != nil {
				return nil, err
			}
			c.Properties[key] = val
			i = next
			if i < len(toks) && toks[i].Text == "," {
				i++
				continue
			}
			if i < len(toks) && toks[i].Text == ")" {
				i++
				break
			}
			return nil, syntaxError(toks, i, "',' or ')'")
		}
	}
	if i >= len(toks) || !toks[i].Is("AS") {
		// CREATE TABLE with a column list: plain DDL, not a CTAS.
		return nil, nil
	}
	if i+1 >= len(toks) {
		return nil, syntaxError(toks, i+1, "query")
	}
	c.Select = strings.TrimSpace(sql[toks[i+1].Start:])
	return c, c.resolve()
}

// propertyValue reads a string, number, boolean or ARRAY['a', ...].
func propertyValue(toks []sqltok.Token, i int) (string, int, error) {
	if i >= len(toks) {
		return "", i, syntaxError(toks, i, "value")
	}
	t := toks[i]
	switch {
	case t.Kind == 's' || t.Kind == 'n':
		return t.Text, i + 1, nil
	case t.Is("true") || t.Is("false"):
		return strings.ToLower(t.Text), i + 1, nil
	case t.Is("ARRAY"):
		if i+1 >= len(toks) || toks[i+1].Text != "[" {
			return "", i, syntaxError(toks, i+1, "'['")
		}
		var items []string
		j := i + 2
		for {
			if j < len(toks) && toks[j].Text == "]" && len(items) == 0 {
				return "", j, fmt.Errorf("empty ARRAY in table property")
			}
			if j >= len(toks) || toks[j].Kind != 's' {
				return "", j, syntaxError(toks, j, "string literal")
			}
			items = append(items, toks[j].Text)
			j++
			if j < len(toks) && toks[j].Text == "," {
				j++
				continue
			}
			if j < len(toks) && toks[j].Text == "]" {
				return strings.Join(items, ","), j + 1, nil
			}
			return "", j, syntaxError(toks, j, "',' or ']'")
		}
	}
	return "", i, syntaxError(toks, i, "value")
}

func syntaxError(toks []sqltok.Token, i int, want string) error {
	got := "<EOF>"
	if i < len(toks) {
		got = "'" + toks[i].Text + "'"
	}
	return fmt.Errorf("mismatched input %s. Expecting: %s", got, want)
}

// resolve fills the typed fields from Properties and checks them as
// Athena does.
func (c *CTAS) resolve() error {
	p := c.Properties
	if v, ok := p["format"]; ok {
		c.Format = strings.ToUpper(v)
	}
	switch c.Format {
	case "PARQUET", "ORC", "AVRO", "JSON", "TEXTFILE":
	default:
		return fmt.Errorf("Unsupported format: %s", p["format"])
	}
	if _, ok := p["parquet_compression"]; ok {
		if _, both := p["write_compression"]; both {
			return fmt.Errorf("Only one of write_compression and parquet_compression may be specified")
		}
		c.WriteCompression = strings.ToUpper(p["parquet_compression"])
	}
	if v, ok := p["write_compression"]; ok {
		c.WriteCompression = strings.ToUpper(v)
	}
	c.ExternalLocation = p["external_location"]
	split := func(v string) []string {
		if v == "" {
			return nil
		}
		out := strings.Split(v, ",")
		for i := range out {
			out[i] = strings.ToLower(out[i])
		}
		return out
	}
	c.PartitionedBy = split(p["partitioned_by"])
	c.BucketedBy = split(p["bucketed_by"])
	if v, ok := p["bucket_count"]; ok {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			return fmt.Errorf("bucket_count must be a positive integer, got %s", v)
		}
		c.BucketCount = n
	}
	if (len(c.BucketedBy) > 0) != (c.BucketCount > 0) {
		return fmt.Errorf("bucketed_by and bucket_count must be specified together")
	}
	return nil
}
