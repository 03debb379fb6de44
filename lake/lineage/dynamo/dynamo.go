// Package dynamo implements lineage.Store on one DynamoDB table
// (single-table design), with conditional writes only: no transactions, so
// it also runs against dynalite.
//
// Keys: every item has PK and SK (strings); runs also carry GSI1PK and
// GSI1SK for the one global secondary index, GSI1 (projection ALL). Key
// parts taken from names (job, month, run id, transform) have "%" and "#"
// percent-encoded, so "#" only ever separates parts.
//
//	item        PK                           SK                               GSI1PK                       GSI1SK
//	run         JOB#<job>                    RUN#<run id>                     JOB#<job>#MONTH#<month>      <started UTC, fixed width>#<run id>
//	run chunk   JOB#<job>                    CHUNK#<run id>#<gen>#<nnnn>      -                            -
//	edge (up)   DS#<to URI>                  UP#<from>#<run id>#<transform>   -                            -
//	edge (down) DS#<from URI>                DOWN#<to>#<run id>#<transform>   -                            -
//	month       JOB#<job>#MONTH#<month>      MONTH                            -                            -
//
// Access patterns:
//
//	one run by id                 GetItem  PK=JOB#job, SK=RUN#id (consistent)
//	runs of a job, newest first   Query    PK=JOB#job, begins_with(SK, "RUN#") (consistent), sorted by Started
//	runs of a job and month       Query    GSI1: GSI1PK=JOB#job#MONTH#month, descending
//	upstream of a dataset         Query    PK=DS#uri, begins_with(SK, "UP#") (consistent)
//	downstream of a dataset       Query    PK=DS#uri, begins_with(SK, "DOWN#") (consistent)
//	claim a month                 UpdateItem PK=JOB#job#MONTH#month, SK=MONTH if owner = :me (retry), else
//	                              if attribute_not_exists(owner) OR expires < :now, token = epoch + 1
//	renew / release               UpdateItem same key if owner = :me AND token = :token / if owner = :me
//	commit (publish, rollback)    UpdateItem same key SET pub_run … if owner = :me AND token = :token AND pub_run = :prev
//	the month's claim and commit  GetItem  same key (consistent)
//
// The month item holds the month's claim (owner, token, expires, holder)
// and its commit (pub_run, pub_prev, pub_token, pub_at, pub_done) together:
// the commit's one conditional update checks the fencing token and moves
// the published run at once, with no transaction.
//
//	start / finish a run          PutItem if attribute_not_exists(PK) / attribute_exists(PK)
//
// A run item holds the whole lineage.Run as JSON in "doc" (plus a few plain
// attributes for people reading the table). A run too big for one item
// (400 KB; thousands of outputs) is stored gzip-compressed in "docz", and if
// that is still too big, in chunk items written before the run item and
// named by a fresh generation id, so a reader never mixes two versions and
// a failed write leaves only unreferenced chunks.
//
// Consistency: everything but the month listing reads the table with
// strongly consistent reads. ListRuns for one month reads GSI1, which
// DynamoDB updates asynchronously (usually within a second): a run started
// a moment ago may be missing there or show its previous status.
//
// Month claims compare expiry times from the claimant's clock; runners
// whose clocks differ by more than a claim's ttl could both hold it.
//
// Errors: a sentinel's text starts with its package name; wrapping adds context, never that name again.
package dynamo

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/tierflow/tierflow/lake/lineage"
)

// Attribute and index names.
const (
	attrPK     = "PK"
	attrSK     = "SK"
	attrGSI1PK = "GSI1PK"
	attrGSI1SK = "GSI1SK"
	// GSI1 is the name of the table's one global secondary index.
	GSI1 = "GSI1"
)

// Size limits. A DynamoDB item is at most 400 KB including attribute names;
// documents stay well below to leave room for keys and plain attributes.
const (
	maxInlineDoc = 350_000
	chunkSize    = 350_000
	maxPKLen     = 2048
	maxSKLen     = 1024
	batchWrite   = 25  // BatchWriteItem limit
	batchGet     = 100 // BatchGetItem limit
	batchRetries = 10
	startedTime  = "2006-01-02T15:04:05.000000000Z07:00"
)

// Store is a lineage.Store on one DynamoDB table. It is safe for concurrent
// use.
type Store struct {
	client *dynamodb.Client
	table  string
}

var _ lineage.Store = (*Store)(nil)

// New returns the store on table; optFns adjust the DynamoDB client. The
// table must exist (see CreateTable).
func New(cfg aws.Config, table string, optFns ...func(*dynamodb.Options)) *Store {
	return &Store{client: dynamodb.NewFromConfig(cfg, optFns...), table: table}
}

// Close releases nothing: the client holds no resources of its own.
func (s *Store) Close() error { return nil }

