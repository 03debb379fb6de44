package jobs

import (
	"fmt"
	"path/filepath"
	"testing"
)

func TestParsePIISection(t *testing.T) {
	files := goodFiles()
	files["dir/job.yaml"] = minimalSpec + `pii:
  policy: {name: hmac, geo: mask, id: keep}
  key_file: keys/small.key
`
	s, err := parseFiles(t, files)
	if err != nil {
		t.Fatal(err)
	}
	p := s.PII
	want := map[string]string{"name": "hmac", "geo": "mask", "id": "keep", "email": "drop", "phone": "drop", "address": "drop", "dob": "drop"}
	if !p.Set || fmt.Sprint(p.Actions) != fmt.Sprint(want) {
		t.Errorf("policy = %+v, want Set and %v", p, want)
	}
	if p.KeyFile != "keys/small.key" || p.KeyPath != filepath.Join("dir", "keys", "small.key") {
		t.Errorf("key file %q resolved to %q", p.KeyFile, p.KeyPath)
	}
	for class, a := range map[string]string{"": PIIKeep, "name": PIIHMAC, "email": PIIDrop, "nonsense": PIIDrop} {
		if got := p.Action(class); got != a {
			t.Errorf("Action(%q) = %s, want %s", class, got, a)
		}
	}
	if !p.NeedsKey() {
		t.Error("NeedsKey false with a hmac class")
	}

	// No section: not Set, and every class would be kept only by pii: true.
	s, err = parseFiles(t, goodFiles())
	if err != nil {
		t.Fatal(err)
	}
	if s.PII.Set || s.PII.NeedsKey() {
		t.Errorf("no pii section gave %+v", s.PII)
	}

	// An empty section drops every class.
	files["dir/job.yaml"] = minimalSpec + "pii: {}\n"
	s, err = parseFiles(t, files)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range PIIClasses() {
		if s.PII.Action(c) != PIIDrop {
			t.Errorf("empty policy: %s is %s", c, s.PII.Action(c))
		}
	}
}

func TestParsePIISectionProblems(t *testing.T) {
	f := "dir/job.yaml"
	for _, c := range []struct {
		name, section string
		want          []string
	}{
		{"unknown class and action", "pii:\n  policy: {nmae: hmac, email: scramble}\n", []string{
			f + `:12: pii.policy: unknown key "nmae" (did you mean "name"?)`,
			f + `:12: pii.policy.email: unknown action "scramble"`,
		}},
		{"unknown key", "pii:\n  polcy: {}\n", []string{f + `:12: pii: unknown key "polcy" (did you mean "policy"?)`}},
		{"not a mapping", "pii: [drop]\n", []string{f + ":11: pii: must be a mapping"}},
		{"file and kms", "pii:\n  key_file: k\n  kms_key_id: alias/x\n  encrypted_key: AAAA\n", []string{
			f + ":12: pii.key_file: give either key_file or kms_key_id",
		}},
		{"kms without ciphertext", "pii:\n  kms_key_id: alias/x\n", []string{f + ":12: pii.encrypted_key: required with kms_key_id"}},
		{"ciphertext without kms", "pii:\n  encrypted_key: AAAA\n", []string{f + ":12: pii.kms_key_id: required with encrypted_key"}},
		{"bad base64", "pii:\n  kms_key_id: alias/x\n  encrypted_key: \"not base64!\"\n", []string{f + ":13: pii.encrypted_key: not valid base64"}},
		{"key file escapes", "pii:\n  key_file: ../secret.key\n", []string{f + ":12: pii.key_file: \"../secret.key\" climbs out"}},
		{"absolute key file", "pii:\n  key_file: /etc/key\n", []string{f + ":12: pii.key_file: \"/etc/key\" is absolute"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			files := goodFiles()
			files["dir/job.yaml"] = minimalSpec + c.section
			_, err := parseFiles(t, files)
			if err == nil {
				t.Fatalf("no error, want %q", c.want)
			}
			wantProblems(t, err, c.want...)
		})
	}
}

func TestParsePIIPolicyAppliesToDerived(t *testing.T) {
	// Line 11 is `pii:`, the derived entry's sql is on line 15.
	base := minimalSpec + "pii:\n  policy: {name: hmac, geo: mask}\n" + "derived:\n  - table: d\n    sql: %s\n%s"
	const sqlLine = "dir/job.yaml:15: derived[0].sql: "
	for _, c := range []struct {
		sql, extra string
		want       []string // substrings of problems; nil = loads
	}{
		// Bare PII columns under their own names: the policy finds them.
		{"SELECT state, firstname, zipcode FROM small WHERE state = 'CA'", "", nil},
		{"SELECT s.firstname, s.zipcode AS zipcode FROM small s", "", nil},
		{"WITH ca AS (SELECT firstname, state FROM small) SELECT firstname FROM ca", "", nil},
		{"SELECT state, CAST(income AS decimal(12, 2)) AS income2 FROM small", "", nil},
		{"SELECT state, count(*) AS n FROM small WHERE firstname IS NOT NULL GROUP BY state", "", nil},
		// Renames and expressions would escape a policy applied by name.
		{"SELECT firstname AS fn FROM small", "", []string{sqlLine + `select item "firstname as fn" mentions PII column firstname`}},
		{"SELECT lower(firstname) FROM small", "", []string{`select item "lower(firstname)" mentions PII column firstname`}},
		{"SELECT firstname || zipcode AS firstname FROM small", "", []string{"mentions PII column firstname, zipcode"}},
		{"SELECT state FROM (SELECT zipcode AS state FROM small) q", "", []string{`select item "zipcode as state"`}},
		{"WITH x(a) AS (SELECT firstname FROM small) SELECT a FROM x", "", []string{"WITH column alias list"}},
		{"SELECT a FROM (SELECT firstname FROM small) AS q(a)", "", []string{`column alias list "AS q(…)"`}},
		{"SELECT a FROM (SELECT firstname FROM small) q(a)", "", []string{`column alias list "q(…)"`}},
		{"SELECT state FROM small UNION ALL SELECT firstname FROM small", "", []string{"combines SELECTs with UNION"}},
		{"SELECT count(DISTINCT firstname) AS n FROM small", "", []string{`select item "count(distinct firstname) as n"`}},
		// SELECT * stays refused; pii: true still allows anything.
		{"SELECT * FROM small", "", []string{"selects * from a table with PII columns; list the columns (the PII policy"}},
		{"SELECT firstname AS fn FROM small", "    pii: true\n", nil},
		// PII columns the policy changes cannot partition a table.
		{"SELECT state, firstname FROM small", "    partitioned_by: [firstname]\n", []string{
			`dir/job.yaml:16: derived[0].partitioned_by: "firstname" is a PII column (name) whose policy is hmac`,
		}},
		{"SELECT state, householdid FROM small", "    bucketed_by: [householdid]\n    bucket_count: 4\n", []string{
			`derived[0].bucketed_by: "householdid" is a PII column (id) whose policy is drop; rewriting its values would break the bucketing`,
		}},
	} {
		checkDerived(t, base, c.sql, c.extra, c.want, true)
	}
}
