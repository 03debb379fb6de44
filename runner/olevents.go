package runner

// OpenLineage events of a run (docs/openlineage.md). The run is job
// <spec name>: START once the plan step has recorded it, then COMPLETE,
// FAIL or ABORT when it finishes (locally in one process; on AWS from the
// plan task, then the publish or finish task). Its input is the month's
// intake folder, with each part's data-quality checks; its outputs the
// tier-1 delivery, the tier-2 table and each part's rejects file. Each derived
// table's CTAS is a run of its own, job <spec name>.<table>, whose parent
// is the month's run: its inputs are the tables its SELECT reads, its
// output the derived table, with column lineage read off the SELECT.

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/tierflow/tierflow/container"
	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/lake/catalog"
	"github.com/tierflow/tierflow/lake/engine"
	"github.com/tierflow/tierflow/lake/lineage"
	"github.com/tierflow/tierflow/lake/storage"
	ol "github.com/tierflow/tierflow/runner/openlineage"
	"github.com/tierflow/tierflow/runner/pii"
)

// olIntegration names tierflow in jobType facets.
const olIntegration = "TIERFLOW"

// olProducer is the producer URI of every event and facet: the source at
// this release.
func olProducer() ol.Producer {
	return ol.Producer("https://github.com/tierflow/tierflow/tree/v" + Version)
}

// newOpenLineage returns the emitter of a lake: files under
// _tierflow/openlineage/ in st, and the HTTP endpoint the spec or the
// OPENLINEAGE_* environment (getenv) names. A configuration it cannot use
// is logged and leaves the files.
func newOpenLineage(ctx context.Context, spec *jobs.Spec, st storage.Storage, log zerolog.Logger, getenv func(string) string) *ol.Emitter {
	base := ol.Config{URL: spec.OpenLineage.URL, Endpoint: spec.OpenLineage.Endpoint, Namespace: spec.OpenLineage.Namespace}
	cfg, err := base.WithEnv(getenv)
	var em *ol.Emitter
	if err == nil {
		em, err = ol.NewEmitter(ctx, cfg, st, log)
	}
	if err != nil {
		log.Warn().Err(err).Msg("OpenLineage endpoint not used: events go to the lake only")
		base.URL = ""
		cfg, _ = base.WithEnv(func(string) string { return "" })
		em, _ = ol.NewEmitter(ctx, cfg, st, log)
	}
	return em
}

// olRunID is the OpenLineage run id of tierflow run r (and of its derived
// table's run, when table is set).
func olRunID(r lineage.Run, table string) string {
	name := r.Job + "/" + r.ID
	if table != "" {
		name += "/" + table
	}
	return ol.RunID(name, r.Started)
}

// olRunFacets are the facets of every run event of r: the data month, the
// engine, tierflow's own record and the error of a failed run.
func olRunFacets(p ol.Producer, r lineage.Run, errMsg string) ol.Facets {
	f := ol.Facets{"processing_engine": p.ProcessingEngine("tierflow", Version)}
	if m, err := jobs.ParseMonth(r.Month); err == nil {
		f["nominalTime"] = p.NominalTime(m, m.AddDate(0, 1, 0))
	}
	if errMsg != "" {
		f["errorMessage"] = p.ErrorMessage(errMsg)
	}
	return f
}

// olTierflowRun is the tierflow_run facet of r.
func olTierflowRun(p ol.Producer, r lineage.Run, previous string, final bool) ol.TierflowRunFacet {
	tr := p.TierflowRun(r.ID, r.Job, r.Month)
	tr.Fingerprint, tr.CodeVersion, tr.PreviousRun, tr.Published = r.Fingerprint, r.CodeVersion, previous, r.Published
	if r.Parent != r.ID {
		tr.Execution = r.Parent
	}
	tr.RowsIn, tr.RowsOut, tr.RowsRejected = r.RowsIn, r.RowsOut, r.RowsRejected
	if final {
		c := r.Cost
		tr.Cost = &ol.RunCost{USD: c.USD, VCPUSeconds: c.VCPUSeconds, GBSeconds: c.GBSeconds, AthenaBytesScanned: c.AthenaScanned, S3Requests: c.S3Requests}
	}
	return tr
}

