package runner

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/lake/lineage"
	"github.com/tierflow/tierflow/lake/storage/file"
)

// run --output json prints one object per month that the schema accepts,
// with the run's figures: a published run, a rerun with nothing to do, a
// month that fails before a run begins, and a backfill (issue 14, finding
// 4).
func TestRunSummaryJSON(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	spec := crashSpec(t)
	st, err := file.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	putCrashMonth(t, st, spec, 1)
	job := filepath.Join("testdata", "crash", "job.yaml")
	// run runs as `run --output json` does: each month's summary printed
	// as it ends, then checked against the schema.
	run := func(o RunMonthsOptions) ([]RunSummaryView, error) {
		t.Helper()
		var views []RunSummaryView
		o.Job, o.Lake, o.Log = job, dir, zerolog.Nop()
		o.Done = func(spec *jobs.Spec, month string, res *Result, err error) {
			raw, jerr := json.Marshal(RunSummary(spec, month, res, err))
			if jerr != nil {
				t.Fatal(jerr)
			}
			if serr := checkSchema(t, "run_summary", raw); serr != nil {
				t.Error(serr)
			}
			var v RunSummaryView
			if jerr := json.Unmarshal(raw, &v); jerr != nil {
				t.Fatal(jerr)
			}
			views = append(views, v)
		}
		return views, RunMonths(ctx, o)
	}

	vs, err := run(RunMonthsOptions{Month: crashMonth})
	if err != nil || len(vs) != 1 {
		t.Fatalf("run: %v, %d objects", err, len(vs))
	}
	v := vs[0]
	if v.Status != lineage.StatusComplete || !v.Published || v.RunID == "" || v.Parts != 2 || v.RowsIn != 60 || v.RowsOut != 60 ||
		v.DurationSecs <= 0 || len(v.Stages) != 6 || v.Stages[0].Name != "plan" || v.Stages[5].Name != "publish" || v.Error != "" {
		t.Errorf("the published run's summary: %+v", v)
	}
	tables := map[string]TableView{}
	for _, tv := range v.Tables {
		tables[tv.Table] = tv
	}
	if tv := tables[spec.Output.Table]; tv.Tier != 2 || tv.Rows != 60 || tv.Files == 0 || tv.Bytes == 0 {
		t.Errorf("tier-2 table: %+v", tv)
	}
	if tv := tables[spec.Derived[0].Table]; tv.Tier != 3 || tv.Rows != 20 || tv.Files == 0 { // CA: ids with id%6 in {0,4}
		t.Errorf("derived table %s: %+v (all: %+v)", spec.Derived[0].Table, tv, v.Tables)
	}

	// The same inputs again: nothing to do, the published run named.
	vs, err = run(RunMonthsOptions{Month: crashMonth})
	if err != nil || len(vs) != 1 || vs[0].Status != lineage.StatusSkipped || vs[0].RunID != v.RunID || !vs[0].Published {
		t.Errorf("rerun: %v %+v", err, vs)
	}

	// A backfill: one object per month; the month without parts fails
	// before a run begins, and the command fails.
	vs, err = run(RunMonthsOptions{From: "2020-02", To: "2020-03", KeepGoing: true})
	if err == nil || len(vs) != 2 || vs[0].Month != "2020-02" || vs[0].Status != lineage.StatusFailed || vs[0].RunID != "" ||
		vs[0].Published || vs[0].Error == "" || vs[1].Status != lineage.StatusSkipped {
		t.Errorf("backfill: %v %+v", err, vs)
	}
	// A job whose delivery is not complete yet: WAITING, nothing ran.
	jobDir := t.TempDir()
	for _, f := range []string{"job.yaml", "header.csv"} {
		b, err := os.ReadFile(filepath.Join("testdata", "crash", f))
		if err != nil {
			t.Fatal(err)
		}
		if f == "job.yaml" {
			b = []byte(strings.Replace(string(b), "  header: header.csv\n", "  header: header.csv\n  complete_when: {parts: 3}\n", 1))
		}
		if err := os.WriteFile(filepath.Join(jobDir, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	job = filepath.Join(jobDir, "job.yaml")
	vs, err = run(RunMonthsOptions{Month: "2020-03", Force: true})
	if err != nil || len(vs) != 1 || vs[0].Status != "WAITING" || !strings.Contains(vs[0].Waiting, "2 of 3 parts") || vs[0].RunID != "" || vs[0].Published {
		t.Errorf("an incomplete delivery: %v %+v", err, vs)
	}
	if err := checkSchema(t, "run_summary", []byte(`{"job":"j","month":"2020-03","status":"DONE","published":true,"duration_seconds":1,"parts":1,"rows_in":1,"rows_out":1,"rows_rejected":0,"tables":[],"stages":[]}`)); err == nil {
		t.Error("the schema accepted status DONE")
	}
}