// CreateTable creates the table (on-demand billing, GSI1) and waits until it
// is ACTIVE. An existing table is fine if its keys match; otherwise it is
// an error.
func (s *Store) CreateTable(ctx context.Context) error {
	str := types.ScalarAttributeTypeS
	_, err := s.client.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:   &s.table,
		BillingMode: types.BillingModePayPerRequest,
		AttributeDefinitions: []types.AttributeDefinition{
			{AttributeName: aws.String(attrPK), AttributeType: str},
			{AttributeName: aws.String(attrSK), AttributeType: str},
			{AttributeName: aws.String(attrGSI1PK), AttributeType: str},
			{AttributeName: aws.String(attrGSI1SK), AttributeType: str},
		},
		KeySchema: []types.KeySchemaElement{
			{AttributeName: aws.String(attrPK), KeyType: types.KeyTypeHash},
			{AttributeName: aws.String(attrSK), KeyType: types.KeyTypeRange},
		},
		GlobalSecondaryIndexes: []types.GlobalSecondaryIndex{{
			IndexName: aws.String(GSI1),
			KeySchema: []types.KeySchemaElement{
				{AttributeName: aws.String(attrGSI1PK), KeyType: types.KeyTypeHash},
				{AttributeName: aws.String(attrGSI1SK), KeyType: types.KeyTypeRange},
			},
			Projection: &types.Projection{ProjectionType: types.ProjectionTypeAll},
		}},
	})
	var inUse *types.ResourceInUseException
	if err != nil && !errors.As(err, &inUse) {
		return fmt.Errorf("lineage: create table %s: %w", s.table, err)
	}
	w := dynamodb.NewTableExistsWaiter(s.client, func(o *dynamodb.TableExistsWaiterOptions) {
		o.MinDelay, o.MaxDelay = 100*time.Millisecond, 5*time.Second
	})
	out, err := w.WaitForOutput(ctx, &dynamodb.DescribeTableInput{TableName: &s.table}, 5*time.Minute)
	if err != nil {
		return fmt.Errorf("lineage: wait for table %s: %w", s.table, err)
	}
	return checkSchema(s.table, out.Table)
}

// ErrSchema is returned (wrapped) by CreateTable for an existing table
// without this store's keys or index: it holds something else, and the
// store does not write into it.
var ErrSchema = errors.New("dynamo: not a lineage table")

// checkSchema verifies that an existing table has this package's keys.
func checkSchema(table string, d *types.TableDescription) error {
	keys := func(ks []types.KeySchemaElement) string {
		var b []string
		for _, k := range ks {
			b = append(b, aws.ToString(k.AttributeName)+":"+string(k.KeyType))
		}
		return strings.Join(b, ",")
	}
	if got := keys(d.KeySchema); got != "PK:HASH,SK:RANGE" {
		return fmt.Errorf("lineage: table %s: %w: key schema %s, want PK:HASH,SK:RANGE", table, ErrSchema, got)
	}
	for _, g := range d.GlobalSecondaryIndexes {
		if aws.ToString(g.IndexName) == GSI1 && keys(g.KeySchema) == "GSI1PK:HASH,GSI1SK:RANGE" {
			return nil
		}
	}
	return fmt.Errorf("lineage: table %s: %w: no index %s on GSI1PK, GSI1SK", table, ErrSchema, GSI1)
}

// esc makes a name safe as one "#"-separated key part.
func esc(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "%", "%25"), "#", "%23")
}

// fit returns key, or a digest of it when it exceeds max bytes (URIs of up
// to 1,024-byte S3 keys can exceed the sort key limit).
func fit(prefix, key string, max int) string {
	if len(prefix)+len(key) <= max {
		return prefix + key
	}
	sum := sha256.Sum256([]byte(key))
	return prefix + "H#" + hex.EncodeToString(sum[:])
}

func jobPK(job string) string          { return "JOB#" + esc(job) }
func runSK(id string) string           { return "RUN#" + esc(id) }
func monthPK(job, month string) string { return "JOB#" + esc(job) + "#MONTH#" + esc(month) }
func dsPK(uri string) string           { return fit("DS#", uri, maxPKLen) }

func chunkSK(id, gen string, i int) string {
	return fmt.Sprintf("CHUNK#%s#%s#%04d", esc(id), gen, i)
}

func edgeSK(dir, other string, e lineage.Edge) string {
	return fit(dir+"#", esc(other)+"#"+esc(e.RunID)+"#"+esc(e.Transform), maxSKLen)
}

func str(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
func num(v int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(v, 10)}
}

func key(pk, sk string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{attrPK: str(pk), attrSK: str(sk)}
}

func getS(item map[string]types.AttributeValue, name string) string {
	if v, ok := item[name].(*types.AttributeValueMemberS); ok {
		return v.Value
	}
	return ""
}

func getN(item map[string]types.AttributeValue, name string) int64 {
	if v, ok := item[name].(*types.AttributeValueMemberN); ok {
		n, _ := strconv.ParseInt(v.Value, 10, 64)
		return n
	}
	return 0
}

func isConditionFailed(err error) bool {
	var ccf *types.ConditionalCheckFailedException
	return errors.As(err, &ccf)
}

