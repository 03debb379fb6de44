// Package container is tierflow's converter: it streams one gzip CSV part
// into Hive-bucketed Snappy Parquet files (one per bucket), a rejects
// sidecar and a manifest, in two passes (docs/converter.md).
//
// Pass 1: prefetching reader (hash + count) → pgzip → quote-aware chunker
// → N route workers (bucket and sort key per record, rejects) → an
// accumulator that takes chunks in input order and copies raw records
// into per-bucket blocks, spilling sorted runs under the memory budget.
//
// Pass 2, per bucket on several builders: merge the runs by (sort key,
// line) → split and convert into typed columns → row groups of the target
// size → Parquet encoders → storage.
package container

import (
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"runtime/debug"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/klauspost/pgzip"
	"github.com/rs/zerolog"

	"github.com/tierflow/tierflow/container/csvparse"
	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/lake/storage"
)

// Options configures one part's conversion.
type Options struct {
	Spec   *jobs.Spec // schema, Source.Header, Source.NullMarkers, Output, Rejects, Convert
	Part   string     // part name used in output file names, e.g. "part-0001" ([A-Za-z0-9._-]+)
	Logger zerolog.Logger
	// Progress, when set, is called periodically (from pipeline
	// goroutines, never at once) with the part's progress in bytes of the
	// compressed input: reading it (pass 1) moves done to 30 % of total,
	// converting the rows (pass 2) the rest, about as the time goes.
	// total is -1 when the input size is unknown (then done is the
	// compressed bytes read, in pass 1 only).
	Progress func(done, total int64)
	// CreatedBy is the Parquet files' created_by, parquet-mr style
	// (pqwrite.CreatedBy); empty: pqwrite.DefaultCreatedBy.
	CreatedBy string

	chunkSize int  // decompressed bytes per parse chunk; 0 = 4 MiB (tests use tiny chunks)
	slowPaths bool // tests: parse every record with csvparse in both passes (the fast paths' oracle)
	compress  int  // tests: 1 compresses spilled runs, -1 does not, 0 decides by the part's size
	fanIn     int  // tests: runs merged at once (0: maxFanIn)
}

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
	Part             string      `json:"part"`
	InputURI         string      `json:"input_uri"`
	InputBytes       int64       `json:"input_bytes"`  // compressed
	InputSHA256      string      `json:"input_sha256"` // of the compressed input
	DecompressedByte int64       `json:"decompressed_bytes"`
	SchemaHash       string      `json:"schema_hash"`
	BucketCount      int         `json:"bucket_count"`
	BucketingVersion int         `json:"bucketing_version"`
	RowsRead         int64       `json:"rows_read"`
	RowsWritten      int64       `json:"rows_written"`
	RowsRejected     int64       `json:"rows_rejected"`
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

