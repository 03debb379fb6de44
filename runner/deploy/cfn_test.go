package deploy

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/rs/zerolog"
	"github.com/tierflow/tierflow/runner/deploy/deploytest"
)

func renderTemplate(t *testing.T) map[string]any {
	t.Helper()
	var b bytes.Buffer
	// cfn-lint checks the IDs' form where the template has them outside
	// the state machine definition (the late check's schedule).
	opts := Options{Job: "consumer-header", Lake: "s3://lake-bucket/prod", Image: deploytest.Image, Subnets: []string{"subnet-0a1b2c3d"}, SecurityGroups: []string{"sg-0c1d2e3f"}, Stdout: &b}
	if err := Render(t.Context(), opts); err != nil {
		t.Fatal(err)
	}
	var tmpl map[string]any
	if err := json.Unmarshal(b.Bytes(), &tmpl); err != nil {
		t.Fatalf("render printed no JSON: %v", err)
	}
	return tmpl
}

// unsub replaces every {"Fn::Sub": s} by s with the pseudo parameters
// filled in, giving what CloudFormation would create in the test account.
func unsub(v any) any {
	r := strings.NewReplacer(cfnPartition, "aws", cfnRegion, "us-east-1", cfnAccount, "123456789012")
	var walk func(v any) any
	walk = func(v any) any {
		switch x := v.(type) {
		case map[string]any:
			if s, ok := x["Fn::Sub"].(string); ok && len(x) == 1 {
				return r.Replace(s)
			}
			for k := range x {
				x[k] = walk(x[k])
			}
		case []any:
			for i := range x {
				x[i] = walk(x[i])
			}
		}
		return v
	}
	return walk(v)
}

