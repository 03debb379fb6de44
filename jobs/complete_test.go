package jobs

import (
	"strings"
	"testing"
	"time"
)

// withCompleteWhen is the minimal spec with source.complete_when set to
// cond (one line of YAML, the value of complete_when) on line 5.
func withCompleteWhen(cond string) map[string]string {
	files := goodFiles()
	files["dir/job.yaml"] = strings.Replace(minimalSpec, "  header: small.header.csv\n",
		"  header: small.header.csv\n  complete_when: "+cond+"\n", 1)
	return files
}

func TestParseCompleteWhen(t *testing.T) {
	for _, c := range []struct {
		cond string
		want CompleteWhen
		str  string
	}{
		{"{marker: _SUCCESS}", CompleteWhen{Marker: "_SUCCESS"}, "marker _SUCCESS"},
		{"{manifest: manifest.json}", CompleteWhen{Manifest: "manifest.json"}, "manifest manifest.json"},
		{"{parts: 5}", CompleteWhen{Parts: 5}, "parts 5"},
		{"{quiet: 30m}", CompleteWhen{Quiet: 30 * time.Minute}, "quiet 30m0s"},
	} {
		s, err := parseFiles(t, withCompleteWhen(c.cond))
		if err != nil {
			t.Errorf("%s: %v", c.cond, err)
			continue
		}
		if got := s.Source.CompleteWhen; got != c.want || !got.Set() || got.String() != c.str {
			t.Errorf("%s: %+v (set %v, %q), want %+v (%q)", c.cond, got, got.Set(), got.String(), c.want, c.str)
		}
	}
	s, err := parseFiles(t, goodFiles())
	if err != nil {
		t.Fatal(err)
	}
	if s.Source.CompleteWhen.Set() {
		t.Errorf("a spec without complete_when has %+v", s.Source.CompleteWhen)
	}
}

func TestParseCompleteWhenProblems(t *testing.T) {
	f := "dir/job.yaml:5: "
	for _, c := range []struct{ cond, want string }{
		{"{}", "source.complete_when: name one condition"},
		{"{marker: _SUCCESS, parts: 3}", "source.complete_when: give one condition, not marker and parts"},
		{"{markr: _SUCCESS}", `unknown key "markr" (did you mean "marker"?)`},
		{"_SUCCESS", "source.complete_when: must be a mapping"},
		{`{marker: ""}`, `source.complete_when.marker: "" is not a file name`},
		{"{marker: done/_SUCCESS}", "must be a base name in the month's intake folder"},
		{"{manifest: ..}", `source.complete_when.manifest: ".." is not a file name`},
		{"{manifest: parts.csv.gz}", `"parts.csv.gz" matches source.pattern "*.csv.gz", so it would be read as a part`},
		{"{parts: 0}", "source.complete_when.parts: must be 1..100000, got 0"},
		{"{parts: many}", "source.complete_when.parts: must be an integer"},
		{"{quiet: 500ms}", `source.complete_when.quiet: "500ms" is not a duration of at least 1s`},
		{"{quiet: soon}", `source.complete_when.quiet: "soon" is not a duration`},
	} {
		t.Run(c.cond, func(t *testing.T) {
			_, err := parseFiles(t, withCompleteWhen(c.cond))
			if err == nil {
				t.Fatal("no error")
			}
			wantProblems(t, err, f+c.want)
		})
	}
}