// olEmitRun emits the month's run event typ for j's run r.
func (j *job) olEmitRun(ctx context.Context, typ ol.EventType, r lineage.Run, runErr error) {
	em := j.env.OpenLineage
	if !em.Enabled() {
		return
	}
	p := olProducer()
	t := r.Started
	final := typ != ol.Start
	msg := ""
	if final {
		t = r.Ended
		if runErr != nil {
			msg = runErr.Error()
		}
	}
	run := ol.Run{RunID: olRunID(r, ""), Facets: olRunFacets(p, r, msg)}
	run.Facets[ol.TierflowRunFacetName] = olTierflowRun(p, r, j.ex.Previous, final)
	job := ol.Job{Namespace: em.Namespace(), Name: j.spec.Name, Facets: ol.Facets{"jobType": p.JobType(olIntegration, "JOB")}}
	ev := ol.NewRunEvent(typ, t, string(p), run, job)
	var manifests map[string]*container.Manifest
	if final {
		manifests = j.olManifests(ctx)
	}
	ev.Inputs = j.olInputs(p, manifests)
	ev.Outputs = j.olOutputs(p, typ, r, manifests)
	em.Emit(ctx, ev)
}

// olEmitStart emits START for the run PlanStep has just recorded.
func olEmitStart(ctx context.Context, env *Env, spec *jobs.Spec, ex *Exec, r lineage.Run) {
	j := &job{env: env, spec: spec, ex: ex, plan: ex.Plan, run: &r, layout: jobs.Layout{Spec: spec}, res: &Result{}}
	j.olEmitRun(ctx, ol.Start, r, nil)
}

// olEventType is the terminal event of a run that ended with err.
func olEventType(committed bool, err error) ol.EventType {
	switch {
	case committed:
		return ol.Complete
	case errors.Is(err, context.Canceled):
		return ol.Abort
	}
	return ol.Fail
}

// olEmitAbandoned emits ABORT for run r, found dead (its process stopped
// without finishing it) and recorded as failed with why.
func olEmitAbandoned(ctx context.Context, env *Env, r lineage.Run, why string) {
	olEmitRecord(ctx, env, ol.Abort, r, why)
}

// olEmitRepaired emits COMPLETE for a committed run whose own process
// stopped before it recorded the end; the datasets are those of its START.
func olEmitRepaired(ctx context.Context, env *Env, r lineage.Run) {
	olEmitRecord(ctx, env, ol.Complete, r, "")
}

// olEmitRecord emits the end typ of a run known only by its record (no
// datasets: a consumer has them from the run's START).
func olEmitRecord(ctx context.Context, env *Env, typ ol.EventType, r lineage.Run, errMsg string) {
	em := env.OpenLineage
	if !em.Enabled() {
		return
	}
	p := olProducer()
	run := ol.Run{RunID: olRunID(r, ""), Facets: olRunFacets(p, r, errMsg)}
	run.Facets[ol.TierflowRunFacetName] = olTierflowRun(p, r, "", typ == ol.Complete)
	job := ol.Job{Namespace: em.Namespace(), Name: r.Job, Facets: ol.Facets{"jobType": p.JobType(olIntegration, "JOB")}}
	em.Emit(ctx, ol.NewRunEvent(typ, r.Ended, string(p), run, job))
}

