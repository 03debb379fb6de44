// Package jobs defines tierflow's job spec: a YAML file naming the intake,
// the column schema, the bucketed output table, reject thresholds and the
// derived tables. Load reads and validates one, reporting every problem at
// once with file and line.
//
// Errors: a sentinel's text starts with its package name; wrapping adds context, never that name again (jobs has none: a bad spec is an Errors).
package jobs

import (
	"fmt"
	"time"
)

// Kind is a column's base type.
type Kind int

// Column kinds, each with its Hive/Glue type name.
const (
	String    Kind = iota // string
	Int                   // int (INT32)
	Bigint                // bigint (INT64)
	Double                // double
	Boolean               // boolean
	Date                  // date (INT32 DATE)
	Timestamp             // timestamp (INT64 TIMESTAMP(MILLIS))
	Decimal               // decimal(p,s)
)

// Type is a column type; Precision and Scale are set for Decimal only.
type Type struct {
	Kind      Kind
	Precision int
	Scale     int
}

// Column is one column of the schema.
type Column struct {
	Name   string // normalised: lowercase, catalog-safe; used in Parquet and the catalog
	Source string // the header name as the vendor writes it
	Type   Type
	// PII is the column's PII class ("" = not PII), e.g. name, address,
	// phone, email, dob, id.
	PII     string
	Comment string
	// Normalize is applied to every value before anything else looks at
	// it (bucket hash, sort key, check, the value written); string
	// columns only.
	Normalize Normalization
	// Check constrains every value, after Normalize; nil: none. String
	// columns only. A value that fails is a rejected row.
	Check *Check
}

// Normalization is a set of value normalisations, applied in the order
// trim, then upper or lower. They act on ASCII only, so a value never
// changes length except by trimming, and normalising costs no allocation.
type Normalization uint8

// Normalisations a column may declare (`normalize: [trim, upper]`).
const (
	NormTrim  Normalization = 1 << iota // leading and trailing ASCII white space (space, \t, \n, \v, \f, \r) removed
	NormUpper                           // ASCII a-z to A-Z
	NormLower                           // ASCII A-Z to a-z
)

// Check constrains a string column's values. Exactly one of Allowed and
// Pattern is set.
type Check struct {
	Allowed []string // the value must be one of these
	// Pattern is an RE2 regular expression the whole value must match
	// (it is anchored: "[A-Z]{2}" does not accept "CAL").
	Pattern string
}

// Schema is the ordered list of columns of the input and of the tier-2 table.
type Schema struct {
	Columns []Column
}

// Source says where a month's parts arrive and what they look like.
type Source struct {
	Intake      string   // key prefix below the lake root; "{month}" is replaced, e.g. intake/consumer/{month}/
	Pattern     string   // glob on the base name, e.g. *.csv.gz
	HeaderFile  string   // path of the vendor's agreed header sample (relative to the spec)
	Header      []string // the sample's header fields, as loaded
	Delimiter   byte     // default ','
	NullMarkers []string // field values read as NULL for non-string columns (default: the empty field)
	// CompleteWhen says when a month's delivery is complete enough to run
	// (`complete_when`); its zero value: as soon as it has a part.
	CompleteWhen CompleteWhen
}

// CompleteWhen is a delivery's completeness condition. At most one field is
// set (the spec's `source.complete_when` names exactly one).
type CompleteWhen struct {
	// Marker is the base name of an object the vendor writes last in the
	// month's folder, e.g. _SUCCESS: the delivery is complete once it exists.
	Marker string
	// Manifest is the base name of the vendor's manifest in the month's
	// folder (JSON, docs/job-spec.md): the delivery is complete once every
	// part it lists is there with its listed size.
	Manifest string
	// Parts is the number of parts a complete delivery has.
	Parts int
	// Quiet: the delivery is complete once no part has arrived for this
	// long.
	Quiet time.Duration
}

// Set reports whether a condition is given.
func (c CompleteWhen) Set() bool {
	return c != CompleteWhen{}
}

// String names the condition as the spec writes it, e.g. "marker _SUCCESS".
func (c CompleteWhen) String() string {
	switch {
	case c.Marker != "":
		return "marker " + c.Marker
	case c.Manifest != "":
		return "manifest " + c.Manifest
	case c.Parts > 0:
		return fmt.Sprintf("parts %d", c.Parts)
	case c.Quiet > 0:
		return "quiet " + c.Quiet.String()
	}
	return "none (the first part)"
}

