package statemachines

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
)

// These tests execute the rendered state machine with the npm package
// aws-local-stepfunctions (testdata/run-local.mjs), every Task mocked. That
// package cannot read a distributed Map's items from S3 (ItemReader):
// run-local.mjs replaces each ItemReader by a Task reading the same S3 key
// that feeds the Map through ItemsPath — a test-only transformation, see
// the comment at its top. Everything else (Choice, intrinsic functions,
// Retry, Catch, ResultPath, the Fail state) runs as rendered.

const execName = "consumer-header-2020-03-r1"

// metaKey is where the state machine reads and writes an execution's
// files for the test lake s3://lake-bucket/prod.
func metaKey(file string) string {
	return "prod/_tierflow/executions/consumer-header/" + execName + "/" + file
}

type failure struct {
	State  string   `json:"state"`
	Match  string   `json:"match"`
	Errors []string `json:"errors"`
}

type scenario struct {
	Input     map[string]any `json:"input"`
	Execution string         `json:"execution"`
	Objects   map[string]any `json:"objects"`
	Failures  []failure      `json:"failures,omitempty"`
}

type call struct {
	State    string         `json:"state"`
	Resource string         `json:"resource"`
	Input    map[string]any `json:"input"`
}

type report struct {
	Status  string         `json:"status"`
	Error   string         `json:"error"`
	Cause   string         `json:"cause"`
	Calls   []call         `json:"calls"`
	Objects map[string]any `json:"objects"`
	Entered []string       `json:"entered"`
}

// command is the container command an ECS call ran.
func (c call) command() []string {
	co := c.Input["Overrides"].(map[string]any)["ContainerOverrides"].([]any)[0].(map[string]any)
	var out []string
	for _, a := range co["Command"].([]any) {
		out = append(out, a.(string))
	}
	return out
}

// states lists the states called, in order.
func (r *report) states() []string {
	var out []string
	for _, c := range r.Calls {
		out = append(out, c.State)
	}
	return out
}

func (r *report) callsTo(state string) []call {
	var out []call
	for _, c := range r.Calls {
		if c.State == state {
			out = append(out, c)
		}
	}
	return out
}

// squash folds runs of one state into one entry: Map items run
// concurrently, so only the order of stages is deterministic.
func squash(states []string) []string {
	var out []string
	for _, s := range states {
		if len(out) == 0 || out[len(out)-1] != s {
			out = append(out, s)
		}
	}
	return out
}

func runLocal(t *testing.T, def []byte, sc scenario) *report {
	t.Helper()
	modules := os.Getenv("TIERFLOW_TEST_NODE_MODULES")
	if modules == "" {
		t.Skip("needs aws-local-stepfunctions: set TIERFLOW_TEST_NODE_MODULES (source .ci/tools.sh, as .ci/run does)")
	}
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("needs node:", err)
	}
	if sc.Execution == "" {
		sc.Execution = execName
	}
	path := filepath.Join(t.TempDir(), "def.json")
	if err := os.WriteFile(path, def, 0o644); err != nil {
		t.Fatal(err)
	}
	in, err := json.Marshal(sc)
	if err != nil {
		t.Fatal(err)
	}
	polyfill, _ := filepath.Abs("testdata/withresolvers-polyfill.cjs")
	cmd := exec.Command(node, "--require", polyfill, "testdata/run-local.mjs", path)
	cmd.Env = append(os.Environ(), "TIERFLOW_TEST_NODE_MODULES="+modules)
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("run-local.mjs: %v\n%s", err, stderr.String())
	}
	var r report
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("run-local.mjs output: %v\n%s", err, out)
	}
	return &r
}

var (
	testParts = []map[string]any{
		{"key": "intake/consumer/2020-03/part-0001.csv.gz", "name": "part-0001"},
		{"key": "intake/consumer/2020-03/part-0002.csv.gz", "name": "part-0002"},
		{"key": "intake/consumer/2020-03/part-0003.csv.gz", "name": "part-0003"},
	}
	testDerive = []map[string]any{
		{"table": "consumer_ca", "query": "CREATE TABLE consumer.consumer_ca_s AS SELECT 1", "location": "s3://lake-bucket/prod/tier3/consumer_ca/"},
		{"table": "consumer_ca_deid", "query": "CREATE TABLE consumer.consumer_ca_deid_s AS SELECT 2", "location": "s3://lake-bucket/prod/tier3/consumer_ca_deid/"},
	}
)

