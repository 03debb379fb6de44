package athena

import (
	"fmt"
	"slices"
	"strings"
)

// token is one lexical token of Trino SQL: enough to find table names and
// a leading WITH clause without parsing the statement.
type token struct {
	kind  byte   // 'w' word, 'q' quoted identifier, 's' string, 'n' number, 'p' punctuation
	text  string // word, unquoted identifier or string value, or the punctuation
	start int    // byte offset in the statement
	end   int    // byte offset after the token
}

// ident reports whether t names something, and its case-folded name
// (Athena identifiers are case-insensitive, quoted or not).
func (t token) ident() (string, bool) {
	if t.kind == 'w' || t.kind == 'q' {
		return strings.ToLower(t.text), true
	}
	return "", false
}

func (t token) is(word string) bool { return t.kind == 'w' && strings.EqualFold(t.text, word) }

// lex splits sql into tokens, skipping white space and comments.
func lex(sql string) ([]token, error) {
	var out []token
	for i := 0; i < len(sql); {
		c := sql[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f':
			i++
		case strings.HasPrefix(sql[i:], "--"):
			for i < len(sql) && sql[i] != '\n' {
				i++
			}
		case strings.HasPrefix(sql[i:], "/*"):
			j := strings.Index(sql[i+2:], "*/")
			if j < 0 {
				return nil, fmt.Errorf("unterminated comment at byte %d", i)
			}
			i += j + 4
		case c == '\'' || c == '"':
			var b strings.Builder
			j := i + 1
			for ; ; j++ {
				if j >= len(sql) {
					return nil, fmt.Errorf("unterminated %c at byte %d", c, i)
				}
				if sql[j] == c {
					if j+1 < len(sql) && sql[j+1] == c {
						b.WriteByte(c)
						j++
						continue
					}
					break
				}
				b.WriteByte(sql[j])
			}
			kind := byte('s')
			if c == '"' {
				kind = 'q'
			}
			out = append(out, token{kind: kind, text: b.String(), start: i, end: j + 1})
			i = j + 1
		case isWord(c) && (c < '0' || c > '9'):
			j := i
			for j < len(sql) && isWord(sql[j]) {
				j++
			}
			out = append(out, token{kind: 'w', text: sql[i:j], start: i, end: j})
			i = j
		case c >= '0' && c <= '9':
			j := i
			for j < len(sql) && (isWord(sql[j]) || sql[j] == '.') {
				j++
			}
			out = append(out, token{kind: 'n', text: sql[i:j], start: i, end: j})
			i = j
		default:
			out = append(out, token{kind: 'p', text: string(c), start: i, end: i + 1})
			i++
		}
	}
	return out, nil
}

func isWord(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c >= 0x80
}

// quoteIdent quotes an identifier for Athena (Trino).
func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// quoteString quotes a string literal.
func quoteString(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// tableRef names a table: database and table, lowercase.
type tableRef struct{ db, table string }

func (r tableRef) String() string { return r.db + "." + r.table }

func (r tableRef) quoted() string { return quoteIdent(r.db) + "." + quoteIdent(r.table) }

// shadow rewrites sql so that every reference to a table in scratch reads
// the scratch table instead:
//   - qualified references (db.table, "db"."table", also after a catalog
//     name) are replaced by the scratch table's qualified name;
//   - unqualified references resolve through a CTE named like the table,
//     added in front (or into the statement's own leading WITH), for the
//     tables of defaultDB, the database unqualified names resolve in. A
//     table the statement already defines as a CTE gets none: its own CTE
//     shadows the table there, and what it reads inside is qualified.
//
// Names inside string literals and comments are left alone. A column or
// alias spelled exactly like db.table would be rewritten too; tierflow's
// SQL never qualifies columns with a database name.
func shadow(sql, defaultDB string, scratch map[tableRef]tableRef) (string, error) {
	if len(scratch) == 0 {
		return sql, nil
	}
	toks, err := lex(sql)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	last := 0
	for i := 0; i+2 < len(toks); i++ {
		db, ok1 := toks[i].ident()
		tb, ok2 := toks[i+2].ident()
		if !ok1 || !ok2 || toks[i+1].text != "." || toks[i+1].kind != 'p' {
			continue
		}
		// Part of a longer dotted name (db.table.column, x.db.table is
		// fine: catalog.db.table)?
		if i+4 < len(toks) && toks[i+3].text == "." && toks[i+3].kind == 'p' {
			if _, ok := toks[i+4].ident(); ok {
				continue
			}
		}
		to, ok := scratch[tableRef{db, tb}]
		if !ok {
			continue
		}
		b.WriteString(sql[last:toks[i].start])
		b.WriteString(to.quoted())
		last = toks[i+2].end
		i += 2
	}
	b.WriteString(sql[last:])
	body := b.String()

	own, withEnd, err := leadingCTEs(body)
	if err != nil {
		return "", err
	}
	var ctes []string
	for from, to := range scratch {
		if from.db != defaultDB || own[from.table] {
			continue
		}
		ctes = append(ctes, quoteIdent(from.table)+" AS (SELECT * FROM "+to.quoted()+")")
	}
	if len(ctes) == 0 {
		return body, nil
	}
	slices.Sort(ctes)
	list := strings.Join(ctes, ", ")
	if withEnd >= 0 {
		// Join the statement's own WITH list: WITH ours, theirs.
		return body[:withEnd] + " " + list + "," + body[withEnd:], nil
	}
	return "WITH " + list + "\n" + body, nil
}

// leadingCTEs returns the names a statement's leading WITH clause defines
// and the byte offset just after "WITH" (or "WITH RECURSIVE"), or -1 when
// the statement does not start with WITH.
func leadingCTEs(sql string) (map[string]bool, int, error) {
	toks, err := lex(sql)
	if err != nil {
		return nil, -1, err
	}
	names := map[string]bool{}
	if len(toks) == 0 || !toks[0].is("WITH") {
		return names, -1, nil
	}
	i, end := 1, toks[0].end
	if i < len(toks) && toks[i].is("RECURSIVE") {
		end = toks[i].end
		i++
	}
	for i < len(toks) {
		n, ok := toks[i].ident()
		if !ok {
			return nil, -1, fmt.Errorf("WITH clause: expected a name at byte %d", toks[i].start)
		}
		names[n] = true
		i++
		if i < len(toks) && toks[i].text == "(" { // column list
			if i, err = skipParens(toks, i); err != nil {
				return nil, -1, err
			}
		}
		if i >= len(toks) || !toks[i].is("AS") {
			return nil, -1, fmt.Errorf("WITH clause: expected AS after %s", n)
		}
		i++
		if i >= len(toks) || toks[i].text != "(" {
			return nil, -1, fmt.Errorf("WITH clause: expected ( after %s AS", n)
		}
		if i, err = skipParens(toks, i); err != nil {
			return nil, -1, err
		}
		if i < len(toks) && toks[i].text == "," && toks[i].kind == 'p' {
			i++
			continue
		}
		break
	}
	return names, end, nil
}

// skipParens returns the index after the parenthesis opened at toks[i].
func skipParens(toks []token, i int) (int, error) {
	depth := 0
	for j := i; j < len(toks); j++ {
		if toks[j].kind != 'p' {
			continue
		}
		switch toks[j].text {
		case "(":
			depth++
		case ")":
			depth--
			if depth == 0 {
				return j + 1, nil
			}
		}
	}
	return 0, fmt.Errorf("unbalanced parenthesis at byte %d", toks[i].start)
}
