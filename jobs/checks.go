package jobs

import (
	"fmt"
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"
)

// normNames are the normalisations by their spec names, in the order they
// apply.
var normNames = []struct {
	name string
	n    Normalization
}{{"trim", NormTrim}, {"upper", NormUpper}, {"lower", NormLower}}

// String lists the normalisations as the spec writes them, e.g. "trim, upper".
func (n Normalization) String() string {
	var names []string
	for _, nn := range normNames {
		if n&nn.n != 0 {
			names = append(names, nn.name)
		}
	}
	return strings.Join(names, ", ")
}

// Apply returns v normalised. Trimming re-slices v; a case change is
// written to *scratch (grown as needed, reused by the caller), and only
// when v has a letter to change: v itself is never modified.
func (n Normalization) Apply(v []byte, scratch *[]byte) []byte {
	if n&NormTrim != 0 {
		for len(v) > 0 && asciiSpace(v[0]) {
			v = v[1:]
		}
		for len(v) > 0 && asciiSpace(v[len(v)-1]) {
			v = v[:len(v)-1]
		}
	}
	var lo, hi byte = 'a', 'z' // letters that change
	switch {
	case n&NormUpper != 0:
	case n&NormLower != 0:
		lo, hi = 'A', 'Z'
	default:
		return v
	}
	i := 0
	for i < len(v) && (v[i] < lo || v[i] > hi) {
		i++
	}
	if i == len(v) {
		return v
	}
	out := append((*scratch)[:0], v...)
	for ; i < len(out); i++ {
		if c := out[i]; c >= lo && c <= hi {
			out[i] = c ^ 0x20
		}
	}
	*scratch = out
	return out
}

func asciiSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'
}

// Regexp compiles the check's pattern anchored as a full match; nil when
// the check has no pattern.
func (c *Check) Regexp() (*regexp.Regexp, error) {
	if c == nil || c.Pattern == "" {
		return nil, nil
	}
	return regexp.Compile(`^(?:` + c.Pattern + `)$`)
}

// decodeNormalize reads a column's `normalize:` list.
func (d *decoder) decodeNormalize(n *yaml.Node, where string, dst *Normalization) {
	names, ok := d.strs(n, where)
	if !ok {
		return
	}
	for i, s := range names {
		w := fmt.Sprintf("%s[%d]", where, i)
		var found Normalization
		for _, nn := range normNames {
			if nn.name == s {
				found = nn.n
			}
		}
		switch {
		case found == 0:
			d.errf(d.line(w), "%s: unknown normalisation %q (want trim, upper or lower)", w, s)
		case *dst&found != 0:
			d.errf(d.line(w), "%s: %q listed twice", w, s)
		case (*dst|found)&(NormUpper|NormLower) == NormUpper|NormLower:
			d.errf(d.line(w), "%s: upper and lower exclude each other", w)
		default:
			*dst |= found
		}
	}
}

// decodeCheck reads a column's `check:` mapping.
func (d *decoder) decodeCheck(n *yaml.Node, where string) *Check {
	c := &Check{}
	var hasAllowed, hasPattern bool
	ok := d.mapping(n, where, []field{
		{"allowed", func(n *yaml.Node, w string) { c.Allowed, hasAllowed = d.strs(n, w) }},
		{"pattern", func(n *yaml.Node, w string) { c.Pattern, hasPattern = d.str(n, w) }},
	})
	switch {
	case !ok:
		return nil
	case hasAllowed == hasPattern:
		d.errf(d.line(where), "%s: give exactly one of allowed (a list of values) and pattern (a regular expression)", where)
		return nil
	case hasAllowed && len(c.Allowed) == 0:
		d.errf(d.line(where+".allowed"), "%s.allowed: the list is empty: no value could pass", where)
		return nil
	}
	return c
}

// validateCheck checks a column's normalisation and check against its
// type and each other; w names the column in messages, at its decoding
// path.
func (d *decoder) validateCheck(c *Column, w string) {
	if c.Check == nil && c.Normalize == 0 {
		return
	}
	if c.Type.Kind != String {
		key := "check"
		if c.Check == nil {
			key = "normalize"
		}
		d.errf(d.line(w+"."+key), "%s: check and normalize apply to string columns only, not %v (the type's own parsing checks its values)", w, c.Type)
		return
	}
	if c.Check == nil {
		return
	}
	if _, err := c.Check.Regexp(); err != nil {
		d.errf(d.line(w+".check.pattern"), "%s.check.pattern: %q is not an RE2 regular expression: %v", w, c.Check.Pattern, err)
	}
	seen := map[string]int{}
	var scratch []byte
	for i, v := range c.Check.Allowed {
		at := fmt.Sprintf("%s.check.allowed[%d]", w, i)
		if first, dup := seen[v]; dup {
			d.errf(d.line(at), "%s: %q is listed twice (also at line %d)", at, v, first)
			continue
		}
		seen[v] = d.line(at)
		if nv := string(c.Normalize.Apply([]byte(v), &scratch)); nv != v {
			d.errf(d.line(at), "%s: %q can never match: values are normalised (%v) before the check; write %q", at, v, c.Normalize, nv)
		}
	}
}
