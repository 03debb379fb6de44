package runner

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/tierflow/tierflow/lake/storage"
	"github.com/tierflow/tierflow/runner/emf"
)

// stepsJob is a job without derived tables, whose every step runs on a
// local lake as the Fargate tasks run it.
const stepsJob = `name: steps
source: {intake: "intake/steps/{month}/"}
schema:
  - {name: ID, type: bigint}
  - {name: State, type: string, check: {allowed: [CA, TX, NY, WA, OR]}}
  - {name: Name, type: string}
output: {table: steps, bucketed_by: [state], bucket_count: 4, row_group_mb: 16}
rejects: {max_rows: 5, max_fraction: 0.5}
convert: {workers: 1, memory_mb: 64}
catalog: {database: steps}
`

// emfLines are the EMF documents among a task's stdout lines (the others
// are for people), each checked against the EMF rules: the JSON Schema
// (ajv) and that every dimension and metric it names is a member of the
// right type.
func emfLines(t *testing.T, out []byte) []map[string]any {
	t.Helper()
	var docs []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line := sc.Bytes()
		if !bytes.HasPrefix(line, []byte("{")) {
			continue
		}
		var doc map[string]any
		if err := json.Unmarshal(line, &doc); err != nil {
			t.Fatalf("not JSON: %s", line)
		}
		if err := checkSchemaIn(t, "emf.schema.json", "line", line); err != nil {
			t.Error(err)
		}
		if err := emfTargets(doc); err != nil {
			t.Errorf("%v in %s", err, line)
		}
		docs = append(docs, doc)
	}
	return docs
}

// emfTargets checks what the schema cannot: the members a directive
// names are on the root, strings for dimensions and numbers for metrics.
func emfTargets(doc map[string]any) error {
	aws := doc["_aws"].(map[string]any)
	for _, d := range aws["CloudWatchMetrics"].([]any) {
		dir := d.(map[string]any)
		if dir["Namespace"] != emf.Namespace {
			return fmt.Errorf("namespace %v", dir["Namespace"])
		}
		for _, set := range dir["Dimensions"].([]any) {
			for _, name := range set.([]any) {
				if _, ok := doc[name.(string)].(string); !ok {
					return fmt.Errorf("dimension %v is not a string member", name)
				}
			}
		}
		for _, m := range dir["Metrics"].([]any) {
			name := m.(map[string]any)["Name"].(string)
			if _, ok := doc[name].(float64); !ok {
				return fmt.Errorf("metric %s is not a number member", name)
			}
		}
	}
	return nil
}

// metricOf returns metric name of the EMF documents of task, summed.
func metricOf(docs []map[string]any, task, name string) (float64, int) {
	var sum float64
	n := 0
	for _, d := range docs {
		if d["Task"] != task {
			continue
		}
		if v, ok := d[name].(float64); ok {
			sum += v
			n++
		}
	}
	return sum, n
}

