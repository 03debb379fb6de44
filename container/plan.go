package container

import (
	"bytes"
	"errors"
	"fmt"
	"regexp"
	"runtime"
	"slices"

	"github.com/tierflow/tierflow/container/pqwrite"
	"github.com/tierflow/tierflow/jobs"
)

var partName = regexp.MustCompile(`^[A-Za-z0-9._-]+$`)

// colPlan is one schema column resolved for conversion.
type colPlan struct {
	name   string
	kind   jobs.Kind
	typ    jobs.Type
	phys   pqwrite.Physical
	flba   int
	pii    string
	source int // index of the field in each record
	// Normalisation and check (string columns): fixed says the column
	// has either, so its values go through fix before anything else.
	fixed   bool
	norm    jobs.Normalization
	allowed map[string]struct{} // nil: no allowed list
	pattern *regexp.Regexp      // nil: no pattern
	failed  string              // reject reason of a value that fails the check
}

// fix returns v normalised (case changes are written to *scratch) and,
// when it fails the column's check, the reason.
func (cp *colPlan) fix(v []byte, scratch *[]byte) ([]byte, string) {
	v = cp.norm.Apply(v, scratch)
	switch {
	case cp.allowed != nil:
		if _, ok := cp.allowed[string(v)]; !ok { // no allocation: the compiler looks v up in place
			return v, cp.failed
		}
	case cp.pattern != nil:
		if !cp.pattern.Match(v) {
			return v, cp.failed
		}
	}
	return v, ""
}

// planCheck resolves column c's normalisation and check into cp.
func planCheck(cp *colPlan, c jobs.Column) error {
	cp.norm = c.Normalize
	cp.fixed = c.Normalize != 0 || c.Check != nil
	if cp.fixed && c.Type.Kind != jobs.String {
		return fmt.Errorf("column %q: check and normalize apply to string columns only", c.Name)
	}
	if c.Check == nil {
		return nil
	}
	re, err := c.Check.Regexp()
	if err != nil {
		return fmt.Errorf("column %q: check.pattern: %w", c.Name, err)
	}
	cp.pattern = re
	cp.failed = fmt.Sprintf("value does not match check.pattern %q", c.Check.Pattern)
	if len(c.Check.Allowed) > 0 {
		cp.allowed = make(map[string]struct{}, len(c.Check.Allowed))
		for _, v := range c.Check.Allowed {
			cp.allowed[v] = struct{}{}
		}
		cp.failed = fmt.Sprintf("value not in check.allowed (%d values)", len(c.Check.Allowed))
	}
	return nil
}

// plan is a Spec resolved for conversion.
type plan struct {
	spec        *jobs.Spec
	part        string
	delim       byte
	cols        []colPlan
	header      []string // expected header, in field order
	fieldPII    []string // per field position: PII class ("" = not PII)
	markers     [][]byte // NULL markers for non-string columns (besides the empty field)
	markerLens  uint64   // bit n set: some marker has length n (63: ≥ 63)
	bucketCols  []int    // schema column indices
	bucketCount int
	version     int
	sortCols    []int
	rowGroup    int64
	memory      int64
	spillBudget int64  // pass 1: bucket buffers before the largest is spilled
	mergeBytes  int64  // pass 2: read buffers of one bucket's spilled runs
	spillDir    string // where runs are spilled ("" = the system temp dir)
	needFields  int    // pass 1: fields up to the last bucket or sort column
	fieldCol    []int  // per field position: its schema column
	slowPaths   bool   // tests: no fast paths (Options.slowPaths)
	// compressSpill: S2-compress spilled runs (parts of more than
	// compressSpillAbove compressed bytes, or as tests force).
	compressSpill bool
	builders      int // pass 2: buckets converted at once
	fanIn         int // pass 2: runs merged at once (maxFanIn; tests fewer)
	encoders      int // pass 2: encoders per row group
	workers       int
	maxRejects    int64
	maxRejectFr   float64
	schema        *pqwrite.Schema
	writerOpts    pqwrite.Options // created_by, bloom filters
	anyPII        bool
}

// isNullMarker reports whether v is one of the configured NULL markers.
func (p *plan) isNullMarker(v []byte) bool {
	for _, m := range p.markers {
		if bytes.Equal(v, m) {
			return true
		}
	}
	return false
}

// newPlan resolves opts for conversion, or says what in them cannot be
// converted.
func newPlan(opts Options) (*plan, error) {
	s := opts.Spec
	if s == nil {
		return nil, ErrNoSpec
	}
	if !partName.MatchString(opts.Part) {
		return nil, fmt.Errorf("%w %q: must match [A-Za-z0-9._-]+", ErrPartName, opts.Part)
	}
	p := &plan{spec: s, part: opts.Part, delim: s.Source.Delimiter, slowPaths: opts.slowPaths}
	if p.delim == 0 {
		p.delim = ','
	}
	if p.delim == '"' || p.delim == '\n' || p.delim == '\r' {
		return nil, fmt.Errorf("invalid delimiter %q", p.delim)
	}
	if err := p.planColumns(s); err != nil {
		return nil, err
	}
	if err := p.planOutput(opts); err != nil {
		return nil, err
	}
	p.planBudget(opts)
	return p, nil
}

