package awsfake

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
)

// Glue is the fake Glue Data Catalog (X-Amz-Target prefix "AWSGlue", SigV4
// service "glue"): databases, tables and partitions in memory.
//
// Operations: CreateDatabase, GetDatabase, CreateTable, UpdateTable,
// GetTable, DeleteTable, GetTables, CreatePartition, UpdatePartition,
// GetPartition, GetPartitions, BatchCreatePartition, BatchUpdatePartition,
// DeletePartition, BatchDeletePartition.
//
// Like Glue it folds database and table names to lowercase, answers
// EntityNotFoundException, AlreadyExistsException and (for a stale
// UpdateTable VersionId) ConcurrentModificationException, checks partition
// value counts, enforces the batch limits (100 to create or update, 25 to
// delete) and pages GetPartitions with NextToken. Beyond Glue, it refuses
// with InvalidInputException what Athena (Trino) would fail queries on
// (research/athena-compat.md §2.2, §5): a missing StorageDescriptor or
// PartitionKeys member, column names that are not lowercase or are used
// twice, NumberOfBuckets > 0 without BucketColumns naming data columns (or
// BucketColumns without NumberOfBuckets), a spark.sql.sources.provider
// parameter, bucketing_format=spark, a bucketing_version other than 1 or
// 2, and partitions whose NumberOfBuckets/BucketColumns differ from their
// table's.
type Glue struct {
	s        *Server
	mu       sync.Mutex
	dbs      map[string]*glueDB
	pageSize int
}

type glueDB struct {
	Name        string            `json:"Name"`
	Description string            `json:"Description,omitempty"`
	LocationURI string            `json:"LocationUri,omitempty"`
	Parameters  map[string]string `json:"Parameters,omitempty"`
	CreateTime  float64           `json:"CreateTime"`
	CatalogID   string            `json:"CatalogId"`
	tables      map[string]*glueTableState
}

type glueTableState struct {
	table   glueTable
	version int
	parts   map[string]*gluePartition
	order   []string // partition keys in creation order: Glue promises no order
}

// Wire shapes (PascalCase members, as Glue sends and receives them).

type glueColumn struct {
	Name       *string           `json:"Name"`
	Type       string            `json:"Type,omitempty"`
	Comment    string            `json:"Comment,omitempty"`
	Parameters map[string]string `json:"Parameters,omitempty"`
}

type glueOrder struct {
	Column    *string `json:"Column"`
	SortOrder *int    `json:"SortOrder"`
}

type glueSerDe struct {
	Name                 string            `json:"Name,omitempty"`
	SerializationLibrary string            `json:"SerializationLibrary,omitempty"`
	Parameters           map[string]string `json:"Parameters,omitempty"`
}

type glueSD struct {
	Columns                []glueColumn      `json:"Columns,omitempty"`
	Location               string            `json:"Location,omitempty"`
	AdditionalLocations    []string          `json:"AdditionalLocations,omitempty"`
	InputFormat            string            `json:"InputFormat,omitempty"`
	OutputFormat           string            `json:"OutputFormat,omitempty"`
	Compressed             bool              `json:"Compressed"`
	NumberOfBuckets        int               `json:"NumberOfBuckets"`
	SerdeInfo              *glueSerDe        `json:"SerdeInfo,omitempty"`
	BucketColumns          []string          `json:"BucketColumns"`
	SortColumns            []glueOrder       `json:"SortColumns"`
	Parameters             map[string]string `json:"Parameters,omitempty"`
	StoredAsSubDirectories bool              `json:"StoredAsSubDirectories"`
}

type glueTableInput struct {
	Name              *string           `json:"Name"`
	Description       string            `json:"Description,omitempty"`
	Owner             string            `json:"Owner,omitempty"`
	Retention         int               `json:"Retention,omitempty"`
	StorageDescriptor *glueSD           `json:"StorageDescriptor,omitempty"`
	PartitionKeys     *[]glueColumn     `json:"PartitionKeys,omitempty"` // pointer: absent ≠ empty
	TableType         string            `json:"TableType,omitempty"`
	Parameters        map[string]string `json:"Parameters,omitempty"`
	ViewOriginalText  string            `json:"ViewOriginalText,omitempty"`
	ViewExpandedText  string            `json:"ViewExpandedText,omitempty"`
}

type glueTable struct {
	Name                          string            `json:"Name"`
	DatabaseName                  string            `json:"DatabaseName"`
	CatalogID                     string            `json:"CatalogId"`
	Description                   string            `json:"Description,omitempty"`
	Owner                         string            `json:"Owner,omitempty"`
	CreateTime                    float64           `json:"CreateTime"`
	UpdateTime                    float64           `json:"UpdateTime"`
	Retention                     int               `json:"Retention"`
	StorageDescriptor             *glueSD           `json:"StorageDescriptor,omitempty"`
	PartitionKeys                 []glueColumn      `json:"PartitionKeys"`
	TableType                     string            `json:"TableType,omitempty"`
	Parameters                    map[string]string `json:"Parameters,omitempty"`
	ViewOriginalText              string            `json:"ViewOriginalText,omitempty"`
	ViewExpandedText              string            `json:"ViewExpandedText,omitempty"`
	VersionID                     string            `json:"VersionId"`
	IsRegisteredWithLakeFormation bool              `json:"IsRegisteredWithLakeFormation"`
}