// checkNames rejects empty names.
func checkNames(pairs ...string) error {
	for i := 0; i+1 < len(pairs); i += 2 {
		if pairs[i+1] == "" {
			return fmt.Errorf("lineage: empty %s", pairs[i])
		}
	}
	return nil
}

func newGen() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// ---- runs ----

// encoded is a run ready to be written: its item and any chunk items.
type encoded struct {
	item   map[string]types.AttributeValue
	chunks []map[string]types.AttributeValue
}

func (s *Store) encodeRun(run lineage.Run) (encoded, error) {
	doc, err := json.Marshal(run)
	if err != nil {
		return encoded{}, fmt.Errorf("lineage: encode run %s/%s: %w", run.Job, run.ID, err)
	}
	item := map[string]types.AttributeValue{
		attrPK: str(jobPK(run.Job)), attrSK: str(runSK(run.ID)),
		attrGSI1PK: str(monthPK(run.Job, run.Month)),
		attrGSI1SK: str(run.Started.UTC().Format(startedTime) + "#" + esc(run.ID)),
		"type":     str("run"), "job": str(run.Job), "run_id": str(run.ID), "status": str(run.Status),
		"started":   str(run.Started.UTC().Format(time.RFC3339Nano)),
		"published": &types.AttributeValueMemberBOOL{Value: run.Published},
	}
	if run.Month != "" {
		item["month"] = str(run.Month)
	}
	if !run.Ended.IsZero() {
		item["ended"] = str(run.Ended.UTC().Format(time.RFC3339Nano))
	}
	if run.Fingerprint != "" {
		item["fingerprint"] = str(run.Fingerprint)
	}
	if len(doc) <= maxInlineDoc {
		item["doc"] = str(string(doc))
		return encoded{item: item}, nil
	}
	var z bytes.Buffer
	zw := gzip.NewWriter(&z)
	_, _ = zw.Write(doc)
	if err := zw.Close(); err != nil {
		return encoded{}, fmt.Errorf("lineage: compress run %s/%s: %w", run.Job, run.ID, err)
	}
	if z.Len() <= maxInlineDoc {
		item["docz"] = &types.AttributeValueMemberB{Value: z.Bytes()}
		return encoded{item: item}, nil
	}
	gen := newGen()
	var chunks []map[string]types.AttributeValue
	for i, b := 0, z.Bytes(); len(b) > 0; i++ {
		n := min(chunkSize, len(b))
		c := key(jobPK(run.Job), chunkSK(run.ID, gen, i))
		c["type"] = str("chunk")
		c["data"] = &types.AttributeValueMemberB{Value: b[:n]}
		chunks = append(chunks, c)
		b = b[n:]
	}
	item["gen"] = str(gen)
	item["chunks"] = num(int64(len(chunks)))
	return encoded{item: item, chunks: chunks}, nil
}

// chunkKeys returns the keys of the chunks a run item refers to.
func chunkKeys(item map[string]types.AttributeValue) []map[string]types.AttributeValue {
	n, gen := getN(item, "chunks"), getS(item, "gen")
	if n == 0 || gen == "" {
		return nil
	}
	pk, id := getS(item, attrPK), getS(item, "run_id")
	keys := make([]map[string]types.AttributeValue, n)
	for i := range keys {
		keys[i] = key(pk, chunkSK(id, gen, i))
	}
	return keys
}

// StartRun records a new run; lineage.ErrConflict if (job, id) exists.
func (s *Store) StartRun(ctx context.Context, run lineage.Run) error {
	_, err := s.putRun(ctx, "start", run, "attribute_not_exists(PK)", fmt.Errorf("already recorded: %w", lineage.ErrConflict), "")
	return err
}

// FinishRun replaces a started run's record; lineage.ErrNotFound if it was
// never started.
func (s *Store) FinishRun(ctx context.Context, run lineage.Run) error {
	old, err := s.putRun(ctx, "finish", run, "attribute_exists(PK)", lineage.ErrNotFound, types.ReturnValueAllOld)
	if err != nil {
		return err
	}
	// The previous version's chunks are no longer referenced.
	s.deleteQuietly(ctx, chunkKeys(old))
	return nil
}

// putRun writes run's chunk items, then its item on condition cond (a
// failed condition is the error notMet), returning what ret asks for of
// the item replaced. On failure the new chunks are deleted again; op
// names the call in errors.
func (s *Store) putRun(ctx context.Context, op string, run lineage.Run, cond string, notMet error, ret types.ReturnValue) (map[string]types.AttributeValue, error) {
	if err := checkNames("job", run.Job, "run id", run.ID); err != nil {
		return nil, err
	}
	enc, err := s.encodeRun(run)
	if err != nil {
		return nil, err
	}
	if err := s.writeChunks(ctx, enc.chunks); err != nil {
		return nil, fmt.Errorf("lineage: %s run %s/%s: %w", op, run.Job, run.ID, err)
	}
	out, err := s.client.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: &s.table, Item: enc.item,
		ConditionExpression: aws.String(cond),
		ReturnValues:        ret,
	})
	if err != nil {
		s.deleteQuietly(ctx, chunkKeys(enc.item))
		if isConditionFailed(err) {
			return nil, fmt.Errorf("%s run %s/%s: %w", op, run.Job, run.ID, notMet)
		}
		return nil, fmt.Errorf("lineage: %s run %s/%s: %w", op, run.Job, run.ID, err)
	}
	return out.Attributes, nil
}

