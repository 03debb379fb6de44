package openlineage

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/tierflow/tierflow/lake/engine/sqltok"
)

// Column lineage of a derived table, read off its SELECT by a projection
// analysis over tokens (sqltok), not by a full parser: the same code runs
// in the container image, which has no DuckDB. It handles one SELECT
// over tables named in FROM (with aliases, comma joins and JOIN … ON /
// USING) with WHERE, GROUP BY, HAVING, ORDER BY and LIMIT, and refuses
// (ErrUnsupportedSQL) what it cannot follow honestly: WITH, UNION /
// INTERSECT / EXCEPT, subqueries, table functions, UNNEST, LATERAL.
//
// What it approximates:
//   - a select item's columns are the identifiers in it that name a
//     column of a source table (qualified ones resolved by table or
//     alias); an identifier that is both a column name and a type or
//     keyword used in the item (a column "date" and CAST(x AS date)) is
//     taken for the column;
//   - a select item that is one bare column is IDENTITY, one that calls an
//     aggregate function is AGGREGATION, any other TRANSFORMATION; columns
//     inside CASE … WHEN … THEN are INDIRECT CONDITIONAL and inside
//     OVER (…) INDIRECT WINDOW, for that output column only;
//   - WHERE and HAVING are INDIRECT FILTER, JOIN conditions INDIRECT JOIN,
//     GROUP BY INDIRECT GROUP_BY and ORDER BY INDIRECT SORT, for the whole
//     dataset (ordinals and output aliases stand for their select item's
//     columns); DISTINCT and LIMIT are not reported.
//
// The output column names come from the engine that ran the statement, in
// select-list order, so aliases need not be parsed; an item count that
// does not match them is refused.

// ErrUnsupportedSQL is returned (wrapped) for a statement the analysis
// does not follow.
var ErrUnsupportedSQL = errors.New("openlineage: column lineage not derived")

// SourceTable is a table a SELECT may read.
type SourceTable struct {
	Name    string   // as the SQL names it (case-insensitive), without database
	Dataset Dataset  // the dataset its columns are reported on
	Columns []string // in table order
}

// aggregates are the aggregate functions of Trino and DuckDB whose result
// is an AGGREGATION of their arguments.
var aggregates = []string{
	"approx_distinct", "approx_percentile", "array_agg", "avg", "bool_and", "bool_or", "count", "count_if",
	"every", "arbitrary", "any_value", "first", "last", "listagg", "string_agg", "map_agg", "max", "max_by",
	"min", "min_by", "stddev", "stddev_pop", "stddev_samp", "sum", "variance", "var_pop", "var_samp", "median",
	"checksum", "histogram", "geometric_mean",
}

// clauseWords end a clause at depth 0.
var clauseWords = []string{"from", "where", "group", "having", "order", "limit", "offset", "fetch", "window", "qualify"}

// joinWords separate table references in FROM.
var joinWords = []string{"join", "inner", "left", "right", "full", "cross", "outer", "natural", "on", "using"}

type colRef struct {
	src   int // index into the sources
	field string
}

type analysis struct {
	toks    []sqltok.Token
	sources []SourceTable
	inFrom  []int          // sources in FROM order
	aliases map[string]int // alias or table name → source
	dataset []InputField
	seen    map[string]bool
}

// ColumnLineage derives the columnLineage facet's fields and dataset
// entries of the SELECT sql over sources, whose result columns are
// outputs (in select-list order, before any PII policy).
func ColumnLineage(sql string, sources []SourceTable, outputs []string) (map[string]FieldLineage, []InputField, error) {
	toks, err := sqltok.Lex(sql)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %v", ErrUnsupportedSQL, err)
	}
	a := &analysis{toks: toks, sources: sources, aliases: map[string]int{}, seen: map[string]bool{}}
	return a.run(outputs)
}

func unsupported(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrUnsupportedSQL}, args...)...)
}

