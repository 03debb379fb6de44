package statemachines

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tierflow/tierflow/jobs"
)

const testTaskDef = "arn:aws:ecs:us-east-1:123456789012:task-definition/tierflow-consumer-header:3"

func shipped(t *testing.T) *jobs.Spec {
	t.Helper()
	spec, err := jobs.Shipped("consumer-header")
	if err != nil {
		t.Fatal(err)
	}
	return spec
}

func testParams() Params {
	return Params{
		Lake:           "s3://lake-bucket/prod",
		TaskDefinition: testTaskDef,
		Subnets:        []string{"subnet-0a", "subnet-0b"},
		SecurityGroups: []string{"sg-0c"},
		TopicARN:       testTopic,
	}
}

const testTopic = "arn:aws:sns:us-east-1:123456789012:tierflow-consumer-header"

func render(t *testing.T, spec *jobs.Spec, p Params) []byte {
	t.Helper()
	b, err := Render(spec, p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// states returns every state by name, those inside Map item processors
// included.
func states(t *testing.T, def []byte) map[string]map[string]any {
	t.Helper()
	var doc map[string]any
	if err := json.Unmarshal(def, &doc); err != nil {
		t.Fatalf("rendered definition is not JSON: %v", err)
	}
	out := map[string]map[string]any{}
	var walk func(m map[string]any)
	walk = func(m map[string]any) {
		for name, s := range m["States"].(map[string]any) {
			st := s.(map[string]any)
			if _, dup := out[name]; dup {
				t.Errorf("state %s defined twice", name)
			}
			out[name] = st
			if p, ok := st["ItemProcessor"].(map[string]any); ok {
				walk(p)
			}
		}
	}
	walk(doc)
	return out
}

func TestRenderShippedJob(t *testing.T) {
	spec := shipped(t)
	def := render(t, spec, testParams())
	if strings.Contains(string(def), "${") {
		t.Fatal("a placeholder survived rendering")
	}
	st := states(t, def)

	// Every ECS step runs in the given cluster, subnets and security group,
	// and its command is the contract's.
	wantCmd := map[string]string{
		"Plan":        "States.Array('plan', '--job', $.config.job, '--lake', $.config.lake, '--month', $.args.month, '--execution', $$.Execution.Name, ",
		"ConvertPart": "States.Array('convert', '--job', $.config.job, '--lake', $.config.lake, '--execution', $.execution, '--part', $.key)",
		"Stage":       "States.Array('stage', '--job', $.config.job, '--lake', $.config.lake, '--execution', $$.Execution.Name)",
		"Publish":     "States.Array('publish', '--job', $.config.job, '--lake', $.config.lake, '--execution', $$.Execution.Name)",
		"Finish":      "States.Array('finish', '--job', $.config.job, '--lake', $.config.lake, '--execution', $$.Execution.Name, '--error', $.failure.message)",
	}
	for name, s := range st {
		if s["Resource"] != "arn:aws:states:::ecs:runTask.sync" {
			continue
		}
		want, ok := wantCmd[name]
		if !ok {
			t.Errorf("unexpected ECS state %s", name)
			continue
		}
		delete(wantCmd, name)
		p := s["Parameters"].(map[string]any)
		if p["Cluster"] != "tierflow" || p["TaskDefinition"] != testTaskDef || p["LaunchType"] != "FARGATE" {
			t.Errorf("%s: cluster %v, task definition %v, launch type %v", name, p["Cluster"], p["TaskDefinition"], p["LaunchType"])
		}
		net := p["NetworkConfiguration"].(map[string]any)["AwsvpcConfiguration"].(map[string]any)
		if !reflect.DeepEqual(net["Subnets"], []any{"subnet-0a", "subnet-0b"}) || !reflect.DeepEqual(net["SecurityGroups"], []any{"sg-0c"}) || net["AssignPublicIp"] != "DISABLED" {
			t.Errorf("%s: network %v", name, net)
		}
		co := p["Overrides"].(map[string]any)["ContainerOverrides"].([]any)[0].(map[string]any)
		if co["Name"] != Container || !strings.HasPrefix(co["Command.$"].(string), want) {
			t.Errorf("%s: container %v command %q, want %q…", name, co["Name"], co["Command.$"], want)
		}
		if s["TimeoutSeconds"] != float64(6*3600) {
			t.Errorf("%s: TimeoutSeconds %v, want the job's 6h", name, s["TimeoutSeconds"])
		}
		// Inside the Map a part's failure fails the Map, whose Catch handles it.
		if c, _ := s["Catch"].([]any); len(c) == 0 && name != "ConvertPart" {
			t.Errorf("%s has no Catch", name)
		}
	}
	if len(wantCmd) != 0 {
		t.Errorf("ECS states missing: %v", wantCmd)
	}

	// The job's settings travel as $.config.
	cfg := st["Init"]["Parameters"].(map[string]any)["config"]
	if !reflect.DeepEqual(cfg, map[string]any{"job": "consumer-header", "name": "consumer-header", "lake": "s3://lake-bucket/prod", "meta": "prod/_tierflow/executions/consumer-header/"}) {
		t.Errorf("config %v", cfg)
	}
	if arn := st["Notify"]["Parameters"].(map[string]any)["TopicArn"]; arn != testTopic || st["Notify"]["Resource"] != "arn:aws:states:::sns:publish" {
		t.Errorf("Notify publishes to %v with %v", arn, st["Notify"]["Resource"])
	}
	for _, m := range []string{"Convert", "Derive"} {
		if st[m]["MaxConcurrency"] != float64(spec.AWS.MaxConcurrency) {
			t.Errorf("%s MaxConcurrency %v, want the job's %d", m, st[m]["MaxConcurrency"], spec.AWS.MaxConcurrency)
		}
		r := st[m]["ItemReader"].(map[string]any)
		if r["Parameters"].(map[string]any)["Bucket"] != "lake-bucket" || r["Resource"] != "arn:aws:states:::s3:getObject" {
			t.Errorf("%s ItemReader %v", m, r)
		}
	}
	ath := st["DeriveTable"]["Parameters"].(map[string]any)
	if ath["WorkGroup"] != "primary" || ath["QueryExecutionContext"].(map[string]any)["Database"] != "consumer" {
		t.Errorf("athena parameters %v", ath)
	}
	// Convert retries: capacity first, then a bounded States.TaskFailed.
	retry := st["ConvertPart"]["Retry"].([]any)
	last := retry[len(retry)-1].(map[string]any)
	if !reflect.DeepEqual(retry[0].(map[string]any)["ErrorEquals"].([]any)[0], "ECS.AmazonECSException") ||
		!reflect.DeepEqual(last["ErrorEquals"], []any{"States.TaskFailed"}) || last["MaxAttempts"] != float64(ConvertRetries) || last["BackoffRate"] != float64(2) {
		t.Errorf("ConvertPart retry %v", retry)
	}
}

func TestRenderOptions(t *testing.T) {
	spec := shipped(t)
	p := testParams()
	p.Lake = "s3://bare-bucket"
	p.SecurityGroups = nil
	p.AssignPublicIP = true
	p.AthenaOutput = "s3://results/athena/"
	p.KMSKeyID = "arn:aws:kms:us-east-1:123456789012:key/k"
	p.MaxConcurrency = 3
	p.StepTimeout = 90 * time.Minute
	st := states(t, render(t, spec, p))
	net := st["Stage"]["Parameters"].(map[string]any)["NetworkConfiguration"].(map[string]any)["AwsvpcConfiguration"].(map[string]any)
	if _, ok := net["SecurityGroups"]; ok || net["AssignPublicIp"] != "ENABLED" {
		t.Errorf("network %v: want no SecurityGroups member and a public IP", net)
	}
	rc := st["DeriveTable"]["Parameters"].(map[string]any)["ResultConfiguration"]
	want := map[string]any{"OutputLocation": "s3://results/athena/", "EncryptionConfiguration": map[string]any{"EncryptionOption": "SSE_KMS", "KmsKey": p.KMSKeyID}}
	if !reflect.DeepEqual(rc, want) {
		t.Errorf("ResultConfiguration %v", rc)
	}
	if st["Convert"]["MaxConcurrency"] != float64(3) || st["Publish"]["TimeoutSeconds"] != float64(5400) {
		t.Errorf("MaxConcurrency %v, timeout %v", st["Convert"]["MaxConcurrency"], st["Publish"]["TimeoutSeconds"])
	}
	if m := st["Init"]["Parameters"].(map[string]any)["config"].(map[string]any)["meta"]; m != "_tierflow/executions/consumer-header/" {
		t.Errorf("meta prefix of a lake at the bucket root: %v", m)
	}
}

func TestRenderRefusesIncompleteParams(t *testing.T) {
	spec := shipped(t)
	for name, mod := range map[string]func(*Params){
		"file lake":   func(p *Params) { p.Lake = "file:///tmp/lake" },
		"no subnets":  func(p *Params) { p.Subnets = nil },
		"no task def": func(p *Params) { p.TaskDefinition = "" },
		"no bucket":   func(p *Params) { p.Lake = "s3://" },
	} {
		p := testParams()
		mod(&p)
		if _, err := Render(spec, p); err == nil {
			t.Errorf("%s: rendered", name)
		}
	}
	// The shipped job's own lake is local: without --lake it cannot run on AWS.
	p := testParams()
	p.Lake = ""
	// Text: the refusal tells the user the lake form a run on AWS needs.
	if _, err := Render(spec, p); err == nil || !strings.Contains(err.Error(), "s3://") {
		t.Errorf("shipped job's file:// lake: %v", err)
	}
}

func TestFill(t *testing.T) {
	tmpl := []byte(`{"a": "${A}", "b": ["${B}"], "c": "x"}`)
	got, err := fill(tmpl, map[string]any{"A": []string{"s1", "s2"}, "B": 7})
	if err != nil {
		t.Fatal(err)
	}
	var v map[string]any
	if err := json.Unmarshal(got, &v); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(v, map[string]any{"a": []any{"s1", "s2"}, "b": []any{float64(7)}, "c": "x"}) {
		t.Errorf("filled %s", got)
	}
	for name, c := range map[string]struct {
		tmpl   string
		values map[string]any
		want   string
	}{
		"unknown":   {`{"a": "${A}"}`, map[string]any{}, "unknown placeholder ${A}"},
		"unused":    {`{"a": "${A}"}`, map[string]any{"A": 1, "Z": 2}, "value Z is not used"},
		"substring": {`{"a": "x-${A}", "b": "${A}"}`, map[string]any{"A": 1}, "placeholders must be a whole value"},
	} {
		// Text: the message names the placeholder or value at fault.
		if _, err := fill([]byte(c.tmpl), c.values); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", name, err, c.want)
		}
	}
}

// npmBin returns the directory of the npm tools .ci/tools.sh installs, or
// skips the test.
func npmBin(t *testing.T, tool string) string {
	t.Helper()
	dir := os.Getenv("TIERFLOW_TEST_NPM_BIN")
	if dir == "" {
		t.Skipf("needs %s: set TIERFLOW_TEST_NPM_BIN (source .ci/tools.sh, as .ci/run does)", tool)
	}
	p := filepath.Join(dir, tool)
	if _, err := os.Stat(p); err != nil {
		t.Skipf("needs %s: %v (source .ci/tools.sh)", tool, err)
	}
	return p
}

// TestASLValidator lints the rendered definitions with asl-validator, and
// checks that the validator does reject a broken one (so a pass means
// something).
func TestASLValidator(t *testing.T) {
	bin := npmBin(t, "asl-validator")
	spec := shipped(t)
	dir := t.TempDir()
	p2 := testParams()
	p2.SecurityGroups, p2.AthenaOutput, p2.KMSKeyID = nil, "s3://r/", "alias/lake"
	docs := map[string][]byte{
		"monthly.asl.json":       render(t, spec, testParams()),
		"monthly-other.asl.json": render(t, spec, p2),
	}
	// The same document with a dangling transition.
	broken := strings.Replace(string(docs["monthly.asl.json"]), `"Next": "Stage"`, `"Next": "Stag"`, 1)
	if broken == string(docs["monthly.asl.json"]) {
		t.Fatal("could not break the definition")
	}
	for name, b := range docs {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(bin, "--json-path", path).CombinedOutput()
		if err != nil {
			t.Errorf("asl-validator %s: %v\n%s", name, err, out)
		}
	}
	path := filepath.Join(dir, "broken.asl.json")
	if err := os.WriteFile(path, []byte(broken), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "--json-path", path).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "MISSING_TRANSITION_TARGET") {
		t.Errorf("asl-validator accepted a dangling Next (%v):\n%s", err, out)
	}
}

// TestStageOfEveryState: progress reports know every state, and nothing
// else.
func TestStageOfEveryState(t *testing.T) {
	st := states(t, render(t, shipped(t), testParams()))
	for name := range st {
		if StageOf(name) == "" {
			t.Errorf("state %s has no stage", name)
		}
	}
	for name := range stages {
		if _, ok := st[name]; !ok {
			t.Errorf("stage table names %s, which the template does not have", name)
		}
	}
	for _, l := range []string{ConvertLabel, DeriveLabel} {
		if st[l]["Label"] != l {
			t.Errorf("map %s has label %v", l, st[l]["Label"])
		}
	}
}