// GetRun returns one run or lineage.ErrNotFound.
func (s *Store) GetRun(ctx context.Context, job, runID string) (lineage.Run, error) {
	if job == "" || runID == "" {
		return lineage.Run{}, fmt.Errorf("run %s/%s: %w", job, runID, lineage.ErrNotFound)
	}
	// A concurrent FinishRun may delete the chunks of the version just
	// read: read again.
	var err error
	for range 3 {
		var out *dynamodb.GetItemOutput
		out, err = s.client.GetItem(ctx, &dynamodb.GetItemInput{
			TableName: &s.table, Key: key(jobPK(job), runSK(runID)), ConsistentRead: aws.Bool(true),
		})
		if err != nil {
			return lineage.Run{}, fmt.Errorf("lineage: get run %s/%s: %w", job, runID, err)
		}
		if out.Item == nil {
			return lineage.Run{}, fmt.Errorf("run %s/%s: %w", job, runID, lineage.ErrNotFound)
		}
		var run lineage.Run
		run, err = s.decodeRun(ctx, out.Item)
		if !errors.Is(err, errChunkMissing) {
			return run, err
		}
	}
	return lineage.Run{}, err
}

var errChunkMissing = errors.New("run chunk missing")

// decodeRun rebuilds a run from its item (and chunks).
func (s *Store) decodeRun(ctx context.Context, item map[string]types.AttributeValue) (lineage.Run, error) {
	what := getS(item, "job") + "/" + getS(item, "run_id")
	var doc []byte
	switch {
	case item["doc"] != nil:
		doc = []byte(getS(item, "doc"))
	case item["docz"] != nil:
		b, _ := item["docz"].(*types.AttributeValueMemberB)
		if b == nil {
			return lineage.Run{}, fmt.Errorf("lineage: run %s: docz is not binary", what)
		}
		var err error
		if doc, err = gunzip(b.Value); err != nil {
			return lineage.Run{}, fmt.Errorf("lineage: run %s: %w", what, err)
		}
	case item["chunks"] != nil:
		z, err := s.readChunks(ctx, chunkKeys(item))
		if err != nil {
			return lineage.Run{}, fmt.Errorf("lineage: run %s: %w", what, err)
		}
		if doc, err = gunzip(z); err != nil {
			return lineage.Run{}, fmt.Errorf("lineage: run %s: %w", what, err)
		}
	default:
		return lineage.Run{}, fmt.Errorf("lineage: run %s: item has no document", what)
	}
	var run lineage.Run
	if err := json.Unmarshal(doc, &run); err != nil {
		return lineage.Run{}, fmt.Errorf("lineage: decode run %s: %w", what, err)
	}
	return run, nil
}

func gunzip(b []byte) ([]byte, error) {
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("decompress: %w", err)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		return nil, fmt.Errorf("decompress: %w", err)
	}
	return out, nil
}

// ListRuns returns the job's runs, newest Started first (ties: run id
// descending); month "" lists every month.
func (s *Store) ListRuns(ctx context.Context, job, month string) ([]lineage.Run, error) {
	if job == "" {
		return nil, nil
	}
	in := &dynamodb.QueryInput{TableName: &s.table}
	if month == "" {
		in.KeyConditionExpression = aws.String("PK = :pk AND begins_with(SK, :run)")
		in.ExpressionAttributeValues = map[string]types.AttributeValue{":pk": str(jobPK(job)), ":run": str("RUN#")}
		in.ConsistentRead = aws.Bool(true)
	} else {
		in.IndexName = aws.String(GSI1)
		in.KeyConditionExpression = aws.String("GSI1PK = :pk")
		in.ExpressionAttributeValues = map[string]types.AttributeValue{":pk": str(monthPK(job, month))}
		in.ScanIndexForward = aws.Bool(false)
	}
	var runs []lineage.Run
	p := dynamodb.NewQueryPaginator(s.client, in)
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("lineage: list runs of %s %s: %w", job, month, err)
		}
		for _, item := range page.Items {
			run, err := s.decodeRun(ctx, item)
			if errors.Is(err, errChunkMissing) {
				// Replaced while listing: read the current version.
				run, err = s.GetRun(ctx, job, getS(item, "run_id"))
			}
			if err != nil {
				return nil, err
			}
			runs = append(runs, run)
		}
	}
	slices.SortFunc(runs, func(a, b lineage.Run) int {
		if c := b.Started.Compare(a.Started); c != 0 {
			return c
		}
		return strings.Compare(b.ID, a.ID)
	})
	return runs, nil
}

// ---- batches ----