// olManifests are the parts' manifests: the staged ones, or, for a run
// that failed before stage, whatever the converter wrote (a part that
// failed writes its manifest too).
func (j *job) olManifests(ctx context.Context) map[string]*container.Manifest {
	out := map[string]*container.Manifest{}
	for _, m := range j.res.Manifests {
		out[m.Part] = m
	}
	if len(out) > 0 || j.run == nil || j.plan == nil {
		return out
	}
	for _, p := range j.plan.Parts {
		var m container.Manifest
		if err := getJSON(context.WithoutCancel(ctx), j.env.Storage, container.ManifestKey(j.metaPrefix(), p.Name), &m); err == nil {
			out[p.Name] = &m
		}
	}
	return out
}

// olDataset names the object or directory at uri; "" when it has no
// OpenLineage name (never, for file:// and s3:// lakes).
func olDataset(uri string, facets ol.Facets) (ol.Dataset, bool) {
	d, err := ol.DatasetAt(uri)
	if err != nil {
		return d, false
	}
	d.Facets = facets
	return d, true
}

// olInputs is the month's intake folder, as the converter reads it: one
// dataset (as Spark names file inputs by directory) whatever the number
// of parts, with the columns as the vendor names them and, once the parts
// were converted, what was read and each part's data-quality checks.
func (j *job) olInputs(p ol.Producer, manifests map[string]*container.Manifest) []ol.InputDataset {
	fields := make([]ol.SchemaField, len(j.spec.Schema.Columns))
	for i, c := range j.spec.Schema.Columns {
		fields[i] = ol.SchemaField{Name: c.Source, Type: c.Type.String()}
	}
	d, ok := j.olIntake(ol.Facets{"schema": p.Schema(fields)})
	if !ok {
		return []ol.InputDataset{}
	}
	in := ol.InputDataset{Dataset: d}
	var rows, bytes, files int64
	var checks []ol.Assertion
	for _, part := range j.plan.Parts {
		m := manifests[part.Name]
		if m == nil {
			continue
		}
		rows, bytes, files = rows+m.RowsRead, bytes+m.InputBytes, files+1
		checks = append(checks, j.olAssertions(m, j.env.Storage.ObjectURI(part.Key))...)
	}
	if files > 0 {
		in.InputFacets = ol.Facets{
			"inputStatistics":       p.InputStatistics(rows, bytes, files),
			"dataQualityMetrics":    p.DataQualityMetrics(rows, bytes, files),
			"dataQualityAssertions": p.DataQualityAssertions(checks),
		}
	}
	return []ol.InputDataset{in}
}

// olIntake is the month's intake folder as a dataset.
func (j *job) olIntake(facets ol.Facets) (ol.Dataset, bool) {
	return olDataset(DirURI(j.env.Storage, j.spec.IntakePrefix(j.plan.Month)), facets)
}

// olAssertions are the checks the converter made of one part (object):
// every row accounted for, and the job's reject thresholds.
func (j *job) olAssertions(m *container.Manifest, object string) []ol.Assertion {
	frac := 0.0
	if m.RowsRead > 0 {
		frac = float64(m.RowsRejected) / float64(m.RowsRead)
	}
	params := map[string]any{"part": m.Part, "object": object}
	if m.RowsRejected > 0 {
		params["rejects"] = j.env.Storage.ObjectURI(m.RejectsKey)
	}
	checks := []ol.Assertion{
		{
			Assertion: "rows_accounted", Success: m.RowsNotProcessed == 0 && m.RowsRead == m.RowsWritten+m.RowsRejected,
			Description: "every row read was written or rejected",
			Expected:    "rows read = rows written + rows rejected",
			Actual:      fmt.Sprintf("%d = %d + %d (%d not processed)", m.RowsRead, m.RowsWritten, m.RowsRejected, m.RowsNotProcessed),
		},
		{
			Assertion: "max_rejected_rows", Success: m.RowsRejected <= j.spec.Rejects.MaxRows,
			Description: "rows rejected (bad field count, quoting or UTF-8, a value that does not parse or fails its check), each in the part's rejects file",
			Expected:    fmt.Sprintf("<= %d", j.spec.Rejects.MaxRows), Actual: fmt.Sprint(m.RowsRejected),
		},
		{
			Assertion: "max_rejected_fraction", Success: frac <= j.spec.Rejects.MaxFraction,
			Description: "rows rejected as a fraction of the rows read",
			Expected:    fmt.Sprintf("<= %g", j.spec.Rejects.MaxFraction), Actual: fmt.Sprintf("%.6g", frac),
		},
	}
	for i := range checks {
		checks[i].Name, checks[i].Severity, checks[i].Params = m.Part+": "+checks[i].Assertion, "error", params
	}
	return checks
}

