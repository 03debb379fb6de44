//go:build cgo && !noduckdb

package runner

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/lake/lineage"
	"github.com/tierflow/tierflow/lake/storage"
	ol "github.com/tierflow/tierflow/runner/openlineage"
	"github.com/tierflow/tierflow/runner/openlineage/oltest"
)

// olEvent is an emitted event as a consumer reads it back.
type olEvent struct {
	EventType string    `json:"eventType"`
	EventTime time.Time `json:"eventTime"`
	Run       struct {
		RunID  string                     `json:"runId"`
		Facets map[string]json.RawMessage `json:"facets"`
	} `json:"run"`
	Job struct {
		Namespace string                     `json:"namespace"`
		Name      string                     `json:"name"`
		Facets    map[string]json.RawMessage `json:"facets"`
	} `json:"job"`
	Inputs  []readDataset `json:"inputs"`
	Outputs []readDataset `json:"outputs"`
	raw     []byte
}

type readDataset struct {
	Namespace    string                     `json:"namespace"`
	Name         string                     `json:"name"`
	Facets       map[string]json.RawMessage `json:"facets"`
	InputFacets  map[string]json.RawMessage `json:"inputFacets"`
	OutputFacets map[string]json.RawMessage `json:"outputFacets"`
}

// facet decodes facet name of fs into v; false if absent.
func facet(t *testing.T, fs map[string]json.RawMessage, name string, v any) bool {
	t.Helper()
	raw, ok := fs[name]
	if !ok {
		return false
	}
	if err := json.Unmarshal(raw, v); err != nil {
		t.Fatalf("facet %s: %v", name, err)
	}
	return true
}

// lakeEvents reads the event files of a lake in key (time) order.
func lakeEvents(t *testing.T, st storage.Storage) []olEvent {
	t.Helper()
	_, raws := oltest.Files(t, st)
	out := make([]olEvent, len(raws))
	for i, b := range raws {
		if err := json.Unmarshal(b, &out[i]); err != nil {
			t.Fatal(err)
		}
		out[i].raw = b
	}
	return out
}

func bodies(evs []olEvent) [][]byte {
	out := make([][]byte, len(evs))
	for i, e := range evs {
		out[i] = e.raw
	}
	return out
}

// sequence is each event as "job TYPE".
func sequence(evs []olEvent) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.Job.Name + " " + e.EventType
	}
	return out
}

