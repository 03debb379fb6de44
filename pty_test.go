package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"
	"github.com/rs/zerolog"

	"github.com/tierflow/tierflow/runner"
)

// The terminal a person sees during a run, through a pseudo-terminal and
// the vt of vt_test.go (issue 14, finding 6): log lines whole and above a
// progress area with one line per part and one overall line, through
// convert and derive; nothing of the area left when the run ends or is
// interrupted; plain lines when the output is no terminal.

var (
	// logAt finds a console log line's start: "15:04:05 INF ".
	logAt = regexp.MustCompile(`\d\d:\d\d:\d\d (DBG|INF|WRN|ERR|FTL) `)
	// barAt finds a progress line's bar: "[===>   ]".
	barAt = regexp.MustCompile(`\[[=> ]{5,}\]`)
)

// ptyRun runs the command line in a pseudo-terminal of rows×cols and
// interprets what it writes. Each time a frame of the progress area is
// whole on the screen (before the next one starts), watch (if set) sees
// the terminal and may type into it. It returns the terminal and the exit
// code.
func ptyRun(t *testing.T, dir string, rows, cols int, watch func(v *vt, tty *os.File), args ...string) (*vt, int) {
	t.Helper()
	cmd := cliCommand(t, dir, []string{"TERM=xterm"}, args...)
	tty, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: uint16(rows), Cols: uint16(cols)})
	if err != nil {
		t.Fatal(err)
	}
	defer tty.Close()
	stop := time.AfterFunc(3*time.Minute, func() { _ = cmd.Process.Kill() })
	defer stop.Stop()
	v := newVT(rows, cols)
	if watch != nil {
		v.frame = func() { watch(v, tty) }
	}
	buf := make([]byte, 4096)
	for {
		n, err := tty.Read(buf)
		v.Write(buf[:n])
		if err != nil {
			break // EIO: the command ended and closed the terminal
		}
	}
	err = cmd.Wait()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatal(err)
	}
	if len(v.unknown) > 0 {
		t.Errorf("escape sequences the test terminal does not know: %q", v.unknown)
	}
	return v, cmd.ProcessState.ExitCode()
}

// checkWholeLines fails when a log line does not start a line of the
// terminal or shares one with a progress bar.
func checkWholeLines(t *testing.T, when string, lines []string) {
	t.Helper()
	for _, l := range lines {
		at := logAt.FindAllStringIndex(l, -1)
		if len(at) > 1 || (len(at) == 1 && at[0][0] != 0) {
			t.Errorf("%s: a log line joined to other text: %q", when, l)
		}
		if len(at) > 0 && barAt.MatchString(l) {
			t.Errorf("%s: a log line on a bar line: %q", when, l)
		}
	}
}

// area is the progress area on a screen: its bar lines, which must be
// together, the overall line last.
type area struct{ parts, overall []string }

func progressArea(t *testing.T, screen []string) area {
	t.Helper()
	var a area
	first, last := -1, -1
	for i, l := range screen {
		if !barAt.MatchString(l) {
			continue
		}
		if first < 0 {
			first = i
		}
		last = i
		if strings.HasPrefix(l, "2020-03  ") {
			a.overall = append(a.overall, l)
		} else {
			a.parts = append(a.parts, l)
		}
	}
	if first < 0 {
		return a
	}
	if len(a.overall) != 1 || !strings.HasPrefix(screen[last], "2020-03  ") || last-first+1 != len(a.parts)+len(a.overall) {
		t.Errorf("the progress area is not its part lines with the overall line last:\n%s", strings.Join(screen, "\n"))
	}
	return a
}

// seen collects what the progress area showed during a run.
type seen struct {
	areaBeforeLogs bool            // the area showed before the first log line
	logs           bool            // a log line showed
	stages         map[string]bool // overall line's stage words seen
	partStates     map[string]bool // part lines' states seen
	maxParts       int
}