// olOutputs are what the run wrote: the tier-1 delivery, the tier-2 table
// (not for FAIL and ABORT, whose data was removed) and each part's
// rejects file (kept, failed runs included).
func (j *job) olOutputs(p ol.Producer, typ ol.EventType, r lineage.Run, manifests map[string]*container.Manifest) []ol.OutputDataset {
	st := j.env.Storage
	out := []ol.OutputDataset{}
	if d, ok := olDataset(DirURI(st, j.layout.Tier1Prefix(j.plan.Month, j.plan.Delivery)), ol.Facets{"version": p.DatasetVersion(j.plan.Delivery)}); ok {
		o := ol.OutputDataset{Dataset: d}
		var size, files int64
		for _, m := range manifests {
			size += m.InputBytes
			files++
		}
		if files > 0 {
			o.OutputFacets = ol.Facets{"outputStatistics": p.OutputStatistics(-1, size, files)}
		}
		out = append(out, o)
	}
	if typ == ol.Start || typ == ol.Complete {
		if o, ok := j.olTier2(p, typ, r, manifests); ok {
			out = append(out, o)
		}
	}
	rejectFields := p.Schema([]ol.SchemaField{
		{Name: "part", Type: "string"}, {Name: "line", Type: "bigint"}, {Name: "offset", Type: "bigint"},
		{Name: "column", Type: "string"}, {Name: "reason", Type: "string"},
		{Name: "raw", Type: "string", Description: "the raw line, PII fields redacted"},
	})
	for _, part := range j.plan.Parts {
		m := manifests[part.Name]
		if m == nil || m.RowsRejected == 0 || m.RejectsKey == "" {
			continue
		}
		if d, ok := olDataset(st.ObjectURI(m.RejectsKey), ol.Facets{"schema": rejectFields, "datasetType": p.DatasetType("FILE", "REJECTS")}); ok {
			out = append(out, ol.OutputDataset{Dataset: d, OutputFacets: ol.Facets{"outputStatistics": p.OutputStatistics(m.RowsRejected, -1, 1)}})
		}
	}
	return out
}

// olTier2 is the tier-2 table: named by its location, with its schema,
// bucketing and column lineage from the intake parts' fields; on COMPLETE
// the version this run published and what it wrote.
func (j *job) olTier2(p ol.Producer, typ ol.EventType, r lineage.Run, manifests map[string]*container.Manifest) (ol.OutputDataset, bool) {
	spec, st := j.spec, j.env.Storage
	t := Tier2Table(st, spec)
	f := ol.Facets{
		"schema":        p.Schema(olFields(t.StorageDescriptor.Columns)),
		"datasetType":   p.DatasetType("TABLE", "EXTERNAL"),
		"columnLineage": j.olTier2Lineage(p),
	}
	if o := spec.Output; o.BucketCount > 0 && len(o.BucketedBy) > 0 {
		v := o.BucketingVersion
		if v == 0 {
			v = 1
		}
		f[ol.HiveBucketingFacetName] = p.HiveBucketing(o.BucketedBy, o.BucketCount, v, o.SortedBy, "BBBBBB_0_<part>.snappy.parquet")
	}
	if typ == ol.Complete {
		f["version"] = p.DatasetVersion(r.ID)
	}
	d, ok := olDataset(DirURI(st, jobs.TableRoot(2, spec.Output.Table)), f)
	if !ok {
		return ol.OutputDataset{}, false
	}
	o := ol.OutputDataset{Dataset: d}
	if typ == ol.Complete {
		var size, files int64
		for _, m := range manifests {
			for _, fe := range m.Files {
				size += fe.Bytes
				files++
			}
		}
		o.OutputFacets = ol.Facets{"outputStatistics": p.OutputStatistics(r.RowsOut, size, files)}
	}
	return o, true
}

