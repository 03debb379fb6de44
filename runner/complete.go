package runner

// Whether a month's delivery is complete (source.complete_when): plan
// decides it from the intake folder before it repairs, claims or writes
// anything, so an early check (one part of five has arrived) costs a
// listing and leaves no trace but its answer.

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"strings"
	"time"

	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/lake/storage"
)

// DeliveryManifest is the vendor manifest source.complete_when.manifest
// names, a JSON object in the month's intake folder (docs/job-spec.md):
//
//	{"parts": [{"name": "part-0001.csv.gz", "size": 7516192768, "sha256": "9f86d0…"}, …]}
type DeliveryManifest struct {
	Parts []ManifestPart `json:"parts"`
}

// ManifestPart is one part a manifest lists: its base name in the month's
// folder and at least one of its size in bytes and its hex SHA-256 or MD5.
type ManifestPart struct {
	Name   string `json:"name"`
	Size   *int64 `json:"size,omitempty"`
	SHA256 string `json:"sha256,omitempty"`
	MD5    string `json:"md5,omitempty"`
}

// deliveryCheck is what checkDelivery found.
type deliveryCheck struct {
	// Waiting says why the delivery is not complete yet ("3 of 5
	// parts"); "" when it is.
	Waiting string
	// Listed are the manifest's entries by base name (manifest only).
	Listed map[string]ManifestPart
}

// maxNamed bounds how many missing parts a message names.
const maxNamed = 3

// checkDelivery decides whether the delivery of month, whose parts are
// objs (listParts), meets the job's complete_when at now. A delivery that
// contradicts its condition (more parts than expected, a part its manifest
// does not list or lists with another size, a malformed manifest) is an
// error: waiting would not make it complete.
func checkDelivery(ctx context.Context, st storage.Storage, spec *jobs.Spec, month string, objs []storage.Object, now time.Time) (deliveryCheck, error) {
	cw := spec.Source.CompleteWhen
	prefix := spec.IntakePrefix(month)
	switch {
	case cw.Marker != "":
		_, err := st.Stat(ctx, prefix+cw.Marker)
		switch {
		case errors.Is(err, storage.ErrNotExist):
			return deliveryCheck{Waiting: fmt.Sprintf("no %s marker yet (%s so far)", cw.Marker, count(len(objs), "part"))}, nil
		case err != nil:
			return deliveryCheck{}, fmt.Errorf("delivery marker %s: %w", st.ObjectURI(prefix+cw.Marker), err)
		}
	case cw.Manifest != "":
		return checkManifest(ctx, st, spec, prefix+cw.Manifest, objs)
	case cw.Parts > 0:
		switch n := len(objs); {
		case n < cw.Parts:
			return deliveryCheck{Waiting: fmt.Sprintf("%d of %d parts", n, cw.Parts)}, nil
		case n > cw.Parts:
			return deliveryCheck{}, fmt.Errorf("delivery for %s has %d parts under %s, more than the %d of source.complete_when.parts",
				month, n, st.ObjectURI(prefix), cw.Parts)
		}
	case cw.Quiet > 0:
		if len(objs) == 0 {
			return deliveryCheck{Waiting: "no parts yet"}, nil
		}
		newest := objs[0]
		for _, o := range objs[1:] {
			if o.ModTime.After(newest.ModTime) {
				newest = o
			}
		}
		if age := now.Sub(newest.ModTime); age < cw.Quiet {
			return deliveryCheck{Waiting: fmt.Sprintf("%s, the newest (%s) %s old, less than the quiet period of %s",
				count(len(objs), "part"), path.Base(newest.Key), max(age, 0).Round(time.Second), cw.Quiet)}, nil
		}
	}
	return deliveryCheck{}, nil
}