// lakeObjects is what plan would have written for a run of 2020-03.
func lakeObjects(skipped bool) map[string]any {
	plan := map[string]any{"execution": execName, "job": "consumer-header", "month": "2020-03", "run_id": "20200301-abc", "skipped": skipped}
	parts := testParts
	if skipped {
		parts = []map[string]any{}
		delete(plan, "run_id")
		plan["reason"] = "month 2020-03 already published"
	}
	note := map[string]any{"subject": "tierflow consumer-header 2020-03: SUCCEEDED, 990 rows, 10 rejected",
		"message": `{"default":"{}","email":"Month 2020-03 …"}`, "status": "SUCCEEDED"}
	return map[string]any{metaKey("plan.json"): plan, metaKey("parts.json"): parts, metaKey("derive.json"): testDerive,
		metaKey("notification.json"): note}
}

// failedObjects is lakeObjects as the finish task leaves them: the
// notification of a failed run.
func failedObjects(note map[string]any) map[string]any {
	o := lakeObjects(false)
	o[metaKey("notification.json")] = note
	if note == nil {
		delete(o, metaKey("notification.json"))
	}
	return o
}

func defForLocal(t *testing.T) []byte {
	t.Helper()
	return render(t, shipped(t), testParams())
}

// checkConverts checks each part was converted (attempts times for those
// in retried) with the contract's command.
func checkConverts(t *testing.T, r *report, retried map[string]int) {
	t.Helper()
	got := map[string]int{}
	for _, c := range r.callsTo("ConvertPart") {
		cmd := c.command()
		part := cmd[len(cmd)-1]
		want := []string{"convert", "--job", "consumer-header", "--lake", "s3://lake-bucket/prod", "--execution", execName, "--part", part}
		if !reflect.DeepEqual(cmd, want) {
			t.Errorf("convert command %q, want %q", cmd, want)
		}
		got[part]++
	}
	want := map[string]int{}
	for _, p := range testParts {
		k := p["key"].(string)
		want[k] = 1 + retried[p["name"].(string)]
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("convert calls per part %v, want %v", got, want)
	}
}

func TestLocalSuccess(t *testing.T) {
	t.Parallel()
	r := runLocal(t, defForLocal(t), scenario{Input: map[string]any{"month": "2020-03"}, Objects: lakeObjects(false)})
	if r.Status != "SUCCEEDED" {
		t.Fatalf("status %s: %s: %s", r.Status, r.Error, r.Cause)
	}
	want := []string{"Plan", "ReadPlan", "Convert items", "ConvertPart", "Stage", "Derive items", "DeriveTable", "Publish", "ReadNotification", "Notify"}
	if got := squash(r.states()); !reflect.DeepEqual(got, want) {
		t.Fatalf("states %v, want %v", got, want)
	}
	plan := r.callsTo("Plan")[0].command()
	wantPlan := []string{"plan", "--job", "consumer-header", "--lake", "s3://lake-bucket/prod", "--month", "2020-03", "--execution", execName, "--force=false"}
	if !reflect.DeepEqual(plan, wantPlan) {
		t.Errorf("plan command %q, want %q", plan, wantPlan)
	}
	// The plan task records its execution in the month's claim.
	overrides := r.callsTo("Plan")[0].Input["Overrides"].(map[string]any)["ContainerOverrides"].([]any)[0].(map[string]any)
	env, _ := json.Marshal(overrides["Environment"])
	if want := `[{"Name":"TIERFLOW_EXECUTION_ARN","Value":"arn:aws:states:us-east-1:123456789012:execution:tierflow-consumer-header:` + execName + `"}]`; string(env) != want {
		t.Errorf("plan task environment %s, want %s", env, want)
	}
	if k := r.callsTo("ReadPlan")[0].Input["Key"]; k != metaKey("plan.json") {
		t.Errorf("plan read from %v", k)
	}
	for state, file := range map[string]string{"Convert items": "parts.json", "Derive items": "derive.json"} {
		if in := r.callsTo(state)[0].Input; in["Key"] != metaKey(file) || in["Bucket"] != "lake-bucket" {
			t.Errorf("%s read s3://%v/%v, want %s", state, in["Bucket"], in["Key"], file)
		}
	}
	checkConverts(t, r, nil)
	var queries []string
	for _, c := range r.callsTo("DeriveTable") {
		queries = append(queries, c.Input["QueryString"].(string))
		if c.Input["WorkGroup"] != "primary" {
			t.Errorf("derive in workgroup %v", c.Input["WorkGroup"])
		}
	}
	sort.Strings(queries)
	wantQ := []string{testDerive[0]["query"].(string), testDerive[1]["query"].(string)}
	sort.Strings(wantQ)
	if !reflect.DeepEqual(queries, wantQ) {
		t.Errorf("queries %q", queries)
	}
	for _, s := range []string{"Stage", "Publish"} {
		want := []string{strings.ToLower(s), "--job", "consumer-header", "--lake", "s3://lake-bucket/prod", "--execution", execName}
		if got := r.callsTo(s)[0].command(); !reflect.DeepEqual(got, want) {
			t.Errorf("%s command %q, want %q", s, got, want)
		}
	}
	if _, ok := r.Objects[metaKey("error.json")]; ok {
		t.Error("error.json written on success")
	}
	// The message the publish task left is what SNS gets.
	checkNotify(t, r, lakeObjects(false)[metaKey("notification.json")].(map[string]any))
}