// writeChunks stores chunk items (before the run item that refers to them).
func (s *Store) writeChunks(ctx context.Context, chunks []map[string]types.AttributeValue) error {
	var reqs []types.WriteRequest
	for _, c := range chunks {
		reqs = append(reqs, types.WriteRequest{PutRequest: &types.PutRequest{Item: c}})
	}
	return s.batchWrite(ctx, reqs)
}

// deleteQuietly removes unreferenced chunks; a failure leaves garbage that
// no run refers to, so it is not reported.
func (s *Store) deleteQuietly(ctx context.Context, keys []map[string]types.AttributeValue) {
	var reqs []types.WriteRequest
	for _, k := range keys {
		reqs = append(reqs, types.WriteRequest{DeleteRequest: &types.DeleteRequest{Key: k}})
	}
	_ = s.batchWrite(context.WithoutCancel(ctx), reqs)
}

// batchWrite sends reqs in batches of 25, resending unprocessed items with
// backoff (the SDK retries throttled requests, not partial successes).
func (s *Store) batchWrite(ctx context.Context, reqs []types.WriteRequest) error {
	for len(reqs) > 0 {
		n := min(batchWrite, len(reqs))
		pending := reqs[:n]
		reqs = reqs[n:]
		for attempt := 0; len(pending) > 0; attempt++ {
			if attempt == batchRetries {
				return fmt.Errorf("batch write: %d items still unprocessed after %d attempts", len(pending), attempt)
			}
			if attempt > 0 {
				if err := sleep(ctx, backoff(attempt)); err != nil {
					return err
				}
			}
			out, err := s.client.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{
				RequestItems: map[string][]types.WriteRequest{s.table: pending},
			})
			if err != nil {
				return fmt.Errorf("batch write: %w", err)
			}
			pending = out.UnprocessedItems[s.table]
		}
	}
	return nil
}

// readChunks fetches chunk items by key and concatenates their data in
// key order.
func (s *Store) readChunks(ctx context.Context, keys []map[string]types.AttributeValue) ([]byte, error) {
	got := map[string][]byte{}
	for start := 0; start < len(keys); start += batchGet {
		pending := keys[start:min(start+batchGet, len(keys))]
		for attempt := 0; len(pending) > 0; attempt++ {
			if attempt == batchRetries {
				return nil, fmt.Errorf("batch get: %d chunks still unprocessed", len(pending))
			}
			if attempt > 0 {
				if err := sleep(ctx, backoff(attempt)); err != nil {
					return nil, err
				}
			}
			out, err := s.client.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{
				RequestItems: map[string]types.KeysAndAttributes{s.table: {Keys: pending, ConsistentRead: aws.Bool(true)}},
			})
			if err != nil {
				return nil, fmt.Errorf("batch get chunks: %w", err)
			}
			for _, item := range out.Responses[s.table] {
				if b, ok := item["data"].(*types.AttributeValueMemberB); ok {
					got[getS(item, attrSK)] = b.Value
				}
			}
			pending = out.UnprocessedKeys[s.table].Keys
		}
	}
	var buf bytes.Buffer
	for _, k := range keys {
		b, ok := got[getS(k, attrSK)]
		if !ok {
			return nil, fmt.Errorf("%w: %s", errChunkMissing, getS(k, attrSK))
		}
		buf.Write(b)
	}
	return buf.Bytes(), nil
}

func backoff(attempt int) time.Duration {
	return min(50*time.Millisecond<<attempt, 5*time.Second)
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// ---- edges ----

// AddEdges records edges, each as an upstream item under its To and a
// downstream item under its From. Writing an edge again writes the same
// keys, so it is stored once.
func (s *Store) AddEdges(ctx context.Context, edges []lineage.Edge) error {
	seen := map[lineage.Edge]bool{}
	var reqs []types.WriteRequest
	for _, e := range edges {
		if err := checkNames("edge from", e.From, "edge to", e.To, "edge run id", e.RunID); err != nil {
			return err
		}
		// BatchWriteItem refuses two writes of one key in a request.
		if seen[e] {
			continue
		}
		seen[e] = true
		attrs := func(pk, sk string) map[string]types.AttributeValue {
			it := key(pk, sk)
			it["type"] = str("edge")
			it["from"], it["to"], it["run_id"], it["transform"] = str(e.From), str(e.To), str(e.RunID), str(e.Transform)
			return it
		}
		reqs = append(reqs,
			types.WriteRequest{PutRequest: &types.PutRequest{Item: attrs(dsPK(e.To), edgeSK("UP", e.From, e))}},
			types.WriteRequest{PutRequest: &types.PutRequest{Item: attrs(dsPK(e.From), edgeSK("DOWN", e.To, e))}})
	}
	if err := s.batchWrite(ctx, reqs); err != nil {
		return fmt.Errorf("lineage: add %d edges: %w", len(edges), err)
	}
	return nil
}

func (s *Store) edges(ctx context.Context, uri, dir string) ([]lineage.Edge, error) {
	if uri == "" {
		return nil, nil
	}
	p := dynamodb.NewQueryPaginator(s.client, &dynamodb.QueryInput{
		TableName:              &s.table,
		KeyConditionExpression: aws.String("PK = :pk AND begins_with(SK, :dir)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk": str(dsPK(uri)), ":dir": str(dir + "#"),
		},
		ConsistentRead: aws.Bool(true),
	})
	var out []lineage.Edge
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("lineage: edges %s of %s: %w", dir, uri, err)
		}
		for _, it := range page.Items {
			e := lineage.Edge{From: getS(it, "from"), To: getS(it, "to"), RunID: getS(it, "run_id"), Transform: getS(it, "transform")}
			// A digest key could in principle be shared by two URIs.
			if (dir == "UP" && e.To == uri) || (dir == "DOWN" && e.From == uri) {
				out = append(out, e)
			}
		}
	}
	return out, nil
}