// olFields is a catalog schema as schema facet fields.
func olFields(cols []catalog.Column) []ol.SchemaField {
	out := make([]ol.SchemaField, len(cols))
	for i, c := range cols {
		out[i] = ol.SchemaField{Name: c.Name, Type: c.Type, Description: c.Comment}
	}
	return out
}

// olTier2Lineage maps each tier-2 column to its field in every intake
// part: IDENTITY for a string column taken as is, TRANSFORMATION for one
// parsed into a type or normalised. A value that does not parse or fails
// its check rejects its row (INDIRECT FILTER); sorted_by columns order
// each file (INDIRECT SORT).
func (j *job) olTier2Lineage(p ol.Producer) ol.ColumnLineageFacet {
	in, ok := j.olIntake(nil)
	if !ok {
		return p.ColumnLineage(map[string]ol.FieldLineage{}, nil)
	}
	field := func(c jobs.Column, t ol.Transform) ol.InputField {
		return ol.InputField{Namespace: in.Namespace, Name: in.Name, Field: c.Source, Transformations: []ol.Transform{t}}
	}
	fields := map[string]ol.FieldLineage{}
	var dataset []ol.InputField
	for _, c := range j.spec.Schema.Columns {
		sub, how := ol.Identity, olNormalisation(c.Normalize)
		if c.Type.Kind != jobs.String {
			sub, how = ol.Transformation, strings.TrimPrefix(how+", parsed as "+c.Type.String(), ", ")
		} else if how != "" {
			sub = ol.Transformation
		}
		fields[c.Name] = ol.FieldLineage{InputFields: []ol.InputField{field(c, ol.Transform{Type: ol.Direct, Subtype: sub, Description: how})}}
		if c.Type.Kind != jobs.String || c.Check != nil {
			dataset = append(dataset, field(c, ol.Transform{Type: ol.Indirect, Subtype: ol.Filter, Description: "a value that does not parse or fails its check rejects the row"}))
		}
	}
	for _, s := range j.spec.Output.SortedBy {
		if c, _, ok := j.spec.Schema.Column(s); ok {
			dataset = append(dataset, field(c, ol.Transform{Type: ol.Indirect, Subtype: ol.Sort}))
		}
	}
	return p.ColumnLineage(fields, dataset)
}

// olNormalisation names a column's normalisations, e.g. "trim, upper".
func olNormalisation(n jobs.Normalization) string {
	var out []string
	for _, x := range []struct {
		bit  jobs.Normalization
		name string
	}{{jobs.NormTrim, "trim"}, {jobs.NormUpper, "upper"}, {jobs.NormLower, "lower"}} {
		if n&x.bit != 0 {
			out = append(out, x.name)
		}
	}
	return strings.Join(out, ", ")
}

