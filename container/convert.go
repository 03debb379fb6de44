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
//
// One file per stage, each using only the ones before it: options.go and
// errors.go, schema.go, plan.go, values.go, fields.go, sortkey.go,
// rejects.go, route.go (pass 1), prefetch.go, pipeline.go, spill.go,
// merge.go, manifest.go, encode.go, assemble.go (pass 2), header.go and
// convert.go (the converter); docs/converter.md says what each holds.
package container

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"runtime/debug"
	"slices"
	"sync"
	"time"

	"github.com/tierflow/tierflow/container/gunzip"
	"github.com/tierflow/tierflow/lake/storage"
)

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
	c := &converter{ctx: ctx, opts: opts, p: p, src: src, srcKey: srcKey, inputURI: m.InputURI, dst: dst, dataPrefix: dataPrefix, m: m}
	runErr := c.run()
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
	ev, msg := opts.Logger.Info(), "part converted"
	switch {
	case runErr != nil && ctx.Err() != nil:
		// Stopped because another part failed or the run was interrupted:
		// not this part's failure, so not an error line of its own.
		ev, msg = opts.Logger.Info(), "part stopped: the run was cancelled"
	case runErr != nil:
		ev, msg = opts.Logger.Error().Str("error", m.Error), "part failed"
	}
	ev.Str("part", m.Part).Str("input", m.InputURI).Int64("input_bytes", m.InputBytes).
		Int64("rows_read", m.RowsRead).Int64("rows_written", m.RowsWritten).Int64("rows_rejected", m.RowsRejected).
		Int("files", len(m.Files)).Int("row_groups", m.RowGroups).Int("workers", m.Workers).Int("builders", m.Builders).
		Float64("wall_s", m.Timings.WallSeconds).Float64("pass1_s", m.Timings.Pass1Seconds).Float64("pass2_s", m.Timings.Pass2Seconds).
		Float64("mb_per_s", m.MBPerSecond).Int64("peak_buffer_bytes", m.PeakBufferBytes).
		Int("spilled_runs", m.SpilledRuns).Int64("spilled_bytes", m.SpilledBytes).Int64("spilled_disk_bytes", m.SpilledDisk).
		Msg(msg)
	return m, runErr
}

// compressSpillAbove is the compressed part size above which spilled runs
// are compressed: a part of 512 MiB spills ≈ 3.5 GB, more than a page
// cache can be counted on to absorb.
const compressSpillAbove = 512 << 20

// pass1Share is the part of the progress given to pass 1, in percent: it
// takes about 30 % of a part's time.
const pass1Share = 30

// converter is one part's conversion: what it reads and writes, and the
// manifest it fills. Its methods are the stages, in order: run writes the
// rejects sidecar around passes, which opens the input and runs pass1 and
// pass2; verdict re-reads the part when it had too many rejects.
type converter struct {
	ctx        context.Context
	opts       Options
	p          *plan
	src        storage.Storage
	srcKey     string
	inputURI   string // src's URI of srcKey, for errors
	dst        storage.Storage
	dataPrefix string
	m          *Manifest

	chunkSize  int    // decompressed bytes per parse chunk
	rejectsURI string // the rejects sidecar, for errors
	total      int64  // compressed input bytes, -1 when unknown
}

func (c *converter) run() (err error) {
	m := c.m
	// Rejects sidecar: committed even when the part fails (it explains
	// the failure), in input order. Rejects are few (the part fails past
	// max_rows), so they are kept until the end.
	rw, err := c.dst.Create(c.ctx, m.RejectsKey, storage.PutOptions{ContentType: "text/csv"})
	if err != nil {
		return fmt.Errorf("create %s: %w", m.RejectsKey, err)
	}
	c.chunkSize = c.opts.chunkSize
	if c.chunkSize <= 0 {
		c.chunkSize = chunkBytes
	}
	c.rejectsURI = c.dst.ObjectURI(m.RejectsKey)
	rejects, err := c.passes()
	if errors.Is(err, errTooManyRejects) {
		// Which rejects pass 1 and pass 2 found before stopping depends
		// on the workers; the verdict does not.
		var checked int64
		rejects, checked, err = c.verdict()
		if err == nil {
			err = c.p.rejectsError(rejects, checked, 0, c.rejectsURI)
		}
	}
	m.RejectsCount = int64(len(rejects))
	m.RowsRejected = m.RejectsCount
	if err != nil {
		// Nothing is written; every row read and not rejected is counted,
		// so that read = written + rejected + not processed holds.
		m.RowsNotProcessed = m.RowsRead - m.RowsWritten - m.RowsRejected
	}
	if werr := writeRejects(rw, c.p.part, rejects); werr != nil {
		_ = rw.Abort()
		if err == nil {
			err = fmt.Errorf("write %s: %w", m.RejectsKey, werr)
		}
		return err
	}
	if cerr := rw.Commit(); cerr != nil && err == nil {
		err = fmt.Errorf("commit %s: %w", m.RejectsKey, cerr)
	}
	return err
}