// checkNotify checks the one SNS publish of a run: to the job's topic,
// MessageStructure json, the status as a message attribute, the subject
// and message of note (notification.json's fields).
func checkNotify(t *testing.T, r *report, note map[string]any) {
	t.Helper()
	calls := r.callsTo("Notify")
	if len(calls) != 1 || len(r.callsTo("NotifyFallback")) != 0 {
		t.Fatalf("%d SNS publishes, want 1 (states %v)", len(calls), squash(r.states()))
	}
	in := calls[0].Input
	attrs, _ := json.Marshal(in["MessageAttributes"])
	if in["TopicArn"] != testTopic || in["MessageStructure"] != "json" || in["Subject"] != note["subject"] || in["Message"] != note["message"] ||
		string(attrs) != `{"status":{"DataType":"String","StringValue":"`+note["status"].(string)+`"}}` {
		t.Errorf("SNS publish %v, want %v", in, note)
	}
}

// checkFallback checks the message the state machine builds itself when
// no task left notification.json after a failure: JSON with the job, the
// month asked for, the execution and the failure. (It is one JSON level,
// not per-protocol forms: aws-local-stepfunctions 3.0.0 removes every
// backslash from an intrinsic function's string result, so JSON inside
// JSON cannot be checked here.)
func checkFallback(t *testing.T, r *report, month, message string) {
	t.Helper()
	calls := r.callsTo("NotifyFallback")
	if len(calls) != 1 || len(r.callsTo("Notify")) != 0 {
		t.Fatalf("%d fallback publishes, want 1 (states %v)", len(calls), squash(r.states()))
	}
	in := calls[0].Input
	var body map[string]string
	if err := json.Unmarshal([]byte(in["Message"].(string)), &body); err != nil {
		t.Fatalf("message %q: %v", in["Message"], err)
	}
	want := map[string]string{"error": message, "execution": execName, "job": "consumer-header", "month": month, "status": "FAILED"}
	if in["TopicArn"] != testTopic || in["Subject"] != "tierflow consumer-header: run FAILED" || !reflect.DeepEqual(body, want) {
		t.Errorf("fallback publish %v, want message %v", in, want)
	}
}

// TestLocalRetry: a part failing twice then succeeding, a part hitting
// Fargate capacity errors, and Athena throttling all end in success.
func TestLocalRetry(t *testing.T) {
	t.Parallel()
	r := runLocal(t, defForLocal(t), scenario{
		Input:   map[string]any{"month": "2020-03", "force": true},
		Objects: lakeObjects(false),
		Failures: []failure{
			{State: "ConvertPart", Match: "part-0002", Errors: []string{"States.TaskFailed", "States.TaskFailed"}},
			{State: "ConvertPart", Match: "part-0003", Errors: []string{"ECS.AmazonECSException", "ECS.AmazonECSException", "ECS.AmazonECSException"}},
			{State: "DeriveTable", Match: "consumer_ca_deid", Errors: []string{"Athena.TooManyRequestsException"}},
		},
	})
	if r.Status != "SUCCEEDED" {
		t.Fatalf("status %s: %s: %s (states %v)", r.Status, r.Error, r.Cause, r.states())
	}
	checkConverts(t, r, map[string]int{"part-0002": 2, "part-0003": 3})
	if n := len(r.callsTo("DeriveTable")); n != 3 {
		t.Errorf("%d Athena calls, want 3 (one retried after throttling)", n)
	}
	if cmd := r.callsTo("Plan")[0].command(); cmd[len(cmd)-1] != "--force=true" {
		t.Errorf("plan command %q, want --force=true", cmd)
	}
	if len(r.callsTo("Publish")) != 1 || len(r.callsTo("Finish")) != 0 {
		t.Errorf("states %v", squash(r.states()))
	}
}

