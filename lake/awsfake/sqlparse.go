package awsfake

import (
	"fmt"
	"strconv"
	"strings"
)

// token is one lexical token of Trino SQL, enough to read a CTAS header.
type token struct {
	kind byte   // 'w' word, 'q' quoted identifier, 's' string, 'n' number, 'p' punctuation
	text string // word text, unquoted identifier or string value, or the punctuation
	pos  int    // byte offset in the statement
	end  int    // byte offset after the token
}

// lex splits sql into tokens, skipping white space and comments.
func lex(sql string) ([]token, error) {
	var out []token
	for i := 0; i < len(sql); {
		c := sql[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case strings.HasPrefix(sql[i:], "--"):
			for i < len(sql) && sql[i] != '\n' {
				i++
			}
		case strings.HasPrefix(sql[i:], "/*"):
			j := strings.Index(sql[i+2:], "*/")
			if j < 0 {
				return nil, fmt.Errorf("unterminated comment at offset %d", i)
			}
			i += j + 4
		case c == '\'' || c == '"':
			var b strings.Builder
			j := i + 1
			for {
				if j >= len(sql) {
					return nil, fmt.Errorf("unterminated %c at offset %d", c, i)
				}
				if sql[j] == c {
					if j+1 < len(sql) && sql[j+1] == c {
						b.WriteByte(c)
						j += 2
						continue
					}
					break
				}
				b.WriteByte(sql[j])
				j++
			}
			kind := byte('s')
			if c == '"' {
				kind = 'q'
			}
			out = append(out, token{kind: kind, text: b.String(), pos: i, end: j + 1})
			i = j + 1
		case isWordByte(c) && !(c >= '0' && c <= '9'):
			j := i
			for j < len(sql) && isWordByte(sql[j]) {
				j++
			}
			out = append(out, token{kind: 'w', text: sql[i:j], pos: i, end: j})
			i = j
		case c >= '0' && c <= '9':
			j := i
			for j < len(sql) && (sql[j] >= '0' && sql[j] <= '9' || sql[j] == '.') {
				j++
			}
			out = append(out, token{kind: 'n', text: sql[i:j], pos: i, end: j})
			i = j
		default:
			out = append(out, token{kind: 'p', text: string(c), pos: i, end: i + 1})
			i++
		}
	}
	return out, nil
}

func isWordByte(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c >= 0x80
}

func (t token) is(word string) bool { return t.kind == 'w' && strings.EqualFold(t.text, word) }

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
	toks, err := lex(sql)
	if err != nil {
		return nil, fmt.Errorf("line 1:1: %v", err)
	}
	if len(toks) < 2 || !toks[0].is("CREATE") || !toks[1].is("TABLE") {
		return nil, nil
	}
	i := 2
	if i+2 < len(toks) && toks[i].is("IF") && toks[i+1].is("NOT") && toks[i+2].is("EXISTS") {
		i += 3
	}
	var parts []string
	for {
		if i >= len(toks) || (toks[i].kind != 'w' && toks[i].kind != 'q') {
			return nil, syntaxError(toks, i, "table name")
		}
		parts = append(parts, strings.ToLower(toks[i].text))
		i++
		if i < len(toks) && toks[i].text == "." && toks[i].kind == 'p' {
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
	if i < len(toks) && toks[i].is("WITH") {
		i++
		if i >= len(toks) || toks[i].text != "(" {
			return nil, syntaxError(toks, i, "'('")
		}
		i++
		for {
			if i+2 >= len(toks) || toks[i].kind != 'w' || toks[i+1].text != "=" {
				return nil, syntaxError(toks, i, "property = value")
			}
			key := strings.ToLower(toks[i].text)
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
			if i < len(toks) && toks[i].text == "," {
				i++
				continue
			}
			if i < len(toks) && toks[i].text == ")" {
				i++
				break
			}
			return nil, syntaxError(toks, i, "',' or ')'")
		}
	}
	if i >= len(toks) || !toks[i].is("AS") {
		// CREATE TABLE with a column list: plain DDL, not a CTAS.
		return nil, nil
	}
	if i+1 >= len(toks) {
		return nil, syntaxError(toks, i+1, "query")
	}
	c.Select = strings.TrimSpace(sql[toks[i+1].pos:])
	return c, c.resolve()
}

// propertyValue reads a string, number, boolean or ARRAY['a', ...].
func propertyValue(toks []token, i int) (string, int, error) {
	if i >= len(toks) {
		return "", i, syntaxError(toks, i, "value")
	}
	t := toks[i]
	switch {
	case t.kind == 's' || t.kind == 'n':
		return t.text, i + 1, nil
	case t.is("true") || t.is("false"):
		return strings.ToLower(t.text), i + 1, nil
	case t.is("ARRAY"):
		if i+1 >= len(toks) || toks[i+1].text != "[" {
			return "", i, syntaxError(toks, i+1, "'['")
		}
		var items []string
		j := i + 2
		for {
			if j < len(toks) && toks[j].text == "]" && len(items) == 0 {
				return "", j, fmt.Errorf("empty ARRAY in table property")
			}
			if j >= len(toks) || toks[j].kind != 's' {
				return "", j, syntaxError(toks, j, "string literal")
			}
			items = append(items, toks[j].text)
			j++
			if j < len(toks) && toks[j].text == "," {
				j++
				continue
			}
			if j < len(toks) && toks[j].text == "]" {
				return strings.Join(items, ","), j + 1, nil
			}
			return "", j, syntaxError(toks, j, "',' or ']'")
		}
	}
	return "", i, syntaxError(toks, i, "value")
}

func syntaxError(toks []token, i int, want string) error {
	got := "<EOF>"
	if i < len(toks) {
		got = "'" + toks[i].text + "'"
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
