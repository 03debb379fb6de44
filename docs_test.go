package main

import (
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"
)

// Every tierflow command line in the README and docs/ uses flags the
// command has (issue 14, finding 10: the docs showed `bench --only`).
func TestDocsUseRealFlags(t *testing.T) {
	app := newApp()
	files, _ := filepath.Glob(filepath.Join("docs", "*.md"))
	files = append(files, "README.md")
	cmdAt := regexp.MustCompile("(?:^|[\\s`(])(?:tierflow|go run \\.) ([a-z][a-z-]+)")
	flagAt := regexp.MustCompile(`(?:^|[\s\[])--([a-z][a-z0-9-]*)`)
	checked := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for n, line := range strings.Split(string(b), "\n") {
			for _, m := range cmdAt.FindAllStringSubmatchIndex(line, -1) {
				cmd := app.Command(line[m[2]:m[3]])
				if cmd == nil {
					continue // prose: "tierflow writes JSON …"
				}
				rest := line[m[1]:]
				if i := strings.IndexAny(rest, "`|#"); i >= 0 {
					rest = rest[:i]
				}
				for _, fm := range flagAt.FindAllStringSubmatch(rest, -1) {
					checked++
					if !hasFlag(cmd.Flags, fm[1]) && !hasFlag(app.Flags, fm[1]) && fm[1] != "help" {
						t.Errorf("%s:%d: tierflow %s has no flag --%s: %s", f, n+1, cmd.Name, fm[1], strings.TrimSpace(line))
					}
				}
			}
		}
	}
	if checked < 20 {
		t.Errorf("only %d flags found in the docs' command lines: the scan is broken", checked)
	}
}

func hasFlag(flags []cli.Flag, name string) bool {
	for _, f := range flags {
		for _, n := range f.Names() {
			if n == name {
				return true
			}
		}
	}
	return false
}

// The demo's default directory is ignored by git (issue 14, finding 10).
func TestDemoDirIgnored(t *testing.T) {
	if _, err := os.Stat(".git"); err != nil {
		t.Skip("not a git checkout")
	}
	dir := ""
	for _, f := range newApp().Command("demo").Flags {
		if s, ok := f.(*cli.StringFlag); ok && s.Name == "dir" {
			dir = s.Value
		}
	}
	if dir == "" {
		t.Fatal("demo has no --dir default")
	}
	out, err := exec.Command("git", "check-ignore", "-v", filepath.Join(dir, "_tierflow", "lineage.db")).CombinedOutput()
	if err != nil {
		t.Errorf("git does not ignore the demo's %s: %v %s", dir, err, out)
	}
}

// The bytes per row of gzip that docs/benchmarks.md gives for the
// synthetic month is what the generator writes (issue 14, finding 10: the
// docs said 190, 169 was measured).
func TestDocsBytesPerRow(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("docs", "benchmarks.md"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`≈(\d+) B/row of gzip`).FindSubmatch(b)
	if m == nil {
		t.Fatal("docs/benchmarks.md gives no '≈N B/row of gzip'")
	}
	doc, _ := strconv.Atoi(string(m[1]))
	dir := t.TempDir()
	genMonth(t, dir, 20000, 1)
	parts, _ := filepath.Glob(filepath.Join(dir, "intake", "consumer", "2020-03", "*.csv.gz"))
	var size int64
	for _, p := range parts {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		size += fi.Size()
	}
	got := float64(size) / 20000
	if math.Abs(got-float64(doc))/got > 0.03 {
		t.Errorf("the generator writes %.1f B/row of gzip; docs/benchmarks.md says ≈%d", got, doc)
	}
	t.Logf("%.1f B/row (docs: ≈%d)", got, doc)
}

// --log-level debug adds what a local run does in detail: each part's copy
// to tier 1 and its converter passes, and each derived table's SQL as the
// engine ran it (issue 14, finding 10: it added nothing locally).
func TestDebugLogAddsDetail(t *testing.T) {
	dir := t.TempDir()
	genMonth(t, dir, 2000, 1)
	count := func(level string) map[string]int {
		_, errOut, code := tierflow(t, dir, nil, "run", "--job", "consumer-header", "--lake", dir, "--month", "2020-03", "--force", "--log-level", level)
		if code != 0 {
			t.Fatalf("--log-level %s: exit %d\n%s", level, code, errOut)
		}
		n := map[string]int{}
		for _, l := range strings.Split(strings.TrimSpace(errOut), "\n") {
			var ev map[string]any
			if err := json.Unmarshal([]byte(l), &ev); err != nil {
				t.Fatalf("not a JSON log line: %q", l)
			}
			if ev["level"] == "debug" {
				n["debug"]++
				msg, _ := ev["message"].(string)
				if sql, _ := ev["sql"].(string); msg == "derived table built" && strings.Contains(sql, "SELECT") {
					n["sql"]++
				}
				n[msg]++
			}
		}
		return n
	}
	if n := count("info"); n["debug"] != 0 {
		t.Errorf("debug lines at info: %v", n)
	}
	n := count("debug")
	if n["part copied to tier 1"] != 1 || n["sql"] != 2 || n["duckdb: CTAS done"] != 2 {
		t.Errorf("--log-level debug on a local run of 1 part and 2 derived tables: %v", n)
	}
}
