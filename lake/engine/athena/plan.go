package athena

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/tierflow/tierflow/lake/catalog"
	"github.com/tierflow/tierflow/lake/engine"
)

// plan is a CTAS made ready to run: names, rendered statement, inputs.
type plan struct {
	db          string   // the CTAS database: unqualified names resolve here
	target      tableRef // scratch table Athena creates
	inputs      []stagedInput
	sql         string   // the full CREATE TABLE ... AS statement
	inputTables []string // db.table of every source and input
	tokenSeed   string   // what the ClientRequestToken is derived from
}

// stagedInput is an engine.Input registered as a scratch table.
type stagedInput struct {
	from, to tableRef
	table    catalog.Table
	parts    []catalog.Partition
}

// token is the ClientRequestToken of the given attempt: derived from the
// statement and everything else StartQueryExecution is sent, so that a
// retried start of the same CTAS finds the same query (64 hex digits;
// Athena takes 32 to 128 characters).
func (p *plan) token(attempt int) string {
	return hashHex(p.tokenSeed, strconv.Itoa(attempt))
}

// checked is a CTAS that passed check, its names folded and its SQL
// without a trailing ';'.
type checked struct {
	engine.CTAS
	db, table, body, compression string
	partitionedBy, bucketedBy    []string
}

// check refuses a CTAS that cannot run on Athena before any call.
func (e *Engine) check(c engine.CTAS) (checked, error) {
	k := checked{CTAS: c, db: strings.ToLower(strings.TrimSpace(c.Database)), table: strings.ToLower(strings.TrimSpace(c.Table))}
	k.body = strings.TrimSpace(c.SQL)
	for strings.HasSuffix(k.body, ";") {
		k.body = strings.TrimSpace(strings.TrimSuffix(k.body, ";"))
	}
	switch {
	case k.db == "" || k.table == "":
		return k, errors.New("database and table are required")
	case k.body == "":
		return k, errors.New("empty SQL")
	case c.Location == "":
		return k, errors.New("location is required: the result is written under external_location")
	}
	if f := strings.ToLower(c.Format); f != "" && f != "parquet" {
		return k, fmt.Errorf("format %q: tierflow's derived tables are parquet", c.Format)
	}
	k.compression = strings.ToUpper(c.Compression)
	switch k.compression {
	case "":
		k.compression = "SNAPPY"
	case "SNAPPY", "GZIP", "ZSTD":
	default:
		return k, fmt.Errorf("compression %q: want snappy, gzip or zstd", c.Compression)
	}
	k.partitionedBy = lowerAll(c.PartitionedBy)
	k.bucketedBy = lowerAll(c.BucketedBy)
	if (len(k.bucketedBy) > 0) != (c.BucketCount > 0) {
		return k, fmt.Errorf("bucketed_by %v and bucket_count %d go together", c.BucketedBy, c.BucketCount)
	}
	for _, b := range k.bucketedBy {
		if slices.Contains(k.partitionedBy, b) {
			return k, fmt.Errorf("column %q is both a partition and a bucket column", b)
		}
	}
	// Each partition written opens one writer per bucket. Without
	// partitioned_by the result is one partition; with it the count is
	// only known when the query runs, and Athena fails it with
	// HIVE_TOO_MANY_OPEN_PARTITIONS (QueryError says what to do).
	if writers := max(c.BucketCount, 1); writers > e.opts.MaxWriters {
		return k, fmt.Errorf("%w: bucket_count %d needs %d open writers per partition, Athena allows %d per CTAS (HIVE_TOO_MANY_OPEN_PARTITIONS)", engine.ErrUnsupported, c.BucketCount, writers, e.opts.MaxWriters)
	}
	return k, nil
}

