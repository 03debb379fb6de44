package openlineage

import "time"

// The facets tierflow writes, each with the schema it follows: the
// official facet schemas of the spec (spec/facets/*.json, versions as of
// OpenLineage commit 8f02abfb7a25) and tierflow's own two, published in
// docs/schemas/openlineage/. A facet's _schemaURL names its schema's $id
// and the definition inside it.
const (
	specFacets = "https://openlineage.io/spec/facets/"

	SchemaFacetURL             = specFacets + "1-2-0/SchemaDatasetFacet.json#/$defs/SchemaDatasetFacet"
	ColumnLineageFacetURL      = specFacets + "1-2-0/ColumnLineageDatasetFacet.json#/$defs/ColumnLineageDatasetFacet"
	DataQualityMetricsURL      = specFacets + "1-0-3/DataQualityMetricsInputDatasetFacet.json#/$defs/DataQualityMetricsInputDatasetFacet"
	DataQualityAssertionsURL   = specFacets + "1-1-0/DataQualityAssertionsDatasetFacet.json#/$defs/DataQualityAssertionsDatasetFacet"
	InputStatisticsFacetURL    = specFacets + "1-0-0/InputStatisticsInputDatasetFacet.json#/$defs/InputStatisticsInputDatasetFacet"
	OutputStatisticsFacetURL   = specFacets + "1-0-2/OutputStatisticsOutputDatasetFacet.json#/$defs/OutputStatisticsOutputDatasetFacet"
	DatasetVersionFacetURL     = specFacets + "1-0-1/DatasetVersionDatasetFacet.json#/$defs/DatasetVersionDatasetFacet"
	DatasetTypeFacetURL        = specFacets + "1-0-1/DatasetTypeDatasetFacet.json#/$defs/DatasetTypeDatasetFacet"
	NominalTimeFacetURL        = specFacets + "1-0-1/NominalTimeRunFacet.json#/$defs/NominalTimeRunFacet"
	ProcessingEngineFacetURL   = specFacets + "1-1-1/ProcessingEngineRunFacet.json#/$defs/ProcessingEngineRunFacet"
	ErrorMessageFacetURL       = specFacets + "1-0-1/ErrorMessageRunFacet.json#/$defs/ErrorMessageRunFacet"
	ParentRunFacetURL          = specFacets + "1-2-0/ParentRunFacet.json#/$defs/ParentRunFacet"
	JobTypeFacetURL            = specFacets + "2-0-4/JobTypeJobFacet.json#/$defs/JobTypeJobFacet"
	SQLJobFacetURL             = specFacets + "1-1-0/SQLJobFacet.json#/$defs/SQLJobFacet"
	tierflowSchemas            = "https://raw.githubusercontent.com/tierflow/tierflow/main/docs/schemas/openlineage/"
	HiveBucketingFacetURL      = tierflowSchemas + "HiveBucketingDatasetFacet.json#/$defs/HiveBucketingDatasetFacet"
	TierflowRunFacetURL        = tierflowSchemas + "TierflowRunFacet.json#/$defs/TierflowRunFacet"
	HiveBucketingFacetName     = "tierflow_hiveBucketing"
	TierflowRunFacetName       = "tierflow_run"
	programmingLanguageOfError = "GO"
)

// Producer is the URI that names what produced an event and its facets
// (a repository at a version). Its methods build facets stamped with it.
type Producer string

// BaseFacet is what every facet carries: its producer and its schema.
type BaseFacet struct {
	Producer  string `json:"_producer"`
	SchemaURL string `json:"_schemaURL"`
}

func (p Producer) base(schemaURL string) BaseFacet {
	return BaseFacet{Producer: string(p), SchemaURL: schemaURL}
}

// SchemaField is one column of a dataset's schema.
type SchemaField struct {
	Name        string `json:"name"`
	Type        string `json:"type,omitempty"`
	Description string `json:"description,omitempty"`
	// Ordinal is the 1-based position of the column.
	Ordinal int `json:"ordinal_position,omitempty"`
}

// SchemaFacet is the `schema` dataset facet.
type SchemaFacet struct {
	BaseFacet
	Fields []SchemaField `json:"fields"`
}

