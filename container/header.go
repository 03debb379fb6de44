package container

import (
	"fmt"
	"strings"
)

// headerDiff compares a part's header with the agreed sample and returns a
// readable description of every difference ("" when they are equal):
// missing, extra, renamed (a different name at the same position) and
// moved columns. Header names are column names, not data, so they may
// appear in errors; a first record that is mostly unknown names is not.
// shiftRun is how many consecutive columns moved by the same offset are
// reported as one shift rather than one by one.
const shiftRun = 3

func headerDiff(want, got []string) string {
	if len(want) == len(got) {
		same := true
		for i := range want {
			if want[i] != got[i] {
				same = false
				break
			}
		}
		if same {
			return ""
		}
	}
	wantPos := map[string]int{}
	for i, n := range want {
		wantPos[n] = i
	}
	// A part without its header line starts with a data record, whose
	// fields would be listed below as unknown names: when most names are
	// unknown, list none (data may be PII).
	unknown := 0
	for _, n := range got {
		if _, ok := wantPos[n]; !ok {
			unknown++
		}
	}
	if 2*unknown > len(got) {
		return fmt.Sprintf("%d columns, want %d; %d are not names of the header sample, so the first record is probably data (is the header line missing?); not shown, as data may be PII", len(got), len(want), unknown)
	}
	gotPos := map[string]int{}
	for i, n := range got {
		if _, dup := gotPos[n]; !dup {
			gotPos[n] = i
		}
	}
	var missing, extra, renamed, moved, dups []string
	renamedFrom := map[string]bool{}
	renamedTo := map[string]bool{}
	for i := 0; i < len(want) && i < len(got); i++ {
		_, wInGot := gotPos[want[i]]
		_, gInWant := wantPos[got[i]]
		if want[i] != got[i] && !wInGot && !gInWant {
			renamed = append(renamed, fmt.Sprintf("#%d %q → %q", i+1, want[i], got[i]))
			renamedFrom[want[i]] = true
			renamedTo[got[i]] = true
		}
	}
	for i := 0; i < len(want); i++ {
		n := want[i]
		g, ok := gotPos[n]
		switch {
		case !ok && !renamedFrom[n]:
			missing = append(missing, fmt.Sprintf("%q (#%d)", n, i+1))
		case ok && g != i:
			// One column missing or inserted moves every later one by the
			// same amount: say that once for the whole run.
			j := i + 1
			for j < len(want) {
				gj, okj := gotPos[want[j]]
				if !okj || gj-j != g-i {
					break
				}
				j++
			}
			if j-i >= shiftRun {
				moved = append(moved, fmt.Sprintf("%d columns shifted by %+d from #%d (%q … %q)", j-i, g-i, i+1, n, want[j-1]))
				i = j - 1
				continue
			}
			moved = append(moved, fmt.Sprintf("%q #%d → #%d", n, i+1, g+1))
		}
	}
	seen := map[string]bool{}
	for i, n := range got {
		if seen[n] {
			dups = append(dups, fmt.Sprintf("%q (#%d)", n, i+1))
			continue
		}
		seen[n] = true
		if _, ok := wantPos[n]; !ok && !renamedTo[n] {
			extra = append(extra, fmt.Sprintf("%q (#%d)", n, i+1))
		}
	}
	parts := []string{fmt.Sprintf("%d columns, want %d", len(got), len(want))}
	add := func(label string, items []string) {
		if len(items) == 0 {
			return
		}
		const maxItems = 10
		more := ""
		if len(items) > maxItems {
			more = fmt.Sprintf(", … %d more", len(items)-maxItems)
			items = items[:maxItems]
		}
		parts = append(parts, fmt.Sprintf("%s: %s%s", label, strings.Join(items, ", "), more))
	}
	add("missing", missing)
	add("extra", extra)
	add("renamed", renamed)
	add("moved", moved)
	add("duplicated", dups)
	return strings.Join(parts, "; ")
}