func asJSONValue(t *testing.T, v any) any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestRenderCloudFormation(t *testing.T) {
	tmpl := renderTemplate(t)
	res := tmpl["Resources"].(map[string]any)
	wantTypes := map[string]string{
		"LogGroup": "AWS::Logs::LogGroup", "Cluster": "AWS::ECS::Cluster", "TaskRole": "AWS::IAM::Role", "ExecutionRole": "AWS::IAM::Role",
		"StateMachineRole": "AWS::IAM::Role", "SchedulerRole": "AWS::IAM::Role", "TaskDefinition": "AWS::ECS::TaskDefinition",
		"StateMachine": "AWS::StepFunctions::StateMachine", "Schedule": "AWS::Scheduler::Schedule",
		// notifications and monitoring (issue 16)
		"Topic": "AWS::SNS::Topic", "Alarm1": "AWS::CloudWatch::Alarm", "Alarm2": "AWS::CloudWatch::Alarm", "Alarm3": "AWS::CloudWatch::Alarm",
		"Dashboard": "AWS::CloudWatch::Dashboard", "LateCheck": "AWS::Scheduler::Schedule",
	}
	got := map[string]string{}
	for name, r := range res {
		got[name] = r.(map[string]any)["Type"].(string)
	}
	if !reflect.DeepEqual(got, wantTypes) {
		t.Errorf("resources %v, want %v", got, wantTypes)
	}

	// Every Ref and GetAtt names a resource or parameter; every Fn::Sub
	// names only pseudo parameters; no "${" is left outside them except in
	// the state machine definition, where DefinitionSubstitutions fills it.
	params := tmpl["Parameters"].(map[string]any)
	subRe := regexp.MustCompile(`\$\{([^}]*)\}`)
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch x := v.(type) {
		case map[string]any:
			if r, ok := x["Ref"].(string); ok {
				if _, isRes := res[r]; !isRes && params[r] == nil {
					t.Errorf("%s: Ref %s names nothing", path, r)
				}
			}
			if ga, ok := x["Fn::GetAtt"].([]any); ok && res[ga[0].(string)] == nil {
				t.Errorf("%s: GetAtt %v names no resource", path, ga)
			}
			if s, ok := x["Fn::Sub"].(string); ok {
				for _, m := range subRe.FindAllStringSubmatch(s, -1) {
					if !strings.HasPrefix(m[1], "AWS::") {
						t.Errorf("%s: Fn::Sub %q names %s", path, s, m[1])
					}
				}
				return
			}
			for k, e := range x {
				if path == "/Resources/StateMachine/Properties" && k == "Definition" {
					continue
				}
				walk(path+"/"+k, e)
			}
		case []any:
			for _, e := range x {
				walk(path+"[]", e)
			}
		case string:
			if strings.Contains(x, "${") {
				t.Errorf("%s: %q has a ${…} outside Fn::Sub", path, x)
			}
		}
	}
	walk("", tmpl)

	// The same roles and policies as deploy's, once CloudFormation fills in
	// the account.
	d := testDeployment(t)
	d.Spec.PII.KMSKeyID = ""
	d.policies()
	filled := unsub(asJSONValue(t, tmpl)).(map[string]any)["Resources"].(map[string]any)
	for name, role := range map[string]Role{"TaskRole": d.TaskRole, "ExecutionRole": d.ExecRole, "StateMachineRole": d.StateMachineRole, "SchedulerRole": d.SchedulerRole} {
		p := filled[name].(map[string]any)["Properties"].(map[string]any)
		if p["RoleName"] != role.Name {
			t.Errorf("%s named %v, want %s", name, p["RoleName"], role.Name)
		}
		if !reflect.DeepEqual(p["AssumeRolePolicyDocument"], asJSONValue(t, d.TrustPolicy(role))) {
			t.Errorf("%s trust differs from deploy's", name)
		}
		pol := p["Policies"].([]any)[0].(map[string]any)["PolicyDocument"]
		if !reflect.DeepEqual(pol, asJSONValue(t, role.Policy)) {
			t.Errorf("%s policy differs from deploy's:\n%v\n%v", name, pol, asJSONValue(t, role.Policy))
		}
	}
	sm := filled["StateMachine"].(map[string]any)["Properties"].(map[string]any)
	if !reflect.DeepEqual(sm["DefinitionSubstitutions"], map[string]any{"TaskDefinitionArn": map[string]any{"Ref": "TaskDefinition"}, "TopicArn": map[string]any{"Ref": "Topic"}}) {
		t.Errorf("DefinitionSubstitutions %v", sm["DefinitionSubstitutions"])
	}
	def, _ := json.Marshal(sm["Definition"])
	if !strings.Contains(string(def), `"TaskDefinition":"${TaskDefinitionArn}"`) {
		t.Error("the definition does not take the task definition from DefinitionSubstitutions")
	}
	sched := filled["Schedule"].(map[string]any)["Properties"].(map[string]any)
	if sched["ScheduleExpression"] != "cron(0 6 2 * ? *)" || sched["Target"].(map[string]any)["Input"] != ScheduleInput {
		t.Errorf("schedule %v", sched)
	}
	// The alarms tell the topic; the late check runs the task definition
	// with the late command, as deploy's does.
	for _, a := range []string{"Alarm1", "Alarm2", "Alarm3"} {
		p := filled[a].(map[string]any)["Properties"].(map[string]any)
		if !reflect.DeepEqual(p["AlarmActions"], []any{map[string]any{"Ref": "Topic"}}) {
			t.Errorf("%s actions %v", a, p["AlarmActions"])
		}
	}
	late := filled["LateCheck"].(map[string]any)["Properties"].(map[string]any)
	lt := late["Target"].(map[string]any)
	if late["ScheduleExpression"] != "rate(1 hour)" || lt["Input"] != d.LateCheckInput() || lt["Arn"] != "arn:aws:ecs:us-east-1:123456789012:cluster/tierflow" ||
		!reflect.DeepEqual(lt["EcsParameters"].(map[string]any)["TaskDefinitionArn"], map[string]any{"Ref": "TaskDefinition"}) {
		t.Errorf("late check %v", late)
	}
	rules := tmpl["Metadata"].(map[string]any)["TierflowLifecycleRules"].(map[string]any)["Rules"].([]any)
	if len(rules) != len(LifecycleRules(d.Spec, d.Prefix)) {
		t.Errorf("the template documents %d lifecycle rules, want %d", len(rules), len(LifecycleRules(d.Spec, d.Prefix)))
	}
	td := filled["TaskDefinition"].(map[string]any)["Properties"].(map[string]any)
	if td["Cpu"] != "4096" || td["Memory"] != "16384" || td["ContainerDefinitions"].([]any)[0].(map[string]any)["Image"] != deploytest.Image {
		t.Errorf("task definition %v", td)
	}

	// The definition as CloudFormation would deploy it passes asl-validator.
	if bin := os.Getenv("TIERFLOW_TEST_NPM_BIN"); bin != "" {
		path := filepath.Join(t.TempDir(), "cfn.asl.json")
		filledDef := strings.NewReplacer("${TaskDefinitionArn}", "arn:aws:ecs:us-east-1:123456789012:task-definition/tierflow-consumer-header:1",
			"${TopicArn}", "arn:aws:sns:us-east-1:123456789012:tierflow-consumer-header").Replace(string(def))
		if err := os.WriteFile(path, []byte(filledDef), 0o644); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command(filepath.Join(bin, "asl-validator"), "--json-path", path).CombinedOutput(); err != nil {
			t.Errorf("asl-validator: %v\n%s", err, out)
		}
	}
}

