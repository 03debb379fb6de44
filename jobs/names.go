package jobs

import (
	"fmt"
	"strings"
)

// MaxNameLen is the longest table, column or database name Glue accepts.
const MaxNameLen = 255

// PartitionColumn is the partition key of every tier-2 table
// (tier2/<table>/month=YYYY-MM/); no data column may have this name.
const PartitionColumn = "month"

// NormalizeName derives a catalog-safe column name from a vendor header
// name: lowercase, every run of characters outside [a-z0-9_] becomes one
// '_', repeated '_' collapse, leading and trailing '_' are trimmed, and a
// leading digit gets the prefix "c_". The result may be empty (a header
// with no letters or digits); callers must check it with CheckName.
func NormalizeName(header string) string {
	var b strings.Builder
	b.Grow(len(header) + 2)
	under := false
	for _, r := range strings.ToLower(header) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
			under = false
		default: // '_' and everything else
			if !under {
				b.WriteByte('_')
				under = true
			}
		}
	}
	s := strings.Trim(b.String(), "_")
	if s != "" && s[0] >= '0' && s[0] <= '9' {
		s = "c_" + s
	}
	return s
}

// CheckName reports whether s is a catalog-safe table, column or database
// name: lowercase letters, digits and '_', not starting with a digit, at
// most MaxNameLen bytes. Glue folds names to lowercase and Trino matches
// bucket columns by exact string, so anything else invites mismatches.
func CheckName(s string) error {
	if s == "" {
		return fmt.Errorf("name is empty")
	}
	if len(s) > MaxNameLen {
		return fmt.Errorf("name %q is %d bytes long, more than %d", s, len(s), MaxNameLen)
	}
	if s[0] >= '0' && s[0] <= '9' {
		return fmt.Errorf("name %q starts with a digit", s)
	}
	if strings.ToLower(s) != s {
		return fmt.Errorf("name %q has uppercase letters", s)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return fmt.Errorf("name %q has %q; only lowercase letters, digits and '_' are allowed", s, rune(c))
		}
	}
	return nil
}