// Upstream returns the edges whose To is uri.
func (s *Store) Upstream(ctx context.Context, uri string) ([]lineage.Edge, error) {
	return s.edges(ctx, uri, "UP")
}

// Downstream returns the edges whose From is uri.
func (s *Store) Downstream(ctx context.Context, uri string) ([]lineage.Edge, error) {
	return s.edges(ctx, uri, "DOWN")
}

// ---- the month item: claim and commit ----

// monthSK is the sort key of the month item, which holds the month's claim
// and its commit together, so that Commit's one conditional update checks
// the claim (fencing) and moves the published run at once without
// transactions (dynalite has none).
const monthSK = "MONTH"

// legacyPublishedSK is where stores before the month item kept the
// published run id (attribute run_id); Month still reads it.
const legacyPublishedSK = "PUBLISHED"

// Month item attributes.
const (
	attrOwner     = "owner"
	attrToken     = "token"
	attrEpoch     = "epoch" // the last token issued; outlives the claim
	attrExpires   = "expires"
	attrSince     = "since"
	attrRenewed   = "renewed"
	attrHost      = "host"
	attrPID       = "pid"
	attrExecution = "execution"
	attrPubRun    = "pub_run"
	attrPubPrev   = "pub_prev"
	attrPubToken  = "pub_token"
	attrPubAt     = "pub_at"
	attrPubDone   = "pub_done"
	attrPubBack   = "pub_rollback"
)

// update is one UpdateItem on the month item, its expression built from
// SET and REMOVE clauses with every name and value a placeholder.
type update struct {
	set, remove []string
	names       map[string]string
	values      map[string]types.AttributeValue
}

func newUpdate() *update {
	return &update{names: map[string]string{}, values: map[string]types.AttributeValue{}}
}

// name returns the placeholder of attribute a.
func (u *update) name(a string) string {
	u.names["#"+a] = a
	return "#" + a
}

// value returns a placeholder for v.
func (u *update) value(v types.AttributeValue) string {
	p := fmt.Sprintf(":v%d", len(u.values))
	u.values[p] = v
	return p
}

// str sets a to v, or removes it when v is empty (empty strings are not
// stored).
func (u *update) str(a, v string) {
	if v == "" {
		u.remove = append(u.remove, u.name(a))
		return
	}
	u.set = append(u.set, u.name(a)+" = "+u.value(str(v)))
}

func (u *update) num(a string, v int64) {
	u.set = append(u.set, u.name(a)+" = "+u.value(num(v)))
}

func (u *update) expression() string {
	var parts []string
	if len(u.set) > 0 {
		parts = append(parts, "SET "+strings.Join(u.set, ", "))
	}
	if len(u.remove) > 0 {
		parts = append(parts, "REMOVE "+strings.Join(u.remove, ", "))
	}
	return strings.Join(parts, " ")
}

// do runs the update under condition (with the update's placeholders) and
// returns the item as it is afterwards.
func (s *Store) do(ctx context.Context, job, month string, u *update, condition string) (map[string]types.AttributeValue, error) {
	u.str("type", "month")
	out, err := s.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: &s.table, Key: key(monthPK(job, month), monthSK),
		UpdateExpression:          aws.String(u.expression()),
		ConditionExpression:       aws.String(condition),
		ExpressionAttributeNames:  u.names,
		ExpressionAttributeValues: u.values,
		ReturnValues:              types.ReturnValueAllNew,
	})
	if err != nil {
		return nil, err
	}
	return out.Attributes, nil
}

func millis(t time.Time) int64 { return t.UnixMilli() }

func fromMillis(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.UnixMilli(n).UTC()
}

func decodeClaim(item map[string]types.AttributeValue) lineage.Claim {
	return lineage.Claim{
		Owner: getS(item, attrOwner), Token: getN(item, attrToken),
		Host: getS(item, attrHost), PID: int(getN(item, attrPID)), Execution: getS(item, attrExecution),
		Since: fromMillis(getN(item, attrSince)), Renewed: fromMillis(getN(item, attrRenewed)),
		Expires: fromMillis(getN(item, attrExpires)),
	}
}