// verdict re-reads the part from its start and checks every record
// whole, in input order, until it finds one more bad row than max_rows
// allows. It returns those rejects and the rows checked. Pass 1 and pass
// 2 stop as soon as they find too many rejects, but pass 2 finds them
// bucket by bucket on parallel builders: which ones depends on timing. The
// verdict's do not, and they are the part's first bad rows, which is what
// a user fixing the feed reads first. It costs reading the part up to its
// (max_rows+1)th bad row: almost nothing for a feed that is bad
// throughout, at most one more read of the part.
func (c *converter) verdict() ([]reject, int64, error) {
	p := c.p
	rc, err := c.src.Open(c.ctx, c.srcKey)
	if err != nil {
		return nil, 0, fmt.Errorf("reopen input %s: %w", c.inputURI, err)
	}
	defer rc.Close()
	cr := newPrefetchReader(rc, nil)
	defer cr.Close()
	zr, err := gunzip.NewReader(cr)
	if err != nil {
		return nil, 0, fmt.Errorf("reopen input %s: %w", c.inputURI, err)
	}
	defer zr.Close()
	pl := startPipeline(c.ctx, p, cr, zr, -1, c.chunkSize, func() *router { return &router{check: true} }, nil)
	defer pl.stop()
	var rejects []reject
	var rows int64
	for {
		b, ok := pl.next()
		if !ok {
			break
		}
		if b.err != nil {
			return rejects, rows, c.located(b.err)
		}
		for _, r := range b.rejects {
			if rejects = append(rejects, r); int64(len(rejects)) > p.maxRejects {
				return rejects, rows + r.row, nil
			}
		}
		rows += b.rows
		pl.release(b)
	}
	if pl.readErr != nil {
		return rejects, rows, c.located(pl.readErr)
	}
	if err := c.ctx.Err(); err != nil {
		return rejects, rows, err
	}
	return rejects, rows, fmt.Errorf("%s: re-reading the part found %d rejected rows of %d, not more than max_rows %d as the conversion did: did the input change?",
		c.inputURI, len(rejects), rows, p.maxRejects)
}

// located completes a *ParseError in err with the part and the input.
func (c *converter) located(err error) error {
	if pe, ok := errors.AsType[*ParseError](err); ok {
		pe.Part, pe.Input = c.p.part, c.inputURI
	}
	return err
}