// olEmitDerived emits the run of derived table d: START at started, then
// COMPLETE (res is the staged result; pre the CTAS's columns before the
// PII policy) or FAIL (err).
func (j *job) olEmitDerived(ctx context.Context, d jobs.Derived, started time.Time, pre []catalog.Column, res *engine.Result, err error) {
	em := j.env.OpenLineage
	if !em.Enabled() {
		return
	}
	p, st, r := olProducer(), j.env.Storage, *j.run
	parent := p.Parent(olRunID(r, ""), em.Namespace(), j.spec.Name)
	job := ol.Job{Namespace: em.Namespace(), Name: j.spec.Name + "." + d.Table, Facets: ol.Facets{
		"jobType": p.JobType(olIntegration, "QUERY"),
		"sql":     p.SQL(d.SQL, "trino"),
	}}
	runFacets := func(msg string) ol.Run {
		f := olRunFacets(p, r, msg)
		f["parent"] = parent
		return ol.Run{RunID: olRunID(r, d.Table), Facets: f}
	}
	// Its inputs: the run's staged tables its SELECT names.
	var sources []ol.SourceTable
	inputs := []ol.InputDataset{}
	for _, s := range j.staged {
		if s.table.Name == d.Table || !mentions(d.SQL, s.table.Name) {
			continue
		}
		ds, ok := olDataset(DirURI(st, jobs.TableRoot(tierOf(s.prefix), s.table.Name)), ol.Facets{"schema": p.Schema(olFields(s.table.StorageDescriptor.Columns))})
		if !ok {
			continue
		}
		inputs = append(inputs, ol.InputDataset{Dataset: ds})
		var cols []string
		for _, c := range s.table.StorageDescriptor.Columns {
			cols = append(cols, c.Name)
		}
		sources = append(sources, ol.SourceTable{Name: s.table.Name, Dataset: ol.Dataset{Namespace: ds.Namespace, Name: ds.Name}, Columns: cols})
	}
	start := ol.NewRunEvent(ol.Start, started, string(p), runFacets(""), job)
	start.Inputs = inputs
	em.Emit(ctx, start)
	if err != nil {
		end := ol.NewRunEvent(ol.Fail, time.Now(), string(p), runFacets(err.Error()), job)
		end.Inputs = inputs
		em.Emit(ctx, end)
		return
	}
	f := ol.Facets{
		"schema":      p.Schema(olFields(res.Columns)),
		"datasetType": p.DatasetType("TABLE", "EXTERNAL"),
		"version":     p.DatasetVersion(r.ID),
	}
	if lin, err := j.olDerivedLineage(p, d, sources, pre, res.Columns); err == nil {
		f["columnLineage"] = lin
	} else {
		j.log.Debug().Err(err).Str("table", d.Table).Msg("no column lineage for this derived table")
	}
	end := ol.NewRunEvent(ol.Complete, time.Now(), string(p), runFacets(""), job)
	end.Inputs = inputs
	if ds, ok := olDataset(DirURI(st, jobs.TableRoot(3, d.Table)), f); ok {
		end.Outputs = []ol.OutputDataset{{Dataset: ds, OutputFacets: ol.Facets{"outputStatistics": p.OutputStatistics(res.Rows, res.Bytes, int64(len(res.Files)))}}}
	}
	em.Emit(ctx, end)
}

// olDerivedLineage is d's column lineage: the SELECT's, then the PII
// policy's: dropped columns gone, masked and hashed ones marked masking.
func (j *job) olDerivedLineage(p ol.Producer, d jobs.Derived, sources []ol.SourceTable, pre, post []catalog.Column) (ol.ColumnLineageFacet, error) {
	names := make([]string, len(pre))
	for i, c := range pre {
		names[i] = c.Name
	}
	fields, dataset, err := ol.ColumnLineage(d.SQL, sources, names)
	if err != nil {
		return ol.ColumnLineageFacet{}, err
	}
	if !d.PII && j.spec.PII.Set {
		for col, rule := range pii.Rules(j.spec.PII, j.spec.Schema, names) {
			if rule == pii.Mask || rule == pii.HMAC {
				ol.MarkMasked(fields, col, "PII policy: "+string(rule))
			}
		}
	}
	kept := map[string]ol.FieldLineage{}
	for _, c := range post {
		if fl, ok := fields[c.Name]; ok {
			kept[c.Name] = fl
		}
	}
	return p.ColumnLineage(kept, dataset), nil
}