// grant is the update that stores c as a new claim with the next token.
func grant(c lineage.Claim, ttl time.Duration) *update {
	now := time.Now()
	u := newUpdate()
	u.str(attrOwner, c.Owner)
	u.str(attrHost, c.Host)
	u.str(attrExecution, c.Execution)
	u.num(attrPID, int64(c.PID))
	u.num(attrSince, millis(now))
	u.num(attrRenewed, millis(now))
	u.num(attrExpires, millis(now.Add(ttl)))
	// Both read the epoch as it was before this update.
	next := "if_not_exists(" + u.name(attrEpoch) + ", " + u.value(num(0)) + ") + " + u.value(num(1))
	u.set = append(u.set, u.name(attrEpoch)+" = "+next, u.name(attrToken)+" = "+next)
	return u
}

func checkClaim(job, month string, c lineage.Claim, ttl time.Duration) error {
	if err := checkNames("job", job, "month", month, "claim owner", c.Owner); err != nil {
		return err
	}
	if ttl <= 0 {
		return fmt.Errorf("lineage: claim %s/%s: ttl %v must be positive", job, month, ttl)
	}
	return nil
}

// Claim gives c.Owner the month (see lineage.Store): a renewal if c.Owner
// holds it already, else a new claim if the month is free or expired.
func (s *Store) Claim(ctx context.Context, job, month string, c lineage.Claim, ttl time.Duration) (lineage.Claim, error) {
	if err := checkClaim(job, month, c, ttl); err != nil {
		return lineage.Claim{}, err
	}
	now := time.Now()
	u := newUpdate()
	u.num(attrRenewed, millis(now))
	u.num(attrExpires, millis(now.Add(ttl)))
	item, err := s.do(ctx, job, month, u, u.name(attrOwner)+" = "+u.value(str(c.Owner)))
	if err == nil {
		return decodeClaim(item), nil
	}
	if !isConditionFailed(err) {
		return lineage.Claim{}, fmt.Errorf("lineage: claim %s/%s: %w", job, month, err)
	}
	u = grant(c, ttl)
	cond := "attribute_not_exists(" + u.name(attrOwner) + ") OR " + u.name(attrExpires) + " < " + u.value(num(millis(now)))
	item, err = s.do(ctx, job, month, u, cond)
	if err == nil {
		return decodeClaim(item), nil
	}
	if !isConditionFailed(err) {
		return lineage.Claim{}, fmt.Errorf("lineage: claim %s/%s: %w", job, month, err)
	}
	m, merr := s.Month(ctx, job, month)
	if merr != nil {
		return lineage.Claim{}, fmt.Errorf("claim %s/%s: held by another run (%v): %w", job, month, merr, lineage.ErrConflict)
	}
	return lineage.Claim{}, &lineage.HeldError{Job: job, Month: month, Holder: m.Claim}
}

// TakeOver replaces holder's claim by c (see lineage.Store).
func (s *Store) TakeOver(ctx context.Context, job, month string, holder, c lineage.Claim, ttl time.Duration) (lineage.Claim, error) {
	if err := checkClaim(job, month, c, ttl); err != nil {
		return lineage.Claim{}, err
	}
	u := grant(c, ttl)
	cond := u.name(attrOwner) + " = " + u.value(str(holder.Owner)) + " AND " + u.name(attrToken) + " = " + u.value(num(holder.Token))
	item, err := s.do(ctx, job, month, u, cond)
	if isConditionFailed(err) {
		return lineage.Claim{}, fmt.Errorf("take over %s/%s from %s: the claim changed: %w", job, month, holder.Owner, lineage.ErrConflict)
	}
	if err != nil {
		return lineage.Claim{}, fmt.Errorf("lineage: take over %s/%s: %w", job, month, err)
	}
	return decodeClaim(item), nil
}

