package jobs

import (
	"slices"
	"strings"
	"testing"
)

func TestParseChecks(t *testing.T) {
	files := goodFiles()
	files["dir/small.schema.yaml"] = strings.Replace(goodSchema, "- {name: State, type: string}\n",
		"- {name: State, type: string, normalize: [trim, upper], check: {allowed: [CA, NY, \"\"]}}\n", 1) +
		"- {name: Code, type: string, check: {pattern: '[A-Z]{2}[0-9]*'}}\n"
	files["dir/small.header.csv"] = strings.TrimSuffix(goodHeader, "\r\n") + ",Code\r\n"
	s, err := parseFiles(t, files)
	if err != nil {
		t.Fatal(err)
	}
	st, _, _ := s.Column("state")
	if st.Normalize != NormTrim|NormUpper || st.Check == nil || !slices.Equal(st.Check.Allowed, []string{"CA", "NY", ""}) {
		t.Fatalf("state: normalize %v, check %+v", st.Normalize, st.Check)
	}
	code, _, _ := s.Column("code")
	re, err := code.Check.Regexp()
	if err != nil || code.Normalize != 0 {
		t.Fatalf("code: %v, normalize %v", err, code.Normalize)
	}
	for v, want := range map[string]bool{"CA": true, "CA12": true, "CAL": false, "xCA": false, "ca": false, "": false} {
		if re.MatchString(v) != want {
			t.Errorf("pattern on %q: %v, want %v (anchored as a full match)", v, !want, want)
		}
	}
	if hb, _, _ := s.Column("householdid"); hb.Check != nil || hb.Normalize != 0 {
		t.Errorf("householdid got a check or normalisation: %+v", hb)
	}
}

func TestParseCheckProblems(t *testing.T) {
	err := parseSchema(t, `- {name: HouseholdID, type: bigint, check: {allowed: ["1"]}}
- {name: FirstName, type: string, normalize: [trim, shout]}
- {name: State, type: string, normalize: [upper, lower, trim, trim]}
- {name: ZipCode, type: string, check: {allowed: [a], pattern: "b"}}
- {name: Income, type: "decimal(10, 2)", normalize: [trim]}
- {name: 2ndHome, type: string, check: {pattern: "(unclosed"}}
- name: Birth Date
  type: string
  normalize: [trim, upper]
  check:
    allowed:
      - CA
      - " NY"
      - ca
      - CA
- {name: X, type: string, check: {allowed: []}}
- {name: Y, type: string, check: {allow: [a]}}
- {name: Z, type: string, check: {}}
`)
	f := "dir/small.schema.yaml"
	wantProblems(t, err,
		f+":1: string columns only, not bigint",
		f+":2: unknown normalisation \"shout\"",
		f+":3: upper and lower exclude each other",
		f+":3: \"trim\" listed twice",
		f+":4: give exactly one of allowed",
		f+":5: string columns only, not decimal(10,2)",
		f+":6: \"(unclosed\" is not an RE2 regular expression",
		f+":13: \" NY\" can never match: values are normalised (trim, upper) before the check; write \"NY\"",
		f+":14: \"ca\" can never match",
		f+":15: \"CA\" is listed twice (also at line 12)",
		f+":16: the list is empty",
		f+":17: unknown key \"allow\" (did you mean \"allowed\"?)",
		f+":17: give exactly one of allowed",
		f+":18: give exactly one of allowed",
	)
}

func TestNormalizationApply(t *testing.T) {
	var scratch []byte
	for _, c := range []struct {
		n       Normalization
		in, out string
	}{
		{NormTrim, " \t CA\r\n", "CA"},
		{NormTrim | NormUpper, " ca ", "CA"},
		{NormUpper, "Ca é", "CA é"}, // ASCII only
		{NormLower, "CA", "ca"},
		{NormTrim | NormLower, "  ", ""},
		{0, " ca ", " ca "},
		{NormUpper, "CA", "CA"},
	} {
		in := []byte(c.in)
		if got := string(c.n.Apply(in, &scratch)); got != c.out {
			t.Errorf("%v on %q = %q, want %q", c.n, c.in, got, c.out)
		}
		if string(in) != c.in {
			t.Errorf("%v modified its input %q to %q", c.n, c.in, in)
		}
	}
	in := []byte(" ca ")
	if allocs := testing.AllocsPerRun(100, func() { NormTrim.Apply(in, &scratch); (NormTrim | NormUpper).Apply(in, &scratch) }); allocs != 0 {
		t.Errorf("Apply allocates %v times per call with a warm scratch buffer", allocs)
	}
}
