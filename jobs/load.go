package jobs

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Defaults applied to fields a job spec leaves out.
const (
	DefaultLake             = "file://./tierflow-lake" // relative file:// roots are resolved by the runner
	DefaultPattern          = "*.csv.gz"
	DefaultDelimiter        = ','
	DefaultBucketingVersion = 1
	DefaultRowGroupBytes    = 128 << 20
	DefaultRejectRows       = 1000
	DefaultRejectFraction   = 0.001
	DefaultMemoryBytes      = 1 << 30
	DefaultFormat           = "parquet"
	DefaultCompression      = "snappy"
	DefaultTimeout          = 6 * time.Hour
	DefaultWorkgroup        = "primary"
	DefaultLineageTable     = "tierflow-lineage"
	DefaultCluster          = "tierflow"
	DefaultTaskCPU          = 4096
	DefaultTaskMemoryMiB    = 16384
	DefaultMaxConcurrency   = 8
)

// Load reads the job spec at path, with its schema and header sample
// resolved relative to the spec's directory, applies defaults and validates
// it. When anything is wrong the error is an Errors listing every problem.
func Load(path string) (*Spec, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("job spec: %w", err)
	}
	return Parse(path, data, os.ReadFile)
}

// LoadFS is Load on a file system, e.g. an embed.FS or os.DirFS; name and
// the files it references use slash-separated fs.FS paths.
func LoadFS(fsys fs.FS, name string) (*Spec, error) {
	data, err := fs.ReadFile(fsys, name)
	if err != nil {
		return nil, fmt.Errorf("job spec: %w", err)
	}
	l := newLoader(name, func(ref string) string { return path.Join(path.Dir(name), ref) },
		func(p string) ([]byte, error) { return fs.ReadFile(fsys, p) })
	return l.load(data)
}

// Parse is Load on data already read from name; readFile reads the files
// the spec references, given their path joined to name's directory (nil:
// the spec must not reference files).
func Parse(name string, data []byte, readFile func(path string) ([]byte, error)) (*Spec, error) {
	if readFile == nil {
		readFile = func(p string) ([]byte, error) {
			return nil, fmt.Errorf("%s: no files can be read here; write the schema inline", p)
		}
	}
	l := newLoader(name, func(ref string) string { return filepath.Join(filepath.Dir(name), filepath.FromSlash(ref)) }, readFile)
	return l.load(data)
}

// loader holds one load: the spec being filled, the problems found and the
// line of every value, kept for the cross-checks in validate.
type loader struct {
	spec     *Spec
	ps       problems
	d        *decoder // the spec file
	resolve  func(ref string) string
	readFile func(string) ([]byte, error)

	schemaSet  bool
	schemaFile string   // resolved path, "" when inline
	sd         *decoder // decoder of the file holding the schema
	colLines   []int    // line of each column's name
	headerFile string   // resolved path, "" when absent
	headerSeen bool
	derivedSet []map[string]bool // keys present per derived entry
	outputKeys map[string]bool
}

func newLoader(name string, resolve func(string) string, readFile func(string) ([]byte, error)) *loader {
	l := &loader{resolve: resolve, readFile: readFile}
	l.ps.files = []string{name} // the spec's own problems come first
	l.d = &decoder{file: name, ps: &l.ps, lines: map[string]int{}}
	l.spec = &Spec{
		Path: name,
		Lake: DefaultLake,
		Source: Source{
			Pattern:     DefaultPattern,
			Delimiter:   DefaultDelimiter,
			NullMarkers: []string{""},
		},
		Output:  Output{BucketingVersion: DefaultBucketingVersion, RowGroupBytes: DefaultRowGroupBytes},
		Rejects: Rejects{MaxRows: DefaultRejectRows, MaxFraction: DefaultRejectFraction},
		Convert: Convert{MemoryBytes: DefaultMemoryBytes},
		AWS: AWS{
			Workgroup:      DefaultWorkgroup,
			LineageTable:   DefaultLineageTable,
			Cluster:        DefaultCluster,
			TaskCPU:        DefaultTaskCPU,
			TaskMemoryMiB:  DefaultTaskMemoryMiB,
			MaxConcurrency: DefaultMaxConcurrency,
		},
		Timeout: DefaultTimeout,
	}
	return l
}