// Output is the tier-2 table.
type Output struct {
	Table            string
	BucketedBy       []string // normalised column names
	BucketCount      int
	BucketingVersion int // 1 (default, Hive v1) or 2 (Murmur3)
	SortedBy         []string
	RowGroupBytes    int64 // target uncompressed row-group size, default 128 MiB
	EmptyBuckets     bool  // write zero-row files for empty buckets (legacy readers)
	// BloomFilter lists the columns given a split-block bloom filter in
	// every row group (normalised column names, not boolean).
	BloomFilter []string
}

// Rejects are the bad-row thresholds; a part exceeding either fails.
type Rejects struct {
	MaxRows     int64   // default 1000
	MaxFraction float64 // default 0.001
}

// Derived is one tier-3 table built with CTAS.
type Derived struct {
	Table         string
	SQL           string
	Format        string // parquet
	Compression   string // snappy
	PartitionedBy []string
	BucketedBy    []string
	BucketCount   int
	// PII true allows PII columns in the output; false (default) makes the
	// job's PII policy apply to it.
	PII bool
	// Line is where the table is declared in the spec (0: unknown), for
	// problems found later (e.g. its SQL failing to bind).
	Line int
}

// Convert tunes the converter.
type Convert struct {
	Workers     int   // parse workers; 0 = number of CPUs
	MemoryBytes int64 // memory budget per part, default 1 GiB
	Parallelism int   // parts converted at once locally; 0 = number of CPUs
	SpillDir    string
}

// AWS holds the settings used when the job runs against AWS.
type AWS struct {
	Region              string
	KMSKeyID            string
	ExpectedBucketOwner string
	Workgroup           string
	AthenaOutput        string // s3:// location for Athena query results
	LineageTable        string // DynamoDB table
	Cluster             string
	Subnets             []string
	SecurityGroups      []string
	Image               string
	TaskCPU             int // Fargate CPU units, e.g. 4096
	TaskMemoryMiB       int
	MaxConcurrency      int // Map MaxConcurrency over parts
}

// PII actions a policy assigns to a PII class (see PIIPolicy).
const (
	PIIKeep = "keep" // the value is written as is
	PIIDrop = "drop" // the column is removed from the output
	PIIMask = "mask" // strings become a fixed mask, other types NULL
	PIIHMAC = "hmac" // the value becomes a keyed HMAC-SHA256 token (a string)
)

// PIIPolicy is the job's `pii:` section: what happens to each PII class in
// the output of a derived table that is not marked `pii: true`, and where
// the HMAC key comes from.
type PIIPolicy struct {
	// Set is true when the spec has a `pii:` section. Without one, a
	// derived table without `pii: true` may not mention PII columns at all.
	Set bool
	// Actions maps every PII class (PIIClasses) to PIIKeep, PIIDrop,
	// PIIMask or PIIHMAC; a class the spec leaves out is PIIDrop.
	Actions map[string]string
	// KeyFile is the HMAC key file as the spec names it (relative to the
	// spec); KeyPath is it resolved against the spec's directory.
	KeyFile string
	KeyPath string
	// KMSKeyID and EncryptedKey: the HMAC key is EncryptedKey (a KMS
	// ciphertext, base64 in the spec, decoded here) decrypted with KMS
	// Decrypt under KMSKeyID at run time.
	KMSKeyID     string
	EncryptedKey []byte
}

// Spec is a loaded, validated job.
type Spec struct {
	Path     string // the file it was loaded from
	Name     string
	Lake     string // root URI: file://DIR or s3://bucket/prefix
	Source   Source
	Schema   Schema
	Output   Output
	Rejects  Rejects
	Derived  []Derived
	Database string // catalog database
	Schedule string // EventBridge cron expression
	Convert  Convert
	AWS      AWS
	// Timeout bounds one run.
	Timeout time.Duration
	// SchemaFile is the schema file as the spec names it (relative to the
	// spec); "" when the columns are written inline in the spec.
	SchemaFile string
	// PII is the policy applied to derived tables not marked `pii: true`.
	PII PIIPolicy
	// Notify, Monitor and Lifecycle are the operations sections (ops.go).
	Notify    Notify
	Monitor   Monitor
	Lifecycle Lifecycle
	// OpenLineage says where the runs' OpenLineage events go besides the lake.
	OpenLineage OpenLineage
}