func (a *analysis) run(outputs []string) (map[string]FieldLineage, []InputField, error) {
	toks := a.toks
	if len(toks) == 0 || !toks[0].Is("select") {
		return nil, nil, unsupported("the statement does not start with SELECT (WITH is not followed)")
	}
	for i, t := range toks {
		switch {
		case i > 0 && t.Is("select"):
			return nil, nil, unsupported("subqueries are not followed")
		case t.Is("union") || t.Is("intersect") || t.Is("except"):
			return nil, nil, unsupported("%s is not followed", strings.ToUpper(t.Text))
		case t.Is("unnest") || t.Is("lateral"):
			return nil, nil, unsupported("%s is not followed", strings.ToUpper(t.Text))
		}
	}
	clauses := a.clauses()
	if err := a.from(clauses["from"]); err != nil {
		return nil, nil, err
	}
	items := splitTop(clauses["select"])
	if len(items) > 0 && len(items[0]) > 0 && (items[0][0].Is("distinct") || items[0][0].Is("all")) {
		items[0] = items[0][1:]
	}
	fields := map[string]FieldLineage{}
	var itemRefs [][]colRef // each output column's direct references
	var names []string
	for _, item := range items {
		cols, refs, err := a.item(item, outputs, len(names))
		if err != nil {
			return nil, nil, err
		}
		for k, c := range cols {
			fields[c] = refs[k]
			names = append(names, c)
			itemRefs = append(itemRefs, directRefs(a, refs[k]))
		}
	}
	if len(names) != len(outputs) {
		return nil, nil, unsupported("the select list gives %d columns, the result has %d", len(names), len(outputs))
	}
	a.indirect(clauses["where"], Filter, nil, nil)
	a.indirect(clauses["having"], Filter, names, itemRefs)
	a.indirect(clauses["group"], GroupBy, names, itemRefs)
	a.indirect(clauses["order"], Sort, names, itemRefs)
	return fields, a.dataset, nil
}

// clauses splits the statement at depth-0 clause keywords.
func (a *analysis) clauses() map[string][]sqltok.Token {
	out := map[string][]sqltok.Token{}
	name, start, depth := "select", 1, 0
	for i := 1; i <= len(a.toks); i++ {
		if i < len(a.toks) {
			t := a.toks[i]
			switch {
			case t.Kind == sqltok.Punct && t.Text == "(":
				depth++
				continue
			case t.Kind == sqltok.Punct && t.Text == ")":
				depth--
				continue
			case depth > 0 || t.Kind != sqltok.Word:
				continue
			}
			w := strings.ToLower(t.Text)
			if !slices.Contains(clauseWords, w) {
				continue
			}
			out[name] = a.toks[start:i]
			name, start = w, i+1
			if (w == "group" || w == "order") && i+1 < len(a.toks) && a.toks[i+1].Is("by") {
				start++
			}
			continue
		}
		out[name] = a.toks[start:i]
	}
	return out
}

// from reads the table references of the FROM clause and their join
// conditions.
func (a *analysis) from(toks []sqltok.Token) error {
	if len(toks) == 0 {
		return unsupported("no FROM clause")
	}
	for i := 0; i < len(toks); {
		t := toks[i]
		switch {
		case t.Kind == sqltok.Punct && t.Text == ",":
			i++
		case t.Is("on"):
			j := i + 1
			for j < len(toks) && !(toks[j].Kind == sqltok.Punct && toks[j].Text == ",") && !isJoinStart(toks[j]) {
				j++
			}
			a.indirect(toks[i+1:j], Join, nil, nil)
			i = j
		case t.Is("using"):
			j := i + 1
			if j < len(toks) && toks[j].Text == "(" {
				for j++; j < len(toks) && toks[j].Text != ")"; j++ {
					if name, ok := toks[j].Ident(); ok {
						for _, s := range a.inFrom {
							if slices.Contains(lower(a.sources[s].Columns), name) {
								a.addDataset(colRef{src: s, field: a.column(s, name)}, Join)
							}
						}
					}
				}
			}
			i = j + 1
		case t.Kind == sqltok.Word && slices.Contains(joinWords, strings.ToLower(t.Text)):
			i++
		case t.Kind == sqltok.Punct && t.Text == "(":
			return unsupported("a parenthesised FROM item (subquery, table function or nested join) is not followed")
		default:
			j, err := a.tableRef(toks, i)
			if err != nil {
				return err
			}
			i = j
		}
	}
	return nil
}