func (s *seen) watch(t *testing.T) func(v *vt, _ *os.File) {
	s.stages, s.partStates = map[string]bool{}, map[string]bool{}
	return func(v *vt, _ *os.File) {
		screen := v.Screen()
		checkWholeLines(t, "during the run", screen)
		a := progressArea(t, screen)
		hasLog := false
		for _, l := range screen {
			hasLog = hasLog || logAt.MatchString(l)
		}
		if !s.logs && !hasLog && len(a.overall) > 0 {
			s.areaBeforeLogs = true
		}
		s.logs = s.logs || hasLog
		for _, l := range a.overall {
			if f := strings.Fields(l); len(f) > 1 {
				s.stages[f[1]] = true
			}
		}
		names := map[string]bool{}
		for _, l := range a.parts {
			f := strings.Fields(l)
			if names[f[0]] {
				t.Errorf("part %s has two lines:\n%s", f[0], strings.Join(screen, "\n"))
			}
			names[f[0]] = true
			s.partStates[f[1]] = true
		}
		s.maxParts = max(s.maxParts, len(a.parts))
	}
}

// ended returns the lines the terminal shows after a command ended with
// exit code, which must be want, and checks them: log lines whole, nothing
// of the progress area left.
func ended(t *testing.T, v *vt, what string, code, want int) (lines []string, text string) {
	t.Helper()
	lines = v.Transcript()
	text = strings.Join(lines, "\n")
	t.Logf("the terminal at the end of %s:\n%s", what, text)
	if code != want {
		t.Fatalf("%s: exit %d, want %d", what, code, want)
	}
	checkWholeLines(t, "after "+what, lines)
	checkNoArea(t, "after "+what, lines)
	return lines, text
}

// checkNoArea fails when anything of the progress area is left.
func checkNoArea(t *testing.T, when string, lines []string) {
	t.Helper()
	for _, l := range lines {
		if barAt.MatchString(l) {
			t.Errorf("%s: a progress line is left on the terminal: %q", when, l)
		}
	}
}

func TestTerminalDemo(t *testing.T) {
	dir := t.TempDir()
	var s seen
	v, code := ptyRun(t, dir, 40, 100, s.watch(t), "demo", "--dir", filepath.Join(dir, "demo"), "--rows", "30000", "--parts", "3")
	_, text := ended(t, v, "a demo run", code, 0)
	if !strings.Contains(text, "INF run complete: month 2020-03 is published") || !strings.Contains(text, "status COMPLETE") {
		t.Error("the run's end is not on the terminal")
	}
	if !s.areaBeforeLogs {
		t.Error("the screen showed no progress before the first log line")
	}
	for _, st := range []string{"generating", "convert", "derive"} {
		if !s.stages[st] {
			t.Errorf("the overall line never showed %q (saw %v)", st, s.stages)
		}
	}
	if !s.partStates["converting"] || s.maxParts != 3 {
		t.Errorf("part lines: states %v, at most %d lines, want 'converting' and 3", s.partStates, s.maxParts)
	}
	lines := v.Logical()
	for _, l := range lines {
		if strings.Contains(l, "INF part converted") && len([]rune(l)) > 100 {
			t.Errorf("a 'part converted' line takes more than one line of 100 columns: %q", l)
		}
	}
	// The demo's query hint runs, with tierflow's own DuckDB.
	hint := ""
	for _, l := range lines {
		if _, after, ok := strings.Cut(l, "go run . query "); ok {
			hint = after
		}
	}
	flags, sql, ok := strings.Cut(hint, ` "`)
	if !ok {
		t.Fatalf("no query hint in the demo's output")
	}
	out, errOut, code := tierflow(t, dir, nil, append(append([]string{"query"}, strings.Fields(flags)...), strings.TrimSuffix(sql, `"`))...)
	if code != 0 || !strings.HasSuffix(strings.TrimSpace(out), "(5 rows)") {
		t.Errorf("the demo's query hint: exit %d\n%s%s", code, out, errOut)
	}
}

