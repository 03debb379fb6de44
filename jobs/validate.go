package jobs

import (
	"fmt"
	"path"
	"regexp"
	"slices"
	"strings"
)

var (
	jobNameRE     = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,63}$`)
	placeholderRE = regexp.MustCompile(`\{[^}]*\}`)
	bucketNameRE  = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)
	regionRE      = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-\d+$`)
	ddbTableRE    = regexp.MustCompile(`^[A-Za-z0-9_.-]{3,255}$`)
	clusterRE     = regexp.MustCompile(`^[A-Za-z0-9_-]{1,255}$`)
	accountRE     = regexp.MustCompile(`^\d{12}$`)
)

// Limits enforced on numeric settings.
const (
	MaxBucketCount   = 100000
	MaxRowGroupBytes = 1 << 30
	MinMemoryBytes   = 64 << 20
	MaxWorkers       = 1024
)

// validate runs after decoding: it loads the header sample and checks every
// rule that spans fields or files.
func (l *loader) validate() {
	s, d := l.spec, l.d
	at := d.line

	if s.Name != "" && !jobNameRE.MatchString(s.Name) {
		d.errf(at("name"), "name: %q must be 1-64 characters of lowercase letters, digits, '-' and '_', starting with a letter", s.Name)
	}
	l.validateLake()
	l.validateSource()
	l.validateSchema()
	if l.headerSeen {
		l.loadHeader()
		l.validateHeader()
	} else {
		// No sample agreed with the vendor: the schema's own names are the
		// header every part must carry.
		s.Source.Header = s.Schema.Sources()
	}
	l.validateOutput()

	if s.Rejects.MaxRows < 0 {
		d.errf(at("rejects.max_rows"), "rejects.max_rows: must be ≥ 0, got %d", s.Rejects.MaxRows)
	}
	if !(s.Rejects.MaxFraction >= 0 && s.Rejects.MaxFraction <= 1) {
		d.errf(at("rejects.max_fraction"), "rejects.max_fraction: must be between 0 and 1, got %v", s.Rejects.MaxFraction)
	}
	if s.Convert.Workers < 0 || s.Convert.Workers > MaxWorkers {
		d.errf(at("convert.workers"), "convert.workers: must be 0 (one per CPU) to %d, got %d", MaxWorkers, s.Convert.Workers)
	}
	if s.Convert.Parallelism < 0 || s.Convert.Parallelism > MaxWorkers {
		d.errf(at("convert.parallelism"), "convert.parallelism: must be 0 (one per CPU) to %d, got %d", MaxWorkers, s.Convert.Parallelism)
	}
	if s.Convert.MemoryBytes < MinMemoryBytes {
		d.errf(at("convert.memory_mb"), "convert.memory_mb: must be at least %d, got %d", MinMemoryBytes>>20, s.Convert.MemoryBytes>>20)
	}

	l.validatePII()
	l.validateDerived()

	if _, ok := d.lines["catalog"]; ok || s.Database != "" {
		if s.Database == "" {
			d.errf(at("catalog"), "catalog.database: required")
		} else if err := CheckName(s.Database); err != nil {
			d.errf(at("catalog.database"), "catalog.database: %v", err)
		}
	}
	if s.Schedule != "" {
		if err := checkCron(s.Schedule); err != nil {
			d.errf(at("schedule"), "schedule: %v", err)
		}
	}
	l.validateAWS()
	l.validateOps()
}

func (l *loader) validateLake() {
	s, d := l.spec, l.d
	switch {
	case strings.HasPrefix(s.Lake, "file://"):
		if strings.TrimPrefix(s.Lake, "file://") == "" {
			d.errf(d.line("lake"), "lake: %q names no directory", s.Lake)
		}
	case strings.HasPrefix(s.Lake, "s3://"):
		bucket, _, _ := strings.Cut(strings.TrimPrefix(s.Lake, "s3://"), "/")
		if !bucketNameRE.MatchString(bucket) || strings.Contains(bucket, "..") {
			d.errf(d.line("lake"), "lake: %q is not a valid S3 bucket name", bucket)
		}
	default:
		d.errf(d.line("lake"), "lake: %q must be file://DIR or s3://bucket[/prefix]", s.Lake)
	}
}