var yamlLine = regexp.MustCompile(`line (\d+)`)

// parseYAML parses one YAML document; a syntax error becomes a problem.
func parseYAML(d *decoder, data []byte) *yaml.Node {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			d.errf(0, "file is empty")
			return nil
		}
		line := 0
		if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
			line, _ = strconv.Atoi(m[1])
		}
		d.errf(line, "invalid YAML: %v", err)
		return nil
	}
	var next yaml.Node
	if err := dec.Decode(&next); err == nil {
		d.errf(next.Line, "more than one YAML document; a file holds exactly one")
	}
	if len(doc.Content) == 0 {
		d.errf(0, "file is empty")
		return nil
	}
	return doc.Content[0]
}

func (l *loader) load(data []byte) (*Spec, error) {
	if root := parseYAML(l.d, data); root != nil {
		l.decodeSpec(root)
		l.validate()
	}
	if err := l.ps.err(); err != nil {
		return nil, err
	}
	return l.spec, nil
}

func (l *loader) decodeSpec(root *yaml.Node) {
	d, s := l.d, l.spec
	present := map[string]bool{}
	mark := func(key string, fn func(*yaml.Node, string)) field {
		return field{key, func(n *yaml.Node, w string) { present[key] = true; fn(n, w) }}
	}
	if !d.mapping(root, "", []field{
		mark("name", d.setStr(&s.Name)),
		mark("lake", d.setStr(&s.Lake)),
		mark("source", l.decodeSource),
		mark("schema", l.decodeSchemaRef),
		mark("output", l.decodeOutput),
		mark("rejects", func(n *yaml.Node, w string) {
			d.mapping(n, w, []field{
				{"max_rows", d.setInt64(&s.Rejects.MaxRows)},
				{"max_fraction", d.setFloat(&s.Rejects.MaxFraction)},
			})
		}),
		mark("convert", func(n *yaml.Node, w string) {
			d.mapping(n, w, []field{
				{"workers", d.setInt(&s.Convert.Workers)},
				{"memory_mb", d.setMiB(&s.Convert.MemoryBytes)},
				{"parallelism", d.setInt(&s.Convert.Parallelism)},
				{"spill_dir", d.setStr(&s.Convert.SpillDir)},
			})
		}),
		mark("derived", l.decodeDerived),
		mark("catalog", func(n *yaml.Node, w string) {
			d.mapping(n, w, []field{{"database", d.setStr(&s.Database)}})
		}),
		mark("schedule", d.setStr(&s.Schedule)),
		mark("timeout", func(n *yaml.Node, w string) {
			v, ok := d.str(n, w)
			if !ok {
				return
			}
			t, err := time.ParseDuration(v)
			if err != nil || t <= 0 {
				d.errf(d.line(w), "%s: %q is not a positive duration like 6h or 90m", w, v)
				return
			}
			s.Timeout = t
		}),
		mark("aws", l.decodeAWS),
		mark("pii", l.decodePII),
		mark("notify", l.decodeNotify),
		mark("monitor", l.decodeMonitor),
		mark("lifecycle", l.decodeLifecycle),
		mark("openlineage", l.decodeOpenLineage),
	}) {
		return
	}
	for _, key := range []string{"name", "source", "schema", "output", "catalog"} {
		if !present[key] {
			d.errf(deref(root).Line, "required key %q is missing", key)
		}
	}
}

