package deploy

// The lake bucket's S3 lifecycle rules for a job (the spec's lifecycle:
// section). The bucket is the user's and holds other rules: deploy reads
// the bucket's configuration, replaces only the rules whose ID starts
// with the job's rule prefix and writes it back; render lists the rules
// in the template's Metadata (CloudFormation cannot change a bucket it
// does not own).

import (
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/tierflow/tierflow/jobs"
)

// LifecycleRulePrefix starts the ID of every lifecycle rule of job: the
// rules deploy owns on the bucket. A job name has no "/", so no job's
// prefix starts another's ("tierflow/a/" is not a prefix of "tierflow/a-b/").
func LifecycleRulePrefix(job string) string { return "tierflow/" + job + "/" }

// LifecycleRules are the job's lifecycle rules for a lake whose keys start
// with prefix ("" or ending in "/").
func LifecycleRules(spec *jobs.Spec, prefix string) []s3types.LifecycleRule {
	lc, id := spec.Lifecycle, LifecycleRulePrefix(spec.Name)
	var rules []s3types.LifecycleRule
	rule := func(name string, filter s3types.LifecycleRuleFilter) s3types.LifecycleRule {
		return s3types.LifecycleRule{ID: aws.String(id + name), Status: s3types.ExpirationStatusEnabled, Filter: &filter}
	}
	byPrefix := func(p string) s3types.LifecycleRuleFilter {
		return s3types.LifecycleRuleFilter{Prefix: aws.String(prefix + p)}
	}
	byTag := func(p, key, value string) s3types.LifecycleRuleFilter {
		return s3types.LifecycleRuleFilter{And: &s3types.LifecycleRuleAndOperator{
			Prefix: aws.String(prefix + p), Tags: []s3types.Tag{{Key: aws.String(key), Value: aws.String(value)}},
		}}
	}
	if lc.Tier1GlacierIRDays > 0 || lc.Tier1DeepArchiveDays > 0 {
		r := rule("tier1-archive", byPrefix("tier1/"+spec.Name+"/"))
		if lc.Tier1GlacierIRDays > 0 {
			r.Transitions = append(r.Transitions, s3types.Transition{Days: aws.Int32(int32(lc.Tier1GlacierIRDays)), StorageClass: s3types.TransitionStorageClassGlacierIr})
		}
		if lc.Tier1DeepArchiveDays > 0 {
			r.Transitions = append(r.Transitions, s3types.Transition{Days: aws.Int32(int32(lc.Tier1DeepArchiveDays)), StorageClass: s3types.TransitionStorageClassDeepArchive})
		}
		rules = append(rules, r)
	}
	if lc.IntakeExpireDays > 0 {
		intake, _, _ := strings.Cut(spec.Source.Intake, "{month}")
		r := rule("intake-expire", byTag(intake, jobs.TagTier1, jobs.TagTier1Verified))
		r.Expiration = &s3types.LifecycleExpiration{Days: aws.Int32(int32(lc.IntakeExpireDays))}
		rules = append(rules, r)
	}
	if lc.UnpublishedExpireDays > 0 {
		days := &s3types.LifecycleExpiration{Days: aws.Int32(int32(lc.UnpublishedExpireDays))}
		r := rule("unpublished-expire", byTag("tier2/"+spec.Output.Table+"/", jobs.TagRun, jobs.TagRunUnpublished))
		r.Expiration = days
		e := rule("executions-expire", byPrefix("_tierflow/executions/"+spec.Name+"/"))
		e.Expiration = days
		rules = append(rules, r, e)
	}
	if lc.IncompleteUploadDays > 0 {
		r := rule("abort-uploads", byPrefix(""))
		r.AbortIncompleteMultipartUpload = &s3types.AbortIncompleteMultipartUpload{DaysAfterInitiation: aws.Int32(int32(lc.IncompleteUploadDays))}
		rules = append(rules, r)
	}
	return rules
}

// MergeLifecycle is the bucket's rules with the job's own (those whose ID
// starts with LifecycleRulePrefix(job)) replaced by ours; every other rule
// is kept as it was, in its place.
func MergeLifecycle(existing []s3types.LifecycleRule, job string, ours []s3types.LifecycleRule) []s3types.LifecycleRule {
	own := LifecycleRulePrefix(job)
	var out []s3types.LifecycleRule
	for _, r := range existing {
		if !strings.HasPrefix(aws.ToString(r.ID), own) {
			out = append(out, r)
		}
	}
	return append(out, ours...)
}
