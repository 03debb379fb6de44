package statemachines

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tierflow/tierflow/jobs"
)

const jobMachine = "arn:aws:states:us-east-1:123456789012:stateMachine:tierflow-consumer-header"

// triggered is the shipped job with a delivery condition.
func triggered(t *testing.T, cw jobs.CompleteWhen) *jobs.Spec {
	t.Helper()
	spec := shipped(t)
	spec.Source.CompleteWhen = cw
	return spec
}

func TestIntakeTrigger(t *testing.T) {
	marker := jobs.CompleteWhen{Marker: "_SUCCESS"}
	for _, c := range []struct {
		intake, lake string
		cw           jobs.CompleteWhen
		want         IntakeTrigger
	}{
		{"intake/consumer/{month}/", "s3://lake-bucket/prod", marker,
			IntakeTrigger{Bucket: "lake-bucket", Prefix: "prod/intake/consumer/", After: "/", Segment: 3, Names: []string{"*.csv.gz", "_SUCCESS"}}},
		{"{month}/consumer/", "s3://lake-bucket", jobs.CompleteWhen{Manifest: "manifest.json"},
			IntakeTrigger{Bucket: "lake-bucket", After: "/consumer/", Segment: 0, Names: []string{"*.csv.gz", "manifest.json"}}},
		{"in/{month}/", "s3://b1b/a/b/", jobs.CompleteWhen{Quiet: 90 * time.Second},
			IntakeTrigger{Bucket: "b1b", Prefix: "a/b/in/", After: "/", Segment: 3, Wait: 90 * time.Second, Names: []string{"*.csv.gz"}}},
		{"in/{month}/", "s3://b1b", jobs.CompleteWhen{Parts: 4},
			IntakeTrigger{Bucket: "b1b", Prefix: "in/", After: "/", Segment: 1, Names: []string{"*.csv.gz"}}},
	} {
		spec := triggered(t, c.cw)
		spec.Source.Intake = c.intake
		got, err := Intake(spec, c.lake)
		if err != nil || !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s in %s: %+v, %v; want %+v", c.intake, c.lake, got, err, c.want)
		}
	}
	for _, c := range []struct{ intake, lake, says string }{
		{"intake/consumer/consumer-{month}-", "s3://lake-bucket", "need {month} to be a whole folder of the key"},
		{"intake/{month}", "s3://lake-bucket", "need {month} to be a whole folder"},
		{"intake//{month}/", "s3://lake-bucket", "empty folder name"},
		{"intake/{month}/", "file://lake", "needs an s3://bucket"},
	} {
		spec := triggered(t, marker)
		spec.Source.Intake = c.intake
		if _, err := Intake(spec, c.lake); err == nil || !strings.Contains(err.Error(), c.says) {
			t.Errorf("%s in %s: %v, want an error saying %q", c.intake, c.lake, err, c.says)
		}
	}
	if _, err := Intake(shipped(t), "s3://lake-bucket"); !errors.Is(err, ErrNoTrigger) {
		t.Errorf("a job without complete_when: %v, want ErrNoTrigger", err)
	}
}

func TestIntakeEventPattern(t *testing.T) {
	tr, err := Intake(triggered(t, jobs.CompleteWhen{Marker: "_SUCCESS"}), "s3://lake-bucket/prod")
	if err != nil {
		t.Fatal(err)
	}
	got, err := json.Marshal(tr.EventPattern())
	if err != nil {
		t.Fatal(err)
	}
	want := `{"detail":{"bucket":{"name":["lake-bucket"]},"object":{"key":[` +
		`{"wildcard":"prod/intake/consumer/*/*.csv.gz"},{"wildcard":"prod/intake/consumer/*/_SUCCESS"}]}},` +
		`"detail-type":["Object Created"],"source":["aws.s3"]}`
	if string(got) != want {
		t.Errorf("pattern\n%s\nwant\n%s", got, want)
	}
	for glob, want := range map[string]string{
		"*.csv.gz":        "*.csv.gz",
		"part-??.csv":     "part-*.csv",
		"p[0-9]*.gz":      "p*.gz",
		`a\*b`:            `a\*b`,
		"x**y":            "x*y",
		"back\\\\slash":   `back\\slash`,
		"[abc]":           "*",
		"part_*_[0-9].gz": "part_*_*.gz",
	} {
		if got := globWildcard(glob); got != want {
			t.Errorf("globWildcard(%q) = %q, want %q", glob, got, want)
		}
	}
}

// TestIntakeExecutionMonth: the month is read back from the names the
// machine makes, and only from those.
func TestIntakeExecutionMonth(t *testing.T) {
	h := strings.Repeat("0f", 32)
	for name, want := range map[string]string{
		"2026-11-in-" + h:                  "2026-11",
		"2026-13-in-" + h:                  "",
		"2026-11-in-" + h[:63]:             "",
		"2026-11-in-" + h + "0":            "",
		"archive-in-" + h:                  "",
		"consumer-2026-11-r1":              "",
		"2026-11-in-" + strings.ToUpper(h): "",
	} {
		if got := IntakeExecutionMonth(name); got != want {
			t.Errorf("IntakeExecutionMonth(%q) = %q, want %q", name, got, want)
		}
	}
}

