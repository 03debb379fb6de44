package pii

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"reflect"
	"runtime"
	"strings"
	"sync"

	"github.com/parquet-go/parquet-go"
	"golang.org/x/sync/errgroup"

	"github.com/tierflow/tierflow/lake/storage"
)

// Suffix is inserted before ".parquet" (or appended) in the name of each
// rewritten file. The name keeps its beginning, so Hive bucket numbers
// (BBBBBB_0_…) and hidden-file prefixes survive the rewrite.
const Suffix = ".pii"

// FileInfo is one rewritten file.
type FileInfo struct {
	Key   string // storage key
	URI   string // the storage's URI of Key
	Rows  int64  // -1 when the file was not rewritten (no rule changes anything)
	Bytes int64
}

// readBufferSize batches the reader's ranged reads (one per ReadAt on S3).
const readBufferSize = 1 << 20

// dictionaryMaxBytes bounds a string column's dictionary per row group;
// past it the writer falls back to PLAIN (high-cardinality kept strings).
const dictionaryMaxBytes = 8 << 20

// Apply rewrites each Parquet file (a key below st, or its URI) with
// rules applied to the named columns (see the package comment); columns
// without a rule are kept. It writes each result next to its original,
// with Suffix in the name, as Snappy Parquet with the original row groups,
// and deletes the originals only after every new file is committed, so a
// failure leaves the originals and no new file behind. key is the HMAC key
// (needed only when a rule is HMAC). A rule naming a column absent from a
// file is an error, as is a rule other than keep or drop on a nested or
// repeated column, and a file left with no column.
func Apply(ctx context.Context, st storage.Storage, files []string, cols map[string]Rule, key []byte) ([]FileInfo, error) {
	if err := checkRules(cols, key); err != nil {
		return nil, err
	}
	keys := make([]string, len(files))
	seen := map[string]bool{}
	for i, f := range files {
		k, err := keyOf(st, f)
		if err != nil {
			return nil, err
		}
		keys[i] = k
		seen[k] = true
	}
	out := make([]FileInfo, len(keys))
	if !Changes(cols) {
		for i, k := range keys {
			o, err := st.Stat(ctx, k)
			if err != nil {
				return nil, fmt.Errorf("stat %s: %w", k, err)
			}
			out[i] = FileInfo{Key: k, URI: st.ObjectURI(k), Bytes: o.Size, Rows: -1}
		}
		return out, nil
	}
	for _, k := range keys {
		if nk := rewrittenKey(k); seen[nk] {
			return nil, fmt.Errorf("%s: its rewrite %s is also an input", k, nk)
		}
	}

	var (
		mu      sync.Mutex
		written []string // committed new files, deleted if anything fails
	)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(max(1, min(len(keys), runtime.GOMAXPROCS(0))))
	for i, k := range keys {
		g.Go(func() error {
			fi, err := rewrite(gctx, st, k, rewrittenKey(k), cols, key)
			if err != nil {
				return fmt.Errorf("%s: %w", st.ObjectURI(k), err)
			}
			mu.Lock()
			written = append(written, fi.Key)
			mu.Unlock()
			out[i] = fi
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		var errs []error
		for _, k := range written {
			if derr := st.Delete(context.WithoutCancel(ctx), k); derr != nil {
				errs = append(errs, fmt.Errorf("clean up %s: %w", k, derr))
			}
		}
		return nil, errors.Join(append([]error{err}, errs...)...)
	}
	// Every new file is committed: now the originals (with their PII) go.
	for _, k := range keys {
		if err := st.Delete(ctx, k); err != nil {
			return out, fmt.Errorf("delete original %s: %w", k, err)
		}
	}
	return out, nil
}

// keyOf turns a URI below st (or a key) into a key.
func keyOf(st storage.Storage, f string) (string, error) {
	root := strings.TrimSuffix(st.URI(), "/") + "/"
	if k, ok := strings.CutPrefix(f, root); ok {
		return k, nil
	}
	if strings.Contains(f, "://") {
		return "", fmt.Errorf("%s is not below the lake %s", f, st.URI())
	}
	return f, nil
}

func rewrittenKey(k string) string {
	dir, base := path.Split(k)
	if stem, ok := strings.CutSuffix(base, ".parquet"); ok {
		return dir + stem + Suffix + ".parquet"
	}
	return k + Suffix
}

// countingWriter counts the bytes of the file being written.
type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// rewrite writes src with rules applied to dst.
func rewrite(ctx context.Context, st storage.Storage, src, dst string, rules map[string]Rule, key []byte) (FileInfo, error) {
	if _, err := st.Stat(ctx, dst); err == nil {
		return FileInfo{}, fmt.Errorf("%s already exists", dst)
	} else if !errors.Is(err, storage.ErrNotExist) {
		return FileInfo{}, fmt.Errorf("stat %s: %w", dst, err)
	}
	o, err := st.Stat(ctx, src)
	if err != nil {
		return FileInfo{}, fmt.Errorf("stat: %w", err)
	}
	f, err := parquet.OpenFile(storage.ReaderAt(ctx, st, src), o.Size,
		parquet.SkipPageIndex(true), parquet.SkipBloomFilters(true), parquet.ReadBufferSize(readBufferSize))
	if err != nil {
		return FileInfo{}, fmt.Errorf("open parquet: %w", err)
	}
	p, err := planFile(f.Schema(), rules)
	if err != nil {
		return FileInfo{}, err
	}
	w, err := st.Create(ctx, dst, storage.PutOptions{ContentType: "application/vnd.apache.parquet"})
	if err != nil {
		return FileInfo{}, fmt.Errorf("create %s: %w", dst, err)
	}
	cw := &countingWriter{w: w}
	rows, err := p.copy(f, cw, key)
	if err != nil {
		return FileInfo{}, errors.Join(err, w.Abort())
	}
	if rows != f.NumRows() {
		return FileInfo{}, errors.Join(fmt.Errorf("wrote %d rows of %d", rows, f.NumRows()), w.Abort())
	}
	if err := w.Commit(); err != nil {
		return FileInfo{}, fmt.Errorf("commit %s: %w", dst, err)
	}
	return FileInfo{Key: dst, URI: st.ObjectURI(dst), Rows: rows, Bytes: cw.n}, nil
}

// leafPlan says what happens to one leaf column of the source file.
type leafPlan struct {
	out  int // output column index; -1: dropped
	rule Rule
	typ  parquet.Type
	str  bool // a text column: a mask keeps MaskString
}

// filePlan is the rewrite of one file: its output schema and what happens
// to each source leaf column.
type filePlan struct {
	schema *parquet.Schema
	leaves []leafPlan
}

// planFile builds the output schema: the source's top-level fields in
// their order, dropped ones removed, masked and hashed ones retyped.
func planFile(src *parquet.Schema, rules map[string]Rule) (*filePlan, error) {
	p := &filePlan{}
	found := map[string]bool{}
	var fields []parquet.Field
	out := 0
	for _, fld := range src.Fields() {
		name := fld.Name()
		r, ruled := rules[name]
		found[name] = ruled
		if !ruled {
			r = Keep
		}
		n := countLeaves(fld)
		if r != Keep && r != Drop && (!fld.Leaf() || fld.Repeated()) {
			return nil, fmt.Errorf("column %s is nested or repeated; only keep or drop apply to it, not %s", name, r)
		}
		if r == Drop {
			for range n {
				p.leaves = append(p.leaves, leafPlan{out: -1, rule: Drop})
			}
			continue
		}
		var node parquet.Node
		switch {
		case !fld.Leaf():
			node = rebuild(fld) // a kept group, declared as the source declares it
		case r == HMAC:
			// Dictionary-encoded: tokens are incompressible, but repeat as
			// often as the values do (first names, states of a household).
			node = repetitionOf(fld, parquet.Encoded(parquet.String(), &parquet.RLEDictionary))
		case r == Mask && isString(fld.Type()):
			node = repetitionOf(fld, parquet.Encoded(parquet.Leaf(fld.Type()), &parquet.RLEDictionary))
		case r == Mask:
			node = parquet.Optional(parquet.Leaf(fld.Type())) // every value becomes NULL
		default:
			node = rebuild(fld)
		}
		if id := fld.ID(); id != 0 {
			node = parquet.FieldID(node, id)
		}
		fields = append(fields, &namedField{Node: node, name: name})
		if fld.Leaf() {
			p.leaves = append(p.leaves, leafPlan{out: out, rule: r, typ: fld.Type(), str: isString(fld.Type())})
			out++
			continue
		}
		for range n {
			p.leaves = append(p.leaves, leafPlan{out: out, rule: Keep})
			out++
		}
	}
	for name, r := range rules {
		if r != Keep && !found[name] {
			return nil, fmt.Errorf("no column %s to %s", name, r)
		}
	}
	if len(fields) == 0 {
		return nil, errors.New("the PII policy drops every column")
	}
	p.schema = parquet.NewSchema(src.Name(), &group{fields: fields})
	return p, nil
}

// rebuild declares a kept node afresh: same names, types (logical types
// of groups, such as LIST and MAP, included) and repetition, but none of
// the source's codecs or encodings, so the writer's Snappy applies.
func rebuild(n parquet.Node) parquet.Node {
	if n.Leaf() {
		leaf := parquet.Leaf(n.Type())
		if n.Type().Kind() == parquet.ByteArray {
			leaf = parquet.Encoded(leaf, &parquet.RLEDictionary)
		}
		return repetitionOf(n, leaf)
	}
	var fields []parquet.Field
	for _, f := range n.Fields() {
		fields = append(fields, &namedField{Node: rebuild(f), name: f.Name()})
	}
	return repetitionOf(n, &group{fields: fields, typ: n.Type()})
}

func countLeaves(n parquet.Node) int {
	if n.Leaf() {
		return 1
	}
	c := 0
	for _, f := range n.Fields() {
		c += countLeaves(f)
	}
	return c
}

// repetitionOf gives node the repetition of src.
func repetitionOf(src, node parquet.Node) parquet.Node {
	switch {
	case src.Optional():
		return parquet.Optional(node)
	case src.Repeated():
		return parquet.Repeated(node)
	}
	return parquet.Required(node)
}

// group is a schema group whose fields keep the order given (parquet.Group
// is a map and sorts them by name).
type group struct {
	parquet.Group // an empty Group supplies the group type and repetition
	fields        []parquet.Field
	typ           parquet.Type // the source group's type (LIST, MAP); nil: a plain group
}

func (g *group) Fields() []parquet.Field { return g.fields }

func (g *group) Type() parquet.Type {
	if g.typ != nil {
		return g.typ
	}
	return g.Group.Type()
}

func (g *group) String() string {
	names := make([]string, len(g.fields))
	for i, f := range g.fields {
		names[i] = f.Name()
	}
	return "group{" + strings.Join(names, ", ") + "}"
}

// namedField names a node in its parent group.
type namedField struct {
	parquet.Node
	name string
}

func (f *namedField) Name() string { return f.name }

// Value is not used: rows are written as parquet.Row, never from Go values.
func (f *namedField) Value(reflect.Value) reflect.Value { return reflect.Value{} }

// batchRows is how many rows are transformed per write.
const batchRows = 1024

// copy streams every row group of f through the plan into w, one output
// row group per input row group, and returns the rows written.
func (p *filePlan) copy(f *parquet.File, w io.Writer, key []byte) (int64, error) {
	pw := parquet.NewWriter(w, p.schema, parquet.Compression(&parquet.Snappy),
		parquet.DictionaryMaxBytes(dictionaryMaxBytes), parquet.CreatedBy("tierflow", "pii", ""))
	var h *hasher
	if len(key) > 0 {
		h = newHasher(key)
	}
	in := make([]parquet.Row, batchRows)
	out := make([]parquet.Row, batchRows)
	var arena []byte // token and mask bytes of one batch
	var total int64
	for i, rg := range f.RowGroups() {
		rows := rg.Rows()
		for {
			n, err := rows.ReadRows(in)
			if n > 0 {
				arena = arena[:0]
				for j := range n {
					out[j], arena = p.row(out[j][:0], in[j], arena, h)
				}
				if _, werr := pw.WriteRows(out[:n]); werr != nil {
					rows.Close()
					return total, fmt.Errorf("row group %d: write: %w", i, werr)
				}
				total += int64(n)
			}
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				rows.Close()
				return total, fmt.Errorf("row group %d: read: %w", i, err)
			}
		}
		if err := rows.Close(); err != nil {
			return total, fmt.Errorf("row group %d: %w", i, err)
		}
		if err := pw.Flush(); err != nil {
			return total, fmt.Errorf("row group %d: flush: %w", i, err)
		}
	}
	if err := pw.Close(); err != nil {
		return total, fmt.Errorf("footer: %w", err)
	}
	return total, nil
}

// row appends the transform of src to dst. Values keep their levels; a
// column that was required and is masked to NULL is optional in the
// output, where definition level 0 is NULL.
func (p *filePlan) row(dst, src parquet.Row, arena []byte, h *hasher) (parquet.Row, []byte) {
	for _, v := range src {
		lp := &p.leaves[v.Column()]
		rep, def := v.RepetitionLevel(), v.DefinitionLevel()
		switch lp.rule {
		case Drop:
			continue
		case Keep:
			dst = append(dst, v.Level(rep, def, lp.out))
		case Mask:
			if v.IsNull() || !lp.str {
				dst = append(dst, parquet.NullValue().Level(rep, 0, lp.out))
				continue
			}
			start := len(arena)
			arena = append(arena, MaskString...)
			dst = append(dst, parquet.ByteArrayValue(arena[start:len(arena):len(arena)]).Level(rep, def, lp.out))
		case HMAC:
			if v.IsNull() {
				dst = append(dst, parquet.NullValue().Level(rep, def, lp.out))
				continue
			}
			start := len(arena)
			arena = h.token(arena, lp.typ, v)
			dst = append(dst, parquet.ByteArrayValue(arena[start:len(arena):len(arena)]).Level(rep, def, lp.out))
		}
	}
	return dst, arena
}