func (l *loader) decodeSource(n *yaml.Node, where string) {
	d, src := l.d, &l.spec.Source
	d.mapping(n, where, []field{
		{"intake", d.setStr(&src.Intake)},
		{"pattern", d.setStr(&src.Pattern)},
		{"header", func(n *yaml.Node, w string) {
			if s, ok := d.str(n, w); ok {
				l.headerSeen, src.HeaderFile = true, s
			}
		}},
		{"delimiter", func(n *yaml.Node, w string) {
			v, ok := d.str(n, w)
			if !ok {
				return
			}
			if len(v) != 1 || v[0] >= 0x80 || v == `"` || v == "\r" || v == "\n" {
				d.errf(d.line(w), "%s: must be one ASCII character other than a quote or line break, got %q", w, v)
				return
			}
			src.Delimiter = v[0]
		}},
		{"null_markers", d.setStrs(&src.NullMarkers)},
		{"complete_when", l.decodeCompleteWhen},
	})
}

// decodeCompleteWhen reads `source.complete_when`: a mapping with exactly
// one of marker, manifest, parts and quiet.
func (l *loader) decodeCompleteWhen(n *yaml.Node, where string) {
	d, c := l.d, &l.spec.Source.CompleteWhen
	set := map[string]bool{}
	mark := marker(set)
	if !d.mapping(n, where, []field{
		mark("marker", d.setStr(&c.Marker)),
		mark("manifest", d.setStr(&c.Manifest)),
		mark("parts", func(n *yaml.Node, w string) {
			if v, ok := d.integer(n, w); ok {
				if v < 1 || v > MaxExpectedParts {
					d.errf(d.line(w), "%s: must be 1..%d, got %d", w, MaxExpectedParts, v)
					return
				}
				c.Parts = int(v)
			}
		}),
		mark("quiet", func(n *yaml.Node, w string) {
			v, ok := d.str(n, w)
			if !ok {
				return
			}
			q, err := time.ParseDuration(v)
			if err != nil || q < time.Second {
				d.errf(d.line(w), "%s: %q is not a duration of at least 1s like 30m or 2h", w, v)
				return
			}
			c.Quiet = q
		}),
	}) {
		return
	}
	switch {
	case len(deref(n).Content) == 0:
		d.errf(d.line(where), "%s: name one condition: marker, manifest, parts or quiet (e.g. {marker: _SUCCESS})", where)
	case len(set) > 1:
		keys := slices.Sorted(maps.Keys(set))
		d.errf(d.line(where), "%s: give one condition, not %s", where, strings.Join(keys, " and "))
	}
}

// marker returns a field maker whose fields also record their key in set
// when given: what a section set, told from what it left to the default.
func marker(set map[string]bool) func(key string, fn func(*yaml.Node, string)) field {
	return func(key string, fn func(*yaml.Node, string)) field {
		return field{key, func(n *yaml.Node, w string) { set[key] = true; fn(n, w) }}
	}
}

func (l *loader) decodeOutput(n *yaml.Node, where string) {
	d, o := l.d, &l.spec.Output
	l.outputKeys = map[string]bool{}
	mark := marker(l.outputKeys)
	d.mapping(n, where, []field{
		mark("table", d.setStr(&o.Table)),
		mark("bucketed_by", d.setStrs(&o.BucketedBy)),
		mark("bucket_count", d.setInt(&o.BucketCount)),
		mark("bucketing_version", d.setInt(&o.BucketingVersion)),
		mark("sorted_by", d.setStrs(&o.SortedBy)),
		mark("row_group_mb", d.setMiB(&o.RowGroupBytes)),
		mark("empty_buckets", d.setBool(&o.EmptyBuckets)),
		mark("bloom_filter", d.setStrs(&o.BloomFilter)),
	})
}