// TestRenderCfnLint runs cfn-lint (AWS's CloudFormation linter, with its
// bundled resource schemas; preinstalled on this machine kind, not
// installable from the registries CI reaches) on the template, and on a
// broken copy to show it checks.
func TestRenderCfnLint(t *testing.T) {
	bin, err := exec.LookPath("cfn-lint")
	if err != nil {
		t.Skip("cfn-lint is not installed")
	}
	tmpl := renderTemplate(t)
	dir := t.TempDir()
	write := func(name string, v any) string { return writeJSON(t, dir, name, v) }
	if out, err := exec.Command(bin, write("ok.json", tmpl)).CombinedOutput(); err != nil {
		t.Errorf("cfn-lint: %v\n%s", err, out)
	}
	td := tmpl["Resources"].(map[string]any)["TaskDefinition"].(map[string]any)["Properties"].(map[string]any)
	td["NetworkMode"] = "bridgeish"
	if out, err := exec.Command(bin, write("broken.json", tmpl)).CombinedOutput(); err == nil {
		t.Errorf("cfn-lint accepted NetworkMode bridgeish:\n%s", out)
	}
}

// writeJSON writes v, indented, to dir/name and returns the path.
func writeJSON(t *testing.T, dir, name string, v any) string {
	t.Helper()
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestIAMPolicyCommand(t *testing.T) {
	var b bytes.Buffer
	opts := Options{Job: "consumer-header", Lake: "s3://lake-bucket/prod", Image: deploytest.Image, Subnets: []string{"subnet-0a"},
		Region: "us-east-1", Account: "123456789012", Stdout: &b, Log: zerolog.Nop()}
	if err := IAMPolicy(t.Context(), opts); err != nil {
		t.Fatal(err)
	}
	var got map[string]map[string]any
	if err := json.Unmarshal(b.Bytes(), &got); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, b.String())
	}
	d := testDeployment(t)
	d.Spec.PII.KMSKeyID = ""
	d.policies()
	for _, r := range d.Roles() {
		if !reflect.DeepEqual(got[r.Name]["policy"], asJSONValue(t, r.Policy)) || got[r.Name]["assumed_by"] != r.Service {
			t.Errorf("role %s: printed %v", r.Name, got[r.Name])
		}
	}
	if _, ok := got["operator"]["Statement"]; !ok || len(got) != 5 {
		t.Errorf("printed %d documents: %v", len(got), got)
	}
}
