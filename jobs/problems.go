package jobs

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// Problem is one thing wrong with a job spec, located by file and line.
type Problem struct {
	File string // the spec, schema or header file, as named when loading
	Line int    // 1-based; 0 when the problem concerns the whole file
	Msg  string
}

// String formats the problem as "file:line: message".
func (p Problem) String() string {
	if p.Line <= 0 {
		return p.File + ": " + p.Msg
	}
	return fmt.Sprintf("%s:%d: %s", p.File, p.Line, p.Msg)
}

// Errors is every problem found while loading a job spec. Load returns it
// (as an error) when the list is not empty, so that a user fixes all of
// them in one edit instead of one per run.
type Errors []Problem

// Error lists the problems, one per line.
func (e Errors) Error() string {
	if len(e) == 1 {
		return e[0].String()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d problems in job spec:", len(e))
	for _, p := range e {
		b.WriteString("\n  ")
		b.WriteString(p.String())
	}
	return b.String()
}

// problems collects Problems in the order files were first mentioned.
type problems struct {
	list  Errors
	files []string
}

// file fixes the place of file in the report order.
func (ps *problems) file(name string) {
	if !slices.Contains(ps.files, name) {
		ps.files = append(ps.files, name)
	}
}

func (ps *problems) add(file string, line int, format string, args ...any) {
	ps.file(file)
	ps.list = append(ps.list, Problem{File: file, Line: line, Msg: fmt.Sprintf(format, args...)})
}

// err returns the problems sorted by file (in order of first mention) and
// line, or nil.
func (ps *problems) err() error {
	if len(ps.list) == 0 {
		return nil
	}
	out := slices.Clone(ps.list)
	slices.SortStableFunc(out, func(a, b Problem) int {
		if c := cmp.Compare(slices.Index(ps.files, a.File), slices.Index(ps.files, b.File)); c != 0 {
			return c
		}
		return cmp.Compare(a.Line, b.Line)
	})
	return out
}