// s3Event is an EventBridge Object Created event as S3 sends it.
func s3Event(bucket, key, sequencer string) map[string]any {
	return map[string]any{
		"version": "0", "id": "17793124-05d4-b198-2fde-7ededc63b103", "detail-type": "Object Created", "source": "aws.s3",
		"account": "123456789012", "time": "2026-12-02T06:00:00Z", "region": "us-east-1",
		"resources": []string{"arn:aws:s3:::" + bucket},
		"detail": map[string]any{
			"version": "0", "bucket": map[string]any{"name": bucket},
			"object":     map[string]any{"key": key, "size": 7516192768, "etag": "b1946ac92492d2347c6235b4d2611184-900", "sequencer": sequencer},
			"request-id": "N4N7GDK58NMKJ12R", "requester": "123456789012", "reason": "CompleteMultipartUpload",
		},
	}
}

func renderIntake(t *testing.T, spec *jobs.Spec) []byte {
	t.Helper()
	def, err := RenderIntake(spec, "s3://lake-bucket/prod", jobMachine)
	if err != nil {
		t.Fatal(err)
	}
	return def
}

// TestIntakeLocal executes the rendered intake machine on S3 events: the
// month and name are computed from the key with intrinsic functions, a
// duplicate event is a success, an object outside a month's folder starts
// nothing, and a quiet period waits first.
func TestIntakeLocal(t *testing.T) {
	t.Parallel()
	const seq = "0062E99A88DC407460"
	// aws-local-stepfunctions 3.0.0 hashes inputs of 56 bytes or more
	// wrongly (every algorithm: a padding bug), so the name is checked
	// against Go's SHA-256 on a short key; on longer ones the tests below
	// check what matters, that the name is a function of the object event.
	short := triggered(t, jobs.CompleteWhen{Parts: 5})
	short.Source.Intake = "in/{month}/"
	sdef, err := RenderIntake(short, "s3://lb", jobMachine)
	if err != nil {
		t.Fatal(err)
	}
	skey := "in/2026-11/p3.csv.gz"
	sum := sha256.Sum256([]byte(skey + " " + seq))
	r := runLocal(t, sdef, scenario{Input: s3Event("lb", skey, seq), Execution: "intake-0"})
	if r.Status != "SUCCEEDED" || len(r.Calls) != 1 {
		t.Fatalf("status %s (%s: %s), calls %+v", r.Status, r.Error, r.Cause, r.Calls)
	}
	want := map[string]any{
		"StateMachineArn": jobMachine, "Name": "2026-11-in-" + hex.EncodeToString(sum[:]),
		"Input": map[string]any{"month": "2026-11", "intake": map[string]any{"key": skey, "sequencer": seq}},
	}
	if got := r.Calls[0].Input; !reflect.DeepEqual(got, want) {
		t.Errorf("start\n%v\nwant\n%v", got, want)
	}
	if want := []string{"Init", "Name", "Month?", "Quiet?", "Start"}; !reflect.DeepEqual(r.Entered, want) {
		t.Errorf("states %v, want %v", r.Entered, want)
	}

	def := renderIntake(t, triggered(t, jobs.CompleteWhen{Parts: 5}))
	key := "prod/intake/consumer/2026-11/part-0003.csv.gz"
	r = runLocal(t, def, scenario{Input: s3Event("lake-bucket", key, seq), Execution: "intake-1"})
	if r.Status != "SUCCEEDED" || len(r.Calls) != 1 {
		t.Fatalf("status %s (%s: %s), calls %+v", r.Status, r.Error, r.Cause, r.Calls)
	}
	name, _ := r.Calls[0].Input["Name"].(string)
	if len(name) > 80 || IntakeExecutionMonth(name) != "2026-11" {
		t.Errorf("name %q: %d characters (at most 80), month %q", name, len(name), IntakeExecutionMonth(name))
	}
	if in := r.Calls[0].Input["Input"].(map[string]any); in["month"] != "2026-11" {
		t.Errorf("input %v", in)
	}

	// The same event again: the start is refused, the execution succeeds.
	dup := runLocal(t, def, scenario{Input: s3Event("lake-bucket", key, seq), Execution: "intake-2",
		Failures: []failure{{State: "Start", Errors: []string{"StepFunctions.ExecutionAlreadyExistsException"}}}})
	if dup.Status != "SUCCEEDED" || dup.Entered[len(dup.Entered)-1] != "AlreadyStarted" || dup.Calls[0].Input["Name"] != name {
		t.Errorf("duplicate: status %s (%s), states %v, calls %+v", dup.Status, dup.Error, dup.Entered, dup.Calls)
	}
	// Another failure to start fails the intake execution (after retries
	// for throttling, which this is not).
	bad := runLocal(t, def, scenario{Input: s3Event("lake-bucket", key, seq), Execution: "intake-3",
		Failures: []failure{{State: "Start", Errors: []string{"StepFunctions.StateMachineDoesNotExistException"}}}})
	if bad.Status != "FAILED" || bad.Error != "StepFunctions.StateMachineDoesNotExistException" {
		t.Errorf("a missing job machine: status %s, error %s", bad.Status, bad.Error)
	}

	// A later object of the same month is a new execution.
	other := runLocal(t, def, scenario{Input: s3Event("lake-bucket", "prod/intake/consumer/2026-11/part-0004.csv.gz", "0062E99A88DC407461"), Execution: "intake-4"})
	if other.Calls[0].Input["Name"] == name || !strings.HasPrefix(other.Calls[0].Input["Name"].(string), "2026-11-in-") {
		t.Errorf("another part's execution is named %v", other.Calls[0].Input["Name"])
	}

	// A folder that is not a month: nothing starts.
	junk := runLocal(t, def, scenario{Input: s3Event("lake-bucket", "prod/intake/consumer/archive/part-0001.csv.gz", seq), Execution: "intake-5"})
	if junk.Status != "SUCCEEDED" || len(junk.Calls) != 0 || junk.Entered[len(junk.Entered)-1] != "NotAMonth" {
		t.Errorf("a non-month folder: status %s, states %v, calls %+v", junk.Status, junk.Entered, junk.Calls)
	}

	quiet := renderIntake(t, triggered(t, jobs.CompleteWhen{Quiet: 30*time.Minute + 500*time.Millisecond}))
	var q struct {
		States map[string]map[string]any
	}
	if err := json.Unmarshal(quiet, &q); err != nil {
		t.Fatal(err)
	}
	if cfg := q.States["Init"]["Parameters"].(map[string]any)["config"].(map[string]any); cfg["wait"] != float64(1801) || cfg["segment"] != float64(3) {
		t.Errorf("config %v, want wait 1801 (30m0.5s rounded up) and segment 3", cfg)
	}
	qr := runLocal(t, quiet, scenario{Input: s3Event("lake-bucket", key, seq), Execution: "intake-6"})
	if want := []string{"Init", "Name", "Month?", "Quiet?", "WaitQuiet", "Start"}; qr.Status != "SUCCEEDED" || !reflect.DeepEqual(qr.Entered, want) {
		t.Errorf("quiet: status %s (%s: %s), states %v, want %v", qr.Status, qr.Error, qr.Cause, qr.Entered, want)
	}
}