type gluePartitionInput struct {
	Values            []string          `json:"Values"`
	Parameters        map[string]string `json:"Parameters,omitempty"`
	StorageDescriptor *glueSD           `json:"StorageDescriptor,omitempty"`
}

type gluePartition struct {
	Values            []string          `json:"Values"`
	DatabaseName      string            `json:"DatabaseName"`
	TableName         string            `json:"TableName"`
	CatalogID         string            `json:"CatalogId"`
	CreationTime      float64           `json:"CreationTime"`
	StorageDescriptor *glueSD           `json:"StorageDescriptor,omitempty"`
	Parameters        map[string]string `json:"Parameters,omitempty"`
}

type glueErrorDetail struct {
	ErrorCode    string `json:"ErrorCode"`
	ErrorMessage string `json:"ErrorMessage"`
}

func newGlue(s *Server) *Glue {
	return &Glue{s: s, dbs: map[string]*glueDB{}, pageSize: 100}
}

// SetPageSize sets the most items one GetPartitions or GetTables page
// holds (default 100); a small value makes tests exercise pagination.
func (g *Glue) SetPageSize(n int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.pageSize = max(n, 1)
}

// TableNames returns the tables of a database, sorted.
func (g *Glue) TableNames(db string) []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	d := g.dbs[strings.ToLower(db)]
	if d == nil {
		return nil
	}
	var out []string
	for n := range d.tables {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// Table returns a stored table as GetTable would answer it (decoded JSON),
// or nil.
func (g *Glue) Table(db, name string) map[string]any {
	g.mu.Lock()
	defer g.mu.Unlock()
	d := g.dbs[strings.ToLower(db)]
	if d == nil || d.tables[strings.ToLower(name)] == nil {
		return nil
	}
	return toMap(d.tables[strings.ToLower(name)].table)
}

// PartitionValues returns the values of a table's partitions in creation
// order, or nil.
func (g *Glue) PartitionValues(db, table string) [][]string {
	g.mu.Lock()
	defer g.mu.Unlock()
	d := g.dbs[strings.ToLower(db)]
	if d == nil || d.tables[strings.ToLower(table)] == nil {
		return nil
	}
	ts := d.tables[strings.ToLower(table)]
	var out [][]string
	for _, k := range ts.order {
		out = append(out, slices.Clone(ts.parts[k].Values))
	}
	return out
}

func toMap(v any) map[string]any {
	b, _ := json.Marshal(v)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	return m
}

// clone deep-copies a wire value so callers never alias stored state.
func clone[T any](v T) T {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	var out T
	if err := json.Unmarshal(b, &out); err != nil {
		panic(err)
	}
	return out
}

func (g *Glue) service() *JSONService {
	return &JSONService{
		TargetPrefix: "AWSGlue",
		SigningName:  "glue",
		JSONVersion:  "1.1",
		Operations: map[string]Operation{
			"CreateDatabase":       g.createDatabase,
			"GetDatabase":          g.getDatabase,
			"CreateTable":          g.createTable,
			"UpdateTable":          g.updateTable,
			"GetTable":             g.getTable,
			"DeleteTable":          g.deleteTable,
			"GetTables":            g.getTables,
			"CreatePartition":      g.createPartition,
			"UpdatePartition":      g.updatePartition,
			"GetPartition":         g.getPartition,
			"GetPartitions":        g.getPartitions,
			"BatchCreatePartition": g.batchCreatePartition,
			"BatchUpdatePartition": g.batchUpdatePartition,
			"DeletePartition":      g.deletePartition,
			"BatchDeletePartition": g.batchDeletePartition,
		},
	}
}

// validation reports a constraint the Glue API model enforces (the SDK's
// own checks only cover required members being nil).
func validation(format string, args ...any) *Error {
	return BadRequest("ValidationException", "1 validation error detected: "+format, args...)
}

func invalidInput(format string, args ...any) *Error {
	return Errorf("InvalidInputException", format, args...)
}

func notFound(format string, args ...any) *Error {
	return Errorf("EntityNotFoundException", format, args...)
}

// name folds a Glue name and checks the API's length and pattern
// constraints.
func name(member, v string) (string, *Error) {
	if v == "" || utf8.RuneCountInString(v) > 255 {
		return "", validation("Value %q at '%s' failed to satisfy constraint: Member must have length between 1 and 255", v, member)
	}
	if strings.ContainsFunc(v, func(r rune) bool { return r == '\n' || r == '\r' }) {
		return "", validation("Value %q at '%s' failed to satisfy constraint: Member must satisfy the single-line string pattern", v, member)
	}
	return strings.ToLower(v), nil
}

func checkCatalog(id string) *Error {
	if id != "" && id != AccountID {
		return Errorf("AccessDeniedException", "catalog %s is not accessible from account %s", id, AccountID)
	}
	return nil
}

// lookup returns the table state or EntityNotFoundException. Callers hold
// g.mu.
func (g *Glue) lookup(db, table string) (*glueDB, *glueTableState, *Error) {
	d := g.dbs[db]
	if d == nil {
		return nil, nil, notFound("Database %s not found.", db)
	}
	t := d.tables[table]
	if t == nil {
		return d, nil, notFound("Table %s not found.", table)
	}
	return d, t, nil
}

func (g *Glue) createDatabase(c *Call) (any, error) {
	var in struct {
		CatalogID     string `json:"CatalogId"`
		DatabaseInput *struct {
			Name        *string           `json:"Name"`
			Description string            `json:"Description"`
			LocationURI string            `json:"LocationUri"`
			Parameters  map[string]string `json:"Parameters"`
		} `json:"DatabaseInput"`
		Tags map[string]string `json:"Tags"`
	}
	if err := c.Decode(&in); err != nil {
		return nil, err
	}
	if e := checkCatalog(in.CatalogID); e != nil {
		return nil, e
	}
	if in.DatabaseInput == nil || in.DatabaseInput.Name == nil {
		return nil, validation("DatabaseInput.Name is required")
	}
	n, e := name("databaseInput.name", *in.DatabaseInput.Name)
	if e != nil {
		return nil, e
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.dbs[n] != nil {
		return nil, Errorf("AlreadyExistsException", "Database already exists.")
	}
	g.dbs[n] = &glueDB{
		Name: n, Description: in.DatabaseInput.Description, LocationURI: in.DatabaseInput.LocationURI,
		Parameters: in.DatabaseInput.Parameters, CreateTime: epoch(g.s.clock()), CatalogID: AccountID,
		tables: map[string]*glueTableState{},
	}
	return struct{}{}, nil
}

func (g *Glue) getDatabase(c *Call) (any, error) {
	var in struct {
		CatalogID string  `json:"CatalogId"`
		Name      *string `json:"Name"`
	}
	if err := c.Decode(&in); err != nil {
		return nil, err
	}
	if e := checkCatalog(in.CatalogID); e != nil {
		return nil, e
	}
	if in.Name == nil {
		return nil, validation("Name is required")
	}
	n, e := name("name", *in.Name)
	if e != nil {
		return nil, e
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	d := g.dbs[n]
	if d == nil {
		return nil, notFound("Database %s not found.", n)
	}
	return map[string]any{"Database": clone(*d)}, nil
}

// tableRequest is the common input of CreateTable and UpdateTable.
type tableRequest struct {
	CatalogID    string          `json:"CatalogId"`
	DatabaseName *string         `json:"DatabaseName"`
	TableInput   *glueTableInput `json:"TableInput"`
	// UpdateTable only.
	VersionID   string `json:"VersionId"`
	SkipArchive *bool  `json:"SkipArchive"`
	Force       bool   `json:"Force"`
}

// decodeTable decodes and checks a CreateTable/UpdateTable request and
// returns the folded names and the table as Glue would store it.
func (g *Glue) decodeTable(c *Call, update bool) (tableRequest, glueTable, *Error) {
	var in tableRequest
	if err := c.Decode(&in); err != nil {
		return in, glueTable{}, err.(*Error)
	}
	if e := checkCatalog(in.CatalogID); e != nil {
		return in, glueTable{}, e
	}
	if !update && (in.VersionID != "" || in.SkipArchive != nil || in.Force) {
		return in, glueTable{}, BadRequest("SerializationException", "CreateTable has no VersionId, SkipArchive or Force member")
	}
	if in.DatabaseName == nil || in.TableInput == nil || in.TableInput.Name == nil {
		return in, glueTable{}, validation("DatabaseName, TableInput and TableInput.Name are required")
	}
	db, e := name("databaseName", *in.DatabaseName)
	if e != nil {
		return in, glueTable{}, e
	}
	tn, e := name("tableInput.name", *in.TableInput.Name)
	if e != nil {
		return in, glueTable{}, e
	}
	if e := checkColumnsShape(in.TableInput); e != nil {
		return in, glueTable{}, e
	}
	ti := clone(*in.TableInput)
	t := glueTable{
		Name: tn, DatabaseName: db, CatalogID: AccountID,
		Description: ti.Description, Owner: ti.Owner, Retention: ti.Retention,
		StorageDescriptor: ti.StorageDescriptor, TableType: ti.TableType, Parameters: ti.Parameters,
		ViewOriginalText: ti.ViewOriginalText, ViewExpandedText: ti.ViewExpandedText,
	}
	if ti.PartitionKeys != nil {
		t.PartitionKeys = *ti.PartitionKeys
	}
	if e := athenaTableRules(ti); e != nil {
		return in, glueTable{}, e
	}
	normalizeSD(t.StorageDescriptor)
	if t.PartitionKeys == nil {
		t.PartitionKeys = []glueColumn{}
	}
	return in, t, nil
}

// checkColumnsShape checks required members of columns and sort orders.
func checkColumnsShape(ti *glueTableInput) *Error {
	var cols []glueColumn
	if ti.PartitionKeys != nil {
		cols = append(cols, *ti.PartitionKeys...)
	}
	if sd := ti.StorageDescriptor; sd != nil {
		cols = append(cols, sd.Columns...)
		for _, o := range sd.SortColumns {
			if o.Column == nil || o.SortOrder == nil {
				return validation("SortColumns members need Column and SortOrder")
			}
			if *o.SortOrder != 0 && *o.SortOrder != 1 {
				return validation("Value %d at 'sortOrder' failed to satisfy constraint: Member must have value between 0 and 1", *o.SortOrder)
			}
		}
	}
	for _, col := range cols {
		if col.Name == nil {
			return validation("Column.Name is required")
		}
		if _, e := name("column.name", *col.Name); e != nil {
			return e
		}
	}
	return nil
}

func normalizeSD(sd *glueSD) {
	if sd == nil {
		return
	}
	if sd.BucketColumns == nil {
		sd.BucketColumns = []string{}
	}
	if sd.SortColumns == nil {
		sd.SortColumns = []glueOrder{}
	}
}

// athenaTableRules applies what Athena/Trino need of a table definition.
func athenaTableRules(ti glueTableInput) *Error {
	if ti.TableType == "VIRTUAL_VIEW" {
		return nil
	}
	sd := ti.StorageDescriptor
	if sd == nil {
		return invalidInput("StorageDescriptor is missing: Athena cannot read a table without one")
	}
	if ti.PartitionKeys == nil {
		return invalidInput("PartitionKeys is absent: a table used by Athena needs at least an empty list")
	}
	if _, ok := ti.Parameters["spark.sql.sources.provider"]; ok {
		return invalidInput("parameter spark.sql.sources.provider is set: Athena would treat the table as a Spark data source and ignore its Hive bucketing")
	}
	if v, ok := ti.Parameters["bucketing_version"]; ok && v != "1" && v != "2" {
		return invalidInput("bucketing_version %q: Athena supports 1 and 2 only", v)
	}
	if sd.NumberOfBuckets > 0 && ti.Parameters["bucketing_format"] == "spark" {
		return invalidInput("bucketing_format=spark: files are expected to follow Hive bucketing")
	}
	seen := map[string]string{}
	data := map[string]bool{}
	check := func(kind string, cols []glueColumn) *Error {
		for _, col := range cols {
			n := *col.Name
			if n != strings.ToLower(n) {
				return invalidInput("%s %q is not lowercase: Athena matches column and bucket names by their lowercase form", kind, n)
			}
			if strings.IndexFunc(n, func(r rune) bool { return !unicode.IsPrint(r) }) >= 0 {
				return invalidInput("%s %q has non-printable characters", kind, n)
			}
			if col.Type == "" {
				return invalidInput("%s %q has no Type", kind, n)
			}
			if prev, dup := seen[n]; dup {
				return invalidInput("%s %q is already a %s", kind, n, prev)
			}
			seen[n] = kind
		}
		return nil
	}
	if e := check("column", sd.Columns); e != nil {
		return e
	}
	for _, col := range sd.Columns {
		data[*col.Name] = true
	}
	if e := check("partition key", *ti.PartitionKeys); e != nil {
		return e
	}
	return bucketRules(sd, data)
}

// bucketRules is research/athena-compat.md §2.2 for one storage
// descriptor: Trino's HIVE_INVALID_METADATA cases.
func bucketRules(sd *glueSD, data map[string]bool) *Error {
	switch {
	case sd.NumberOfBuckets > 0 && len(sd.BucketColumns) == 0:
		return invalidInput("NumberOfBuckets %d without BucketColumns: Athena fails with HIVE_INVALID_METADATA (numBuckets set, bucketCols not set)", sd.NumberOfBuckets)
	case sd.NumberOfBuckets <= 0 && len(sd.BucketColumns) > 0:
		return invalidInput("BucketColumns %q with NumberOfBuckets %d: Athena would read the data as not bucketed", sd.BucketColumns, sd.NumberOfBuckets)
	}
	for _, b := range sd.BucketColumns {
		if !data[b] {
			return invalidInput("bucket column %q is not a data column: Athena fails with HIVE_INVALID_METADATA (bucketed on non-existent column)", b)
		}
	}
	for _, o := range sd.SortColumns {
		if !data[*o.Column] {
			return invalidInput("sort column %q is not a data column", *o.Column)
		}
	}
	return nil
}

func (g *Glue) createTable(c *Call) (any, error) {
	_, t, e := g.decodeTable(c, false)
	if e != nil {
		return nil, e
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	d := g.dbs[t.DatabaseName]
	if d == nil {
		return nil, notFound("Database %s not found.", t.DatabaseName)
	}
	if d.tables[t.Name] != nil {
		return nil, Errorf("AlreadyExistsException", "Table already exists.")
	}
	now := epoch(g.s.clock())
	t.CreateTime, t.UpdateTime, t.VersionID = now, now, "0"
	d.tables[t.Name] = &glueTableState{table: t, parts: map[string]*gluePartition{}}
	return struct{}{}, nil
}

func (g *Glue) updateTable(c *Call) (any, error) {
	in, t, e := g.decodeTable(c, true)
	if e != nil {
		return nil, e
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	_, ts, e := g.lookup(t.DatabaseName, t.Name)
	if e != nil {
		return nil, e
	}
	if in.VersionID != "" && in.VersionID != ts.table.VersionID {
		return nil, Errorf("ConcurrentModificationException", "Update table failed due to concurrent modifications: version %s is not the current version %s.", in.VersionID, ts.table.VersionID)
	}
	if len(ts.parts) > 0 && len(t.PartitionKeys) != len(ts.table.PartitionKeys) {
		return nil, invalidInput("table has %d partitions with %d keys; the new definition has %d keys", len(ts.parts), len(ts.table.PartitionKeys), len(t.PartitionKeys))
	}
	ts.version++
	t.CreateTime, t.UpdateTime = ts.table.CreateTime, epoch(g.s.clock())
	t.VersionID = strconv.Itoa(ts.version)
	ts.table = t
	return struct{}{}, nil
}

// tableRef is the input of GetTable and DeleteTable.
type tableRef struct {
	CatalogID    string  `json:"CatalogId"`
	DatabaseName *string `json:"DatabaseName"`
	Name         *string `json:"Name"`
}

func (g *Glue) decodeRef(c *Call) (string, string, *Error) {
	var in tableRef
	if err := c.Decode(&in); err != nil {
		return "", "", err.(*Error)
	}
	if e := checkCatalog(in.CatalogID); e != nil {
		return "", "", e
	}
	if in.DatabaseName == nil || in.Name == nil {
		return "", "", validation("DatabaseName and Name are required")
	}
	db, e := name("databaseName", *in.DatabaseName)
	if e != nil {
		return "", "", e
	}
	tn, e := name("name", *in.Name)
	return db, tn, e
}

func (g *Glue) getTable(c *Call) (any, error) {
	db, tn, e := g.decodeRef(c)
	if e != nil {
		return nil, e
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	_, ts, e := g.lookup(db, tn)
	if e != nil {
		return nil, e
	}
	return map[string]any{"Table": clone(ts.table)}, nil
}

func (g *Glue) deleteTable(c *Call) (any, error) {
	db, tn, e := g.decodeRef(c)
	if e != nil {
		return nil, e
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	d, _, e := g.lookup(db, tn)
	if e != nil {
		return nil, e
	}
	delete(d.tables, tn)
	return struct{}{}, nil
}

// page tokens are opaque to clients; here they carry an offset.
func encodeToken(off int) string {
	return base64.StdEncoding.EncodeToString([]byte("awsfake:" + strconv.Itoa(off)))
}

func decodeToken(tok string) (int, *Error) {
	if tok == "" {
		return 0, nil
	}
	b, err := base64.StdEncoding.DecodeString(tok)
	n, perr := strconv.Atoi(strings.TrimPrefix(string(b), "awsfake:"))
	if err != nil || perr != nil || !strings.HasPrefix(string(b), "awsfake:") || n < 0 {
		return 0, BadRequest("InvalidInputException", "NextToken %q was not issued by this service", tok)
	}
	return n, nil
}

func (g *Glue) pageLen(maxResults *int, limit int) (int, *Error) {
	n := g.pageSize
	if maxResults != nil {
		if *maxResults < 1 || *maxResults > limit {
			return 0, validation("Value %d at 'maxResults' failed to satisfy constraint: Member must have value between 1 and %d", *maxResults, limit)
		}
		n = min(n, *maxResults)
	}
	return n, nil
}

func (g *Glue) getTables(c *Call) (any, error) {
	var in struct {
		CatalogID    string  `json:"CatalogId"`
		DatabaseName *string `json:"DatabaseName"`
		Expression   string  `json:"Expression"`
		NextToken    string  `json:"NextToken"`
		MaxResults   *int    `json:"MaxResults"`
	}
	if err := c.Decode(&in); err != nil {
		return nil, err
	}
	if e := checkCatalog(in.CatalogID); e != nil {
		return nil, e
	}
	if in.DatabaseName == nil {
		return nil, validation("DatabaseName is required")
	}
	if in.Expression != "" {
		return nil, BadRequest("InvalidInputException", "GetTables Expression is not modelled by awsfake")
	}
	db, e := name("databaseName", *in.DatabaseName)
	if e != nil {
		return nil, e
	}
	off, e := decodeToken(in.NextToken)
	if e != nil {
		return nil, e
	}
	n, e := g.pageLen(in.MaxResults, 100)
	if e != nil {
		return nil, e
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	d := g.dbs[db]
	if d == nil {
		return nil, notFound("Database %s not found.", db)
	}
	var names []string
	for tn := range d.tables {
		names = append(names, tn)
	}
	slices.Sort(names)
	out := map[string]any{}
	list := []glueTable{}
	for i := off; i < len(names) && i < off+n; i++ {
		list = append(list, clone(d.tables[names[i]].table))
	}
	out["TableList"] = list
	if off+n < len(names) {
		out["NextToken"] = encodeToken(off + n)
	}
	return out, nil
}

func partKey(values []string) string { return strings.Join(values, "\x00") }

// checkPartition applies Glue's and Athena's rules to a partition of t.
func checkPartition(t glueTable, p gluePartitionInput) *Error {
	if p.Values == nil {
		return validation("PartitionInput.Values is required")
	}
	if len(p.Values) != len(t.PartitionKeys) {
		return invalidInput("The number of partition keys do not match the number of partition values: table %s has %d keys, got %d values", t.Name, len(t.PartitionKeys), len(p.Values))
	}
	for _, v := range p.Values {
		if len(v) > 1024 {
			return validation("partition value longer than 1024 characters")
		}
	}
	sd := p.StorageDescriptor
	if sd == nil {
		return invalidInput("partition %q has no StorageDescriptor: Athena cannot read it", p.Values)
	}
	for _, col := range sd.Columns {
		if col.Name == nil {
			return validation("Column.Name is required")
		}
	}
	for _, o := range sd.SortColumns {
		if o.Column == nil || o.SortOrder == nil {
			return validation("SortColumns members need Column and SortOrder")
		}
	}
	tsd := t.StorageDescriptor
	tb, pb := 0, max(sd.NumberOfBuckets, 0)
	var tcols []string
	if tsd != nil {
		tb, tcols = max(tsd.NumberOfBuckets, 0), tsd.BucketColumns
	}
	if tb != pb || !slices.Equal(tcols, sd.BucketColumns) {
		return invalidInput("partition %q bucketing (NumberOfBuckets %d, BucketColumns %q) differs from table %s (%d, %q): Athena fails with HIVE_PARTITION_SCHEMA_MISMATCH",
			p.Values, sd.NumberOfBuckets, sd.BucketColumns, t.Name, tb, tcols)
	}
	data := map[string]bool{}
	for _, col := range sd.Columns {
		data[*col.Name] = true
	}
	if len(sd.Columns) == 0 && tsd != nil {
		for _, col := range tsd.Columns {
			data[*col.Name] = true
		}
	}
	return bucketRules(sd, data)
}

// partitionRef is the table part of every partition request.
type partitionRef struct {
	CatalogID    string  `json:"CatalogId"`
	DatabaseName *string `json:"DatabaseName"`
	TableName    *string `json:"TableName"`
}

func (r partitionRef) names() (string, string, *Error) {
	if e := checkCatalog(r.CatalogID); e != nil {
		return "", "", e
	}
	if r.DatabaseName == nil || r.TableName == nil {
		return "", "", validation("DatabaseName and TableName are required")
	}
	db, e := name("databaseName", *r.DatabaseName)
	if e != nil {
		return "", "", e
	}
	tn, e := name("tableName", *r.TableName)
	return db, tn, e
}

func (g *Glue) newPartition(ts *glueTableState, in gluePartitionInput) *gluePartition {
	p := clone(in)
	normalizeSD(p.StorageDescriptor)
	return &gluePartition{
		Values: p.Values, DatabaseName: ts.table.DatabaseName, TableName: ts.table.Name, CatalogID: AccountID,
		CreationTime: epoch(g.s.clock()), StorageDescriptor: p.StorageDescriptor, Parameters: p.Parameters,
	}
}

// create adds one partition; callers hold g.mu.
func (g *Glue) create(ts *glueTableState, in gluePartitionInput) *Error {
	if e := checkPartition(ts.table, in); e != nil {
		return e
	}
	k := partKey(in.Values)
	if ts.parts[k] != nil {
		return Errorf("AlreadyExistsException", "Partition already exists.")
	}
	ts.parts[k] = g.newPartition(ts, in)
	ts.order = append(ts.order, k)
	return nil
}

// update replaces one partition whole; callers hold g.mu.
func (g *Glue) update(ts *glueTableState, values []string, in gluePartitionInput) *Error {
	old := ts.parts[partKey(values)]
	if old == nil {
		return notFound("Partition not found.")
	}
	if in.Values != nil && !slices.Equal(in.Values, values) {
		return invalidInput("PartitionInput.Values %q differ from PartitionValueList %q: values cannot be changed", in.Values, values)
	}
	in.Values = values
	if e := checkPartition(ts.table, in); e != nil {
		return e
	}
	p := g.newPartition(ts, in)
	p.CreationTime = old.CreationTime
	ts.parts[partKey(values)] = p
	return nil
}

func (g *Glue) createPartition(c *Call) (any, error) {
	var in struct {
		partitionRef
		PartitionInput *gluePartitionInput `json:"PartitionInput"`
	}
	if err := c.Decode(&in); err != nil {
		return nil, err
	}
	db, tn, e := in.names()
	if e != nil {
		return nil, e
	}
	if in.PartitionInput == nil {
		return nil, validation("PartitionInput is required")
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	_, ts, e := g.lookup(db, tn)
	if e != nil {
		return nil, e
	}
	if e := g.create(ts, *in.PartitionInput); e != nil {
		return nil, e
	}
	return struct{}{}, nil
}

func (g *Glue) updatePartition(c *Call) (any, error) {
	var in struct {
		partitionRef
		PartitionValueList []string            `json:"PartitionValueList"`
		PartitionInput     *gluePartitionInput `json:"PartitionInput"`
	}
	if err := c.Decode(&in); err != nil {
		return nil, err
	}
	db, tn, e := in.names()
	if e != nil {
		return nil, e
	}
	if in.PartitionValueList == nil || in.PartitionInput == nil {
		return nil, validation("PartitionValueList and PartitionInput are required")
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	_, ts, e := g.lookup(db, tn)
	if e != nil {
		return nil, e
	}
	if e := g.update(ts, in.PartitionValueList, *in.PartitionInput); e != nil {
		return nil, e
	}
	return struct{}{}, nil
}

func (g *Glue) getPartition(c *Call) (any, error) {
	var in struct {
		partitionRef
		PartitionValues []string `json:"PartitionValues"`
	}
	if err := c.Decode(&in); err != nil {
		return nil, err
	}
	db, tn, e := in.names()
	if e != nil {
		return nil, e
	}
	if in.PartitionValues == nil {
		return nil, validation("PartitionValues is required")
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	_, ts, e := g.lookup(db, tn)
	if e != nil {
		return nil, e
	}
	p := ts.parts[partKey(in.PartitionValues)]
	if p == nil {
		return nil, notFound("Cannot find partition.")
	}
	return map[string]any{"Partition": clone(*p)}, nil
}

func (g *Glue) getPartitions(c *Call) (any, error) {
	var in struct {
		partitionRef
		Expression          string `json:"Expression"`
		NextToken           string `json:"NextToken"`
		MaxResults          *int   `json:"MaxResults"`
		ExcludeColumnSchema bool   `json:"ExcludeColumnSchema"`
	}
	if err := c.Decode(&in); err != nil {
		return nil, err
	}
	db, tn, e := in.names()
	if e != nil {
		return nil, e
	}
	if in.Expression != "" {
		return nil, BadRequest("InvalidInputException", "GetPartitions Expression is not modelled by awsfake")
	}
	off, e := decodeToken(in.NextToken)
	if e != nil {
		return nil, e
	}
	n, e := g.pageLen(in.MaxResults, 1000)
	if e != nil {
		return nil, e
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	_, ts, e := g.lookup(db, tn)
	if e != nil {
		return nil, e
	}
	list := []gluePartition{}
	for i := off; i < len(ts.order) && i < off+n; i++ {
		p := clone(*ts.parts[ts.order[i]])
		if in.ExcludeColumnSchema && p.StorageDescriptor != nil {
			p.StorageDescriptor.Columns = nil
		}
		list = append(list, p)
	}
	out := map[string]any{"Partitions": list}
	if off+n < len(ts.order) {
		out["NextToken"] = encodeToken(off + n)
	}
	return out, nil
}

func (g *Glue) deletePartition(c *Call) (any, error) {
	var in struct {
		partitionRef
		PartitionValues []string `json:"PartitionValues"`
	}
	if err := c.Decode(&in); err != nil {
		return nil, err
	}
	db, tn, e := in.names()
	if e != nil {
		return nil, e
	}
	if in.PartitionValues == nil {
		return nil, validation("PartitionValues is required")
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	_, ts, e := g.lookup(db, tn)
	if e != nil {
		return nil, e
	}
	if !ts.remove(in.PartitionValues) {
		return nil, notFound("Partition not found.")
	}
	return struct{}{}, nil
}

func (ts *glueTableState) remove(values []string) bool {
	k := partKey(values)
	if ts.parts[k] == nil {
		return false
	}
	delete(ts.parts, k)
	ts.order = slices.DeleteFunc(ts.order, func(o string) bool { return o == k })
	return true
}

func errorDetail(e *Error) glueErrorDetail {
	return glueErrorDetail{ErrorCode: e.Type, ErrorMessage: e.Message}
}

func (g *Glue) batchCreatePartition(c *Call) (any, error) {
	var in struct {
		partitionRef
		PartitionInputList []gluePartitionInput `json:"PartitionInputList"`
	}
	if err := c.Decode(&in); err != nil {
		return nil, err
	}
	db, tn, e := in.names()
	if e != nil {
		return nil, e
	}
	if in.PartitionInputList == nil {
		return nil, validation("PartitionInputList is required")
	}
	if len(in.PartitionInputList) > 100 {
		return nil, validation("Value at 'partitionInputList' failed to satisfy constraint: Member must have length less than or equal to 100 (got %d)", len(in.PartitionInputList))
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	_, ts, e := g.lookup(db, tn)
	if e != nil {
		return nil, e
	}
	errs := []map[string]any{}
	for _, p := range in.PartitionInputList {
		if e := g.create(ts, p); e != nil {
			if e.bug {
				return nil, e
			}
			errs = append(errs, map[string]any{"PartitionValues": p.Values, "ErrorDetail": errorDetail(e)})
		}
	}
	return map[string]any{"Errors": errs}, nil
}

func (g *Glue) batchUpdatePartition(c *Call) (any, error) {
	var in struct {
		partitionRef
		Entries []struct {
			PartitionValueList []string            `json:"PartitionValueList"`
			PartitionInput     *gluePartitionInput `json:"PartitionInput"`
		} `json:"Entries"`
	}
	if err := c.Decode(&in); err != nil {
		return nil, err
	}
	db, tn, e := in.names()
	if e != nil {
		return nil, e
	}
	if len(in.Entries) == 0 || len(in.Entries) > 100 {
		return nil, validation("Value at 'entries' failed to satisfy constraint: Member must have length between 1 and 100 (got %d)", len(in.Entries))
	}
	for _, en := range in.Entries {
		if en.PartitionValueList == nil || en.PartitionInput == nil {
			return nil, validation("Entries members need PartitionValueList and PartitionInput")
		}
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	_, ts, e := g.lookup(db, tn)
	if e != nil {
		return nil, e
	}
	errs := []map[string]any{}
	for _, en := range in.Entries {
		if e := g.update(ts, en.PartitionValueList, *en.PartitionInput); e != nil {
			if e.bug {
				return nil, e
			}
			errs = append(errs, map[string]any{"PartitionValueList": en.PartitionValueList, "ErrorDetail": errorDetail(e)})
		}
	}
	return map[string]any{"Errors": errs}, nil
}

func (g *Glue) batchDeletePartition(c *Call) (any, error) {
	var in struct {
		partitionRef
		PartitionsToDelete []struct {
			Values []string `json:"Values"`
		} `json:"PartitionsToDelete"`
	}
	if err := c.Decode(&in); err != nil {
		return nil, err
	}
	db, tn, e := in.names()
	if e != nil {
		return nil, e
	}
	if len(in.PartitionsToDelete) == 0 || len(in.PartitionsToDelete) > 25 {
		return nil, validation("Value at 'partitionsToDelete' failed to satisfy constraint: Member must have length between 1 and 25 (got %d)", len(in.PartitionsToDelete))
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	_, ts, e := g.lookup(db, tn)
	if e != nil {
		return nil, e
	}
	errs := []map[string]any{}
	for _, p := range in.PartitionsToDelete {
		if p.Values == nil {
			return nil, validation("PartitionsToDelete members need Values")
		}
		if !ts.remove(p.Values) {
			errs = append(errs, map[string]any{"PartitionValues": p.Values, "ErrorDetail": errorDetail(notFound("Partition not found."))})
		}
	}
	return map[string]any{"Errors": errs}, nil
}

// registerCTAS stores the table an Athena CTAS creates and its
// partitions, as Athena does when the query succeeds. It fails like Athena
// when the database is missing or the table exists.
func (g *Glue) registerCTAS(_ context.Context, t glueTable, parts []gluePartitionInput) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if err := g.ctasTarget(t.DatabaseName, t.Name); err != nil {
		return err
	}
	now := epoch(g.s.clock())
	t.CreateTime, t.UpdateTime, t.VersionID, t.CatalogID = now, now, "0", AccountID
	normalizeSD(t.StorageDescriptor)
	ts := &glueTableState{table: t, parts: map[string]*gluePartition{}}
	g.dbs[t.DatabaseName].tables[t.Name] = ts
	for _, p := range parts {
		if e := g.create(ts, p); e != nil {
			return fmt.Errorf("registering partition %q: %v", p.Values, e)
		}
	}
	return nil
}

// checkCTASTarget reports what Athena reports before running a CTAS whose
// target cannot be created.
func (g *Glue) checkCTASTarget(_ context.Context, db, table string) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.ctasTarget(db, table)
}

// ctasTarget is checkCTASTarget for callers holding g.mu.
func (g *Glue) ctasTarget(db, table string) error {
	d := g.dbs[db]
	if d == nil {
		return fmt.Errorf("Schema '%s' does not exist", db)
	}
	if d.tables[table] != nil {
		return fmt.Errorf("Table 'awsdatacatalog.%s.%s' already exists", db, table)
	}
	return nil
}
