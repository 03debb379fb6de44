package openlineage

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"strings"
	"time"
)

// DatasetAt names the object or directory at uri as the OpenLineage naming
// conventions (openlineage.io/docs/spec/naming) do for blob storage and
// file systems: s3://bucket/key is namespace "s3://bucket", name "key";
// file:///abs/path is namespace "file", name "/abs/path". A trailing slash
// (a directory) is dropped, as the Spark integration does.
func DatasetAt(uri string) (Dataset, error) {
	scheme, rest, ok := strings.Cut(uri, "://")
	if !ok {
		return Dataset{}, fmt.Errorf("dataset %q: not a URI", uri)
	}
	rest = strings.TrimRight(rest, "/")
	switch strings.ToLower(scheme) {
	case "s3", "s3a", "gs":
		bucket, key, _ := strings.Cut(rest, "/")
		if bucket == "" || key == "" {
			return Dataset{}, fmt.Errorf("dataset %q: want %s://bucket/key", uri, scheme)
		}
		return Dataset{Namespace: strings.ToLower(scheme) + "://" + bucket, Name: key}, nil
	case "file":
		rest = strings.TrimPrefix(rest, "localhost")
		if !strings.HasPrefix(rest, "/") {
			return Dataset{}, fmt.Errorf("dataset %q: want file:///absolute/path", uri)
		}
		return Dataset{Namespace: "file", Name: rest}, nil
	}
	return Dataset{}, fmt.Errorf("dataset %q: scheme %s has no OpenLineage naming here (s3 and file have)", uri, scheme)
}

// RunID is the OpenLineage run id of a run that tierflow calls name
// (e.g. "consumer-header/3f2a…-1", or that plus "/consumer_ca" for a
// derived table's run) and that started at started: a UUID version 7 whose
// time is started (so ids sort by start, as the spec recommends) and
// whose other bits are a hash of name and started. Every step of an
// execution, in whatever process, computes the same id for the same run;
// a tierflow run id reused after gc pruned its record gets another.
func RunID(name string, started time.Time) string {
	h := sha256.Sum256(fmt.Appendf(nil, "%s@%d", name, started.UnixNano()))
	var u [16]byte
	ms := uint64(started.UnixMilli())
	binary.BigEndian.PutUint16(u[0:2], uint16(ms>>32))
	binary.BigEndian.PutUint32(u[2:6], uint32(ms))
	copy(u[6:], h[:10])
	u[6] = 0x70 | u[6]&0x0f // version 7
	u[8] = 0x80 | u[8]&0x3f // variant RFC 9562
	return fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
}
