package runner

import (
	"context"
	"fmt"
	"slices"

	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/lake/awsconfig"
	"github.com/tierflow/tierflow/lake/engine"
	"github.com/tierflow/tierflow/runner/pii"
)

// applyPII applies the job's PII policy to the files the engine wrote for
// derived table d (not marked `pii: true`) and updates r to describe the
// rewritten files: their URIs and bytes, and the columns the catalog will
// register (dropped ones gone, hashed ones strings, each annotated with
// its class and rule). Nothing of r is staged before this returns.
func (j *job) applyPII(ctx context.Context, d jobs.Derived, r *engine.Result) error {
	names := make([]string, len(r.Columns))
	for i, c := range r.Columns {
		names[i] = c.Name
	}
	rules := pii.Rules(j.spec.PII, j.spec.Schema, names)
	r.Columns = pii.Columns(r.Columns, rules, j.spec.Schema)
	if !pii.Changes(rules) {
		return nil
	}
	var key []byte
	if pii.NeedsKey(rules) {
		var err error
		if key, err = j.piiKey(ctx); err != nil {
			return err
		}
	}
	files, err := pii.Apply(ctx, j.env.Storage, r.Files, rules, key)
	if err != nil {
		return err
	}
	var rows, bytes int64
	r.Files = r.Files[:0]
	for _, f := range files {
		r.Files = append(r.Files, f.URI)
		rows += f.Rows
		bytes += f.Bytes
	}
	if rows != r.Rows {
		return fmt.Errorf("the engine reported %d rows but its files hold %d", r.Rows, rows)
	}
	r.Bytes = bytes

	// Column names and rules only: never a value.
	ev := j.log.Info().Str("table", d.Table).Int("files", len(files))
	for _, rule := range []pii.Rule{pii.Drop, pii.Mask, pii.HMAC, pii.Keep} {
		var cols []string
		for name, rl := range rules {
			if rl == rule {
				cols = append(cols, name)
			}
		}
		slices.Sort(cols)
		ev = ev.Strs(string(rule), cols)
	}
	ev.Msg("PII policy applied")
	return nil
}

// piiKey returns the HMAC key of the job's policy (see pii.Source).
func (j *job) piiKey(ctx context.Context) ([]byte, error) {
	var client pii.KMSDecrypter
	if j.spec.PII.KMSKeyID != "" {
		cfg, err := awsconfig.Load(ctx, awsconfig.Options{Region: j.spec.AWS.Region, Logger: awsconfig.ZerologLogger(j.log)})
		if err != nil {
			return nil, fmt.Errorf("aws config for kms: %w", err)
		}
		client = kms.NewFromConfig(cfg)
	}
	src, err := pii.Source(j.spec.PII, j.spec.Name, j.env.Storage.URI(), client, j.log)
	if err != nil {
		return nil, err
	}
	return src.Key(ctx)
}