// Renew extends owner's claim (see lineage.Store).
func (s *Store) Renew(ctx context.Context, job, month, owner string, token int64, ttl time.Duration) error {
	if err := checkClaim(job, month, lineage.Claim{Owner: owner}, ttl); err != nil {
		return err
	}
	now := time.Now()
	u := newUpdate()
	u.num(attrRenewed, millis(now))
	u.num(attrExpires, millis(now.Add(ttl)))
	cond := u.name(attrOwner) + " = " + u.value(str(owner)) + " AND " + u.name(attrToken) + " = " + u.value(num(token))
	_, err := s.do(ctx, job, month, u, cond)
	if isConditionFailed(err) {
		return fmt.Errorf("renew %s/%s for %s: the claim is no longer its own: %w", job, month, owner, lineage.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("lineage: renew %s/%s: %w", job, month, err)
	}
	return nil
}

// Release gives up owner's claim, keeping the month's epoch.
func (s *Store) Release(ctx context.Context, job, month, owner string) error {
	if err := checkNames("job", job, "month", month, "claim owner", owner); err != nil {
		return err
	}
	u := newUpdate()
	for _, a := range []string{attrOwner, attrToken, attrExpires, attrSince, attrRenewed, attrHost, attrPID, attrExecution} {
		u.remove = append(u.remove, u.name(a))
	}
	_, err := s.do(ctx, job, month, u, u.name(attrOwner)+" = "+u.value(str(owner)))
	if err != nil && !isConditionFailed(err) {
		return fmt.Errorf("lineage: release %s/%s: %w", job, month, err)
	}
	return nil
}

// Commit makes c.RunID the month's published run with one conditional
// update of the month item (see lineage.Store).
func (s *Store) Commit(ctx context.Context, job, month, owner string, c lineage.Commit) error {
	if err := checkNames("job", job, "month", month, "claim owner", owner, "run id", c.RunID); err != nil {
		return err
	}
	prevCond := "attribute_not_exists(#" + attrPubRun + ")"
	if c.Prev != "" {
		// A month published before the month item existed has its run in
		// the legacy item only; the claim still fences this commit.
		legacy, err := s.legacyPublished(ctx, job, month)
		if err != nil {
			return err
		}
		if legacy != c.Prev {
			prevCond = "#" + attrPubRun + " = :prev"
		} else {
			prevCond = "(#" + attrPubRun + " = :prev OR " + prevCond + ")"
		}
	}
	u := newUpdate()
	u.name(attrPubRun)
	u.str(attrPubRun, c.RunID)
	u.str(attrPubPrev, c.Prev)
	u.num(attrPubToken, c.Token)
	u.num(attrPubAt, millis(c.At))
	u.set = append(u.set, u.name(attrPubDone)+" = "+u.value(&types.AttributeValueMemberBOOL{Value: false}),
		u.name(attrPubBack)+" = "+u.value(&types.AttributeValueMemberBOOL{Value: c.Rollback}))
	cond := u.name(attrOwner) + " = " + u.value(str(owner)) + " AND " + u.name(attrToken) + " = " + u.value(num(c.Token)) + " AND " + prevCond
	if c.Prev != "" {
		u.values[":prev"] = str(c.Prev)
	}
	_, err := s.do(ctx, job, month, u, cond)
	if isConditionFailed(err) {
		return fmt.Errorf("commit %s/%s by %s (token %d): the claim or the published run changed: %w", job, month, owner, c.Token, lineage.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("lineage: commit %s/%s: %w", job, month, err)
	}
	return nil
}

// MarkRolledForward records a finished roll-forward (see lineage.Store).
func (s *Store) MarkRolledForward(ctx context.Context, job, month, runID string, token int64) error {
	if err := checkNames("job", job, "month", month, "run id", runID); err != nil {
		return err
	}
	u := newUpdate()
	u.set = append(u.set, u.name(attrPubDone)+" = "+u.value(&types.AttributeValueMemberBOOL{Value: true}))
	cond := u.name(attrPubRun) + " = " + u.value(str(runID)) + " AND " + u.name(attrPubToken) + " = " + u.value(num(token))
	_, err := s.do(ctx, job, month, u, cond)
	if err != nil && !isConditionFailed(err) {
		return fmt.Errorf("lineage: mark %s/%s rolled forward: %w", job, month, err)
	}
	return nil
}

// Month returns the month's claim and commit (see lineage.Store).
func (s *Store) Month(ctx context.Context, job, month string) (lineage.Month, error) {
	var m lineage.Month
	if job == "" || month == "" {
		return m, nil
	}
	out, err := s.client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: &s.table, Key: key(monthPK(job, month), monthSK), ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return m, fmt.Errorf("lineage: month %s/%s: %w", job, month, err)
	}
	item := out.Item
	m.Claim = decodeClaim(item)
	m.Published = lineage.Commit{
		RunID: getS(item, attrPubRun), Prev: getS(item, attrPubPrev), Token: getN(item, attrPubToken),
		At: fromMillis(getN(item, attrPubAt)),
	}
	if v, ok := item[attrPubDone].(*types.AttributeValueMemberBOOL); ok {
		m.Published.RolledForward = v.Value
	}
	if v, ok := item[attrPubBack].(*types.AttributeValueMemberBOOL); ok {
		m.Published.Rollback = v.Value
	}
	if m.Published.RunID == "" {
		id, err := s.legacyPublished(ctx, job, month)
		if err != nil {
			return m, err
		}
		m.Published = lineage.Commit{RunID: id, RolledForward: id != ""}
	}
	return m, nil
}

// legacyPublished reads the published run id kept by stores before the
// month item ("" when none).
func (s *Store) legacyPublished(ctx context.Context, job, month string) (string, error) {
	out, err := s.client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: &s.table, Key: key(monthPK(job, month), legacyPublishedSK), ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return "", fmt.Errorf("lineage: published %s/%s: %w", job, month, err)
	}
	return getS(out.Item, "run_id"), nil
}

// Published returns the month's published run id or lineage.ErrNotFound.
func (s *Store) Published(ctx context.Context, job, month string) (string, error) {
	m, err := s.Month(ctx, job, month)
	if err != nil {
		return "", err
	}
	return lineage.PublishedRun(m, job, month)
}
