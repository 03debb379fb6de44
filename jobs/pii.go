package jobs

import (
	"encoding/base64"
	"fmt"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// PIIActions returns the valid policy actions in a stable order.
func PIIActions() []string {
	return []string{PIIKeep, PIIDrop, PIIMask, PIIHMAC}
}

// Action returns what the policy does to a column of PII class: PIIKeep
// for "" (not PII), else the class's action, PIIDrop when it is unlisted.
func (p PIIPolicy) Action(class string) string {
	if class == "" {
		return PIIKeep
	}
	if a, ok := p.Actions[class]; ok {
		return a
	}
	return PIIDrop
}

// NeedsKey reports whether some class is hashed, so that a run needs an
// HMAC key.
func (p PIIPolicy) NeedsKey() bool {
	for _, a := range p.Actions {
		if a == PIIHMAC {
			return true
		}
	}
	return false
}

// decodePII reads the `pii:` section.
func (l *loader) decodePII(n *yaml.Node, where string) {
	d, p := l.d, &l.spec.PII
	p.Set = true
	p.Actions = map[string]string{}
	for _, c := range PIIClasses() {
		p.Actions[c] = PIIDrop // the safe default for unlisted classes
	}
	d.mapping(n, where, []field{
		{"policy", func(n *yaml.Node, w string) {
			fields := make([]field, 0, len(PIIClasses()))
			for _, class := range PIIClasses() {
				fields = append(fields, field{class, func(n *yaml.Node, w string) {
					a, ok := d.str(n, w)
					if !ok {
						return
					}
					if !slices.Contains(PIIActions(), a) {
						d.errf(d.line(w), "%s: unknown action %q (want one of %v)", w, a, PIIActions())
						return
					}
					p.Actions[class] = a
				}})
			}
			d.mapping(n, w, fields)
		}},
		{"key_file", func(n *yaml.Node, w string) {
			if s, ok := d.str(n, w); ok {
				p.KeyFile = s
				if l.checkRef(s, w) {
					p.KeyPath = l.resolve(s)
				}
			}
		}},
		{"kms_key_id", d.setStr(&p.KMSKeyID)},
		{"encrypted_key", func(n *yaml.Node, w string) {
			s, ok := d.str(n, w)
			if !ok {
				return
			}
			b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s))
			switch {
			case err != nil:
				d.errf(d.line(w), "%s: not valid base64 (the CiphertextBlob of a KMS GenerateDataKey): %v", w, err)
			case len(b) == 0:
				d.errf(d.line(w), "%s: is empty", w)
			default:
				p.EncryptedKey = b
			}
		}},
	})
}

// validatePII checks the key settings of the `pii:` section.
func (l *loader) validatePII() {
	p, d := &l.spec.PII, l.d
	if !p.Set {
		return
	}
	_, hasEnc := d.lines["pii.encrypted_key"]
	switch {
	case p.KeyFile != "" && (p.KMSKeyID != "" || hasEnc):
		d.errf(d.line("pii.key_file"), "pii.key_file: give either key_file or kms_key_id with encrypted_key, not both")
	case p.KMSKeyID != "" && !hasEnc:
		d.errf(d.line("pii.kms_key_id"), "pii.encrypted_key: required with kms_key_id (base64 CiphertextBlob of a KMS GenerateDataKey under that key)")
	case p.KMSKeyID == "" && hasEnc:
		d.errf(d.line("pii.encrypted_key"), "pii.kms_key_id: required with encrypted_key (the KMS key that encrypted it)")
	}
}

// validateDerivedPII checks derived table i, which is not marked `pii:
// true` and whose SQL (toks) is run under the job's policy: its PII values
// must leave under their own column names, where the policy finds them,
// and no PII column the policy changes may partition or bucket it.
func (l *loader) validateDerivedPII(i int, toks []sqlToken, pii map[string]string) {
	s, d := l.spec, l.d
	dv := &s.Derived[i]
	w := fmt.Sprintf("derived[%d]", i)
	for _, msg := range piiRenames(toks, pii) {
		d.errf(d.line(w+".sql"), "%s.sql: %s; the PII policy is applied by output column name, so select PII columns bare under their own names, or set `pii: true`", w, msg)
	}
	for key, names := range map[string][]string{"partitioned_by": dv.PartitionedBy, "bucketed_by": dv.BucketedBy} {
		for j, n := range names {
			class := pii[n]
			if a := s.PII.Action(class); a != PIIKeep {
				why := "its values would be written into object keys"
				if key == "bucketed_by" {
					why = "rewriting its values would break the bucketing"
				}
				d.errf(d.line(fmt.Sprintf("%s.%s[%d]", w, key, j)), "%s.%s: %q is a PII column (%s) whose policy is %s; %s", w, key, n, class, a, why)
			}
		}
	}
}

// sqlKeywords are words that never name a table alias in the patterns
// piiRenames looks for.
var sqlKeywords = []string{
	"all", "and", "any", "as", "asc", "between", "by", "case", "cross", "desc", "distinct", "else", "end",
	"except", "exists", "filter", "from", "full", "group", "having", "in", "inner", "intersect", "is",
	"join", "lateral", "left", "like", "limit", "not", "null", "offset", "on", "or", "order", "outer",
	"over", "right", "select", "some", "then", "union", "unnest", "using", "values", "when", "where",
	"window", "with", "within",
}

