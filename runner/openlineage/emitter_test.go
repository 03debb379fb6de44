package openlineage_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/tierflow/tierflow/lake/storage"
	"github.com/tierflow/tierflow/lake/storage/file"
	"github.com/tierflow/tierflow/runner/openlineage"
	"github.com/tierflow/tierflow/runner/openlineage/oltest"
)

func lake(t *testing.T) storage.Storage {
	st, err := file.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// events are a run's START, a child's START and COMPLETE and the run's
// FAIL, one millisecond apart, carrying every facet tierflow writes.
func events() []openlineage.RunEvent {
	p := openlineage.Producer("https://github.com/tierflow/tierflow/tree/v0.3.0")
	t0 := time.Date(2020, 4, 2, 6, 0, 0, 0, time.UTC)
	month := time.Date(2020, 3, 1, 0, 0, 0, 0, time.UTC)
	runID, childID := openlineage.RunID("j/r-1", t0), openlineage.RunID("j/r-1/t", t0)
	runFacets := openlineage.Facets{
		"nominalTime":       p.NominalTime(month, month.AddDate(0, 1, 0)),
		"processing_engine": p.ProcessingEngine("tierflow", "0.3.0"),
	}
	tr := p.TierflowRun("r-1", "j", "2020-03")
	tr.Cost = &openlineage.RunCost{USD: 0.25}
	runFacets[openlineage.TierflowRunFacetName] = tr
	job := openlineage.Job{Namespace: "tierflow", Name: "j", Facets: openlineage.Facets{"jobType": p.JobType("TIERFLOW", "JOB")}}
	intake := openlineage.Dataset{Namespace: "s3://lake", Name: "intake/2020-03", Facets: openlineage.Facets{
		"schema": p.Schema([]openlineage.SchemaField{{Name: "ID", Type: "bigint"}, {Name: "State", Type: "string"}}),
	}}
	table := openlineage.Dataset{Namespace: "s3://lake", Name: "tier2/t", Facets: openlineage.Facets{
		"schema":      p.Schema([]openlineage.SchemaField{{Name: "id", Type: "bigint"}, {Name: "state", Type: "string", Description: "US state"}}),
		"datasetType": p.DatasetType("TABLE", "EXTERNAL"),
		"version":     p.DatasetVersion("r-1"),
		"columnLineage": p.ColumnLineage(map[string]openlineage.FieldLineage{
			"id": {InputFields: []openlineage.InputField{{Namespace: "s3://lake", Name: "intake/2020-03", Field: "ID",
				Transformations: []openlineage.Transform{{Type: openlineage.Direct, Subtype: openlineage.Transformation, Description: "parsed as bigint"}}}}},
		}, []openlineage.InputField{{Namespace: "s3://lake", Name: "intake/2020-03", Field: "State", Transformations: []openlineage.Transform{{Type: openlineage.Indirect, Subtype: openlineage.Sort}}}}),
		openlineage.HiveBucketingFacetName: p.HiveBucketing([]string{"state"}, 60, 1, []string{"state"}, "BBBBBB_0_<part>.snappy.parquet"),
	}}
	start := openlineage.NewRunEvent(openlineage.Start, t0, string(p), openlineage.Run{RunID: runID, Facets: runFacets}, job)
	start.Inputs = []openlineage.InputDataset{{Dataset: intake}}
	start.Outputs = []openlineage.OutputDataset{{Dataset: table}}

	childFacets := openlineage.Facets{"parent": p.Parent(runID, "tierflow", "j")}
	childJob := openlineage.Job{Namespace: "tierflow", Name: "j.t_ca", Facets: openlineage.Facets{
		"jobType": p.JobType("TIERFLOW", "QUERY"), "sql": p.SQL("SELECT id FROM t WHERE state = 'CA'", "trino"),
	}}
	cStart := openlineage.NewRunEvent(openlineage.Start, t0.Add(time.Millisecond), string(p), openlineage.Run{RunID: childID, Facets: childFacets}, childJob)
	cStart.Inputs = []openlineage.InputDataset{{Dataset: table}}
	cDone := cStart
	cDone.EventType, cDone.EventTime = openlineage.Complete, t0.Add(2*time.Millisecond)
	cDone.Outputs = []openlineage.OutputDataset{{Dataset: openlineage.Dataset{Namespace: "s3://lake", Name: "tier3/t_ca"},
		OutputFacets: openlineage.Facets{"outputStatistics": p.OutputStatistics(10, 2048, 1)}}}

	failFacets := openlineage.Facets{"errorMessage": p.ErrorMessage("publish: conflict")}
	for k, v := range runFacets {
		failFacets[k] = v
	}
	fail := openlineage.NewRunEvent(openlineage.Fail, t0.Add(3*time.Millisecond), string(p), openlineage.Run{RunID: runID, Facets: failFacets}, job)
	fail.Inputs = []openlineage.InputDataset{{Dataset: intake, InputFacets: openlineage.Facets{
		"inputStatistics":    p.InputStatistics(100, 4096, 2),
		"dataQualityMetrics": p.DataQualityMetrics(100, 4096, 2),
		"dataQualityAssertions": p.DataQualityAssertions([]openlineage.Assertion{{Assertion: "max_rejected_rows", Success: false,
			Name: "part-1: max_rejected_rows", Expected: "<= 1", Actual: "3", Params: map[string]any{"part": "part-1"}}}),
	}}}
	return []openlineage.RunEvent{start, cStart, cDone, fail}
}

func TestEmitterFilesAndHTTP(t *testing.T) {
	ctx := context.Background()
	st := lake(t)
	m := oltest.NewMarquez(t)
	m.FailNext(1, http.StatusInternalServerError) // the first try of the first event
	cfg, err := openlineage.Config{URL: m.URL, Backoff: time.Millisecond}.WithEnv(func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	var logs oltest.LogBuffer
	em, err := openlineage.NewEmitter(ctx, cfg, st, zerolog.New(&logs))
	if err != nil {
		t.Fatal(err)
	}
	evs := events()
	// Emitted out of order: the files sort by event time all the same.
	for _, i := range []int{0, 2, 1, 3} {
		em.Emit(ctx, evs[i])
	}
	em.Close()

	keys, bodies := oltest.Files(t, st)
	if len(keys) != len(evs) {
		t.Fatalf("%d event files, want %d: %v", len(keys), len(evs), keys)
	}
	for i, b := range bodies {
		var got openlineage.RunEvent
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatal(err)
		}
		if got.EventType != evs[i].EventType || !got.EventTime.Equal(evs[i].EventTime) {
			t.Errorf("file %d (%s) holds %s at %s, want %s at %s", i, keys[i], got.EventType, got.EventTime, evs[i].EventType, evs[i].EventTime)
		}
		if !strings.HasPrefix(keys[i], openlineage.FilePrefix+"20200402T06000") || !strings.HasSuffix(keys[i], "_"+string(got.EventType)+".json") {
			t.Errorf("file name %s", keys[i])
		}
	}
	// The endpoint got every event, in the order emitted, byte for byte
	// what the files hold.
	sent := m.Events()
	if len(sent) != len(evs) || m.Attempts() != len(evs)+1 {
		t.Fatalf("the endpoint took %d events in %d requests, want %d in %d", len(sent), m.Attempts(), len(evs), len(evs)+1)
	}
	for k, i := range []int{0, 2, 1, 3} {
		if !bytes.Equal(sent[k], bodies[i]) {
			t.Errorf("event %d sent differs from its file", k)
		}
	}
	if strings.Contains(logs.String(), `"level":"warn"`) {
		t.Errorf("a delivered event was warned about:\n%s", logs.String())
	}
	// Every facet a constructor builds is valid where it is placed.
	oltest.Validate(t, bodies)
}

// A slow endpoint holds nobody up: Emit returns at once, Close gives up
// after FlushTimeout, says so, and the files are there.
func TestEmitterSlowEndpoint(t *testing.T) {
	ctx := context.Background()
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	st := lake(t)
	cfg, _ := openlineage.Config{URL: srv.URL, FlushTimeout: 200 * time.Millisecond, Timeout: time.Minute}.WithEnv(func(string) string { return "" })
	var logs oltest.LogBuffer
	em, err := openlineage.NewEmitter(ctx, cfg, st, zerolog.New(&logs))
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	for _, ev := range events() {
		em.Emit(ctx, ev)
	}
	if d := time.Since(t0); d > 150*time.Millisecond {
		t.Errorf("Emit waited for the endpoint: %s", d)
	}
	em.Close()
	if d := time.Since(t0); d > 2*time.Second {
		t.Errorf("Close took %s with a flush timeout of 200ms", d)
	}
	if keys, _ := oltest.Files(t, st); len(keys) != 4 {
		t.Errorf("%d files, want 4", len(keys))
	}
	for _, want := range []string{"giving up on the events still being sent", "did not take the event"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("the log lacks %q:\n%s", want, logs.String())
		}
	}
}

func TestEmitterDisabled(t *testing.T) {
	ctx := context.Background()
	st := lake(t)
	m := oltest.NewMarquez(t)
	cfg, _ := openlineage.Config{URL: m.URL}.WithEnv(func(k string) string {
		return map[string]string{openlineage.EnvDisabled: "true"}[k]
	})
	em, err := openlineage.NewEmitter(ctx, cfg, st, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range events() {
		em.Emit(ctx, ev)
	}
	em.Close()
	if keys, _ := oltest.Files(t, st); len(keys) != 0 || m.Attempts() != 0 {
		t.Errorf("disabled, yet %d files and %d requests", len(keys), m.Attempts())
	}
	var none *openlineage.Emitter
	none.Emit(ctx, events()[0]) // a nil emitter is a no-op
	none.Close()
	if slices.Contains([]bool{none.Enabled(), em.Enabled()}, true) {
		t.Error("a nil or disabled emitter says it is enabled")
	}
}
