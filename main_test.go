package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/tierflow/tierflow/runner"
)

// The test binary doubles as tierflow: with TIERFLOW_TEST_MAIN set it runs
// main, so the tests below run the real command line in a process.
func TestMain(m *testing.M) {
	if os.Getenv("TIERFLOW_TEST_MAIN") != "" {
		main()
		return
	}
	os.Exit(m.Run())
}

// tierflow runs the command line in a child process in dir and returns its
// stdout, stderr and exit code.
func tierflow(t *testing.T, dir string, env []string, args ...string) (string, string, int) {
	t.Helper()
	cmd := cliCommand(t, dir, env, args...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatal(err)
	}
	return out.String(), errOut.String(), cmd.ProcessState.ExitCode()
}

// cliCommand is the command line in a child process in dir, with env
// added to the environment (TIERFLOW_JOB and TIERFLOW_LAKE unset).
func cliCommand(t *testing.T, dir string, env []string, args ...string) *exec.Cmd {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, args...)
	cmd.Dir = dir
	cmd.Env = append(append(os.Environ(), "TIERFLOW_TEST_MAIN=1", "TIERFLOW_JOB=", "TIERFLOW_LAKE="), env...)
	return cmd
}

func TestReorderArgs(t *testing.T) {
	app := newApp()
	for _, c := range []struct{ in, want string }{
		{"status RUN --job J", "status --job J RUN"},
		{"lineage --job J consumer_ca --lake L", "lineage --job J --lake L consumer_ca"},
		{"runs --job J --log-level debug", "--log-level debug runs --job J"},
		{"--log-format json runs --job=J --wide", "--log-format json runs --job=J --wide"},
		{"bench convert --rows 5", "bench --rows 5 convert"},
		{"run --force --job J --month 2020-03", "run --force --job J --month 2020-03"},
		{"runs -- --job", "runs -- --job"},
		{"nosuch --job J", "nosuch --job J"},
		{"status RUN --help", "status --help"},
	} {
		all, _ := reorderArgs(app, append([]string{"tierflow"}, strings.Fields(c.in)...))
		got := all[1:]
		if want := strings.Fields(c.want); !reflect.DeepEqual(got, want) {
			t.Errorf("%q → %q, want %q", c.in, got, want)
		}
	}
}

func TestExitCodesAndVersion(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		args []string
		code int
		says string
	}{
		{[]string{"--version"}, 0, "tierflow " + runner.Version + " (build "},
		{[]string{"runs"}, 2, `Required flag "job" not set`},
		{[]string{"runs", "--job", "consumer-header", "--bogus"}, 2, "flag provided but not defined: -bogus"},
		{[]string{"runs", "--job", "consumer-header", "--lake", "s3:/bucket/lake"}, 2, "use file://DIR"},
		{[]string{"run", "--job", "consumer-header", "--lake", dir, "--month", "2020-13"}, 2, "month must be 01..12"},
		{[]string{"runs", "--job", "no-such-job"}, 2, "no-such-job"},
		{[]string{"runs", "--job", "consumer-header", "--lake", filepath.Join(dir, "typo")}, 1, "no lake at"},
	} {
		out, errOut, code := tierflow(t, dir, nil, c.args...)
		if code != c.code || !strings.Contains(out+errOut, c.says) {
			t.Errorf("tierflow %s: exit %d, want %d; output %q does not say %q", strings.Join(c.args, " "), code, c.code, out+errOut, c.says)
		}
		if n := strings.Count(errOut, "tierflow:"); code != 0 && n != 1 {
			t.Errorf("tierflow %s: the error is printed %d times:\n%s", strings.Join(c.args, " "), n, errOut)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "typo")); !errors.Is(err, os.ErrNotExist) {
		t.Error("a read-only command created the lake")
	}
}