func (l *loader) decodeDerived(n *yaml.Node, where string) {
	d := l.d
	n = deref(n)
	if n.Kind != yaml.SequenceNode {
		d.errf(n.Line, "%s: must be a list of tables, got %s", where, kindName(n))
		return
	}
	for i, item := range n.Content {
		w := fmt.Sprintf("%s[%d]", where, i)
		d.lines[w] = deref(item).Line
		dv := Derived{Format: DefaultFormat, Compression: DefaultCompression, Line: deref(item).Line}
		keys := map[string]bool{}
		mark := marker(keys)
		d.mapping(item, w, []field{
			mark("table", d.setStr(&dv.Table)),
			mark("sql", d.setStr(&dv.SQL)),
			mark("format", d.setStr(&dv.Format)),
			mark("compression", d.setStr(&dv.Compression)),
			mark("partitioned_by", d.setStrs(&dv.PartitionedBy)),
			mark("bucketed_by", d.setStrs(&dv.BucketedBy)),
			mark("bucket_count", d.setInt(&dv.BucketCount)),
			mark("pii", d.setBool(&dv.PII)),
		})
		l.spec.Derived = append(l.spec.Derived, dv)
		l.derivedSet = append(l.derivedSet, keys)
	}
}

func (l *loader) decodeAWS(n *yaml.Node, where string) {
	d, a := l.d, &l.spec.AWS
	d.mapping(n, where, []field{
		{"region", d.setStr(&a.Region)},
		{"kms_key_id", d.setStr(&a.KMSKeyID)},
		{"expected_bucket_owner", d.setStr(&a.ExpectedBucketOwner)},
		{"workgroup", d.setStr(&a.Workgroup)},
		{"athena_output", d.setStr(&a.AthenaOutput)},
		{"lineage_table", d.setStr(&a.LineageTable)},
		{"cluster", d.setStr(&a.Cluster)},
		{"subnets", d.setStrs(&a.Subnets)},
		{"security_groups", d.setStrs(&a.SecurityGroups)},
		{"image", d.setStr(&a.Image)},
		{"task_cpu", d.setInt(&a.TaskCPU)},
		{"task_memory_mib", d.setInt(&a.TaskMemoryMiB)},
		{"max_concurrency", d.setInt(&a.MaxConcurrency)},
	})
}

// decodeSchemaRef takes `schema:` as a file reference (a string) or as the
// column list written inline.
func (l *loader) decodeSchemaRef(n *yaml.Node, where string) {
	d := l.d
	n = deref(n)
	l.schemaSet = true
	switch {
	case n.Kind == yaml.SequenceNode:
		l.sd = d
		l.decodeColumns(n, where)
	case n.Kind == yaml.ScalarNode && n.Tag != "!!null":
		ref := n.Value
		l.spec.SchemaFile = ref
		if !l.checkRef(ref, where) {
			return
		}
		p := l.resolve(ref)
		l.ps.file(p)
		data, err := l.readFile(p)
		if err != nil {
			d.errf(n.Line, "%s: cannot read schema file: %v", where, err)
			return
		}
		l.schemaFile = p
		l.sd = &decoder{file: p, ps: &l.ps, lines: map[string]int{}}
		if root := parseYAML(l.sd, data); root != nil {
			l.decodeColumns(root, "")
		}
	default:
		d.errf(n.Line, "%s: must be a schema file name or a list of columns, got %s", where, kindName(n))
	}
}