// piiRenames lists the ways a statement that mentions PII columns could
// carry their values out under a name that is not the PII column's own:
// a select item (at any depth: CTEs, subqueries) that mentions a PII
// column and is not that bare column, optionally qualified and aliased to
// its own name; column alias lists (`AS t(a, b)`, `WITH t(a) AS (…)`);
// and UNION / INTERSECT / EXCEPT, whose columns take the first branch's
// names. The check is lexical and conservative: it refuses some harmless
// statements (e.g. count(email) AS n) rather than miss a rename.
func piiRenames(toks []sqlToken, pii map[string]string) []string {
	mentions := func(ts []sqlToken) []string {
		var cols []string
		for _, t := range ts {
			if _, ok := pii[t.word]; ok && !slices.Contains(cols, t.word) {
				cols = append(cols, t.word)
			}
		}
		return cols
	}
	if len(mentions(toks)) == 0 {
		return nil
	}
	var out []string
	add := func(format string, args ...any) {
		if m := fmt.Sprintf(format, args...); !slices.Contains(out, m) {
			out = append(out, m)
		}
	}
	var opener []string // per open parenthesis: the word before it
	for i, t := range toks {
		prev := func(k int) sqlToken {
			if i-k < 0 {
				return sqlToken{}
			}
			return toks[i-k]
		}
		switch {
		case t.punct == '(':
			opener = append(opener, prev(1).word)
		case t.punct == ')':
			if len(opener) > 0 {
				opener = opener[:len(opener)-1]
			}
		case t.word == "union" || t.word == "intersect" || t.word == "except":
			add("combines SELECTs with %s, whose result columns take the first SELECT's names", strings.ToUpper(t.word))
		case t.word == "select":
			for _, item := range selectItems(toks, i) {
				if cols := mentions(item); len(cols) > 0 && !bareColumn(item, pii) {
					add("select item %q mentions PII column %s but is not that bare column under its own name", render(item), strings.Join(cols, ", "))
				}
			}
		}
		if t.punct != '(' || i < 2 {
			continue
		}
		inCast := len(opener) > 1 && (opener[len(opener)-2] == "cast" || opener[len(opener)-2] == "try_cast")
		p1, p2 := prev(1), prev(2)
		switch {
		case p1.word != "" && !slices.Contains(sqlKeywords, p1.word) && p2.word == "as" && !inCast:
			add("renames columns with a column alias list %q", "AS "+p1.word+"(…)")
		case p1.word == "as" && p2.punct == ')':
			add("renames columns with a WITH column alias list (name(…) AS (…))")
		case p1.word != "" && !slices.Contains(sqlKeywords, p1.word) && p2.punct == ')':
			add("renames columns with a column alias list %q", p1.word+"(…)")
		case p1.word != "" && p2.word != "" && !slices.Contains(sqlKeywords, p1.word) && !slices.Contains(sqlKeywords, p2.word) &&
			(prev(3).word == "from" || prev(3).word == "join"):
			add("renames columns with a column alias list %q", p2.word+" "+p1.word+"(…)")
		}
	}
	return out
}

// selectItems splits the select list of the SELECT at toks[s] into items:
// comma-separated at its own parenthesis depth, ending at FROM (or another
// clause keyword) or at the parenthesis that encloses the SELECT.
func selectItems(toks []sqlToken, s int) [][]sqlToken {
	var items [][]sqlToken
	start, depth := s+1, 0
	if start < len(toks) && (toks[start].word == "distinct" || toks[start].word == "all") {
		start++
	}
	i := start
	for ; i < len(toks); i++ {
		t := toks[i]
		if t.punct == '(' {
			depth++
			continue
		}
		if t.punct == ')' {
			if depth == 0 {
				break
			}
			depth--
			continue
		}
		if depth > 0 {
			continue
		}
		if t.punct == ',' {
			items = append(items, toks[start:i])
			start = i + 1
			continue
		}
		switch t.word {
		case "from", "where", "group", "having", "order", "limit", "offset", "fetch", "window", "qualify",
			"union", "intersect", "except", "into":
			return append(items, toks[start:i])
		}
	}
	return append(items, toks[start:i])
}

// bareColumn reports whether a select item is a PII column selected as
// is under its own name: c, q.c, c AS c, q.c AS c (or without AS).
func bareColumn(item []sqlToken, pii map[string]string) bool {
	if len(item) >= 3 && item[1].punct == '.' && item[0].word != "" {
		item = item[2:] // drop the qualifier
	}
	if len(item) == 0 || item[0].word == "" {
		return false
	}
	c := item[0].word
	if _, ok := pii[c]; !ok {
		return false
	}
	switch len(item) {
	case 1:
		return true
	case 2:
		return item[1].word == c
	case 3:
		return item[1].word == "as" && item[2].word == c
	}
	return false
}

// render writes tokens back as SQL text for messages.
func render(ts []sqlToken) string {
	var b strings.Builder
	for i, t := range ts {
		s := t.word
		if t.punct != 0 {
			s = string(t.punct)
		}
		if i > 0 && t.punct != '.' && t.punct != ',' && t.punct != ')' && ts[i-1].punct != '.' && ts[i-1].punct != '(' && t.punct != '(' {
			b.WriteByte(' ')
		}
		b.WriteString(s)
	}
	return b.String()
}