// planColumns resolves the schema's columns against the header sample:
// each column's field, type, PII class and check; the Parquet schema; the
// NULL markers.
func (p *plan) planColumns(s *jobs.Spec) error {
	cols := s.Schema.Columns
	if len(cols) == 0 {
		return errors.New("schema has no columns")
	}
	p.header = s.Source.Header
	if len(p.header) == 0 {
		for _, c := range cols {
			p.header = append(p.header, sourceName(c))
		}
	}
	pos := map[string]int{}
	for i, h := range p.header {
		if _, dup := pos[h]; dup {
			return fmt.Errorf("header sample names column %q twice", h)
		}
		pos[h] = i
	}
	if len(p.header) != len(cols) {
		return fmt.Errorf("header sample has %d columns, schema %d", len(p.header), len(cols))
	}
	p.fieldPII = make([]string, len(p.header))
	p.fieldCol = make([]int, len(p.header))
	var specs []pqwrite.ColumnSpec
	for _, c := range cols {
		src, ok := pos[sourceName(c)]
		if !ok {
			return fmt.Errorf("schema column %q (header %q) is not in the header sample", c.Name, sourceName(c))
		}
		spec := parquetColumn(c)
		cp := colPlan{name: c.Name, kind: c.Type.Kind, typ: c.Type, phys: spec.Physical, flba: spec.Length, pii: c.PII, source: src}
		if err := planCheck(&cp, c); err != nil {
			return err
		}
		p.cols = append(p.cols, cp)
		p.fieldPII[src] = c.PII
		p.fieldCol[src] = len(p.cols) - 1
		if c.PII != "" {
			p.anyPII = true
		}
		specs = append(specs, spec)
	}
	schema, err := pqwrite.NewSchema(specs)
	if err != nil {
		return err
	}
	p.schema = schema
	for _, m := range s.Source.NullMarkers {
		if m != "" {
			p.markers = append(p.markers, []byte(m))
			p.markerLens |= 1 << min(len(m), 63)
		}
	}
	return nil
}

// planOutput resolves the output's bucketing, sort and bloom filter
// columns.
func (p *plan) planOutput(opts Options) error {
	s, cols := opts.Spec, opts.Spec.Schema.Columns
	o := s.Output
	p.bucketCount = o.BucketCount
	if len(o.BucketedBy) > 0 && p.bucketCount <= 0 {
		return fmt.Errorf("bucketed_by set but bucket_count %d", p.bucketCount)
	}
	if len(o.BucketedBy) == 0 {
		p.bucketCount = 1 // one unbucketed file: bucket 000000
	}
	p.version = o.BucketingVersion
	if p.version == 0 {
		p.version = 1
	}
	if p.version != 1 && p.version != 2 {
		return fmt.Errorf("bucketing_version %d: want 1 or 2", p.version)
	}
	for _, name := range o.BucketedBy {
		_, i, ok := s.Schema.Column(name)
		if !ok {
			return fmt.Errorf("bucket column %q is not in the schema", name)
		}
		switch cols[i].Type.Kind {
		case jobs.String, jobs.Int, jobs.Bigint, jobs.Boolean, jobs.Date, jobs.Double:
		default:
			return fmt.Errorf("bucket column %q: Hive cannot bucket type %v", name, cols[i].Type)
		}
		p.bucketCols = append(p.bucketCols, i)
	}
	for _, name := range o.SortedBy {
		_, i, ok := s.Schema.Column(name)
		if !ok {
			return fmt.Errorf("sort column %q is not in the schema", name)
		}
		p.sortCols = append(p.sortCols, i)
	}
	p.writerOpts.CreatedBy = opts.CreatedBy
	for _, name := range o.BloomFilter {
		_, i, ok := s.Schema.Column(name)
		if !ok {
			return fmt.Errorf("bloom filter column %q is not in the schema", name)
		}
		p.writerOpts.BloomFilter = append(p.writerOpts.BloomFilter, i)
	}
	for _, c := range append(slices.Clone(p.bucketCols), p.sortCols...) {
		p.needFields = max(p.needFields, p.cols[c].source+1)
	}
	return nil
}

// planBudget sets the row-group target, the workers and the memory
// budget's split between the passes, and the rejects thresholds.
func (p *plan) planBudget(opts Options) {
	s, o := opts.Spec, opts.Spec.Output
	p.rowGroup = o.RowGroupBytes
	if p.rowGroup <= 0 {
		p.rowGroup = DefaultRowGroupBytes
	}
	p.memory = s.Convert.MemoryBytes
	if p.memory <= 0 {
		p.memory = DefaultMemoryBytes
	}
	p.workers = s.Convert.Workers
	if p.workers <= 0 {
		p.workers = runtime.NumCPU()
	}
	// The budget, split between the passes. Pass 1: a quarter for the
	// bucket buffers (the rest is chunks in flight, parse scratch and the
	// garbage collector's headroom). Pass 2: half for the row groups being
	// built, each counted at its target: the target is the values' PLAIN
	// size, and the vectors hold less (a full row group of the shipped
	// 406-column schema took 0.72-0.76 of it, growth slack included:
	// dictionary indices and 2-byte string lengths instead of 4-byte
	// prefixes). Besides: the buffers pass 1 left, the read buffers of
	// spilled runs. When fewer row groups fit than there are workers, each
	// row group gets several encoders instead.
	p.spillBudget = p.memory / 4
	p.mergeBytes = p.memory / 32
	p.spillDir = s.Convert.SpillDir
	p.fanIn = maxFanIn
	if opts.fanIn > 1 {
		p.fanIn = opts.fanIn
	}
	p.builders = int(min(int64(p.workers), max(1, p.memory/2/p.rowGroup)))
	p.encoders = max(1, p.workers/p.builders)
	p.maxRejects = s.Rejects.MaxRows
	if p.maxRejects == 0 {
		p.maxRejects = DefaultMaxRejectRows
	}
	p.maxRejectFr = s.Rejects.MaxFraction
	if p.maxRejectFr == 0 {
		p.maxRejectFr = DefaultMaxRejectFrac
	}
}

func sourceName(c jobs.Column) string {
	if c.Source != "" {
		return c.Source
	}
	return c.Name
}

// maxFanIn bounds the runs merged at once: each open run costs a file
// handle and its read buffers.
const maxFanIn = 64