// Schema is the schema facet of fields; ordinal positions are filled in.
func (p Producer) Schema(fields []SchemaField) SchemaFacet {
	out := make([]SchemaField, len(fields))
	for i, f := range fields {
		f.Ordinal = i + 1
		out[i] = f
	}
	return SchemaFacet{BaseFacet: p.base(SchemaFacetURL), Fields: out}
}

// Transformation types and subtypes of column lineage.
const (
	Direct   = "DIRECT"
	Indirect = "INDIRECT"

	Identity       = "IDENTITY"
	Transformation = "TRANSFORMATION"
	Aggregation    = "AGGREGATION"
	Filter         = "FILTER"
	Join           = "JOIN"
	GroupBy        = "GROUP_BY"
	Sort           = "SORT"
	Window         = "WINDOW"
	Conditional    = "CONDITIONAL"
)

// Transform says how an input field reaches an output field.
type Transform struct {
	Type        string `json:"type"`
	Subtype     string `json:"subtype,omitempty"`
	Description string `json:"description,omitempty"`
	Masking     bool   `json:"masking"`
}

// InputField is one input column an output depends on, and how.
type InputField struct {
	Namespace       string      `json:"namespace"`
	Name            string      `json:"name"`
	Field           string      `json:"field"`
	Transformations []Transform `json:"transformations,omitempty"`
}

// FieldLineage is the input fields of one output column.
type FieldLineage struct {
	InputFields []InputField `json:"inputFields"`
}

// ColumnLineageFacet is the `columnLineage` dataset facet: per output
// column its inputs (DIRECT), and the inputs that affect the whole dataset
// (INDIRECT: filters, joins, grouping, sorting).
type ColumnLineageFacet struct {
	BaseFacet
	Fields  map[string]FieldLineage `json:"fields"`
	Dataset []InputField            `json:"dataset,omitempty"`
}

// ColumnLineage is the columnLineage facet of fields and dataset.
func (p Producer) ColumnLineage(fields map[string]FieldLineage, dataset []InputField) ColumnLineageFacet {
	return ColumnLineageFacet{BaseFacet: p.base(ColumnLineageFacetURL), Fields: fields, Dataset: dataset}
}

// ColumnMetrics are the metrics of one column (none are reported yet:
// the map is empty but present, as the facet requires).
type ColumnMetrics struct {
	NullCount     *int64 `json:"nullCount,omitempty"`
	DistinctCount *int64 `json:"distinctCount,omitempty"`
}

// DataQualityMetricsFacet is the `dataQualityMetrics` input facet: the
// rows, bytes and files a read evaluated.
type DataQualityMetricsFacet struct {
	BaseFacet
	RowCount      int64                    `json:"rowCount"`
	Bytes         int64                    `json:"bytes"`
	FileCount     int64                    `json:"fileCount"`
	ColumnMetrics map[string]ColumnMetrics `json:"columnMetrics"`
}

// DataQualityMetrics is the dataQualityMetrics input facet.
func (p Producer) DataQualityMetrics(rows, bytes, files int64) DataQualityMetricsFacet {
	return DataQualityMetricsFacet{BaseFacet: p.base(DataQualityMetricsURL), RowCount: rows, Bytes: bytes, FileCount: files, ColumnMetrics: map[string]ColumnMetrics{}}
}

// Assertion is one data-quality test and its outcome.
type Assertion struct {
	Assertion   string         `json:"assertion"`
	Success     bool           `json:"success"`
	Column      string         `json:"column,omitempty"`
	Severity    string         `json:"severity,omitempty"`
	Name        string         `json:"name,omitempty"`
	Description string         `json:"description,omitempty"`
	Expected    string         `json:"expected,omitempty"`
	Actual      string         `json:"actual,omitempty"`
	Params      map[string]any `json:"params,omitempty"`
}

// DataQualityAssertionsFacet is the `dataQualityAssertions` input facet.
type DataQualityAssertionsFacet struct {
	BaseFacet
	Assertions []Assertion `json:"assertions"`
}

// DataQualityAssertions is the dataQualityAssertions input facet.
func (p Producer) DataQualityAssertions(as []Assertion) DataQualityAssertionsFacet {
	return DataQualityAssertionsFacet{BaseFacet: p.base(DataQualityAssertionsURL), Assertions: as}
}