// --job and --lake default to TIERFLOW_JOB and TIERFLOW_LAKE, then to the
// nearest tierflow.yaml, whose relative paths are relative to it.
func TestProjectDefaults(t *testing.T) {
	root := t.TempDir()
	sub := filepath.Join(root, "a", "b")
	if err := os.MkdirAll(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "tierflow.yaml"), []byte("job: consumer-header\nlake: ./lake\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, errOut, code := tierflow(t, sub, nil, "runs")
	if code != 1 || !strings.Contains(errOut, "no lake at "+filepath.Join(root, "lake")) {
		t.Errorf("runs under a project: exit %d, %s", code, errOut)
	}
	other := filepath.Join(root, "other")
	_, errOut, _ = tierflow(t, sub, []string{"TIERFLOW_LAKE=" + other}, "runs")
	if !strings.Contains(errOut, "no lake at "+other) {
		t.Errorf("TIERFLOW_LAKE does not win over tierflow.yaml: %s", errOut)
	}
	_, errOut, _ = tierflow(t, sub, []string{"TIERFLOW_LAKE=" + other}, "runs", "--lake", filepath.Join(root, "flag"))
	if !strings.Contains(errOut, "no lake at "+filepath.Join(root, "flag")) {
		t.Errorf("--lake does not win over TIERFLOW_LAKE: %s", errOut)
	}
	if err := os.WriteFile(filepath.Join(root, "tierflow.yaml"), []byte("jobb: x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, errOut, code := tierflow(t, sub, nil, "runs"); code != 2 || !strings.Contains(errOut, "tierflow.yaml") {
		t.Errorf("a bad tierflow.yaml: exit %d, %s", code, errOut)
	}
}

// Ctrl-C during a run: exit 130, one line saying nothing was published,
// and nothing was.
func TestInterruptedRun(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	if err := runner.Gen(ctx, runner.GenOptions{Job: "consumer-header", Lake: dir, Month: "2020-03", Rows: 60000, Parts: 2, Seed: 1,
		Log: zerolog.Nop(), Stdout: &bytes.Buffer{}}); err != nil {
		t.Fatal(err)
	}
	exe, _ := os.Executable()
	cmd := exec.Command(exe, "run", "--job", "consumer-header", "--lake", dir, "--month", "2020-03", "--log-format", "json")
	cmd.Env = append(os.Environ(), "TIERFLOW_TEST_MAIN=1")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var lines []string
	sc := bufio.NewScanner(stderr)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if strings.Contains(sc.Text(), "run started") {
			time.Sleep(200 * time.Millisecond)
			if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
				t.Fatal(err)
			}
		}
	}
	cmd.Wait()
	text := strings.Join(lines, "\n")
	if code := cmd.ProcessState.ExitCode(); code != 130 {
		t.Fatalf("exit %d after Ctrl-C, want 130:\n%s", code, text)
	}
	if n := strings.Count(text, "nothing published") + strings.Count(text, "nothing was published"); n != 1 {
		t.Errorf("'nothing published' said %d times:\n%s", n, text)
	}
	if !strings.HasSuffix(text, "tierflow: interrupted; nothing published") {
		t.Errorf("last line: %q", lines[len(lines)-1])
	}
	out, _, _ := tierflow(t, dir, nil, "runs", "--job", "consumer-header", "--lake", dir)
	if strings.Contains(out, "yes") || !strings.Contains(out, "FAIL") {
		t.Errorf("after Ctrl-C the runs are:\n%s", out)
	}
}

// runs fits 120 columns, cutting a long error with "…"; --wide shows it
// whole.
func TestRunsWidth(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "intake", "consumer", "2020-03"), 0o755); err != nil {
		t.Fatal(err)
	}
	// A part whose header is one long wrong line fails with a long error.
	if err := os.WriteFile(filepath.Join(dir, "intake", "consumer", "2020-03", "part-0001.csv.gz"), gzipped(t, strings.Repeat("Wrong,", 300)+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, code := tierflow(t, dir, nil, "run", "--job", "consumer-header", "--lake", dir, "--month", "2020-03"); code != 1 {
		t.Fatalf("the bad run exited %d", code)
	}
	out, _, _ := tierflow(t, dir, nil, "runs", "--job", "consumer-header", "--lake", dir)
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if n := len([]rune(l)); n > 120 {
			t.Errorf("a line of %d columns: %s", n, l)
		}
	}
	if !strings.Contains(out, "…") {
		t.Errorf("the long error is not cut:\n%s", out)
	}
	wide, _, _ := tierflow(t, dir, nil, "runs", "--job", "consumer-header", "--lake", dir, "--wide")
	if !strings.Contains(wide, "S3 REQ") || strings.Contains(wide, "…") {
		t.Errorf("--wide:\n%s", wide)
	}
}