// failedRun checks an execution that failed went through SaveError and
// Finish with message, and returns the error.json written.
func failedRun(t *testing.T, r *report, message string) map[string]any {
	t.Helper()
	if r.Status != "FAILED" || r.Error != "tierflow.RunFailed" || r.Cause != message {
		t.Errorf("status %s, error %q, cause %q; want FAILED tierflow.RunFailed %q", r.Status, r.Error, r.Cause, message)
	}
	fin := r.callsTo("Finish")
	if len(fin) != 1 {
		t.Fatalf("finish ran %d times, want 1 (states %v)", len(fin), squash(r.states()))
	}
	want := []string{"finish", "--job", "consumer-header", "--lake", "s3://lake-bucket/prod", "--execution", execName, "--error", message}
	if got := fin[0].command(); !reflect.DeepEqual(got, want) {
		t.Errorf("finish command %q, want %q", got, want)
	}
	if len(r.callsTo("Publish")) != 0 {
		t.Error("published a failed run")
	}
	saved, ok := r.Objects[metaKey("error.json")].(map[string]any)
	if !ok {
		t.Fatalf("no error.json; objects %v", slices.Sorted(func(yield func(string) bool) {
			for k := range r.Objects {
				if !yield(k) {
					return
				}
			}
		}))
	}
	return saved
}

func TestLocalDeriveFailure(t *testing.T) {
	t.Parallel()
	note := map[string]any{"subject": "tierflow consumer-header 2020-03: FAILED", "message": `{"default":"{}"}`, "status": "FAILED"}
	r := runLocal(t, defForLocal(t), scenario{
		Input:    map[string]any{"month": "2020-03"},
		Objects:  failedObjects(note),
		Failures: []failure{{State: "DeriveTable", Match: "consumer_ca_deid", Errors: []string{"States.TaskFailed"}}},
	})
	saved := failedRun(t, r, "derive failed: States.TaskFailed: mocked States.TaskFailed for DeriveTable")
	checkNotify(t, r, note)
	if saved["Error"] != "States.TaskFailed" {
		t.Errorf("error.json %v", saved)
	}
	// A failed CTAS is not retried: the query that failed ran once.
	n := 0
	for _, c := range r.callsTo("DeriveTable") {
		if strings.Contains(c.Input["QueryString"].(string), "consumer_ca_deid") {
			n++
		}
	}
	if n != 1 {
		t.Errorf("failed CTAS ran %d times, want 1", n)
	}
}

// TestLocalConvertFailure: a part failing more often than the Retry allows
// fails the run without staging anything.
func TestLocalConvertFailure(t *testing.T) {
	t.Parallel()
	errs := make([]string, ConvertRetries+1)
	for i := range errs {
		errs[i] = "States.TaskFailed"
	}
	r := runLocal(t, defForLocal(t), scenario{
		Input:    map[string]any{"month": "2020-03"},
		Objects:  lakeObjects(false),
		Failures: []failure{{State: "ConvertPart", Match: "part-0001", Errors: errs}},
	})
	failedRun(t, r, "convert failed: States.TaskFailed: mocked States.TaskFailed for ConvertPart")
	for _, s := range []string{"Stage", "DeriveTable"} {
		if len(r.callsTo(s)) != 0 {
			t.Errorf("%s ran after a failed convert", s)
		}
	}
	n := 0
	for _, c := range r.callsTo("ConvertPart") {
		if strings.HasSuffix(c.command()[8], "part-0001.csv.gz") {
			n++
		}
	}
	if n != ConvertRetries+1 {
		t.Errorf("failing part tried %d times, want %d", n, ConvertRetries+1)
	}
}