// setEmitter gives env an emitter for cfg (the process environment left
// out), closing the one it had.
func setEmitter(t *testing.T, env *Env, cfg ol.Config, log zerolog.Logger) {
	t.Helper()
	cfg, err := cfg.WithEnv(func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	env.OpenLineage.Close()
	if env.OpenLineage, err = ol.NewEmitter(context.Background(), cfg, env.Storage, log); err != nil {
		t.Fatal(err)
	}
}

// A local run of the shipped job, with rejected rows, sends its events to
// the lake and to a Marquez-like endpoint named by the standard
// environment: every event valid against the official schemas, each
// figure the run's own.
func TestOpenLineageLocalRun(t *testing.T) {
	m := oltest.NewMarquez(t)
	m.APIKey = "s3cret"
	t.Setenv(ol.EnvURL, m.URL)
	t.Setenv(ol.EnvAPIKey, m.APIKey)
	t.Setenv(ol.EnvNamespace, "lake-test")
	spec, err := jobs.Shipped(DemoJob)
	if err != nil {
		t.Fatal(err)
	}
	spec.Rejects.MaxFraction = 0.05
	env, dir := openTestEnv(t, spec, 4000, 2, 0.01)
	ctx := context.Background()
	res, err := Run(ctx, env, spec, Options{Month: testMonth})
	if err != nil {
		t.Fatal(err)
	}
	if res.Run.RowsRejected == 0 {
		t.Fatal("the sample has no rejected rows: nothing to report")
	}
	env.OpenLineage.Close() // what Env.Close does: the endpoint gets the rest

	evs := lakeEvents(t, env.Storage)
	want := []string{
		"consumer-header START",
		"consumer-header.consumer_ca START", "consumer-header.consumer_ca COMPLETE",
		"consumer-header.consumer_ca_deid START", "consumer-header.consumer_ca_deid COMPLETE",
		"consumer-header COMPLETE",
	}
	if got := sequence(evs); !slices.Equal(got, want) {
		t.Fatalf("events in time order:\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
	oltest.Validate(t, bodies(evs))
	sent := m.Events()
	if len(sent) != len(evs) {
		t.Fatalf("the endpoint took %d events, the lake has %d", len(sent), len(evs))
	}
	for i := range sent {
		if string(sent[i]) != string(evs[i].raw) {
			t.Errorf("event %d (%s) sent differs from its file", i, sequence(evs)[i])
		}
	}

	start, done := evs[0], evs[5]
	main := start.Run.RunID
	if done.Run.RunID != main || start.Job.Namespace != "lake-test" {
		t.Errorf("START run %s in %s, COMPLETE run %s", main, start.Job.Namespace, done.Run.RunID)
	}
	if !start.EventTime.Equal(res.Run.Started.UTC().Truncate(time.Microsecond)) || !done.EventTime.Equal(res.Run.Ended.UTC().Truncate(time.Microsecond)) {
		t.Errorf("event times %s, %s; the run went from %s to %s", start.EventTime, done.EventTime, res.Run.Started, res.Run.Ended)
	}
	var nominal struct{ NominalStartTime, NominalEndTime time.Time }
	facet(t, done.Run.Facets, "nominalTime", &nominal)
	if nominal.NominalStartTime != time.Date(2020, 3, 1, 0, 0, 0, 0, time.UTC) || nominal.NominalEndTime != time.Date(2020, 4, 1, 0, 0, 0, 0, time.UTC) {
		t.Errorf("nominal time %+v, want March 2020", nominal)
	}
	var tr ol.TierflowRunFacet
	facet(t, done.Run.Facets, ol.TierflowRunFacetName, &tr)
	if tr.RunID != res.Run.ID || tr.RowsIn != res.Run.RowsIn || tr.RowsOut != res.Run.RowsOut || tr.RowsRejected != res.Run.RowsRejected || !tr.Published || tr.Cost == nil || tr.Cost.USD != res.Run.Cost.USD {
		t.Errorf("tierflow_run %+v; the run %+v", tr, res.Run)
	}

	// The input: the month's intake folder, read in full, each part checked.
	if len(done.Inputs) != 1 || done.Inputs[0].Namespace != "file" || done.Inputs[0].Name != dir+"/intake/consumer/"+testMonth {
		t.Fatalf("inputs %+v", done.Inputs)
	}
	var dq ol.DataQualityMetricsFacet
	facet(t, done.Inputs[0].InputFacets, "dataQualityMetrics", &dq)
	if dq.RowCount != res.Run.RowsIn || dq.FileCount != 2 {
		t.Errorf("dataQualityMetrics %+v; the run read %d rows of 2 parts", dq, res.Run.RowsIn)
	}
	var checks ol.DataQualityAssertionsFacet
	facet(t, done.Inputs[0].InputFacets, "dataQualityAssertions", &checks)
	if len(checks.Assertions) != 6 {
		t.Errorf("%d assertions, want 3 for each of 2 parts", len(checks.Assertions))
	}
	for _, a := range checks.Assertions {
		if !a.Success {
			t.Errorf("assertion %s failed in a run that passed its thresholds: %+v", a.Name, a)
		}
	}

	// Outputs: tier 1, tier 2, and the rejects files holding every rejected row.
	var rejected int64
	var names []string
	for _, o := range done.Outputs {
		names = append(names, strings.TrimPrefix(o.Name, dir+"/"))
		var stats struct{ RowCount, Size, FileCount int64 }
		facet(t, o.OutputFacets, "outputStatistics", &stats)
		switch {
		case strings.HasSuffix(o.Name, ".rejects.csv"):
			rejected += stats.RowCount
			if _, err := env.Storage.Stat(ctx, strings.TrimPrefix(o.Name, dir+"/")); err != nil {
				t.Errorf("rejects output %s: %v", o.Name, err)
			}
		case o.Name == dir+"/tier2/consumer_header":
			if stats.RowCount != res.Run.RowsOut || stats.FileCount == 0 {
				t.Errorf("tier 2 outputStatistics %+v; the run wrote %d rows", stats, res.Run.RowsOut)
			}
			var b ol.HiveBucketingFacet
			facet(t, o.Facets, ol.HiveBucketingFacetName, &b)
			if !slices.Equal(b.BucketedBy, []string{"state"}) || b.BucketCount != 60 || b.BucketingVersion != 1 {
				t.Errorf("bucketing %+v", b)
			}
			var lin ol.ColumnLineageFacet
			facet(t, o.Facets, "columnLineage", &lin)
			if len(lin.Fields) != len(spec.Schema.Columns) || lin.Fields["state"].InputFields[0].Field != "State" {
				t.Errorf("tier-2 column lineage: %d fields, state from %+v", len(lin.Fields), lin.Fields["state"])
			}
		}
	}
	if rejected != res.Run.RowsRejected {
		t.Errorf("rejects outputs hold %d rows, the run rejected %d", rejected, res.Run.RowsRejected)
	}
	if !slices.Contains(names, "tier2/consumer_header") || !slices.ContainsFunc(names, func(n string) bool { return strings.HasPrefix(n, "tier1/consumer-header/month=2020-03/delivery=") }) {
		t.Errorf("outputs %v", names)
	}

	// The derived tables' runs: children of the month's run, reading tier
	// 2, with their column lineage and the PII policy's masking.
	for _, ev := range evs[1:5] {
		var parent ol.ParentRunFacet
		if !facet(t, ev.Run.Facets, "parent", &parent) || parent.Run.RunID != main || parent.Job.Name != "consumer-header" {
			t.Errorf("%s %s: parent %+v, want run %s", ev.Job.Name, ev.EventType, parent, main)
		}
		if len(ev.Inputs) != 1 || ev.Inputs[0].Name != dir+"/tier2/consumer_header" {
			t.Errorf("%s: inputs %+v", ev.Job.Name, ev.Inputs)
		}
	}
	lineageOf := func(ev olEvent) map[string]ol.FieldLineage {
		if len(ev.Outputs) != 1 {
			t.Fatalf("%s: %d outputs", ev.Job.Name, len(ev.Outputs))
		}
		var lin ol.ColumnLineageFacet
		if !facet(t, ev.Outputs[0].Facets, "columnLineage", &lin) {
			t.Fatalf("%s: no column lineage", ev.Job.Name)
		}
		return lin.Fields
	}
	ca := lineageOf(evs[2])
	if len(ca) != 8 || ca["zipcode"].InputFields[0].Transformations[0].Subtype != ol.Identity {
		t.Errorf("consumer_ca lineage: %+v", ca)
	}
	deid := lineageOf(evs[4])
	for col, masked := range map[string]bool{"firstname": true, "lastname": true, "email": true, "state": false} {
		fl, ok := deid[col]
		if !ok {
			t.Errorf("consumer_ca_deid: no lineage for %s", col)
			continue
		}
		if tr := fl.InputFields[0].Transformations[0]; tr.Masking != masked {
			t.Errorf("consumer_ca_deid.%s: %+v, want masking %v", col, tr, masked)
		}
	}
	for _, dropped := range []string{"zipcode", "homephone"} {
		if _, ok := deid[dropped]; ok {
			t.Errorf("consumer_ca_deid: lineage for %s, which the PII policy drops", dropped)
		}
	}
}

// A run whose part has too many rejected rows FAILs: the error, the
// failed check of that part, its rejects file, and no tier-2 output.
func TestOpenLineageFailedRun(t *testing.T) {
	spec, err := jobs.Shipped(DemoJob)
	if err != nil {
		t.Fatal(err)
	}
	env, _ := openTestEnv(t, spec, 3000, 1, 0.02)
	res, err := Run(context.Background(), env, spec, Options{Month: testMonth})
	if err == nil {
		t.Fatal("the run passed with 2% bad rows")
	}
	evs := lakeEvents(t, env.Storage)
	if got := sequence(evs); !slices.Equal(got, []string{"consumer-header START", "consumer-header FAIL"}) {
		t.Fatalf("events %v", got)
	}
	oltest.Validate(t, bodies(evs))
	fail := evs[1]
	var msg ol.ErrorMessageFacet
	if !facet(t, fail.Run.Facets, "errorMessage", &msg) || msg.Message != res.Run.Error || !strings.Contains(msg.Message, "too many rejected rows") {
		t.Errorf("errorMessage %+v; the run's error %q", msg, res.Run.Error)
	}
	var checks ol.DataQualityAssertionsFacet
	facet(t, fail.Inputs[0].InputFacets, "dataQualityAssertions", &checks)
	i := slices.IndexFunc(checks.Assertions, func(a ol.Assertion) bool { return a.Assertion == "max_rejected_fraction" })
	if i < 0 || checks.Assertions[i].Success {
		t.Errorf("assertions %+v: want max_rejected_fraction failed", checks.Assertions)
	}
	for _, o := range fail.Outputs {
		if strings.Contains(o.Name, "/tier2/") {
			t.Errorf("a failed run reports tier 2 (%s), which it removed", o.Name)
		}
	}
	if !slices.ContainsFunc(fail.Outputs, func(o readDataset) bool { return strings.HasSuffix(o.Name, "part-0001.rejects.csv") }) {
		t.Errorf("outputs %+v lack the part's rejects file", fail.Outputs)
	}
}

// Interrupting a run ABORTs it.
func TestOpenLineageAbortOnCancel(t *testing.T) {
	spec, err := jobs.Shipped(DemoJob)
	if err != nil {
		t.Fatal(err)
	}
	env, _ := openTestEnv(t, spec, 3000, 2, 0)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	_, err = Run(ctx, env, spec, Options{Month: testMonth, Watch: cancelWhileConverting{cancel: cancel}})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("run: %v, want it cancelled", err)
	}
	evs := lakeEvents(t, env.Storage)
	if got := sequence(evs); !slices.Equal(got, []string{"consumer-header START", "consumer-header ABORT"}) {
		t.Fatalf("events %v", got)
	}
	oltest.Validate(t, bodies(evs))
	var msg ol.ErrorMessageFacet
	if !facet(t, evs[1].Run.Facets, "errorMessage", &msg) || !strings.Contains(msg.Message, "context canceled") {
		t.Errorf("errorMessage %+v", msg)
	}
}

// An endpoint nobody listens on: the run publishes, says it in a warning,
// and every event is in the lake.
func TestOpenLineageUnreachableEndpoint(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + l.Addr().String()
	l.Close()
	spec, err := jobs.Shipped(DemoJob)
	if err != nil {
		t.Fatal(err)
	}
	env, _ := openTestEnv(t, spec, 2000, 2, 0)
	logs := &oltest.LogBuffer{}
	setEmitter(t, env, ol.Config{URL: url, Retries: 2, Backoff: time.Millisecond}, zerolog.New(logs))
	res, err := Run(context.Background(), env, spec, Options{Month: testMonth})
	if err != nil || res.Run.Status != lineage.StatusComplete {
		t.Fatalf("run: %v (%s)", err, res.Run.Status)
	}
	env.OpenLineage.Close()
	if n := len(lakeEvents(t, env.Storage)); n != 6 {
		t.Errorf("%d events in the lake, want 6", n)
	}
	if got := strings.Count(logs.String(), "OpenLineage endpoint did not take the event"); got != 6 {
		t.Errorf("%d warnings for 6 undelivered events:\n%s", got, logs.String())
	}
}

// The AWS task steps emit too, each from its own process (here: its own
// Env): plan START, publish COMPLETE, finish FAIL; a run whose process died
// is ABORTed by the plan that takes its month over.
func TestOpenLineageSteps(t *testing.T) {
	spec := crashSpec(t)
	spec.Derived = nil // Athena's part of the steps; here: convert, stage, publish
	dir := t.TempDir()
	ctx := context.Background()
	open := func(pid int) *Env {
		env, err := OpenEnv(ctx, spec, "file://"+dir, zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel))
		if err != nil {
			t.Fatal(err)
		}
		setEmitter(t, env, ol.Config{}, env.Log)
		env.PID = pid
		return env
	}
	task := func(exec string, fn func(*job) error) {
		t.Helper()
		env := open(0)
		defer env.Close()
		if err := step(ctx, env, spec, exec, fn); err != nil {
			t.Fatalf("%s: %v", exec, err)
		}
	}
	plan := func(exec string, pid int) *Exec {
		t.Helper()
		env := open(pid)
		defer env.Close()
		ex, err := PlanStep(ctx, env, spec, crashMonth, exec, false, time.Hour)
		if err != nil {
			t.Fatalf("plan %s: %v", exec, err)
		}
		return ex
	}

	// Execution 1: every step in its own task, published.
	env := open(0)
	putCrashMonth(t, env.Storage, spec, 1)
	env.Close()
	ex1 := plan("consumer-2020-03-r1", 0)
	for _, p := range ex1.Plan.Parts {
		task(ex1.Name, func(j *job) error { return j.partStep(ctx, p.Key, io.Discard) })
	}
	task(ex1.Name, func(j *job) error { return j.stageStep(ctx, io.Discard) })
	task(ex1.Name, func(j *job) error { _, err := j.finish(ctx, j.publishStep(ctx)); return err })

	// Execution 2 plans a new delivery, and its process dies.
	env = open(0)
	putCrashMonth(t, env.Storage, spec, 2)
	env.Close()
	ex2 := plan("consumer-2020-03-r2", deadPID(t))

	// Execution 3 takes the month over, then fails (the state machine's Catch).
	env = open(0)
	putCrashMonth(t, env.Storage, spec, 3)
	env.Close()
	ex3 := plan("consumer-2020-03-r3", 0)
	task(ex3.Name, func(j *job) error {
		return j.finishStep(ctx, "States.TaskFailed: convert part-0001 exited 1", io.Discard)
	})

	env = open(0)
	defer env.Close()
	evs := lakeEvents(t, env.Storage)
	oltest.Validate(t, bodies(evs))
	byRun := map[string][]string{}
	for _, ev := range evs {
		var tr ol.TierflowRunFacet
		if !facet(t, ev.Run.Facets, ol.TierflowRunFacetName, &tr) {
			t.Fatalf("%s has no tierflow_run facet", ev.EventType)
		}
		byRun[tr.RunID] = append(byRun[tr.RunID], ev.EventType+" "+ev.Run.RunID+" "+tr.Execution)
	}
	for _, c := range []struct {
		ex    *Exec
		types []string
	}{{ex1, []string{"START", "COMPLETE"}}, {ex2, []string{"START", "ABORT"}}, {ex3, []string{"START", "FAIL"}}} {
		got := byRun[c.ex.RunID]
		if len(got) != len(c.types) {
			t.Errorf("run %s (%s): events %v, want %v", c.ex.RunID, c.ex.Name, got, c.types)
			continue
		}
		for i, typ := range c.types {
			f := strings.Fields(got[i])
			if f[0] != typ || f[1] != strings.Fields(got[0])[1] || (typ != "ABORT" && f[2] != c.ex.Name) {
				t.Errorf("run %s event %d: %q, want %s with the run's one id and execution %s", c.ex.RunID, i, got[i], typ, c.ex.Name)
			}
		}
	}
}

// A run that dies after its commit, before it records its end, gets its
// COMPLETE from the repair that finishes its record.
func TestOpenLineageRepairCompletes(t *testing.T) {
	open, spec := localCrashLake(t)
	ctx := context.Background()
	env, _ := open(t, 0)
	putCrashMonth(t, env.Storage, spec, 1)
	f := &faults{failOn: "lineage finish run COMPLETE", mode: killBefore}
	f.wrap(env)
	res, err := Run(ctx, env, spec, Options{Month: crashMonth})
	if err != nil || f.hit == "" {
		t.Fatalf("run killed after its commit: %v (fault hit: %q)", err, f.hit)
	}
	env.Close()

	// The simulated kill leaves the process running: take out the COMPLETE
	// it emitted after its death, which a real kill would not have.
	env, _ = open(t, 0)
	for _, ev := range lakeEvents(t, env.Storage) {
		if ev.Job.Name == spec.Name && ev.EventType == "COMPLETE" {
			key := ol.FileTransport{Prefix: ol.FilePrefix}.Key(ol.RunEvent{EventType: ol.Complete, EventTime: ev.EventTime, Run: ol.Run{RunID: ev.Run.RunID}, Job: ol.Job{Name: ev.Job.Name}})
			if err := env.Storage.Delete(ctx, key); err != nil {
				t.Fatal(err)
			}
		}
	}
	rep, err := Repair(ctx, env, spec, crashMonth)
	if err != nil || !rep.Finished || rep.Run != res.Run.ID {
		t.Fatalf("repair: %+v, %v", rep, err)
	}
	env.OpenLineage.Close()
	evs := lakeEvents(t, env.Storage)
	var main []olEvent
	for _, ev := range evs {
		if ev.Job.Name == spec.Name {
			main = append(main, ev)
		}
	}
	if got := sequence(main); !slices.Equal(got, []string{"crash START", "crash COMPLETE"}) || main[0].Run.RunID != main[1].Run.RunID {
		t.Fatalf("the run's events: %v", got)
	}
	var tr ol.TierflowRunFacet
	if !facet(t, main[1].Run.Facets, ol.TierflowRunFacetName, &tr) || !tr.Published || tr.RunID != res.Run.ID {
		t.Errorf("repaired COMPLETE: tierflow_run %+v", tr)
	}
	oltest.Validate(t, bodies(evs))
}

// cancelWhileConverting cancels the run as soon as a part is converting.
type cancelWhileConverting struct {
	noWatch
	cancel func()
}

func (c cancelWhileConverting) PartRead(_ int, done, _ int64) {
	if done > 0 {
		c.cancel()
	}
}
