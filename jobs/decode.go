package jobs

import (
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"
)

// decoder walks yaml.Nodes of one file so that every value keeps its line
// and every problem is collected instead of stopping at the first.
type decoder struct {
	file  string
	ps    *problems
	lines map[string]int // "output.bucketed_by[1]" → line of that value
}

// field is one known key of a mapping and what to do with its value.
type field struct {
	key string
	fn  func(v *yaml.Node, where string)
}

func deref(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

func (d *decoder) errf(line int, format string, args ...any) {
	d.ps.add(d.file, line, format, args...)
}

func join(where, key string) string {
	if where == "" {
		return key
	}
	return where + "." + key
}

// line returns the line recorded for where, or for its closest recorded
// parent ("output.bucketed_by[1]" → "output.bucketed_by" → "output"), or 1.
func (d *decoder) line(where string) int {
	for {
		if l, ok := d.lines[where]; ok {
			return l
		}
		i := strings.LastIndexAny(where, ".[")
		if i < 0 {
			return 1
		}
		where = where[:i]
	}
}

// mapping decodes a mapping node with known keys; unknown and repeated keys
// are problems (typo protection). It reports whether n was a mapping.
func (d *decoder) mapping(n *yaml.Node, where string, fields []field) bool {
	n = deref(n)
	if n.Kind != yaml.MappingNode {
		d.errf(n.Line, "%s: must be a mapping of keys to values, got %s", orTop(where), kindName(n))
		return false
	}
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := deref(n.Content[i]), n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			d.errf(k.Line, "%s: keys must be plain strings", orTop(where))
			continue
		}
		if first, dup := seen[k.Value]; dup {
			d.errf(k.Line, "%s: key %q repeated (first at line %d)", orTop(where), k.Value, first)
			continue
		}
		seen[k.Value] = k.Line
		f, ok := findField(fields, k.Value)
		if !ok {
			d.errf(k.Line, "%s: unknown key %q%s", orTop(where), k.Value, suggest(k.Value, fields))
			continue
		}
		w := join(where, k.Value)
		d.lines[w] = deref(v).Line
		f.fn(v, w)
	}
	return true
}

func orTop(where string) string {
	if where == "" {
		return "top level"
	}
	return where
}

func findField(fields []field, key string) (field, bool) {
	for _, f := range fields {
		if f.key == key {
			return f, true
		}
	}
	return field{}, false
}

// suggest names the closest known key when the unknown one looks like a
// typo of it, or lists the known keys.
func suggest(key string, fields []field) string {
	best, bestD := "", 1<<30
	for _, f := range fields {
		if dist := editDistance(strings.ToLower(key), f.key); dist < bestD {
			best, bestD = f.key, dist
		}
	}
	if best != "" && bestD <= max(2, len(key)/4) {
		return fmt.Sprintf(" (did you mean %q?)", best)
	}
	keys := make([]string, len(fields))
	for i, f := range fields {
		keys[i] = f.key
	}
	return " (known keys: " + strings.Join(keys, ", ") + ")"
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return "nothing (null)"
		}
		return fmt.Sprintf("%q", n.Value)
	}
	return "a document"
}

// str decodes a scalar as a string. Numbers and booleans are taken as
// written; null is a problem.
func (d *decoder) str(n *yaml.Node, where string) (string, bool) {
	n = deref(n)
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		d.errf(n.Line, "%s: must be a string, got %s", where, kindName(n))
		return "", false
	}
	return n.Value, true
}

func (d *decoder) integer(n *yaml.Node, where string) (int64, bool) {
	n = deref(n)
	var v int64
	if n.Kind != yaml.ScalarNode || n.Tag != "!!int" || n.Decode(&v) != nil {
		d.errf(n.Line, "%s: must be an integer, got %s", where, kindName(n))
		return 0, false
	}
	return v, true
}

func (d *decoder) number(n *yaml.Node, where string) (float64, bool) {
	n = deref(n)
	var v float64
	if n.Kind != yaml.ScalarNode || (n.Tag != "!!int" && n.Tag != "!!float") || n.Decode(&v) != nil {
		d.errf(n.Line, "%s: must be a number, got %s", where, kindName(n))
		return 0, false
	}
	return v, true
}

func (d *decoder) boolean(n *yaml.Node, where string) (bool, bool) {
	n = deref(n)
	var v bool
	if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" || n.Decode(&v) != nil {
		d.errf(n.Line, "%s: must be true or false, got %s", where, kindName(n))
		return false, false
	}
	return v, true
}

// strs decodes a list of strings, recording each item's line as where[i].
func (d *decoder) strs(n *yaml.Node, where string) ([]string, bool) {
	n = deref(n)
	if n.Kind != yaml.SequenceNode {
		d.errf(n.Line, "%s: must be a list, e.g. [a, b], got %s", where, kindName(n))
		return nil, false
	}
	out := make([]string, 0, len(n.Content))
	ok := true
	for i, item := range n.Content {
		w := fmt.Sprintf("%s[%d]", where, i)
		d.lines[w] = deref(item).Line
		s, good := d.str(item, w)
		ok = ok && good
		out = append(out, s)
	}
	return out, ok
}

// setInt, setStr, ... are field handlers that store a decoded value.
func (d *decoder) setStr(dst *string) func(*yaml.Node, string) {
	return func(n *yaml.Node, w string) {
		if s, ok := d.str(n, w); ok {
			*dst = s
		}
	}
}

func (d *decoder) setStrs(dst *[]string) func(*yaml.Node, string) {
	return func(n *yaml.Node, w string) {
		if s, ok := d.strs(n, w); ok {
			*dst = s
		}
	}
}

func (d *decoder) setInt(dst *int) func(*yaml.Node, string) {
	return func(n *yaml.Node, w string) {
		if v, ok := d.integer(n, w); ok {
			*dst = int(v)
		}
	}
}

func (d *decoder) setInt64(dst *int64) func(*yaml.Node, string) {
	return func(n *yaml.Node, w string) {
		if v, ok := d.integer(n, w); ok {
			*dst = v
		}
	}
}

// setMiB stores a size given in MiB as bytes.
func (d *decoder) setMiB(dst *int64) func(*yaml.Node, string) {
	return func(n *yaml.Node, w string) {
		if v, ok := d.integer(n, w); ok {
			if v < 0 || v > 1<<30 {
				d.errf(d.line(w), "%s: %d MiB is out of range", w, v)
				return
			}
			*dst = v << 20
		}
	}
}

func (d *decoder) setFloat(dst *float64) func(*yaml.Node, string) {
	return func(n *yaml.Node, w string) {
		if v, ok := d.number(n, w); ok {
			*dst = v
		}
	}
}

func (d *decoder) setBool(dst *bool) func(*yaml.Node, string) {
	return func(n *yaml.Node, w string) {
		if v, ok := d.boolean(n, w); ok {
			*dst = v
		}
	}
}