// Convert streams the gzip CSV object srcKey of src into Hive-bucketed
// Snappy Parquet files written to dst under dataPrefix (file names
// BBBBBB_0_<Part>.snappy.parquet) and writes the rejects sidecar and the
// manifest under metaPrefix (<Part>.rejects.csv, <Part>.manifest.json).
// On error nothing it wrote remains under dataPrefix; the manifest records
// the failure.
func Convert(ctx context.Context, opts Options, src storage.Storage, srcKey string, dst storage.Storage, dataPrefix, metaPrefix string) (*Manifest, error) {
	start := time.Now()
	m := &Manifest{Part: opts.Part, InputURI: src.ObjectURI(srcKey), Started: start.UTC(), RejectsKey: RejectsKey(metaPrefix, opts.Part)}
	p, err := newPlan(opts)
	if err != nil {
		err = fmt.Errorf("part %s: %w", opts.Part, err)
		m.Error = err.Error()
		_ = writeManifest(ctx, dst, metaPrefix, m)
		return m, err
	}
	m.SchemaHash = p.spec.Schema.Hash()
	m.BucketCount = p.bucketCount
	m.BucketingVersion = p.version
	m.Workers = p.workers
	m.Builders = p.builders
	if p.builders < p.workers {
		opts.Logger.Info().Str("part", opts.Part).Int("workers", p.workers).Int("builders", p.builders).
			Int64("memory_mb", p.memory>>20).Int64("row_group_mb", p.rowGroup>>20).
			Msg("the memory budget lets fewer buckets convert at once than there are workers; the others encode (raise convert.memory_mb to use them for parsing too)")
	}
	m.MemoryBudget = p.memory
	m.RowsPerBucket = make([]int64, p.bucketCount)

	// The budget is a promise about the process's memory: tell the garbage
	// collector, so freed buffers are reused before the heap grows past it
	// (with GOGC alone it could reach twice the live data). A lower limit
	// already set is kept; below 64 MiB (tests' tiny budgets) the runtime
	// would collect without pause.
	if limit := p.memory * 85 / 100; p.memory >= 64<<20 && limit < debug.SetMemoryLimit(-1) {
		defer debug.SetMemoryLimit(debug.SetMemoryLimit(limit))
	}
	runErr := run(ctx, opts, p, src, srcKey, dst, dataPrefix, metaPrefix, m)
	m.Timings.WallSeconds = time.Since(start).Seconds()
	if m.Timings.WallSeconds > 0 {
		m.MBPerSecond = float64(m.DecompressedByte) / 1e6 / m.Timings.WallSeconds
		m.RowsPerSecond = float64(m.RowsRead) / m.Timings.WallSeconds
	}
	if runErr != nil {
		runErr = fmt.Errorf("part %s: %w", opts.Part, runErr)
		m.Error = runErr.Error()
	}
	if err := writeManifest(ctx, dst, metaPrefix, m); err != nil && runErr == nil {
		runErr = fmt.Errorf("part %s: manifest: %w", opts.Part, err)
		m.Error = runErr.Error()
	}
	ev := opts.Logger.Info()
	if runErr != nil {
		ev = opts.Logger.Error().Str("error", m.Error)
	}
	ev.Str("part", m.Part).Str("input", m.InputURI).Int64("input_bytes", m.InputBytes).
		Int64("rows_read", m.RowsRead).Int64("rows_written", m.RowsWritten).Int64("rows_rejected", m.RowsRejected).
		Int("files", len(m.Files)).Int("row_groups", m.RowGroups).Int("workers", m.Workers).Int("builders", m.Builders).
		Float64("wall_s", m.Timings.WallSeconds).Float64("pass1_s", m.Timings.Pass1Seconds).Float64("pass2_s", m.Timings.Pass2Seconds).
		Float64("mb_per_s", m.MBPerSecond).Int64("peak_buffer_bytes", m.PeakBufferBytes).
		Int("spilled_runs", m.SpilledRuns).Int64("spilled_bytes", m.SpilledBytes).Int64("spilled_disk_bytes", m.SpilledDisk).
		Msg("part converted")
	return m, runErr
}

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

// compressSpillAbove is the compressed part size above which spilled runs
// are compressed: a part of 512 MiB spills ≈ 3.5 GB, more than a page
// cache can be counted on to absorb.
const compressSpillAbove = 512 << 20

// pass1Share is the part of the progress given to pass 1, in percent: it
// takes about 30 % of a part's time.
const pass1Share = 30

// job is one chunk on its way to a worker, with the slot its batch goes to.
type job struct {
	ch  *csvparse.Chunk
	out chan *batch
}