// Every task of an execution writes its figures as EMF on stdout, with
// the job and month as dimensions; publish and finish leave the
// notification the state machine publishes, with the run's figures.
func TestStepsWriteMetricsAndNotification(t *testing.T) {
	dir := t.TempDir()
	job := filepath.Join(dir, "steps.yaml")
	if err := os.WriteFile(job, []byte(stepsJob), 0o644); err != nil {
		t.Fatal(err)
	}
	lake := "file://" + filepath.Join(dir, "lake")
	ctx := context.Background()
	st := localStore(t, lake)
	// Two parts of 20 rows, 3 of them with a state the check refuses.
	for p := 1; p <= 2; p++ {
		var csv strings.Builder
		csv.WriteString("ID,State,Name\n")
		for i := range 20 {
			state := []string{"CA", "TX", "NY", "WA"}[i%4]
			if p == 2 && i < 3 {
				state = "ZZ"
			}
			fmt.Fprintf(&csv, "%d,%s,n%d\n", p*100+i, state, i)
		}
		if err := storage.Put(ctx, st, fmt.Sprintf("intake/steps/2020-03/part-%d.csv.gz", p), bytes.NewReader(gzipped(t, csv.String())), storage.PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	var out bytes.Buffer
	o := StepOptions{Job: job, Lake: lake, Execution: "steps-2020-03-r1", Log: zerolog.Nop(), Stdout: &out}
	if err := PlanCommand(ctx, o, "2020-03", false); err != nil {
		t.Fatal(err)
	}
	var parts []partItem
	if err := getJSON(ctx, st, ExecPrefix("steps", o.Execution)+"parts.json", &parts); err != nil {
		t.Fatal(err)
	}
	for _, p := range parts {
		if err := PartCommand(ctx, o, p.Key); err != nil {
			t.Fatal(err)
		}
	}
	if err := StageCommand(ctx, o); err != nil {
		t.Fatal(err)
	}
	if err := PublishCommand(ctx, o); err != nil {
		t.Fatal(err)
	}
	docs := emfLines(t, out.Bytes())
	for _, d := range docs {
		if d["Job"] != "steps" || d["Month"] != "2020-03" {
			t.Errorf("dimensions Job %v Month %v", d["Job"], d["Month"])
		}
	}
	for _, c := range []struct {
		task, metric string
		want         float64
		lines        int
	}{
		{"plan", emf.PlannedParts, 2, 1},
		{"convert", emf.PartRowsRead, 40, 2},
		{"convert", emf.PartRowsRejected, 3, 2},
		{"publish", emf.RowsIn, 40, 1},
		{"publish", emf.RowsOut, 37, 1},
		{"publish", emf.RowsRejected, 3, 1},
		{"publish", emf.MonthPublished, 1, 1},
	} {
		if got, n := metricOf(docs, c.task, c.metric); got != c.want || n != c.lines {
			t.Errorf("%s %s = %v in %d lines, want %v in %d", c.task, c.metric, got, n, c.want, c.lines)
		}
	}
	for _, m := range []struct{ task, metric string }{
		{"convert", emf.PartWallTime}, {"convert", emf.PartRowsPerSec}, {"convert", emf.PartBytesRead},
		{"stage", emf.StageWallTime}, {"publish", emf.RunWallTime}, {"publish", emf.RunCostUSD}, {"publish", emf.RunBytesWritten},
	} {
		if v, n := metricOf(docs, m.task, m.metric); v <= 0 || n == 0 {
			t.Errorf("%s %s = %v in %d lines, want > 0", m.task, m.metric, v, n)
		}
	}
	var note SNSNotification
	b := readObject(t, st, NotificationKey("steps", o.Execution))
	if err := json.Unmarshal(b, &note); err != nil {
		t.Fatal(err)
	}
	if err := checkSchemaIn(t, "notification.schema.json", "sns", b); err != nil {
		t.Error(err)
	}
	var forms map[string]string
	var n Notification
	if err := json.Unmarshal([]byte(note.Message), &forms); err != nil || json.Unmarshal([]byte(forms["default"]), &n) != nil {
		t.Fatalf("message %q: %v", note.Message, err)
	}
	if note.Status != NotifySucceeded || n.Execution != o.Execution || n.RowsIn != 40 || n.RowsOut != 37 || n.RowsRejected != 3 || !n.Published {
		t.Errorf("notification %+v / %+v", note, n)
	}
	if err := checkSchemaIn(t, "notification.schema.json", "notification", []byte(forms["default"])); err != nil {
		t.Error(err)
	}

	// A failed execution: its finish task emits RunFailed and a FAILED
	// notification carrying the cause.
	if err := storage.Put(ctx, st, "intake/steps/2020-04/part-1.csv.gz", bytes.NewReader(gzipped(t, "ID,Name\n1,x\n")), storage.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	o.Execution = "steps-2020-04-r1"
	if err := PlanCommand(ctx, o, "2020-04", false); err != nil {
		t.Fatal(err)
	}
	if err := PartCommand(ctx, o, "intake/steps/2020-04/part-1.csv.gz"); err == nil {
		t.Fatal("a part with a wrong header converted")
	}
	if err := FinishCommand(ctx, o, "convert failed: States.TaskFailed (details in error.json)"); err != nil {
		t.Fatal(err)
	}
	docs = emfLines(t, out.Bytes())
	if v, n := metricOf(docs, "finish", emf.RunFailed); v != 1 || n != 1 {
		t.Errorf("finish RunFailed = %v in %d lines", v, n)
	}
	b = readObject(t, st, NotificationKey("steps", o.Execution))
	if err := json.Unmarshal(b, &note); err != nil || note.Status != NotifyFailed || !strings.Contains(note.Message, "States.TaskFailed") ||
		!strings.HasPrefix(note.Subject, "tierflow steps 2020-04: FAILED") {
		t.Errorf("failed run's notification: %s (%v)", b, err)
	}
}

func localStore(t *testing.T, lake string) storage.Storage {
	t.Helper()
	env, err := OpenEnv(context.Background(), crashSpec(t), lake, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { env.Close() })
	return env.Storage
}

func readObject(t *testing.T, st storage.Storage, key string) []byte {
	t.Helper()
	var b json.RawMessage
	if err := getJSON(context.Background(), st, key, &b); err != nil {
		t.Fatal(err)
	}
	return b
}