func isJoinStart(t sqltok.Token) bool {
	return t.Is("join") || t.Is("inner") || t.Is("left") || t.Is("right") || t.Is("full") || t.Is("cross") || t.Is("natural")
}

// tableRef reads name[.name…] [[AS] alias] at toks[i].
func (a *analysis) tableRef(toks []sqltok.Token, i int) (int, error) {
	var parts []string
	for {
		name, ok := toks[i].Ident()
		if !ok {
			return 0, unsupported("unexpected %q in FROM", toks[i].Text)
		}
		parts = append(parts, name)
		i++
		if i+1 < len(toks) && toks[i].Text == "." && toks[i].Kind == sqltok.Punct {
			i++
			continue
		}
		break
	}
	if i < len(toks) && toks[i].Kind == sqltok.Punct && toks[i].Text == "(" {
		return 0, unsupported("table function %s(…) is not followed", strings.Join(parts, "."))
	}
	table := parts[len(parts)-1]
	src := -1
	for k, s := range a.sources {
		if strings.EqualFold(s.Name, table) {
			src = k
		}
	}
	if src < 0 {
		return 0, unsupported("table %s is not one of the run's tables", strings.Join(parts, "."))
	}
	a.inFrom = append(a.inFrom, src)
	a.aliases[table] = src
	if i < len(toks) && toks[i].Is("as") {
		i++
	}
	if i < len(toks) {
		if alias, ok := toks[i].Ident(); ok && !slices.Contains(joinWords, alias) && !slices.Contains(clauseWords, alias) {
			a.aliases[alias] = src
			i++
		}
	}
	return i, nil
}

// item resolves one select item into the output columns it gives (from
// outputs, starting at index at) and their lineage.
func (a *analysis) item(item []sqltok.Token, outputs []string, at int) ([]string, []FieldLineage, error) {
	if len(item) == 0 {
		return nil, nil, unsupported("empty select item")
	}
	// * and q.*: every column of every FROM table, or of q.
	star := len(item) == 1 && item[0].Text == "*" && item[0].Kind == sqltok.Punct
	qstar := len(item) == 3 && item[1].Text == "." && item[2].Text == "*"
	if star || qstar {
		srcs := a.inFrom
		if qstar {
			q, _ := item[0].Ident()
			s, ok := a.aliases[q]
			if !ok {
				return nil, nil, unsupported("%s.* names no FROM table", q)
			}
			srcs = []int{s}
		}
		var cols []string
		var fls []FieldLineage
		for _, s := range srcs {
			for _, c := range a.sources[s].Columns {
				if at+len(cols) >= len(outputs) {
					return nil, nil, unsupported("the select list gives more columns than the result has")
				}
				cols = append(cols, outputs[at+len(cols)])
				fls = append(fls, FieldLineage{InputFields: []InputField{a.field(colRef{s, c}, Direct, Identity)}})
			}
		}
		return cols, fls, nil
	}
	if at >= len(outputs) {
		return nil, nil, unsupported("the select list gives more columns than the result has")
	}
	out := outputs[at]
	item = dropAlias(item, out)
	fl := FieldLineage{InputFields: []InputField{}}
	seen := map[string]bool{}
	add := func(r colRef, typ, sub string) {
		k := fmt.Sprint(r.src, r.field, typ, sub)
		if !seen[k] {
			seen[k] = true
			fl.InputFields = append(fl.InputFields, a.field(r, typ, sub))
		}
	}
	direct := Transformation
	if refs := a.refs(item); len(refs) == 1 && len(item) == refLen(item) {
		direct = Identity
	} else if callsAggregate(item) {
		direct = Aggregation
	}
	// Walk the item: CASE conditions and OVER (…) are indirect.
	var ctx []string // "case" / "when" / "over(" stack
	depth := 0
	overDepth := -1
	for i := 0; i < len(item); i++ {
		t := item[i]
		switch {
		case t.Is("case"):
			ctx = append(ctx, "case")
		case t.Is("when"):
			ctx = append(ctx, "when")
		case t.Is("then") && len(ctx) > 0 && ctx[len(ctx)-1] == "when":
			ctx = ctx[:len(ctx)-1]
		case t.Is("end") && len(ctx) > 0:
			ctx = ctx[:len(ctx)-1]
		case t.Is("over") && i+1 < len(item) && item[i+1].Text == "(":
			overDepth = depth
		case t.Kind == sqltok.Punct && t.Text == "(":
			depth++
		case t.Kind == sqltok.Punct && t.Text == ")":
			depth--
			if depth == overDepth {
				overDepth = -1
			}
		}
		r, n, ok := a.ref(item, i)
		if !ok {
			continue
		}
		i += n - 1
		switch {
		case overDepth >= 0:
			add(r, Indirect, Window)
		case len(ctx) > 0 && ctx[len(ctx)-1] == "when":
			add(r, Indirect, Conditional)
		default:
			add(r, Direct, direct)
		}
	}
	return []string{out}, []FieldLineage{fl}, nil
}

