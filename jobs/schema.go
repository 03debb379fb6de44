package jobs

import (
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strings"
)

// PII classes a column may carry. The set is fixed so that policies and
// reports can rely on it; "" means the column is not PII.
const (
	PIIName    = "name"    // personal names, name suffixes, nicknames
	PIIAddress = "address" // street address parts, unit, address lines
	PIIPhone   = "phone"   // phone numbers
	PIIEmail   = "email"   // e-mail addresses
	PIIDOB     = "dob"     // birth date and values that reveal it
	PIIID      = "id"      // person, household and address identifiers
	PIIGeo     = "geo"     // precise location: coordinates, zip, zip+4, city, census block
)

// PIIClasses returns the valid PII classes in a stable order.
func PIIClasses() []string {
	return []string{PIIName, PIIAddress, PIIPhone, PIIEmail, PIIDOB, PIIID, PIIGeo}
}

// ValidPII reports whether class is "" or one of PIIClasses.
func ValidPII(class string) bool {
	return class == "" || slices.Contains(PIIClasses(), class)
}

// Hash returns a stable hex SHA-256 over the columns' normalised names and
// types, in order. It changes exactly when the tier-2 table's layout
// changes; vendor header spellings, PII classes and comments do not count.
func (s Schema) Hash() string {
	h := sha256.New()
	for _, c := range s.Columns {
		h.Write([]byte(c.Name))
		h.Write([]byte{0})
		h.Write([]byte(c.Type.String()))
		h.Write([]byte{'\n'})
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Column looks a column up by its normalised name and returns it with its
// 0-based position in the schema.
func (s Schema) Column(name string) (Column, int, bool) {
	for i, c := range s.Columns {
		if c.Name == name {
			return c, i, true
		}
	}
	return Column{}, -1, false
}

// Names returns the normalised column names in order.
func (s Schema) Names() []string {
	out := make([]string, len(s.Columns))
	for i, c := range s.Columns {
		out[i] = c.Name
	}
	return out
}

// Sources returns the vendor header names in order.
func (s Schema) Sources() []string {
	out := make([]string, len(s.Columns))
	for i, c := range s.Columns {
		out[i] = c.Source
	}
	return out
}

// Column looks a column of the job's schema up by its normalised name and
// returns it with its 0-based position.
func (s *Spec) Column(name string) (Column, int, bool) {
	return s.Schema.Column(name)
}

// IntakePrefix returns the storage key prefix under which the parts of month
// (YYYY-MM) arrive: Source.Intake with "{month}" replaced.
func (s *Spec) IntakePrefix(month string) string {
	return strings.ReplaceAll(s.Source.Intake, "{month}", month)
}