// StatisticsFacet is the `inputStatistics` or `outputStatistics` facet.
type StatisticsFacet struct {
	BaseFacet
	RowCount  *int64 `json:"rowCount,omitempty"`
	Size      *int64 `json:"size,omitempty"`
	FileCount int64  `json:"fileCount"`
}

// InputStatistics is the inputStatistics facet; rows or size < 0: not
// known.
func (p Producer) InputStatistics(rows, size, files int64) StatisticsFacet {
	return statistics(p.base(InputStatisticsFacetURL), rows, size, files)
}

// OutputStatistics is the outputStatistics facet; rows or size < 0: not
// known.
func (p Producer) OutputStatistics(rows, size, files int64) StatisticsFacet {
	return statistics(p.base(OutputStatisticsFacetURL), rows, size, files)
}

func statistics(b BaseFacet, rows, size, files int64) StatisticsFacet {
	f := StatisticsFacet{BaseFacet: b, FileCount: files}
	if rows >= 0 {
		f.RowCount = &rows
	}
	if size >= 0 {
		f.Size = &size
	}
	return f
}

// DatasetVersionFacet is the `version` dataset facet.
type DatasetVersionFacet struct {
	BaseFacet
	DatasetVersion string `json:"datasetVersion"`
}

// DatasetVersion is the version facet: tierflow gives the run (or the
// delivery) that wrote this version of the dataset.
func (p Producer) DatasetVersion(v string) DatasetVersionFacet {
	return DatasetVersionFacet{BaseFacet: p.base(DatasetVersionFacetURL), DatasetVersion: v}
}

// DatasetTypeFacet is the `datasetType` dataset facet.
type DatasetTypeFacet struct {
	BaseFacet
	DatasetType string `json:"datasetType"`
	SubType     string `json:"subType,omitempty"`
}

// DatasetType is the datasetType facet (TABLE, FILE, …).
func (p Producer) DatasetType(typ, sub string) DatasetTypeFacet {
	return DatasetTypeFacet{BaseFacet: p.base(DatasetTypeFacetURL), DatasetType: typ, SubType: sub}
}

// NominalTimeFacet is the `nominalTime` run facet.
type NominalTimeFacet struct {
	BaseFacet
	Start time.Time `json:"nominalStartTime"`
	End   time.Time `json:"nominalEndTime"`
}

// NominalTime is the nominalTime facet: the period the run processes
// (for tierflow, the data month: its first instant to the next month's).
func (p Producer) NominalTime(start, end time.Time) NominalTimeFacet {
	return NominalTimeFacet{BaseFacet: p.base(NominalTimeFacetURL), Start: start.UTC(), End: end.UTC()}
}

// ProcessingEngineFacet is the `processing_engine` run facet.
type ProcessingEngineFacet struct {
	BaseFacet
	Name           string `json:"name"`
	Version        string `json:"version"`
	AdapterVersion string `json:"openlineageAdapterVersion"`
}

// ProcessingEngine is the processing_engine facet; tierflow emits its
// events itself, so the adapter's version is the engine's.
func (p Producer) ProcessingEngine(name, version string) ProcessingEngineFacet {
	return ProcessingEngineFacet{BaseFacet: p.base(ProcessingEngineFacetURL), Name: name, Version: version, AdapterVersion: version}
}

// ErrorMessageFacet is the `errorMessage` run facet.
type ErrorMessageFacet struct {
	BaseFacet
	Message  string `json:"message"`
	Language string `json:"programmingLanguage"`
}

// ErrorMessage is the errorMessage facet of a failed or aborted run.
func (p Producer) ErrorMessage(msg string) ErrorMessageFacet {
	return ErrorMessageFacet{BaseFacet: p.base(ErrorMessageFacetURL), Message: msg, Language: programmingLanguageOfError}
}

// RunRef and JobRef name a run and a job inside another facet.
type (
	RunRef struct {
		RunID string `json:"runId"`
	}
	JobRef struct {
		Namespace string `json:"namespace"`
		Name      string `json:"name"`
	}
)

