package runner

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"

	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/lake/storage"
)

// Part is one intake object of a month.
type Part struct {
	Key  string // intake key
	Name string // part name used in output file names
	Size int64
	ETag string
	// SHA256 and MD5 are the hex digests the vendor's manifest lists for
	// the part (source.complete_when.manifest), "" when it lists none; the
	// pristine copy checks them.
	SHA256 string `json:",omitempty"`
	MD5    string `json:",omitempty"`
}

// Plan is what a run will do: the month's parts and the fingerprint that
// identifies the run's inputs.
type Plan struct {
	Month       string
	Parts       []Part
	Fingerprint string // hex sha256 over spec, code version and parts
	Delivery    string // short fingerprint of the parts alone: the tier-1 folder
}

// ErrNoParts is returned (wrapped) by MakePlan for a month with no intake
// part; the message says where it looked.
var ErrNoParts = errors.New("runner: no parts")

// MakePlan lists the month's intake parts. An empty month is an error that
// says where it looked (ErrNoParts).
func MakePlan(ctx context.Context, st storage.Storage, spec *jobs.Spec, month, codeVersion string) (*Plan, error) {
	objs, err := listParts(ctx, st, spec, month)
	if err != nil {
		return nil, err
	}
	return newPlan(st, spec, month, codeVersion, objs)
}

// listParts lists the objects of the month's intake folder (not below it)
// whose base name matches the job's pattern, in key order.
func listParts(ctx context.Context, st storage.Storage, spec *jobs.Spec, month string) ([]storage.Object, error) {
	prefix := spec.IntakePrefix(month)
	var objs []storage.Object
	err := st.List(ctx, prefix, func(o storage.Object) error {
		rel := strings.TrimPrefix(o.Key, prefix)
		if strings.Contains(rel, "/") {
			return nil // only the month's own folder
		}
		ok, err := path.Match(spec.Source.Pattern, rel)
		if err != nil {
			return fmt.Errorf("source pattern %q: %w", spec.Source.Pattern, err)
		}
		if ok {
			objs = append(objs, o)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("plan: listing %s: %w", st.ObjectURI(prefix), err)
	}
	sort.Slice(objs, func(i, j int) bool { return objs[i].Key < objs[j].Key })
	return objs, nil
}

// newPlan names the parts of objs and fingerprints them.
func newPlan(st storage.Storage, spec *jobs.Spec, month, codeVersion string, objs []storage.Object) (*Plan, error) {
	if len(objs) == 0 {
		return nil, fmt.Errorf("plan: month %s: %w: nothing matches %q under %s", month, ErrNoParts, spec.Source.Pattern, st.ObjectURI(spec.IntakePrefix(month)))
	}
	parts := make([]Part, 0, len(objs))
	names := map[string]string{}
	for _, o := range objs {
		name := jobs.PartName(o.Key)
		if other, dup := names[name]; dup {
			return nil, fmt.Errorf("plan: intake objects %s and %s map to the same part name %q", other, o.Key, name)
		}
		names[name] = o.Key
		parts = append(parts, Part{Key: o.Key, Name: name, Size: o.Size, ETag: o.ETag})
	}

	delivery := sha256.New()
	for _, p := range parts {
		fmt.Fprintf(delivery, "%s\x00%d\x00%s\n", p.Key, p.Size, p.ETag)
	}
	d := delivery.Sum(nil)

	fp := sha256.New()
	fmt.Fprintf(fp, "month=%s\ncode=%s\nschema=%s\n", month, codeVersion, spec.Schema.Hash())
	if err := hashSpec(fp, spec); err != nil {
		return nil, fmt.Errorf("plan: fingerprint of job spec: %w", err)
	}
	fp.Write(d)
	return &Plan{
		Month:       month,
		Parts:       parts,
		Fingerprint: hex.EncodeToString(fp.Sum(nil)),
		Delivery:    hex.EncodeToString(d)[:12],
	}, nil
}

// hashSpec adds the whole loaded spec (not its file path) so that any change
// to the job changes the fingerprint, wherever the spec was loaded from.
func hashSpec(w io.Writer, spec *jobs.Spec) error {
	c := *spec
	c.Path = ""
	b, err := json.Marshal(c)
	if err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}
