package deploy

// The lake bucket's S3 lifecycle rules for a job (the spec's lifecycle:
// section). The bucket is the user's and holds other rules: deploy reads
// the bucket's configuration, replaces only the rules whose ID starts
// with the job's rule prefix and writes it back; render lists the rules
// in the template's Metadata (CloudFormation cannot change a bucket it
// does not own).

import (
	"context"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
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

// ensureLifecycle writes the job's rules into the lake bucket's lifecycle
// configuration, keeping every other rule: read, merge, write (or delete
// the configuration when nothing is left). It returns the job's rules'
// IDs. Two deploys of jobs on one bucket at once could lose one's write:
// run them one after the other.
func (a *Clients) ensureLifecycle(ctx context.Context, d *Deployment) ([]string, error) {
	ours := LifecycleRules(d.Spec, d.Prefix)
	var existing []s3types.LifecycleRule
	out, err := a.s3.GetBucketLifecycleConfiguration(ctx, &s3.GetBucketLifecycleConfigurationInput{Bucket: aws.String(d.Bucket)})
	switch {
	case apiErrorCode(err) == "NoSuchLifecycleConfiguration":
	case err != nil:
		return nil, fmt.Errorf("deploy: lifecycle of bucket %s: %w", d.Bucket, err)
	default:
		existing = out.Rules
	}
	merged := MergeLifecycle(existing, d.Spec.Name, ours)
	var ids []string
	for _, r := range ours {
		ids = append(ids, aws.ToString(r.ID))
	}
	switch {
	case len(merged) == 0 && len(existing) == 0:
	case len(merged) == 0:
		if _, err := a.s3.DeleteBucketLifecycle(ctx, &s3.DeleteBucketLifecycleInput{Bucket: aws.String(d.Bucket)}); err != nil {
			return nil, fmt.Errorf("deploy: remove the lifecycle rules of bucket %s: %w", d.Bucket, err)
		}
	default:
		if _, err := a.s3.PutBucketLifecycleConfiguration(ctx, &s3.PutBucketLifecycleConfigurationInput{
			Bucket: aws.String(d.Bucket), LifecycleConfiguration: &s3types.BucketLifecycleConfiguration{Rules: merged},
		}); err != nil {
			return nil, fmt.Errorf("deploy: lifecycle rules of bucket %s: %w", d.Bucket, err)
		}
	}
	return ids, nil
}

// lifecycleStatements are the grants the lifecycle needs: the tasks tag
// tier-2 objects unpublished and intake objects verified, the operator
// reads and writes the bucket's lifecycle configuration.
func (d *Deployment) lifecycleStatements() {
	lc := d.Spec.Lifecycle
	// PutObject with tags needs s3:PutObjectTagging too; Tag reads the tag
	// set first, and deletes it when nothing is left (only ever on tier 2:
	// an intake object's tags are only added to).
	if lc.UnpublishedExpireDays > 0 {
		d.TaskRole.Policy.Statement = append(d.TaskRole.Policy.Statement,
			allow("TagUnpublishedOutput", []string{"s3:GetObjectTagging", "s3:PutObjectTagging", "s3:DeleteObjectTagging"}, d.s3Object(jobs.TableRoot(2, d.Spec.Output.Table))))
	}
	if lc.IntakeExpireDays > 0 {
		d.TaskRole.Policy.Statement = append(d.TaskRole.Policy.Statement,
			allow("TagVerifiedIntake", []string{"s3:GetObjectTagging", "s3:PutObjectTagging"}, d.s3Object(d.intakePrefix())))
	}
	d.Operator.Statement = append(d.Operator.Statement,
		allow("MergeTheLifecycleRules", []string{"s3:GetLifecycleConfiguration", "s3:PutLifecycleConfiguration"}, d.s3Bucket(d.Bucket)))
}

// cfnLifecycle documents the rules in a template's Metadata:
// CloudFormation cannot change the rules of a bucket it did not create.
func (d *Deployment) cfnLifecycle(tmpl cfnObject) {
	rules := LifecycleRules(d.Spec, d.Prefix)
	if len(rules) == 0 {
		return
	}
	md, _ := tmpl["Metadata"].(cfnObject)
	if md == nil {
		md = cfnObject{}
		tmpl["Metadata"] = md
	}
	md["TierflowLifecycleRules"] = cfnObject{
		"Bucket": d.Bucket,
		"Note": "tierflow deploy merges these rules into the bucket's lifecycle configuration (only rules whose ID starts with " +
			LifecycleRulePrefix(d.Spec.Name) + " are replaced); CloudFormation cannot change a bucket it does not own. By hand: " +
			"aws s3api get-bucket-lifecycle-configuration, add these Rules, put-bucket-lifecycle-configuration.",
		"Rules": cfnRules(rules),
	}
}

// cfnRules are lifecycle rules in the shape of PutBucketLifecycleConfiguration's JSON.
func cfnRules(rules []s3types.LifecycleRule) []cfnObject {
	var out []cfnObject
	for _, r := range rules {
		o := cfnObject{"ID": aws.ToString(r.ID), "Status": string(r.Status)}
		f := r.Filter
		if f.And != nil {
			var tags []cfnObject
			for _, t := range f.And.Tags {
				tags = append(tags, cfnObject{"Key": aws.ToString(t.Key), "Value": aws.ToString(t.Value)})
			}
			o["Filter"] = cfnObject{"And": cfnObject{"Prefix": aws.ToString(f.And.Prefix), "Tags": tags}}
		} else {
			o["Filter"] = cfnObject{"Prefix": aws.ToString(f.Prefix)}
		}
		for _, t := range r.Transitions {
			o["Transitions"] = append(asList(o["Transitions"]), cfnObject{"Days": aws.ToInt32(t.Days), "StorageClass": string(t.StorageClass)})
		}
		if r.Expiration != nil {
			o["Expiration"] = cfnObject{"Days": aws.ToInt32(r.Expiration.Days)}
		}
		if r.AbortIncompleteMultipartUpload != nil {
			o["AbortIncompleteMultipartUpload"] = cfnObject{"DaysAfterInitiation": aws.ToInt32(r.AbortIncompleteMultipartUpload.DaysAfterInitiation)}
		}
		out = append(out, o)
	}
	return out
}

func asList(v any) []cfnObject {
	l, _ := v.([]cfnObject)
	return l
}
