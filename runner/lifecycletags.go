package runner

// The object tags the job's S3 lifecycle rules filter on (jobs.TagRun,
// jobs.TagTier1; docs/aws.md §11).

import (
	"context"
	"fmt"

	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/lake/storage"
)

// output is where the converter writes: the lake's output store, tagging
// the run's tier-2 objects unpublished when the job expires unpublished
// output.
func (j *job) output() storage.Storage {
	if j.spec.Lifecycle.UnpublishedExpireDays <= 0 {
		return j.env.Output
	}
	return storage.WithTags(j.env.Output, j.dataPrefix(), map[string]string{jobs.TagRun: jobs.TagRunUnpublished})
}

// keepPublished removes the unpublished tag from the run's tier-2 objects.
// It runs before the commit: if it fails the run fails and publishes
// nothing; if the commit then fails, the untagged objects are left for
// gc, never expired while published.
func (j *job) keepPublished(ctx context.Context) error {
	tg, ok := j.env.Storage.(storage.Tagger)
	if j.spec.Lifecycle.UnpublishedExpireDays <= 0 || !ok {
		return nil
	}
	return j.env.Storage.List(ctx, j.dataPrefix(), func(o storage.Object) error {
		if err := tg.Tag(ctx, o.Key, map[string]string{jobs.TagRun: ""}); err != nil {
			return fmt.Errorf("keeping %s from the unpublished-output expiry: %w", j.env.Storage.ObjectURI(o.Key), err)
		}
		return nil
	})
}

// markVerified tags an intake object whose tier-1 copy matched its
// SHA-256, for the intake expiry rule. A failure only keeps the object
// longer: it is logged, not returned.
func (j *job) markVerified(ctx context.Context, key string) {
	tg, ok := j.env.Storage.(storage.Tagger)
	if j.spec.Lifecycle.IntakeExpireDays <= 0 || !ok {
		return
	}
	if err := tg.Tag(ctx, key, map[string]string{jobs.TagTier1: jobs.TagTier1Verified}); err != nil {
		j.log.Warn().Err(err).Str("object", j.env.Storage.ObjectURI(key)).Msg("tagging the intake object as copied to tier 1 (it will not expire)")
	}
}