// dropAlias removes a trailing "AS out" or "out" that names the output.
func dropAlias(item []sqltok.Token, out string) []sqltok.Token {
	n := len(item)
	if n < 2 {
		return item
	}
	last, ok := item[n-1].Ident()
	if !ok || last != strings.ToLower(out) || item[n-2].Text == "." {
		return item
	}
	if item[n-2].Is("as") {
		return item[:n-2]
	}
	// "expr out": an implicit alias only if what precedes ends an
	// expression (an identifier, literal or closing parenthesis).
	switch p := item[n-2]; {
	case p.Kind == sqltok.Word, p.Kind == sqltok.Quoted, p.Kind == sqltok.String, p.Kind == sqltok.Number, p.Text == ")":
		return item[:n-1]
	}
	return item
}

// refLen is how many tokens a leading column reference takes (c, q.c,
// db.q.c), 0 if none.
func refLen(item []sqltok.Token) int {
	n := 0
	for n < len(item) {
		if _, ok := item[n].Ident(); !ok {
			return 0
		}
		n++
		if n < len(item) && item[n].Text == "." && item[n].Kind == sqltok.Punct {
			n++
			continue
		}
		return n
	}
	return 0
}

func callsAggregate(item []sqltok.Token) bool {
	for i, t := range item {
		if t.Kind == sqltok.Word && i+1 < len(item) && item[i+1].Text == "(" && slices.Contains(aggregates, strings.ToLower(t.Text)) {
			return true
		}
	}
	return false
}

// refs lists the column references in toks.
func (a *analysis) refs(toks []sqltok.Token) []colRef {
	var out []colRef
	for i := 0; i < len(toks); i++ {
		if r, n, ok := a.ref(toks, i); ok {
			out = append(out, r)
			i += n - 1
		}
	}
	return out
}

// ref reads a column reference starting at toks[i]: its column and how
// many tokens it takes.
func (a *analysis) ref(toks []sqltok.Token, i int) (colRef, int, bool) {
	if i > 0 && toks[i-1].Kind == sqltok.Punct && toks[i-1].Text == "." {
		return colRef{}, 0, false // inside a dotted name read from its start
	}
	if i > 0 && toks[i-1].Is("as") {
		return colRef{}, 0, false // an alias or a CAST's type
	}
	var parts []string
	j := i
	for j < len(toks) {
		name, ok := toks[j].Ident()
		if !ok {
			break
		}
		parts = append(parts, name)
		j++
		if j+1 < len(toks) && toks[j].Kind == sqltok.Punct && toks[j].Text == "." {
			j++
			continue
		}
		break
	}
	if len(parts) == 0 || j < len(toks) && toks[j].Text == "(" && toks[j].Kind == sqltok.Punct {
		return colRef{}, 0, false // not a name, or a function call
	}
	col := parts[len(parts)-1]
	if len(parts) > 1 {
		s, ok := a.aliases[parts[len(parts)-2]]
		if !ok || !slices.Contains(lower(a.sources[s].Columns), col) {
			return colRef{}, 0, false
		}
		return colRef{src: s, field: a.column(s, col)}, j - i, true
	}
	for _, s := range a.inFrom {
		if slices.Contains(lower(a.sources[s].Columns), col) {
			return colRef{src: s, field: a.column(s, col)}, j - i, true
		}
	}
	return colRef{}, 0, false
}