func gzipped(t *testing.T, s string) []byte {
	t.Helper()
	var b bytes.Buffer
	cmd := exec.Command("gzip", "-c")
	cmd.Stdin, cmd.Stdout = strings.NewReader(s), &b
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// A backfill with --keep-going runs every month, publishes the good ones
// and fails naming the bad one; without it, it stops there.
func TestBackfillKeepGoing(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	for _, m := range []string{"2020-01", "2020-03"} {
		if err := runner.Gen(ctx, runner.GenOptions{Job: "consumer-header", Lake: dir, Month: m, Rows: 500, Parts: 1, Seed: 1, Log: zerolog.Nop(), Stdout: &bytes.Buffer{}}); err != nil {
			t.Fatal(err)
		}
	}
	// 2020-02 has no parts: it fails.
	out, errOut, code := tierflow(t, dir, nil, "run", "--job", "consumer-header", "--lake", dir, "--from", "2020-01", "--to", "2020-03")
	if code != 1 || !strings.Contains(errOut, "month 2020-02") {
		t.Fatalf("backfill without --keep-going: exit %d, %s", code, errOut)
	}
	if strings.Contains(out, "month 2020-03") {
		t.Errorf("the backfill went on past the failed month:\n%s", out)
	}
	out, errOut, code = tierflow(t, dir, nil, "run", "--job", "consumer-header", "--lake", dir, "--from", "2020-01", "--to", "2020-03", "--keep-going")
	if code != 1 || !strings.Contains(out, "backfill: 1 of 3 months failed: 2020-02") || !strings.Contains(errOut, "2020-02") {
		t.Fatalf("backfill --keep-going: exit %d\n%s\n%s", code, out, errOut)
	}
	runs, _, _ := tierflow(t, dir, nil, "runs", "--job", "consumer-header", "--lake", dir)
	if strings.Count(runs, "yes") != 2 {
		t.Errorf("want 2020-01 and 2020-03 published:\n%s", runs)
	}
}

// A missing-credentials error is one line saying what to do.
func TestNoCredentialsOneLine(t *testing.T) {
	sdk := errors.New(`operation error S3: HeadBucket, get identity: get credentials: failed to refresh cached credentials, no EC2 IMDS role found, operation error ec2imds: GetMetadata, request canceled, context deadline exceeded`)
	var out bytes.Buffer
	if code := report(&out, sdk, false, ""); code != 1 {
		t.Errorf("exit %d", code)
	}
	if got := out.String(); strings.Count(got, "\n") != 1 || !strings.Contains(got, "no AWS credentials found: set AWS_PROFILE") || strings.Contains(got, "IMDS") {
		t.Errorf("printed %q", got)
	}
}

// Interrupting a local run says nothing was published; interrupting the
// CLI that follows an AWS execution says the execution goes on.
func TestInterruptNote(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"tierflow", "run", "--job", "j", "--month", "2020-03"}, "nothing published"},
		{[]string{"tierflow", "run", "--on", "aws", "--job", "j"}, "the execution goes on"},
		{[]string{"tierflow", "run", "--on=aws"}, "the execution goes on"},
		{[]string{"tierflow", "watch", "--job", "j"}, "the month being run published nothing"},
		{[]string{"tierflow", "runs", "--job", "j"}, ""},
	} {
		cmd := c.args[1]
		if got := interruptNote(cmd, c.args); (c.want == "" && got != "") || !strings.Contains(got, c.want) {
			t.Errorf("%v: %q, want %q", c.args, got, c.want)
		}
	}
	var out bytes.Buffer
	if code := report(&out, context.Canceled, true, interruptNote("run", []string{"tierflow", "run", "--on", "aws"})); code != 130 ||
		!strings.Contains(out.String(), "interrupted; the execution goes on") {
		t.Errorf("exit %d, %q", code, out.String())
	}
}