func (l *loader) validateSource() {
	src, d := &l.spec.Source, l.d
	if _, ok := d.lines["source"]; !ok {
		return // reported as a missing key
	}
	w := "source.intake"
	switch {
	case src.Intake == "":
		d.errf(d.line("source"), "%s: required, e.g. intake/%s/{month}/", w, l.spec.Name)
	case !strings.Contains(src.Intake, "{month}"):
		d.errf(d.line(w), "%s: %q must contain {month}, e.g. intake/%s/{month}/", w, src.Intake, l.spec.Name)
	}
	for _, ph := range placeholderRE.FindAllString(src.Intake, -1) {
		if ph != "{month}" {
			d.errf(d.line(w), "%s: unknown placeholder %s (only {month} is replaced)", w, ph)
		}
	}
	if src.Intake != "" {
		if bad := escapes(src.Intake); bad != "" || strings.Contains(src.Intake, `\`) {
			if bad == "" {
				bad = "has a backslash"
			}
			d.errf(d.line(w), "%s: %q %s; it is a key prefix below the lake root", w, src.Intake, bad)
		}
	}
	if src.Pattern == "" || strings.Contains(src.Pattern, "/") {
		d.errf(d.line("source.pattern"), "source.pattern: %q must be a non-empty glob on the part's base name, e.g. *.csv.gz", src.Pattern)
	} else if _, err := path.Match(src.Pattern, ""); err != nil {
		d.errf(d.line("source.pattern"), "source.pattern: %q: %v", src.Pattern, err)
	}
	for i, m := range src.NullMarkers {
		if slices.Index(src.NullMarkers, m) != i {
			d.errf(d.line(fmt.Sprintf("source.null_markers[%d]", i)), "source.null_markers: %q is listed twice", m)
		}
	}
	l.validateCompleteWhen()
}

// MaxExpectedParts bounds complete_when.parts.
const MaxExpectedParts = 100000

// validateCompleteWhen checks the file names of source.complete_when
// (decodeCompleteWhen has checked its shape and numbers).
func (l *loader) validateCompleteWhen() {
	src, d := &l.spec.Source, l.d
	c := src.CompleteWhen
	for key, name := range map[string]string{"marker": c.Marker, "manifest": c.Manifest} {
		w := "source.complete_when." + key
		if _, ok := d.lines[w]; !ok {
			continue
		}
		switch {
		case name == "" || name == "." || name == "..":
			d.errf(d.line(w), "%s: %q is not a file name, e.g. %s", w, name, map[string]string{"marker": "_SUCCESS", "manifest": "manifest.json"}[key])
		case strings.ContainsAny(name, `/\`):
			d.errf(d.line(w), "%s: %q must be a base name in the month's intake folder, without '/'", w, name)
		default:
			// A marker or manifest taken for a part would be converted.
			if ok, _ := path.Match(src.Pattern, name); ok {
				d.errf(d.line(w), "%s: %q matches source.pattern %q, so it would be read as a part; name it so that it does not", w, name, src.Pattern)
			}
		}
	}
}

func (l *loader) validateSchema() {
	s := l.spec
	sd := l.sd
	if sd == nil {
		return
	}
	seen := map[string]int{}
	for i, c := range s.Schema.Columns {
		line := l.colLines[i]
		w := fmt.Sprintf("column %q", c.Source)
		if c.Source == "" {
			continue // reported as missing
		}
		if err := CheckName(c.Name); err != nil {
			if c.Name == "" {
				sd.errf(line, "%s normalises to an empty name; give it one with `as:`", w)
			} else {
				sd.errf(line, "%s: %v", w, err)
			}
			continue
		}
		if c.Name == PartitionColumn {
			sd.errf(line, "%s: the name %q is taken by the partition column; rename it with `as:`", w, c.Name)
		}
		if j, dup := seen[c.Name]; dup {
			o := s.Schema.Columns[j]
			if o.Source == c.Source {
				sd.errf(line, "%s is listed twice (also at line %d)", w, l.colLines[j])
			} else {
				sd.errf(line, "columns %q (line %d) and %q both normalise to %q; rename one with `as:`", o.Source, l.colLines[j], c.Source, c.Name)
			}
			continue
		}
		seen[c.Name] = i
	}
}

// validateHeader ties the vendor's header sample to the schema: the same
// names, in the same order.
func (l *loader) validateHeader() {
	s := l.spec
	if l.headerFile == "" || len(s.Schema.Columns) == 0 || s.Source.Header == nil {
		return
	}
	hf, sd := l.headerFile, l.sd
	header, sources := s.Source.Header, s.Schema.Sources()
	inHeader := map[string]int{}
	for i, h := range header {
		if j, dup := inHeader[h]; dup {
			l.ps.add(hf, 1, "header field %d %q repeats field %d", i+1, h, j+1)
			continue
		}
		inHeader[h] = i
	}
	inSchema := map[string]bool{}
	for _, c := range sources {
		inSchema[c] = true
	}
	mismatch := false
	for i, h := range header {
		if !inSchema[h] {
			l.ps.add(hf, 1, "header field %d %q is not in the schema", i+1, h)
			mismatch = true
		}
	}
	for i, c := range sources {
		if _, ok := inHeader[c]; !ok && c != "" {
			sd.errf(l.colLines[i], "column %q is not in the header sample %s", c, hf)
			mismatch = true
		}
	}
	if mismatch {
		return
	}
	// Same names: report the first place where the order differs.
	for i := range min(len(header), len(sources)) {
		if header[i] != sources[i] {
			l.ps.add(hf, 1, "header field %d is %q but schema column %d is %q (%s:%d); the schema must list the columns in the header's order",
				i+1, header[i], i+1, sources[i], sd.file, l.colLines[i])
			return
		}
	}
}

// columnList checks that names (at where[i]) are distinct schema columns,
// optionally of a bucketable type.
func (l *loader) columnList(names []string, where string, bucket bool) {
	d := l.d
	seen := map[string]bool{}
	for i, name := range names {
		w := fmt.Sprintf("%s[%d]", where, i)
		if seen[name] {
			d.errf(d.line(w), "%s: %q is listed twice", where, name)
			continue
		}
		seen[name] = true
		if l.sd == nil {
			continue // no schema to check against; reported elsewhere
		}
		c, _, ok := l.spec.Schema.Column(name)
		if !ok {
			hint := ""
			for _, col := range l.spec.Schema.Columns {
				if col.Source == name || col.Name == NormalizeName(name) {
					hint = fmt.Sprintf(" (did you mean %q?)", col.Name)
					break
				}
			}
			d.errf(d.line(w), "%s: no column %q in the schema%s", where, name, hint)
			continue
		}
		if bucket && !c.Type.Bucketable() {
			d.errf(d.line(w), "%s: column %q is %s; bucket columns must be string, int, bigint or boolean", where, name, c.Type)
		}
	}
}

func (l *loader) validateOutput() {
	o, d := &l.spec.Output, l.d
	if _, ok := d.lines["output"]; !ok {
		return
	}
	if o.Table == "" {
		d.errf(d.line("output"), "output.table: required")
	} else if err := CheckName(o.Table); err != nil {
		d.errf(d.line("output.table"), "output.table: %v", err)
	}
	l.columnList(o.BucketedBy, "output.bucketed_by", true)
	l.columnList(o.SortedBy, "output.sorted_by", false)
	l.columnList(o.BloomFilter, "output.bloom_filter", false)
	for i, name := range o.BloomFilter {
		if c, _, ok := l.spec.Schema.Column(name); ok && c.Type.Kind == Boolean {
			d.errf(d.line(fmt.Sprintf("output.bloom_filter[%d]", i)), "output.bloom_filter: column %q is boolean; its statistics already tell both values apart", name)
		}
	}
	switch {
	case len(o.BucketedBy) > 0 && !l.outputKeys["bucket_count"]:
		d.errf(d.line("output.bucketed_by"), "output.bucket_count: required when bucketed_by is set")
	case len(o.BucketedBy) > 0 && (o.BucketCount < 1 || o.BucketCount > MaxBucketCount):
		d.errf(d.line("output.bucket_count"), "output.bucket_count: must be 1..%d, got %d", MaxBucketCount, o.BucketCount)
	case len(o.BucketedBy) == 0 && l.outputKeys["bucket_count"]:
		d.errf(d.line("output.bucket_count"), "output.bucket_count: set but bucketed_by is empty")
	}
	if o.BucketingVersion != 1 && o.BucketingVersion != 2 {
		d.errf(d.line("output.bucketing_version"), "output.bucketing_version: must be 1 (Hive, Athena's default) or 2, got %d", o.BucketingVersion)
	}
	if o.RowGroupBytes < 1<<20 || o.RowGroupBytes > MaxRowGroupBytes {
		d.errf(d.line("output.row_group_mb"), "output.row_group_mb: must be 1..%d, got %d", MaxRowGroupBytes>>20, o.RowGroupBytes>>20)
	} else if o.RowGroupBytes > l.spec.Convert.MemoryBytes/3 {
		// Row groups being built share half of the budget (see
		// docs/converter.md): at least one must fit, with room to spare.
		d.errf(d.line("output.row_group_mb"), "output.row_group_mb: %d is more than a third of the converter's memory budget convert.memory_mb %d",
			o.RowGroupBytes>>20, l.spec.Convert.MemoryBytes>>20)
	}
}

var compressions = []string{"snappy", "gzip", "zstd", "none"}

func (l *loader) validateDerived() {
	s, d := l.spec, l.d
	tables := map[string]int{}
	pii := map[string]string{}
	for _, c := range s.Schema.Columns {
		if c.PII != "" {
			pii[c.Name] = c.PII
		}
	}
	for i := range s.Derived {
		dv := &s.Derived[i]
		w := fmt.Sprintf("derived[%d]", i)
		at := func(key string) int { return d.line(w + "." + key) }
		switch {
		case dv.Table == "":
			d.errf(d.line(w), "%s.table: required", w)
		case CheckName(dv.Table) != nil:
			d.errf(at("table"), "%s.table: %v", w, CheckName(dv.Table))
		case dv.Table == s.Output.Table:
			d.errf(at("table"), "%s.table: %q is the job's own output table", w, dv.Table)
		default:
			if j, dup := tables[dv.Table]; dup {
				d.errf(at("table"), "%s.table: %q is also derived[%d]", w, dv.Table, j)
			}
			tables[dv.Table] = i
		}
		toks, err := checkSelect(dv.SQL)
		if err != nil {
			d.errf(at("sql"), "%s.sql: %v", w, err)
		} else if !dv.PII && len(pii) > 0 && s.PII.Set {
			// The job's policy is applied to this table's output.
			l.validateDerivedPII(i, toks, pii)
			if selectsAll(toks) {
				d.errf(at("sql"), "%s.sql: selects * from a table with PII columns; list the columns (the PII policy is applied by column name) or set `pii: true`", w)
			}
		} else if !dv.PII && len(pii) > 0 {
			var found []string
			for _, t := range toks {
				if class, ok := pii[t.word]; ok && !slices.Contains(found, t.word+" ("+class+")") {
					found = append(found, t.word+" ("+class+")")
				}
			}
			if len(found) > 0 {
				d.errf(at("sql"), "%s.sql: mentions PII columns %s; set `pii: true` on this table to allow it, or give the job a `pii:` policy to apply to it", w, strings.Join(found, ", "))
			} else if selectsAll(toks) {
				d.errf(at("sql"), "%s.sql: selects * from a table with PII columns; list the columns or set `pii: true`", w)
			}
		}
		dv.Format = strings.ToLower(dv.Format)
		dv.Compression = strings.ToLower(dv.Compression)
		if dv.Format != "parquet" {
			d.errf(at("format"), "%s.format: %q is not supported (parquet)", w, dv.Format)
		}
		if !slices.Contains(compressions, dv.Compression) {
			d.errf(at("compression"), "%s.compression: %q must be one of %v", w, dv.Compression, compressions)
		}
		for key, names := range map[string][]string{"partitioned_by": dv.PartitionedBy, "bucketed_by": dv.BucketedBy} {
			for j, n := range names {
				if err := CheckName(n); err != nil {
					d.errf(d.line(fmt.Sprintf("%s.%s[%d]", w, key, j)), "%s.%s: %v", w, key, err)
				}
			}
		}
		for _, n := range dv.BucketedBy {
			if slices.Contains(dv.PartitionedBy, n) {
				d.errf(at("bucketed_by"), "%s.bucketed_by: %q is also a partition column", w, n)
			}
		}
		keys := l.derivedSet[i]
		switch {
		case len(dv.BucketedBy) > 0 && !keys["bucket_count"]:
			d.errf(at("bucketed_by"), "%s.bucket_count: required when bucketed_by is set", w)
		case len(dv.BucketedBy) > 0 && (dv.BucketCount < 1 || dv.BucketCount > MaxBucketCount):
			d.errf(at("bucket_count"), "%s.bucket_count: must be 1..%d, got %d", w, MaxBucketCount, dv.BucketCount)
		case len(dv.BucketedBy) == 0 && keys["bucket_count"]:
			d.errf(at("bucket_count"), "%s.bucket_count: set but bucketed_by is empty", w)
		}
	}
}

// fargateMemory lists the task memory (MiB) Fargate allows per CPU setting:
// min, max and step.
var fargateMemory = map[int][3]int{
	256:   {512, 2048, 512}, // 512, 1024, 2048 (1536 is rejected below)
	512:   {1024, 4096, 1024},
	1024:  {2048, 8192, 1024},
	2048:  {4096, 16384, 1024},
	4096:  {8192, 30720, 1024},
	8192:  {16384, 61440, 4096},
	16384: {32768, 122880, 8192},
}

func (l *loader) validateAWS() {
	a, d := &l.spec.AWS, l.d
	at := func(key string) int { return d.line("aws." + key) }
	if a.Region != "" && !regionRE.MatchString(a.Region) {
		d.errf(at("region"), "aws.region: %q does not look like a region, e.g. us-east-1", a.Region)
	}
	if a.ExpectedBucketOwner != "" && !accountRE.MatchString(a.ExpectedBucketOwner) {
		d.errf(at("expected_bucket_owner"), "aws.expected_bucket_owner: must be a 12-digit account id")
	}
	if a.AthenaOutput != "" && !strings.HasPrefix(a.AthenaOutput, "s3://") {
		d.errf(at("athena_output"), "aws.athena_output: %q must be an s3:// location", a.AthenaOutput)
	}
	if a.LineageTable != "" && !ddbTableRE.MatchString(a.LineageTable) {
		d.errf(at("lineage_table"), "aws.lineage_table: %q is not a valid DynamoDB table name", a.LineageTable)
	}
	if a.Cluster != "" && !clusterRE.MatchString(a.Cluster) {
		d.errf(at("cluster"), "aws.cluster: %q is not a valid ECS cluster name", a.Cluster)
	}
	for i, sn := range a.Subnets {
		if !strings.HasPrefix(sn, "subnet-") {
			d.errf(d.line(fmt.Sprintf("aws.subnets[%d]", i)), "aws.subnets: %q is not a subnet id (subnet-...)", sn)
		}
	}
	for i, sg := range a.SecurityGroups {
		if !strings.HasPrefix(sg, "sg-") {
			d.errf(d.line(fmt.Sprintf("aws.security_groups[%d]", i)), "aws.security_groups: %q is not a security group id (sg-...)", sg)
		}
	}
	mem, ok := fargateMemory[a.TaskCPU]
	if !ok {
		d.errf(at("task_cpu"), "aws.task_cpu: %d is not a Fargate CPU size (256, 512, 1024, 2048, 4096, 8192, 16384)", a.TaskCPU)
	} else if a.TaskMemoryMiB < mem[0] || a.TaskMemoryMiB > mem[1] || a.TaskMemoryMiB%mem[2] != 0 || (a.TaskCPU == 256 && a.TaskMemoryMiB == 1536) {
		d.errf(at("task_memory_mib"), "aws.task_memory_mib: %d is not allowed with task_cpu %d (Fargate allows %d..%d MiB in steps of %d)",
			a.TaskMemoryMiB, a.TaskCPU, mem[0], mem[1], mem[2])
	} else if strings.HasPrefix(l.spec.Lake, "s3://") && l.spec.Convert.MemoryBytes>>20 >= int64(a.TaskMemoryMiB) {
		d.errf(d.line("convert.memory_mb"), "convert.memory_mb: %d leaves no room in the %d MiB Fargate task", l.spec.Convert.MemoryBytes>>20, a.TaskMemoryMiB)
	}
	if a.MaxConcurrency < 0 {
		d.errf(at("max_concurrency"), "aws.max_concurrency: must be ≥ 0 (0 = no limit), got %d", a.MaxConcurrency)
	}
}
