package main

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/tierflow/tierflow/jobs/jobstest"
	"github.com/tierflow/tierflow/runner"
)

// tierflow watch --once: waits on an incomplete delivery (exit 0), runs a
// complete one, then has nothing to do; a bad spec is exit 2; Ctrl-C
// between passes stops it with exit 0.
func TestWatchCommand(t *testing.T) {
	dir := t.TempDir()
	lake := filepath.Join(dir, "lake")
	job := jobstest.WithCompleteWhen(t, "consumer-header", "{parts: 2}")
	gen := func(parts int) {
		t.Helper()
		if err := runner.Gen(context.Background(), runner.GenOptions{Job: job, Lake: lake, Month: "2020-03", Rows: 500, Parts: parts, Seed: 1,
			Log: zerolog.Nop(), Stdout: &bytes.Buffer{}}); err != nil {
			t.Fatal(err)
		}
	}
	gen(1)
	out, errOut, code := tierflow(t, dir, nil, "watch", "--job", job, "--lake", lake, "--once")
	if code != 0 || !strings.Contains(out, "delivery for 2020-03 not complete: 1 of 2 parts; waiting") {
		t.Fatalf("watch --once on 1 of 2 parts: exit %d\n%s\n%s", code, out, errOut)
	}
	// run says the same and exits 0.
	if out, _, code := tierflow(t, dir, nil, "run", "--job", job, "--lake", lake, "--month", "2020-03"); code != 0 || out != "delivery for 2020-03 not complete: 1 of 2 parts; waiting\n" {
		t.Errorf("run on 1 of 2 parts: exit %d, %q", code, out)
	}
	gen(2)
	out, errOut, code = tierflow(t, dir, nil, "watch", "--job", job, "--lake", lake, "--once")
	if code != 0 || !strings.Contains(out, "month 2020-03") || !strings.Contains(out, "status COMPLETE") {
		t.Fatalf("watch --once on a complete delivery: exit %d\n%s\n%s", code, out, errOut)
	}
	out, _, code = tierflow(t, dir, nil, "watch", "--job", job, "--lake", lake, "--once")
	if code != 0 || out != "nothing to run: 1 month in the intake, none ready\n" {
		t.Errorf("watch --once with nothing to do: exit %d, %q", code, out)
	}
	if out, _, code := tierflow(t, dir, nil, "validate", "--job", job); code != 0 || !strings.Contains(out, "a month's delivery is complete with: parts 2 (source.complete_when)") {
		t.Errorf("validate: exit %d, %q", code, out)
	}
	if _, errOut, code := tierflow(t, dir, nil, "watch", "--job", job, "--lake", lake, "--interval", "0s"); code != 2 || !strings.Contains(errOut, "--interval 0s must be positive") {
		t.Errorf("watch --interval 0s: exit %d, %s", code, errOut)
	}
	bad := jobstest.WithCompleteWhen(t, "consumer-header", "{parts: 0}")
	if _, errOut, code := tierflow(t, dir, nil, "validate", "--job", bad); code != 2 || !strings.Contains(errOut, "consumer-header.yaml:7: source.complete_when.parts: must be 1..100000, got 0") {
		t.Errorf("validate with a bad complete_when: exit %d, %s", code, errOut)
	}
	if _, errOut, code := tierflow(t, dir, nil, "watch", "--job", bad, "--lake", lake, "--once"); code != 2 || !strings.Contains(errOut, "source.complete_when.parts: must be 1..100000, got 0") {
		t.Errorf("watch with a bad complete_when: exit %d, %s", code, errOut)
	}

	exe, _ := os.Executable()
	cmd := exec.Command(exe, "watch", "--job", job, "--lake", lake, "--interval", "1h", "--log-format", "json", "--log-level", "debug")
	cmd.Env = append(os.Environ(), "TIERFLOW_TEST_MAIN=1")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	stuck := time.AfterFunc(time.Minute, func() { cmd.Process.Kill() })
	defer stuck.Stop()
	var lines []string
	sc := bufio.NewScanner(stderr)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if strings.Contains(sc.Text(), "watch pass done") {
			if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
				t.Fatal(err)
			}
		}
	}
	cmd.Wait()
	if !stuck.Stop() {
		t.Fatal("watch did not stop on Ctrl-C within a minute")
	}
	text := strings.Join(lines, "\n")
	if code := cmd.ProcessState.ExitCode(); code != 0 || !strings.Contains(text, "watch stopped") || strings.Contains(text, "tierflow:") {
		t.Errorf("Ctrl-C between passes: exit %d, want 0 and no error:\n%s", code, text)
	}
}