// A failed run: the error once, the log lines whole, no progress left.
func TestTerminalFailedRun(t *testing.T) {
	dir := t.TempDir()
	genMonth(t, dir, 20000, 2)
	bad := filepath.Join(dir, "intake", "consumer", "2020-03", "part-0003.csv.gz")
	if err := os.WriteFile(bad, gzipped(t, "ID,Name\n1,x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var s seen
	v, code := ptyRun(t, dir, 40, 100, s.watch(t), "run", "--job", "consumer-header", "--lake", dir, "--month", "2020-03")
	_, text := ended(t, v, "a failed run", code, 1)
	if n := strings.Count(text, "tierflow: "); n != 1 || !strings.Contains(text, "part-0003.csv.gz") {
		t.Errorf("the error is printed %d times, or does not name the part", n)
	}
	if strings.LastIndex(text, "tierflow: ") < strings.LastIndex(text, "status FAIL") {
		t.Error("the error is not said last, after the summary")
	}
	// The cause is said where it happened (the part's line) and by the
	// command's last line; the healthy parts stopped are no errors.
	flat := strings.Join(v.Logical(), "\n")
	if n := strings.Count(flat, "header does not match the agreed header sample"); n != 2 {
		t.Errorf("the cause is on the terminal %d times, want 2 (the part's line and the last line)", n)
	}
	if n := strings.Count(text, " ERR "); n != 2 || strings.Count(text, "ERR part failed") != 1 {
		t.Errorf("%d error lines, want the bad part's and the run's", n)
	}
}

// Ctrl-C while converting: the terminal sends SIGINT; the run says
// "interrupted; nothing published" once and leaves no progress line.
func TestTerminalInterrupt(t *testing.T) {
	dir := t.TempDir()
	genMonth(t, dir, 60000, 2)
	sent := false
	var s seen
	see := s.watch(t)
	v, code := ptyRun(t, dir, 30, 80, func(v *vt, tty *os.File) {
		see(v, tty)
		if !sent && s.partStates["converting"] {
			sent = true
			if _, err := tty.Write([]byte{3}); err != nil { // Ctrl-C
				t.Error(err)
			}
		}
	}, "run", "--job", "consumer-header", "--lake", dir, "--month", "2020-03")
	if !sent {
		t.Fatal("no part was seen converting: Ctrl-C was not sent")
	}
	_, text := ended(t, v, "a run interrupted by Ctrl-C", code, 130)
	if n := strings.Count(text, "interrupted; nothing published"); n != 1 {
		t.Errorf("'interrupted; nothing published' is on the terminal %d times", n)
	}
	if strings.Count(text, "nothing was published") != 0 {
		t.Error("the run said 'nothing was published' too")
	}
	if strings.Contains(text, " ERR ") {
		t.Error("what Ctrl-C stopped is logged as an error")
	}
}

// Output that is no terminal has no escape codes or carriage returns, and
// each log line is a line of its own.
func TestNoTerminalPlainLines(t *testing.T) {
	dir := t.TempDir()
	genMonth(t, dir, 5000, 2)
	out, errOut, code := tierflow(t, dir, nil, "run", "--job", "consumer-header", "--lake", dir, "--month", "2020-03", "--log-format", "console")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if strings.ContainsAny(out+errOut, "\x1b\r") {
		t.Errorf("escape codes or carriage returns in output to a pipe:\n%q", errOut)
	}
	lines := strings.Split(strings.TrimSpace(errOut), "\n")
	checkWholeLines(t, "piped", lines)
	if len(lines) < 5 || !logAt.MatchString(lines[len(lines)-1]) || !strings.Contains(lines[len(lines)-1], "run complete") {
		t.Errorf("stderr:\n%s", errOut)
	}
}

// genMonth writes a synthetic month 2020-03 of consumer-header into the
// lake dir.
func genMonth(t *testing.T, dir string, rows int64, parts int) {
	t.Helper()
	if err := runner.Gen(context.Background(), runner.GenOptions{Job: "consumer-header", Lake: dir, Month: "2020-03", Rows: rows, Parts: parts, Seed: 1,
		Log: zerolog.Nop(), Stdout: &bytes.Buffer{}}); err != nil {
		t.Fatal(err)
	}
}