func run(ctx context.Context, opts Options, p *plan, src storage.Storage, srcKey string, dst storage.Storage, dataPrefix, metaPrefix string, m *Manifest) (err error) {
	// The sidecar outlives the pipeline: it is committed after the
	// pipeline's context is cancelled, so it uses the caller's.
	parent := ctx
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	total := int64(-1)
	if obj, err := src.Stat(ctx, srcKey); err == nil {
		total = obj.Size
	} else if errors.Is(err, storage.ErrNotExist) {
		return fmt.Errorf("input %s: %w", src.ObjectURI(srcKey), err)
	}
	p.compressSpill = opts.compress > 0 || (opts.compress == 0 && (total < 0 || total > compressSpillAbove))
	rc, err := src.Open(ctx, srcKey)
	if err != nil {
		return fmt.Errorf("open input %s: %w", src.ObjectURI(srcKey), err)
	}
	defer rc.Close()
	cr := newPrefetchReader(rc, sha256.New())
	defer cr.Close()
	zr, err := pgzip.NewReader(cr)
	if err != nil {
		return fmt.Errorf("input %s is not a gzip file at byte offset 0: %w", src.ObjectURI(srcKey), err)
	}
	defer zr.Close()

	// Rejects sidecar: committed even when the part fails (it explains
	// the failure), in input order. Rejects are few (the part fails past
	// max_rows), so they are kept until the end.
	rw, err := dst.Create(parent, m.RejectsKey, storage.PutOptions{ContentType: "text/csv"})
	if err != nil {
		return fmt.Errorf("create %s: %w", m.RejectsKey, err)
	}
	var rejects []reject
	defer func() {
		if werr := writeRejects(rw, p.part, rejects); werr != nil {
			_ = rw.Abort()
			if err == nil {
				err = fmt.Errorf("write %s: %w", m.RejectsKey, werr)
			}
			return
		}
		if cerr := rw.Commit(); cerr != nil && err == nil {
			err = fmt.Errorf("commit %s: %w", m.RejectsKey, cerr)
		}
	}()

	acc := newAccumulator(p)
	defer func() {
		if cerr := acc.cleanup(); cerr != nil && err == nil {
			err = fmt.Errorf("remove spilled runs: %w", cerr)
		}
	}()
	as := &assembler{ctx: ctx, p: p, acc: acc, dst: dst, dataPrefix: dataPrefix, encoders: p.encoders,
		subChunk: int(min(int64(chunkBytes), max(p.rowGroup/8, 64<<10)))}
	defer func() {
		if err != nil {
			if aerr := as.abort(context.WithoutCancel(ctx)); aerr != nil {
				err = fmt.Errorf("%w (cleanup: %v)", err, aerr)
			}
			m.Files = nil
			m.RowsWritten = 0
		}
	}()

	size := opts.chunkSize
	if size <= 0 {
		size = chunkBytes
	}
	chunker := csvparse.NewChunker(zr, p.delim, size)
	work := make(chan job, p.workers)
	ordered := make(chan chan *batch, p.workers+1)
	free := make(chan *batch, 2*p.workers+2)
	var readErr error
	var parseNanos atomic.Int64
	var wg sync.WaitGroup

	// Reader + chunker.
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(ordered)
		defer close(work)
		for {
			ch, err := chunker.Next()
			if err == io.EOF {
				// Hash the rest of the input, if any, so the digest covers
				// the whole object.
				if _, err := io.Copy(io.Discard, cr); err != nil {
					readErr = fmt.Errorf("read input: %w", err)
				}
				return
			}
			if err != nil {
				if serr := cr.sourceErr(); serr != nil {
					// The storage failed, not the gzip stream.
					readErr = fmt.Errorf("read input at compressed byte offset %d: %w", cr.n.Load(), serr)
				} else {
					readErr = gzipError(err, cr.consumed.Load(), total)
				}
				return
			}
			out := make(chan *batch, 1)
			select {
			case work <- job{ch: ch, out: out}:
			case <-ctx.Done():
				return
			}
			select {
			case ordered <- out:
			case <-ctx.Done():
				return
			}
			if opts.Progress != nil {
				done := cr.consumed.Load()
				if total > 0 {
					done = done * pass1Share / 100
				}
				opts.Progress(done, total)
			}
		}
	}()
	// Parse workers (pass 1).
	for w := 0; w < p.workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rt := &router{}
			for j := range work {
				var b *batch
				select {
				case b = <-free:
				default:
					b = newBatch(p)
				}
				t := time.Now()
				p.routeChunk(j.ch, rt, b)
				parseNanos.Add(int64(time.Since(t)))
				j.out <- b
			}
		}()
	}
	defer func() {
		cancel()
		// Drain so every goroutine can exit.
		for out := range ordered {
			if b := <-out; b.ch != nil {
				chunker.Release(b.ch)
			}
		}
		wg.Wait()
	}()

	// Accumulate in chunk order.
	waitStart := time.Now()
	var wait time.Duration
	sawHeader := false
	for out := range ordered {
		b := <-out
		wait += time.Since(waitStart)
		if b.err != nil {
			return fmt.Errorf("%s: %w", src.ObjectURI(srcKey), b.err)
		}
		if b.seq == 0 {
			if b.noHead {
				return fmt.Errorf("%s: no header record (empty part)", src.ObjectURI(srcKey))
			}
			if diff := headerDiff(p.header, b.header); diff != "" {
				return fmt.Errorf("%s: line 1, byte offset 0: header does not match the agreed header sample: %s", src.ObjectURI(srcKey), diff)
			}
			sawHeader = true
		}
		m.RowsRead += b.rows
		m.BlankLines += int64(b.blank)
		rejects = append(rejects, b.rejects...)
		if int64(len(rejects)) > p.maxRejects {
			return fmt.Errorf("too many rejected rows: %d so far (of %d read), max_rows %d; see %s", len(rejects), m.RowsRead, p.maxRejects, m.RejectsKey)
		}
		err := acc.add(b)
		chunker.Release(b.ch)
		b.ch = nil
		if err != nil {
			return err
		}
		select {
		case free <- b:
		default:
		}
		waitStart = time.Now()
	}
	if readErr != nil {
		return readErr
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if !sawHeader { // a gzip stream with nothing in it yields no chunk at all
		return fmt.Errorf("%s: no header record (empty part)", src.ObjectURI(srcKey))
	}
	m.DecompressedByte = chunker.Offset()
	m.InputBytes = cr.n.Load()
	m.InputSHA256 = hex.EncodeToString(cr.h.Sum(nil))
	acc.endPass1()
	if acc.reaped > 0 {
		opts.Logger.Warn().Str("part", opts.Part).Int("directories", acc.reaped).Str("spill_dir", p.spillDir).
			Msg("removed stale spill directories left by killed converters")
	}
	m.PeakBufferBytes = acc.peakMem
	m.SpilledRuns = acc.runs
	m.SpilledBytes = acc.spilled
	m.SpilledDisk = acc.spilledDisk
	m.SpillCompressed = p.compressSpill && acc.runs > 0
	m.Timings.Pass1Seconds = time.Since(m.Started).Seconds()

	// Pass 2.
	as.base, as.rowsRead, as.rejectsKey = int64(len(rejects)), m.RowsRead, m.RejectsKey
	if opts.Progress != nil && total > 0 {
		var framed int64
		for bk := range acc.buckets {
			framed += acc.buckets[bk].bytes
		}
		var mu sync.Mutex
		var merged int64
		as.progress = func(delta int64) {
			mu.Lock()
			defer mu.Unlock()
			merged += delta
			opts.Progress(total*pass1Share/100+int64(float64(total*(100-pass1Share)/100)*float64(merged)/float64(max(framed, 1))), total)
		}
	}
	pass2 := time.Now()
	err = as.run(p.builders)
	if err == nil && opts.Progress != nil && total > 0 {
		opts.Progress(total, total)
	}
	rejects = append(rejects, as.rejects...)
	slices.SortFunc(rejects, func(x, y reject) int { return cmpInt64(x.offset, y.offset) })
	m.RejectsCount = int64(len(rejects))
	m.RowsRejected = m.RejectsCount
	m.Timings.ParseSeconds = time.Duration(parseNanos.Load()).Seconds() + as.parse.Seconds()
	m.Timings.EncodeSeconds = as.encode.Seconds()
	m.Timings.WaitSeconds = wait.Seconds()
	m.Timings.Pass2Seconds = time.Since(pass2).Seconds()
	m.RowGroups = len(as.rgBytes)
	m.SpillMerges = int(as.merges.Load())
	if len(as.rgBytes) > 0 {
		sizes := slices.Clone(as.rgBytes)
		slices.Sort(sizes)
		m.RowGroupBytesMedian, m.RowGroupBytesMax = sizes[len(sizes)/2], sizes[len(sizes)-1]
	}
	if err != nil {
		return err
	}
	if m.RowsRead > 0 && float64(m.RowsRejected) > p.maxRejectFr*float64(m.RowsRead) {
		return fmt.Errorf("too many rejected rows: %d of %d (%.4f%%) exceeds max_fraction %g; see %s",
			m.RowsRejected, m.RowsRead, 100*float64(m.RowsRejected)/float64(m.RowsRead), p.maxRejectFr, m.RejectsKey)
	}
	files, err := as.finish()
	if err != nil {
		return err
	}
	m.Files = files
	for _, f := range files {
		m.RowsWritten += f.Rows
		m.RowsPerBucket[f.Bucket] = f.Rows
	}
	if m.RowsRead != m.RowsWritten+m.RowsRejected {
		return fmt.Errorf("row count invariant violated: read %d != written %d + rejected %d", m.RowsRead, m.RowsWritten, m.RowsRejected)
	}
	return nil
}

// writeRejects writes the rejects sidecar.
func writeRejects(w io.Writer, part string, rejects []reject) error {
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"part", "line", "offset", "column", "reason", "raw"})
	for _, r := range rejects {
		_ = cw.Write([]string{part, strconv.FormatInt(r.line, 10), strconv.FormatInt(r.offset, 10), r.column, r.reason, r.raw})
	}
	cw.Flush()
	return cw.Error()
}

// gzipError words a read failure: truncated or corrupt gzip, with the
// compressed offset reached (the decompressor reads ahead, so the fault
// lies at or before it).
func gzipError(err error, compressedOffset, total int64) error {
	what := "corrupt gzip data"
	if errors.Is(err, io.ErrUnexpectedEOF) {
		what = "truncated gzip input"
	}
	return fmt.Errorf("%s at or before compressed byte offset %d (of %d): %w", what, compressedOffset, total, err)
}