// ParentRunFacet is the `parent` run facet.
type ParentRunFacet struct {
	BaseFacet
	Run RunRef `json:"run"`
	Job JobRef `json:"job"`
}

// Parent is the parent facet naming the run this run is part of.
func (p Producer) Parent(runID, namespace, job string) ParentRunFacet {
	return ParentRunFacet{BaseFacet: p.base(ParentRunFacetURL), Run: RunRef{RunID: runID}, Job: JobRef{Namespace: namespace, Name: job}}
}

// JobTypeFacet is the `jobType` job facet.
type JobTypeFacet struct {
	BaseFacet
	ProcessingType string `json:"processingType"`
	Integration    string `json:"integration"`
	JobType        string `json:"jobType"`
}

// JobType is the jobType facet of a batch job of integration.
func (p Producer) JobType(integration, jobType string) JobTypeFacet {
	return JobTypeFacet{BaseFacet: p.base(JobTypeFacetURL), ProcessingType: "BATCH", Integration: integration, JobType: jobType}
}

// SQLFacet is the `sql` job facet.
type SQLFacet struct {
	BaseFacet
	Query   string `json:"query"`
	Dialect string `json:"dialect,omitempty"`
}

// SQL is the sql facet of a job that runs query.
func (p Producer) SQL(query, dialect string) SQLFacet {
	return SQLFacet{BaseFacet: p.base(SQLJobFacetURL), Query: query, Dialect: dialect}
}

// HiveBucketingFacet is tierflow's `tierflow_hiveBucketing` dataset
// facet: how a table's files are bucketed, as Hive, Trino and Athena
// read it (docs/schemas/openlineage/HiveBucketingDatasetFacet.json).
type HiveBucketingFacet struct {
	BaseFacet
	BucketedBy  []string `json:"bucketedBy"`
	BucketCount int      `json:"bucketCount"`
	// BucketingVersion is Hive's bucketing_version: 1 (Hive's own hash)
	// or 2 (Murmur3).
	BucketingVersion int      `json:"bucketingVersion"`
	SortedBy         []string `json:"sortedBy,omitempty"`
	// FileNamePattern is how a file names its bucket.
	FileNamePattern string `json:"fileNamePattern"`
}

// HiveBucketing is the tierflow_hiveBucketing facet.
func (p Producer) HiveBucketing(by []string, count, version int, sortedBy []string, pattern string) HiveBucketingFacet {
	return HiveBucketingFacet{BaseFacet: p.base(HiveBucketingFacetURL), BucketedBy: by, BucketCount: count,
		BucketingVersion: version, SortedBy: sortedBy, FileNamePattern: pattern}
}

// RunCost is a run's cost ledger, as tierflow records it.
type RunCost struct {
	USD                float64 `json:"usd"`
	VCPUSeconds        float64 `json:"vcpuSeconds"`
	GBSeconds          float64 `json:"gbSeconds"`
	AthenaBytesScanned int64   `json:"athenaBytesScanned"`
	S3Requests         int64   `json:"s3Requests"`
}

// TierflowRunFacet is tierflow's `tierflow_run` run facet: the run as
// tierflow names and counts it (docs/schemas/openlineage/TierflowRunFacet.json).
type TierflowRunFacet struct {
	BaseFacet
	RunID        string   `json:"runId"`
	Job          string   `json:"job"`
	Month        string   `json:"month"`
	Fingerprint  string   `json:"fingerprint,omitempty"`
	CodeVersion  string   `json:"codeVersion,omitempty"`
	Execution    string   `json:"execution,omitempty"`
	PreviousRun  string   `json:"previousRun,omitempty"`
	Published    bool     `json:"published"`
	RowsIn       int64    `json:"rowsIn"`
	RowsOut      int64    `json:"rowsOut"`
	RowsRejected int64    `json:"rowsRejected"`
	Cost         *RunCost `json:"cost,omitempty"`
}

// TierflowRun is the tierflow_run facet; the caller fills in the rest.
func (p Producer) TierflowRun(runID, job, month string) TierflowRunFacet {
	return TierflowRunFacet{BaseFacet: p.base(TierflowRunFacetURL), RunID: runID, Job: job, Month: month}
}