// passes converts the part: pass 1, then pass 2. It returns the rejects
// found, in input order.
func (c *converter) passes() (rejects []reject, err error) {
	ctx, cancel := context.WithCancel(c.ctx)
	defer cancel()
	p, m := c.p, c.m

	c.total = -1
	if obj, err := c.src.Stat(ctx, c.srcKey); err == nil {
		c.total = obj.Size
	} else if errors.Is(err, storage.ErrNotExist) {
		return nil, fmt.Errorf("input %s: %w", c.inputURI, err)
	}
	p.compressSpill = c.opts.compress > 0 || (c.opts.compress == 0 && (c.total < 0 || c.total > compressSpillAbove))
	rc, err := c.src.Open(ctx, c.srcKey)
	if err != nil {
		return nil, fmt.Errorf("open input %s: %w", c.inputURI, err)
	}
	defer rc.Close()
	cr := newPrefetchReader(rc, sha256.New())
	defer cr.Close()
	zr, err := gunzip.NewReader(cr)
	if err != nil {
		return nil, c.located(&ParseError{Err: fmt.Errorf("%w at byte offset 0: %w", ErrNotGzip, err)})
	}
	defer zr.Close()

	acc := newAccumulator(p)
	defer func() {
		if cerr := acc.cleanup(); cerr != nil && err == nil {
			err = fmt.Errorf("remove spilled runs: %w", cerr)
		}
	}()
	as := &assembler{ctx: ctx, p: p, acc: acc, dst: c.dst, dataPrefix: c.dataPrefix, encoders: p.encoders,
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

	var progress func()
	if c.opts.Progress != nil {
		progress = func() {
			done := cr.consumed.Load()
			if c.total > 0 {
				done = done * pass1Share / 100
			}
			c.opts.Progress(done, c.total)
		}
	}
	pl := startPipeline(ctx, p, cr, zr, c.total, c.chunkSize, func() *router { return &router{} }, progress)
	defer pl.stop()
	rejects, wait, err := c.pass1(ctx, pl, acc)
	if err != nil {
		return rejects, err
	}
	m.InputBytes = cr.n.Load()
	m.InputSHA256 = hex.EncodeToString(cr.h.Sum(nil))
	return c.pass2(pl, as, rejects, wait)
}

// pass1 takes the pipeline's batches in chunk order, checks the header and
// copies the routed records into the accumulator; it returns the rejects
// found and the time spent waiting for batches.
func (c *converter) pass1(ctx context.Context, pl *chunkPipeline, acc *accumulator) (rejects []reject, wait time.Duration, err error) {
	p, m := c.p, c.m
	waitStart := time.Now()
	sawHeader := false
	for {
		b, ok := pl.next()
		if !ok {
			break
		}
		wait += time.Since(waitStart)
		if b.err != nil {
			return rejects, wait, c.located(b.err)
		}
		if b.seq == 0 {
			if b.noHead {
				return rejects, wait, c.located(&ParseError{Line: 1, Err: ErrNoHeader})
			}
			if diff := headerDiff(p.header, b.header); diff != "" {
				return rejects, wait, c.located(&ParseError{Line: 1, Err: fmt.Errorf("%w: %s", ErrHeaderMismatch, diff)})
			}
			sawHeader = true
		}
		m.RowsRead += b.rows
		m.BlankLines += int64(b.blank)
		rejects = append(rejects, b.rejects...)
		if int64(len(rejects)) > p.maxRejects {
			return rejects, wait, errTooManyRejects
		}
		if err := acc.add(b); err != nil {
			return rejects, wait, err
		}
		pl.release(b)
		waitStart = time.Now()
	}
	if pl.readErr != nil {
		return rejects, wait, c.located(pl.readErr)
	}
	if err := ctx.Err(); err != nil {
		return rejects, wait, err
	}
	if !sawHeader { // a gzip stream with nothing in it yields no chunk at all
		return rejects, wait, c.located(&ParseError{Line: 1, Err: ErrNoHeader})
	}
	m.DecompressedByte = pl.chunker.Offset()
	acc.endPass1()
	if acc.reaped > 0 {
		c.opts.Logger.Warn().Str("part", c.opts.Part).Int("directories", acc.reaped).Str("spill_dir", p.spillDir).
			Msg("removed stale spill directories left by killed converters")
	}
	m.PeakBufferBytes = acc.peakMem
	m.SpilledRuns = acc.runs
	m.SpilledBytes = acc.spilled
	m.SpilledDisk = acc.spilledDisk
	m.SpillCompressed = p.compressSpill && acc.runs > 0
	m.Timings.Pass1Seconds = time.Since(m.Started).Seconds()
	return rejects, wait, nil
}

// pass2 converts every bucket with the assembler, judges max_fraction on
// the whole part and adds the files to the manifest; rejects are pass
// 1's, and the result all of them, in input order.
func (c *converter) pass2(pl *chunkPipeline, as *assembler, rejects []reject, wait time.Duration) ([]reject, error) {
	p, m, total := c.p, c.m, c.total
	as.base = int64(len(rejects))
	if c.opts.Progress != nil && total > 0 {
		var framed int64
		for bk := range as.acc.buckets {
			framed += as.acc.buckets[bk].bytes
		}
		var mu sync.Mutex
		var merged int64
		as.progress = func(delta int64) {
			mu.Lock()
			defer mu.Unlock()
			merged += delta
			c.opts.Progress(total*pass1Share/100+int64(float64(total*(100-pass1Share)/100)*float64(merged)/float64(max(framed, 1))), total)
		}
	}
	pass2 := time.Now()
	err := as.run(p.builders)
	if err == nil && c.opts.Progress != nil && total > 0 {
		c.opts.Progress(total, total)
	}
	rejects = append(rejects, as.rejects...)
	slices.SortFunc(rejects, func(x, y reject) int { return cmpInt64(x.offset, y.offset) })
	m.Timings.ParseSeconds = time.Duration(pl.parseNanos.Load()).Seconds() + as.parse.Seconds()
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
		return rejects, err
	}
	// The fraction can only be judged on the whole part: every row has
	// been checked, and the rejects are all there (fewer than max_rows).
	if m.RowsRead > 0 && float64(len(rejects)) > p.maxRejectFr*float64(m.RowsRead) {
		return rejects, p.rejectsError(rejects, m.RowsRead, p.maxRejectFr, c.rejectsURI)
	}
	files, err := as.finish()
	if err != nil {
		return rejects, err
	}
	m.Files = files
	for _, f := range files {
		m.RowsWritten += f.Rows
		m.RowsPerBucket[f.Bucket] = f.Rows
	}
	if m.RowsRead != m.RowsWritten+int64(len(rejects)) {
		return rejects, fmt.Errorf("row count invariant violated: read %d != written %d + rejected %d", m.RowsRead, m.RowsWritten, len(rejects))
	}
	return rejects, nil
}