// TestLocalPlanFailure: a failed plan task is not retried (only capacity
// errors are) and still records the failure.
func TestLocalPlanFailure(t *testing.T) {
	t.Parallel()
	r := runLocal(t, defForLocal(t), scenario{
		Input:    map[string]any{"month": "2020-03"},
		Objects:  lakeObjects(false),
		Failures: []failure{{State: "Plan", Errors: []string{"States.TaskFailed"}}},
	})
	failedRun(t, r, "plan failed: States.TaskFailed (details in error.json)")
	if got := squash(r.states()); !reflect.DeepEqual(got, []string{"Plan", "SaveError", "Finish", "ReadNotification", "Notify"}) {
		t.Errorf("states %v", got)
	}
	// lakeObjects' notification.json is a success's: a plan that failed
	// left none, so the run's message is built from the failure.
	r = runLocal(t, defForLocal(t), scenario{
		Input:    map[string]any{"month": "2020-03"},
		Objects:  map[string]any{},
		Failures: []failure{{State: "Plan", Errors: []string{"States.TaskFailed"}}},
	})
	if r.Status != "FAILED" || r.Cause != "plan failed: States.TaskFailed (details in error.json)" {
		t.Errorf("status %s cause %q", r.Status, r.Cause)
	}
	checkFallback(t, r, "2020-03", "plan failed: States.TaskFailed (details in error.json)")
}

func TestLocalSkipped(t *testing.T) {
	t.Parallel()
	r := runLocal(t, defForLocal(t), scenario{Input: map[string]any{}, Objects: lakeObjects(true)})
	if r.Status != "SUCCEEDED" {
		t.Fatalf("status %s: %s: %s", r.Status, r.Error, r.Cause)
	}
	if got := r.states(); !reflect.DeepEqual(got, []string{"Plan", "ReadPlan"}) {
		t.Errorf("states %v, want plan only", got)
	}
	// No month in the input (a schedule's start): plan gets --month "" and
	// picks the previous month itself.
	cmd := r.callsTo("Plan")[0].command()
	if i := slices.Index(cmd, "--month"); i < 0 || cmd[i+1] != "" || cmd[len(cmd)-1] != "--force=false" {
		t.Errorf("plan command %q", cmd)
	}
}

// TestLocalFinishFailure: even when finish itself fails the execution
// ends FAILED with the run's error, not the bookkeeping's.
func TestLocalFinishFailure(t *testing.T) {
	t.Parallel()
	r := runLocal(t, defForLocal(t), scenario{
		Input:   map[string]any{"month": "2020-03"},
		Objects: failedObjects(nil), // finish failed: it left no message
		Failures: []failure{
			{State: "Stage", Errors: []string{"States.TaskFailed"}},
			{State: "Finish", Errors: []string{"States.TaskFailed", "States.TaskFailed", "States.TaskFailed"}},
		},
	})
	want := "stage failed: States.TaskFailed (details in error.json)"
	if r.Status != "FAILED" || r.Cause != want {
		t.Errorf("status %s cause %q, want FAILED %q", r.Status, r.Cause, want)
	}
	if n := len(r.callsTo("Finish")); n != FinishRetries+1 {
		t.Errorf("finish tried %d times, want %d", n, FinishRetries+1)
	}
	checkFallback(t, r, "2020-03", want)
}

// TestLocalNotifyFailure: SNS refusing the message (after its retries)
// changes nothing about the run's outcome.
func TestLocalNotifyFailure(t *testing.T) {
	t.Parallel()
	refuse := []string{"SNS.InvalidParameterException", "SNS.InvalidParameterException", "SNS.InvalidParameterException", "SNS.InvalidParameterException"}
	r := runLocal(t, defForLocal(t), scenario{
		Input: map[string]any{"month": "2020-03"}, Objects: lakeObjects(false),
		Failures: []failure{{State: "Notify", Errors: refuse}},
	})
	if r.Status != "SUCCEEDED" || len(r.callsTo("Notify")) != 4 {
		t.Errorf("status %s after %d SNS attempts, want SUCCEEDED after 4", r.Status, len(r.callsTo("Notify")))
	}
	r = runLocal(t, defForLocal(t), scenario{
		Input: map[string]any{"month": "2020-03"}, Objects: lakeObjects(false),
		Failures: []failure{{State: "Stage", Errors: []string{"States.TaskFailed"}}, {State: "Notify", Errors: refuse}},
	})
	if r.Status != "FAILED" || r.Cause != "stage failed: States.TaskFailed (details in error.json)" {
		t.Errorf("status %s cause %q, want the stage's failure", r.Status, r.Cause)
	}
}