// decodeColumns reads the column list into the spec's schema.
func (l *loader) decodeColumns(n *yaml.Node, where string) {
	d := l.sd
	n = deref(n)
	if n.Kind != yaml.SequenceNode {
		d.errf(n.Line, "%s: the schema must be a list of columns ({name: ..., type: ...}), got %s", orTop(where), kindName(n))
		return
	}
	if len(n.Content) == 0 {
		d.errf(n.Line, "%s: the schema has no columns", orTop(where))
	}
	for i, item := range n.Content {
		w := fmt.Sprintf("columns[%d]", i)
		if where != "" {
			w = fmt.Sprintf("%s[%d]", where, i)
		}
		var c Column
		var as, typ string
		var hasName, hasType, hasAs bool
		line := deref(item).Line
		d.mapping(item, w, []field{
			{"name", func(n *yaml.Node, w string) {
				if s, ok := d.str(n, w); ok {
					c.Source, hasName = s, true
				}
			}},
			{"as", func(n *yaml.Node, w string) {
				if s, ok := d.str(n, w); ok {
					as, hasAs = s, true
				}
			}},
			{"type", func(n *yaml.Node, w string) {
				if s, ok := d.str(n, w); ok {
					typ, hasType = s, true
				}
			}},
			{"pii", d.setStr(&c.PII)},
			{"comment", d.setStr(&c.Comment)},
			{"normalize", func(n *yaml.Node, w string) { d.decodeNormalize(n, w, &c.Normalize) }},
			{"check", func(n *yaml.Node, w string) { c.Check = d.decodeCheck(n, w) }},
		})
		if ln, ok := d.lines[w+".name"]; ok {
			line = ln
		}
		if !hasName {
			d.errf(line, "%s: column has no name", w)
		}
		if hasType {
			t, err := ParseType(typ)
			if err != nil {
				d.errf(d.line(w+".type"), "%s: %v", w, err)
			}
			c.Type = t
		} else {
			d.errf(line, "%s: column %q has no type", w, c.Source)
		}
		if !ValidPII(c.PII) {
			d.errf(d.line(w+".pii"), "%s: unknown PII class %q (want one of %v, or leave it out)", w, c.PII, PIIClasses())
		}
		d.validateCheck(&c, w)
		if hasAs {
			c.Name = as
		} else {
			c.Name = NormalizeName(c.Source)
		}
		l.spec.Schema.Columns = append(l.spec.Schema.Columns, c)
		l.colLines = append(l.colLines, line)
	}
}

// checkRef refuses references that are absolute or climb out of the spec's
// directory, so a spec cannot read arbitrary files.
func (l *loader) checkRef(ref, where string) bool {
	if ref == "" {
		l.d.errf(l.d.line(where), "%s: file name is empty", where)
		return false
	}
	if bad := escapes(ref); bad != "" {
		l.d.errf(l.d.line(where), "%s: %q %s; name a file in or below the spec's directory", where, ref, bad)
		return false
	}
	return true
}

// escapes says why a relative path is unacceptable, or "".
func escapes(p string) string {
	if path.IsAbs(p) || filepath.IsAbs(p) || (len(p) > 1 && p[1] == ':') {
		return "is absolute"
	}
	for _, part := range splitPath(p) {
		if part == ".." {
			return "climbs out with '..'"
		}
	}
	return ""
}

func splitPath(p string) []string {
	var parts []string
	start := 0
	for i := 0; i <= len(p); i++ {
		if i == len(p) || p[i] == '/' || p[i] == '\\' {
			parts = append(parts, p[start:i])
			start = i + 1
		}
	}
	return parts
}

// loadHeader reads the vendor's header sample: its first CSV record. A
// UTF-8 byte-order mark is dropped (spreadsheet exports add one); further
// lines, if any, are sample rows and are not read.
func (l *loader) loadHeader() {
	src := &l.spec.Source
	where := "source.header"
	if !l.checkRef(src.HeaderFile, where) {
		return
	}
	p := l.resolve(src.HeaderFile)
	l.ps.file(p)
	data, err := l.readFile(p)
	if err != nil {
		l.d.errf(l.d.line(where), "%s: cannot read header sample: %v", where, err)
		return
	}
	l.headerFile = p
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	r := csv.NewReader(bytes.NewReader(data))
	r.Comma = rune(src.Delimiter)
	r.FieldsPerRecord = -1
	rec, err := r.Read()
	if err != nil {
		if errors.Is(err, io.EOF) {
			l.ps.add(p, 0, "header sample is empty")
		} else {
			l.ps.add(p, 1, "header sample is not valid CSV: %v", err)
		}
		return
	}
	src.Header = rec
}