// scratchHash names this CTAS's scratch tables: a digest of everything
// that makes the statement, so another CTAS never shares them.
func (k checked) scratchHash(scratchDB string) string {
	seed := []string{k.db, k.table, k.body, k.Location, k.compression, strings.Join(k.partitionedBy, ","),
		strings.Join(k.bucketedBy, ","), strconv.Itoa(k.BucketCount), scratchDB}
	for _, in := range k.Inputs {
		seed = append(seed, in.Table.Database, in.Table.Name, in.Table.StorageDescriptor.Location)
		for _, p := range in.Partitions {
			seed = append(seed, strings.Join(p.Values, "/"), p.StorageDescriptor.Location)
		}
	}
	return hashHex(seed...)[:10]
}

// properties renders the CTAS's WITH (...) list.
func (k checked) properties() string {
	props := []string{
		"format = 'PARQUET'",
		"write_compression = " + quoteString(k.compression),
		"external_location = " + quoteString(k.Location),
	}
	if len(k.partitionedBy) > 0 {
		props = append(props, "partitioned_by = "+array(k.partitionedBy))
	}
	if len(k.bucketedBy) > 0 {
		props = append(props, "bucketed_by = "+array(k.bucketedBy), "bucket_count = "+strconv.Itoa(k.BucketCount))
	}
	return strings.Join(props, ", ")
}

// plan checks c and renders its statement.
func (e *Engine) plan(c engine.CTAS) (*plan, error) {
	k, err := e.check(c)
	if err != nil {
		return nil, err
	}
	db := k.db
	scratchDB := strings.ToLower(e.opts.Database)
	if scratchDB == "" {
		scratchDB = db
	}
	hash := k.scratchHash(scratchDB)
	p := &plan{db: db, target: tableRef{scratchDB, k.table + scratchMarker + hash}}

	scratch := map[tableRef]tableRef{}
	for _, in := range c.Inputs {
		from := tableRef{strings.ToLower(in.Table.Database), strings.ToLower(in.Table.Name)}
		if from.db == "" {
			from.db = db
		}
		if from.table == "" {
			return nil, errors.New("an input has no table name")
		}
		if _, dup := scratch[from]; dup {
			return nil, fmt.Errorf("input %s given twice", from)
		}
		to := tableRef{scratchDB, from.table + scratchMarker + hash}
		scratch[from] = to
		p.inputs = append(p.inputs, stagedInput{from: from, to: to, table: in.Table, parts: in.Partitions})
	}
	rewritten, err := shadow(k.body, db, scratch)
	if err != nil {
		return nil, fmt.Errorf("rewriting the SQL to read the inputs: %w", err)
	}
	p.sql = "CREATE TABLE " + p.target.quoted() + " WITH (" + k.properties() + ") AS\n" + rewritten

	for _, s := range c.Sources {
		s = strings.ToLower(strings.TrimSpace(s))
		if !strings.Contains(s, ".") {
			s = db + "." + s
		}
		if !slices.Contains(p.inputTables, s) {
			p.inputTables = append(p.inputTables, s)
		}
	}
	for _, in := range p.inputs {
		if !slices.Contains(p.inputTables, in.from.String()) {
			p.inputTables = append(p.inputTables, in.from.String())
		}
	}
	p.tokenSeed = hashHex(p.sql, db, e.opts.Workgroup, e.opts.OutputLocation, e.opts.KMSKey)
	return p, nil
}

// Statement is the CREATE TABLE ... AS statement CreateTableAs sends to
// Athena for c, its SQL reading the scratch tables of c's inputs; an error
// says why c cannot run. Nothing is sent.
func (e *Engine) Statement(c engine.CTAS) (string, error) {
	p, err := e.plan(c)
	if err != nil {
		return "", fmt.Errorf("athena: %s.%s: %w", c.Database, c.Table, err)
	}
	return p.sql, nil
}

func lowerAll(s []string) []string {
	out := make([]string, len(s))
	for i, v := range s {
		out[i] = strings.ToLower(strings.TrimSpace(v))
	}
	return out
}

// array renders ARRAY['a', 'b'].
func array(items []string) string {
	q := make([]string, len(items))
	for i, s := range items {
		q[i] = quoteString(s)
	}
	return "ARRAY[" + strings.Join(q, ", ") + "]"
}
