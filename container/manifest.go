package container

import (
	"context"
	"encoding/json"
	"time"

	"github.com/tierflow/tierflow/lake/storage"
)

// FileEntry describes one Parquet file written.
type FileEntry struct {
	Key    string `json:"key"`
	URI    string `json:"uri"`
	Bucket int    `json:"bucket"`
	Rows   int64  `json:"rows"`
	Bytes  int64  `json:"bytes"`
	SHA256 string `json:"sha256"`
}

// Timings are wall-clock figures of one conversion, in seconds.
type Timings struct {
	WallSeconds   float64 `json:"wall_seconds"`
	ParseSeconds  float64 `json:"parse_cpu_seconds"`  // summed over workers
	EncodeSeconds float64 `json:"encode_seconds"`     // sort + encode + write, summed over encoder goroutines
	WaitSeconds   float64 `json:"input_wait_seconds"` // accumulator waiting for parsed chunks
	Pass1Seconds  float64 `json:"pass1_seconds"`      // read, parse, route, spill
	Pass2Seconds  float64 `json:"pass2_seconds"`      // merge, convert, encode, write
}

// Manifest records what a part's conversion read and wrote.
type Manifest struct {
	Part             string `json:"part"`
	InputURI         string `json:"input_uri"`
	InputBytes       int64  `json:"input_bytes"`  // compressed
	InputSHA256      string `json:"input_sha256"` // of the compressed input
	DecompressedByte int64  `json:"decompressed_bytes"`
	SchemaHash       string `json:"schema_hash"`
	BucketCount      int    `json:"bucket_count"`
	BucketingVersion int    `json:"bucketing_version"`
	RowsRead         int64  `json:"rows_read"`
	RowsWritten      int64  `json:"rows_written"`
	RowsRejected     int64  `json:"rows_rejected"`
	// RowsNotProcessed are the rows read that are neither written nor
	// rejected: 0 when the part succeeds; when it fails, nothing is
	// written and every row read and not rejected counts here, so that
	// rows_read = rows_written + rows_rejected + rows_not_processed holds.
	RowsNotProcessed int64       `json:"rows_not_processed"`
	BlankLines       int64       `json:"blank_lines"`
	RowsPerBucket    []int64     `json:"rows_per_bucket"`
	Files            []FileEntry `json:"files"`
	RowGroups        int         `json:"row_groups"`
	RejectsKey       string      `json:"rejects_key"`
	RejectsCount     int64       `json:"rejects_count"`
	Workers          int         `json:"workers"`
	// Builders are the buckets pass 2 converts at once (the memory budget
	// bounds them), each with Workers/Builders encoders.
	Builders        int   `json:"builders"`
	MemoryBudget    int64 `json:"memory_budget_bytes"`
	PeakBufferBytes int64 `json:"peak_buffer_bytes"` // pass 1: bucket buffers
	SpilledRuns     int   `json:"spilled_runs"`
	SpilledBytes    int64 `json:"spilled_bytes"`      // framed records
	SpilledDisk     int64 `json:"spilled_disk_bytes"` // on disk
	SpillCompressed bool  `json:"spill_compressed"`   // S2
	// SpillMerges counts intermediate merges of runs, for buckets that
	// spilled more runs than are merged at once.
	SpillMerges int `json:"spill_merges"`
	// Uncompressed row-group sizes, as the files' footers record them.
	RowGroupBytesMedian int64     `json:"row_group_bytes_median"`
	RowGroupBytesMax    int64     `json:"row_group_bytes_max"`
	Timings             Timings   `json:"timings"`
	MBPerSecond         float64   `json:"decompressed_mb_per_second"`
	RowsPerSecond       float64   `json:"rows_per_second"`
	Started             time.Time `json:"started"`
	Error               string    `json:"error,omitempty"`
}

// ManifestKey and RejectsKey name a part's sidecars under metaPrefix.
func ManifestKey(metaPrefix, part string) string { return joinKey(metaPrefix, part+".manifest.json") }

// RejectsKey names a part's rejects sidecar under metaPrefix.
func RejectsKey(metaPrefix, part string) string { return joinKey(metaPrefix, part+".rejects.csv") }

func writeManifest(ctx context.Context, dst storage.Storage, metaPrefix string, m *Manifest) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	key := ManifestKey(metaPrefix, m.Part)
	w, err := dst.Create(ctx, key, storage.PutOptions{ContentType: "application/json"})
	if err != nil {
		return err
	}
	if _, err := w.Write(append(b, '\n')); err != nil {
		_ = w.Abort()
		return err
	}
	return w.Commit()
}

func joinKey(prefix, name string) string {
	if prefix == "" {
		return name
	}
	if prefix[len(prefix)-1] == '/' {
		return prefix + name
	}
	return prefix + "/" + name
}