// TestIntakeASLValidator lints the rendered intake machines.
func TestIntakeASLValidator(t *testing.T) {
	bin := npmBin(t, "asl-validator")
	dir := t.TempDir()
	for name, cw := range map[string]jobs.CompleteWhen{
		"marker": {Marker: "_SUCCESS"}, "quiet": {Quiet: time.Hour},
	} {
		path := filepath.Join(dir, name+".asl.json")
		if err := os.WriteFile(path, renderIntake(t, triggered(t, cw)), 0o644); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command(bin, "--json-path", path).CombinedOutput(); err != nil {
			t.Errorf("asl-validator %s: %v\n%s", name, err, out)
		}
	}
}

// TestLocalWaitingDelivery: the job's machine started by the intake
// machine, on a delivery plan finds incomplete, plans and ends in
// NothingToDo; the intake's extra input members reach nothing but args.
func TestLocalWaitingDelivery(t *testing.T) {
	t.Parallel()
	plan := map[string]any{"execution": execName, "job": "consumer-header", "month": "2026-11", "skipped": true, "waiting": true,
		"reason": "delivery for 2026-11 not complete: 3 of 5 parts; waiting"}
	r := runLocal(t, defForLocal(t), scenario{
		Input:   map[string]any{"month": "2026-11", "intake": map[string]any{"key": "prod/intake/consumer/2026-11/part-0003.csv.gz", "sequencer": "0062E99A88DC407460"}},
		Objects: map[string]any{metaKey("plan.json"): plan},
	})
	if r.Status != "SUCCEEDED" || !reflect.DeepEqual(r.states(), []string{"Plan", "ReadPlan"}) || r.Entered[len(r.Entered)-1] != "NothingToDo" {
		t.Fatalf("status %s (%s: %s), calls %v, states %v", r.Status, r.Error, r.Cause, r.states(), r.Entered)
	}
	want := []string{"plan", "--job", "consumer-header", "--lake", "s3://lake-bucket/prod", "--month", "2026-11", "--execution", execName, "--force=false"}
	if cmd := r.callsTo("Plan")[0].command(); !reflect.DeepEqual(cmd, want) {
		t.Errorf("plan command %q, want %q", cmd, want)
	}
}