// checkManifest reads the vendor's manifest at key and checks the parts
// against it: every part must be listed, with its listed size; a listed
// part not there yet is waited for.
func checkManifest(ctx context.Context, st storage.Storage, spec *jobs.Spec, key string, objs []storage.Object) (deliveryCheck, error) {
	uri := st.ObjectURI(key)
	var m DeliveryManifest
	if err := readManifest(ctx, st, key, &m); err != nil {
		if errors.Is(err, storage.ErrNotExist) {
			return deliveryCheck{Waiting: fmt.Sprintf("no manifest %s yet (%s so far)", path.Base(key), count(len(objs), "part"))}, nil
		}
		return deliveryCheck{}, fmt.Errorf("delivery manifest %s: %w", uri, err)
	}
	listed, err := m.check(spec.Source.Pattern)
	if err != nil {
		return deliveryCheck{}, fmt.Errorf("delivery manifest %s: %w", uri, err)
	}
	present := map[string]bool{}
	for _, o := range objs {
		name := path.Base(o.Key)
		lp, ok := listed[name]
		switch {
		case !ok:
			return deliveryCheck{}, fmt.Errorf("intake object %s is not listed in the delivery manifest %s", st.ObjectURI(o.Key), uri)
		case lp.Size != nil && *lp.Size != o.Size:
			return deliveryCheck{}, fmt.Errorf("intake object %s is %d bytes, but the delivery manifest %s lists %d", st.ObjectURI(o.Key), o.Size, uri, *lp.Size)
		}
		present[name] = true
	}
	var missing []string
	for _, p := range m.Parts {
		if !present[p.Name] {
			missing = append(missing, p.Name)
		}
	}
	if len(missing) > 0 {
		named := strings.Join(missing[:min(len(missing), maxNamed)], ", ")
		if len(missing) > maxNamed {
			named += fmt.Sprintf(" and %d more", len(missing)-maxNamed)
		}
		return deliveryCheck{Waiting: fmt.Sprintf("%d of %d parts listed in %s (missing %s)", len(present), len(m.Parts), path.Base(key), named)}, nil
	}
	return deliveryCheck{Listed: listed}, nil
}

// readManifest decodes the manifest at key strictly: an unknown key is an
// error, as in a job spec.
func readManifest(ctx context.Context, st storage.Storage, key string, m *DeliveryManifest) error {
	rc, err := st.Open(ctx, key)
	if err != nil {
		return err
	}
	defer rc.Close()
	dec := json.NewDecoder(rc)
	dec.DisallowUnknownFields()
	if err := dec.Decode(m); err != nil {
		return fmt.Errorf("not a manifest ({\"parts\": [{\"name\": …, \"size\": …, \"sha256\": …}]}): %w", err)
	}
	if dec.More() {
		return errors.New("more than one JSON value")
	}
	return nil
}

// check validates the manifest's entries and returns them by name.
func (m *DeliveryManifest) check(pattern string) (map[string]ManifestPart, error) {
	if len(m.Parts) == 0 {
		return nil, errors.New("lists no parts")
	}
	listed := make(map[string]ManifestPart, len(m.Parts))
	for i, p := range m.Parts {
		at := fmt.Sprintf("parts[%d]", i)
		if ok, _ := path.Match(pattern, p.Name); !ok || strings.ContainsAny(p.Name, `/\`) {
			return nil, fmt.Errorf("%s: name %q is not a base name matching source.pattern %q, so it would never be read", at, p.Name, pattern)
		}
		if _, dup := listed[p.Name]; dup {
			return nil, fmt.Errorf("%s: %s is listed twice", at, p.Name)
		}
		if p.Size == nil && p.SHA256 == "" && p.MD5 == "" {
			return nil, fmt.Errorf("%s: %s has none of size, sha256 and md5", at, p.Name)
		}
		if p.Size != nil && *p.Size < 0 {
			return nil, fmt.Errorf("%s: %s: size %d is negative", at, p.Name, *p.Size)
		}
		var err error
		if p.SHA256, err = hexDigest(p.SHA256, 32); err != nil {
			return nil, fmt.Errorf("%s: %s: sha256: %w", at, p.Name, err)
		}
		if p.MD5, err = hexDigest(p.MD5, 16); err != nil {
			return nil, fmt.Errorf("%s: %s: md5: %w", at, p.Name, err)
		}
		listed[p.Name] = p
	}
	return listed, nil
}

// hexDigest checks that s ("" allowed) is n bytes in hex and returns it in
// lowercase, as the pristine copy computes it.
func hexDigest(s string, n int) (string, error) {
	if s == "" {
		return "", nil
	}
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != n {
		return "", fmt.Errorf("%q is not %d hex digits", s, 2*n)
	}
	return hex.EncodeToString(b), nil
}

// count is "1 part", "3 parts".
func count(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
