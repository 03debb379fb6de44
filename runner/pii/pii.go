// Package pii enforces a job's PII policy on Parquet files, independently
// of the engine that wrote them: after a CTAS wrote a derived table that
// is not marked `pii: true`, and before it is published, Apply rewrites
// each file so that every column of a PII class is kept, dropped, masked
// or replaced by a keyed HMAC token, as the policy says. KeySource
// supplies the HMAC key: a local key file (generated in a local lake on
// first use) or a data key decrypted with KMS.
//
// Rules, per column:
//
//   - keep: written as is.
//   - drop: the column is removed from the file's schema.
//   - mask: a non-NULL string becomes MaskString ("****"): fixed, so it keeps
//     nothing of the value, not even its length; a value of any other type
//     becomes NULL (the column turns optional). NULL stays NULL.
//   - hmac: the value becomes the first 32 hex digits (128 bits) of
//     HMAC-SHA256(key, canonical text of the value); the same value gives
//     the same token under the same key, in every column and table, so
//     joins on the token still work. The column becomes a string. NULL
//     stays NULL. See Canonical for the text of non-string values.
package pii

import (
	"fmt"
	"maps"
	"slices"

	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/lake/catalog"
)

// Rule is what happens to one column.
type Rule string

// Rules, spelled as in the job spec's `pii.policy`.
const (
	Keep Rule = jobs.PIIKeep
	Drop Rule = jobs.PIIDrop
	Mask Rule = jobs.PIIMask
	HMAC Rule = jobs.PIIHMAC
)

// MaskString is what a masked string becomes.
const MaskString = "****"

// TokenHexDigits is the length of an HMAC token: 32 hex digits, 128 bits.
const TokenHexDigits = 32

// MinKeyBytes is the shortest HMAC key accepted.
const MinKeyBytes = 32

// Catalog column parameters that record a column's class and the rule
// applied to it, so a reader of the catalog sees that a column is masked.
const (
	ParamClass = "tierflow.pii"
	ParamRule  = "tierflow.pii_policy"
)

func (r Rule) valid() bool { return r == Keep || r == Drop || r == Mask || r == HMAC }

// Rules maps each output column that the schema classes as PII to the
// policy's rule for its class. Output columns are matched to schema
// columns by name (jobs validation makes PII columns leave a derived
// table under their own names).
func Rules(policy jobs.PIIPolicy, schema jobs.Schema, columns []string) map[string]Rule {
	rules := map[string]Rule{}
	for _, name := range columns {
		c, _, ok := schema.Column(name)
		if !ok || c.PII == "" {
			continue
		}
		rules[name] = Rule(policy.Action(c.PII))
	}
	return rules
}

// Changes reports whether any rule changes a file (is not Keep).
func Changes(rules map[string]Rule) bool {
	for _, r := range rules {
		if r != Keep {
			return true
		}
	}
	return false
}

// NeedsKey reports whether any rule is HMAC.
func NeedsKey(rules map[string]Rule) bool {
	return slices.Contains(slices.Collect(maps.Values(rules)), HMAC)
}

// Columns returns the catalog columns of a table after rules: dropped
// columns removed, HMAC columns typed string, and every ruled column
// annotated with its class (from schema) and rule.
func Columns(cols []catalog.Column, rules map[string]Rule, schema jobs.Schema) []catalog.Column {
	var out []catalog.Column
	for _, c := range cols {
		r, ok := rules[c.Name]
		if !ok {
			out = append(out, c)
			continue
		}
		if r == Drop {
			continue
		}
		params := maps.Clone(c.Parameters)
		if params == nil {
			params = map[string]string{}
		}
		if sc, _, ok := schema.Column(c.Name); ok && sc.PII != "" {
			params[ParamClass] = sc.PII
		}
		params[ParamRule] = string(r)
		c.Parameters = params
		if r == HMAC {
			c.Type = "string"
		}
		out = append(out, c)
	}
	return out
}

// checkRules validates rules and the key they need.
func checkRules(rules map[string]Rule, key []byte) error {
	for name, r := range rules {
		if !r.valid() {
			return fmt.Errorf("column %s: unknown rule %q", name, r)
		}
	}
	if NeedsKey(rules) && len(key) < MinKeyBytes {
		return fmt.Errorf("%w: hmac needs a key of at least %d bytes, got %d", ErrShortKey, MinKeyBytes, len(key))
	}
	return nil
}
