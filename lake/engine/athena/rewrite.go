package athena

import (
	"fmt"
	"github.com/tierflow/tierflow/lake/engine/sqltok"
	"slices"
	"strings"
)

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
	toks, err := sqltok.Lex(sql)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	last := 0
	for i := 0; i+2 < len(toks); i++ {
		db, ok1 := toks[i].Ident()
		tb, ok2 := toks[i+2].Ident()
		if !ok1 || !ok2 || toks[i+1].Text != "." || toks[i+1].Kind != 'p' {
			continue
		}
		// Part of a longer dotted name (db.table.column, x.db.table is
		// fine: catalog.db.table)?
		if i+4 < len(toks) && toks[i+3].Text == "." && toks[i+3].Kind == 'p' {
			if _, ok := toks[i+4].Ident(); ok {
				continue
			}
		}
		to, ok := scratch[tableRef{db, tb}]
		if !ok {
			continue
		}
		b.WriteString(sql[last:toks[i].Start])
		b.WriteString(to.quoted())
		last = toks[i+2].End
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
	toks, err := sqltok.Lex(sql)
	if err != nil {
		return nil, -1, err
	}
	names := map[string]bool{}
	if len(toks) == 0 || !toks[0].Is("WITH") {
		return names, -1, nil
	}
	i, end := 1, toks[0].End
	if i < len(toks) && toks[i].Is("RECURSIVE") {
		end = toks[i].End
		i++
	}
	for i < len(toks) {
		n, ok := toks[i].Ident()
		if !ok {
			return nil, -1, fmt.Errorf("WITH clause: expected a name at byte %d", toks[i].Start)
		}
		names[n] = true
		i++
		if i < len(toks) && toks[i].Text == "(" { // column list
			if i, err = skipParens(toks, i); err != nil {
				return nil, -1, err
			}
		}
		if i >= len(toks) || !toks[i].Is("AS") {
			return nil, -1, fmt.Errorf("WITH clause: expected AS after %s", n)
		}
		i++
		if i >= len(toks) || toks[i].Text != "(" {
			return nil, -1, fmt.Errorf("WITH clause: expected ( after %s AS", n)
		}
		if i, err = skipParens(toks, i); err != nil {
			return nil, -1, err
		}
		if i < len(toks) && toks[i].Text == "," && toks[i].Kind == 'p' {
			i++
			continue
		}
		break
	}
	return names, end, nil
}

// skipParens returns the index after the parenthesis opened at toks[i].
func skipParens(toks []sqltok.Token, i int) (int, error) {
	depth := 0
	for j := i; j < len(toks); j++ {
		if toks[j].Kind != 'p' {
			continue
		}
		switch toks[j].Text {
		case "(":
			depth++
		case ")":
			depth--
			if depth == 0 {
				return j + 1, nil
			}
		}
	}
	return 0, fmt.Errorf("unbalanced parenthesis at byte %d", toks[i].Start)
}
