package openlineage

import (
	"bytes"
	"context"
	"fmt"
	"strings"

	"github.com/tierflow/tierflow/lake/storage"
)

// FileTransport writes one object per event below Prefix in the lake,
// through the lake's storage (a directory or S3, with its encryption), so
// the events of every run are kept with the data they describe.
type FileTransport struct {
	Storage storage.Storage
	Prefix  string // e.g. FilePrefix
}

// Key is where ev is written: its event time (UTC, fixed width, so keys
// sort by time), job, run id and type, e.g.
// _tierflow/openlineage/20200402T060001.123456Z_consumer-header_0190…_START.json.
func (f FileTransport) Key(ev RunEvent) string {
	return fmt.Sprintf("%s%s_%s_%s_%s.json", f.Prefix, ev.EventTime.UTC().Format("20060102T150405.000000Z"),
		safeName(ev.Job.Name), ev.Run.RunID, ev.EventType)
}

// Write stores the event's JSON body.
func (f FileTransport) Write(ctx context.Context, ev RunEvent, body []byte) (string, error) {
	key := f.Key(ev)
	if err := storage.Put(ctx, f.Storage, key, bytes.NewReader(body), storage.PutOptions{ContentType: "application/json"}); err != nil {
		return key, fmt.Errorf("write %s: %w", f.Storage.ObjectURI(key), err)
	}
	return key, nil
}

// safeName keeps a job name usable in a key: [A-Za-z0-9._-], the rest "-".
func safeName(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '.' || r == '_' || r == '-' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' {
			return r
		}
		return '-'
	}, s)
}