// column is the name of column col (lowercase) of source s as declared.
func (a *analysis) column(s int, col string) string {
	for _, c := range a.sources[s].Columns {
		if strings.EqualFold(c, col) {
			return c
		}
	}
	return col
}

func lower(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = strings.ToLower(s)
	}
	return out
}

func (a *analysis) field(r colRef, typ, sub string) InputField {
	d := a.sources[r.src].Dataset
	return InputField{Namespace: d.Namespace, Name: d.Name, Field: r.field, Transformations: []Transform{{Type: typ, Subtype: sub}}}
}

func (a *analysis) addDataset(r colRef, sub string) {
	k := fmt.Sprint(r.src, "\x00", r.field, "\x00", sub)
	if a.seen[k] {
		return
	}
	a.seen[k] = true
	a.dataset = append(a.dataset, a.field(r, Indirect, sub))
}

// indirect records the columns of a clause as INDIRECT sub for the whole
// dataset; with names, an ordinal or an output column's name stands for
// that select item's direct columns (itemRefs).
func (a *analysis) indirect(toks []sqltok.Token, sub string, names []string, itemRefs [][]colRef) {
	for i := 0; i < len(toks); i++ {
		t := toks[i]
		if names != nil && t.Kind == sqltok.Number && (i == 0 || toks[i-1].Text == ",") {
			if n, err := strconv.Atoi(t.Text); err == nil && n >= 1 && n <= len(itemRefs) {
				for _, r := range itemRefs[n-1] {
					a.addDataset(r, sub)
				}
			}
			continue
		}
		if r, n, ok := a.ref(toks, i); ok {
			a.addDataset(r, sub)
			i += n - 1
			continue
		}
		if name, ok := t.Ident(); ok && names != nil {
			if k := slices.Index(lower(names), name); k >= 0 {
				for _, r := range itemRefs[k] {
					a.addDataset(r, sub)
				}
			}
		}
	}
}

// directRefs are the DIRECT inputs of a field, as references.
func directRefs(a *analysis, fl FieldLineage) []colRef {
	var out []colRef
	for _, f := range fl.InputFields {
		if len(f.Transformations) == 0 || f.Transformations[0].Type != Direct {
			continue
		}
		for s, src := range a.sources {
			if src.Dataset.Namespace == f.Namespace && src.Dataset.Name == f.Name {
				out = append(out, colRef{src: s, field: f.Field})
				break
			}
		}
	}
	return out
}

// splitTop splits toks at depth-0 commas.
func splitTop(toks []sqltok.Token) [][]sqltok.Token {
	var out [][]sqltok.Token
	start, depth := 0, 0
	for i, t := range toks {
		switch {
		case t.Kind != sqltok.Punct:
		case t.Text == "(":
			depth++
		case t.Text == ")":
			depth--
		case t.Text == "," && depth == 0:
			out = append(out, toks[start:i])
			start = i + 1
		}
	}
	return append(out, toks[start:])
}

// MarkMasked marks every input of output column col as masked by how
// (e.g. "PII policy: hmac"): the values no longer carry the original data.
func MarkMasked(fields map[string]FieldLineage, col, how string) {
	fl, ok := fields[col]
	if !ok {
		return
	}
	for i := range fl.InputFields {
		for k := range fl.InputFields[i].Transformations {
			t := &fl.InputFields[i].Transformations[k]
			if t.Type == Direct {
				t.Subtype, t.Masking, t.Description = Transformation, true, how
			}
		}
	}
}
