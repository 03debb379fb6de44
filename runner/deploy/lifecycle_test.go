package deploy

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/tierflow/tierflow/jobs"
)

func shippedSpec(t *testing.T) *jobs.Spec {
	t.Helper()
	spec, err := jobs.Shipped("consumer-header")
	if err != nil {
		t.Fatal(err)
	}
	return spec
}

// ruleSummary is a rule in one line: ID, filter, actions.
func ruleSummary(r s3types.LifecycleRule) string {
	s := aws.ToString(r.ID) + " "
	f := r.Filter
	if f.And != nil {
		s += "prefix=" + aws.ToString(f.And.Prefix)
		for _, tg := range f.And.Tags {
			s += " tag " + aws.ToString(tg.Key) + "=" + aws.ToString(tg.Value)
		}
	} else {
		s += "prefix=" + aws.ToString(f.Prefix)
	}
	for _, tr := range r.Transitions {
		s += fmt.Sprintf(" → %s after %d", tr.StorageClass, aws.ToInt32(tr.Days))
	}
	if r.Expiration != nil {
		s += fmt.Sprintf(" expire after %d", aws.ToInt32(r.Expiration.Days))
	}
	if r.AbortIncompleteMultipartUpload != nil {
		s += fmt.Sprintf(" abort uploads after %d", aws.ToInt32(r.AbortIncompleteMultipartUpload.DaysAfterInitiation))
	}
	if r.Status != s3types.ExpirationStatusEnabled {
		s += " " + string(r.Status)
	}
	return s
}

// The shipped job's lifecycle section becomes one rule per tier, each
// scoped to the job's prefixes below the lake's, the expiries filtered on
// the tags tierflow sets.
func TestLifecycleRules(t *testing.T) {
	spec := shippedSpec(t)
	var got []string
	for _, r := range LifecycleRules(spec, "prod/") {
		got = append(got, ruleSummary(r))
	}
	want := []string{
		"tierflow/consumer-header/tier1-archive prefix=prod/tier1/consumer-header/ → GLACIER_IR after 90 → DEEP_ARCHIVE after 365",
		"tierflow/consumer-header/intake-expire prefix=prod/intake/consumer/ tag tierflow-tier1=verified expire after 30",
		"tierflow/consumer-header/unpublished-expire prefix=prod/tier2/consumer_header/ tag tierflow-run=unpublished expire after 14",
		"tierflow/consumer-header/executions-expire prefix=prod/_tierflow/executions/consumer-header/ expire after 14",
		"tierflow/consumer-header/abort-uploads prefix=prod/ abort uploads after 7",
	}
	if !slices.Equal(got, want) {
		t.Errorf("rules:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	spec.Lifecycle = jobs.Lifecycle{}
	if r := LifecycleRules(spec, ""); len(r) != 0 {
		t.Errorf("a job without lifecycle days has rules %v", r)
	}
}

// Merging keeps every rule that is not the job's, in its place, and
// replaces the job's own.
func TestMergeLifecycle(t *testing.T) {
	r := func(id string) s3types.LifecycleRule { return s3types.LifecycleRule{ID: aws.String(id)} }
	existing := []s3types.LifecycleRule{r("logs-expire"), r("tierflow/consumer-header/tier1-archive"), r("tierflow/consumer-header-eu/tier1-archive"), r("tierflow/consumer-header/old-rule")}
	merged := MergeLifecycle(existing, "consumer-header", []s3types.LifecycleRule{r("tierflow/consumer-header/tier1-archive"), r("tierflow/consumer-header/abort-uploads")})
	var ids []string
	for _, m := range merged {
		ids = append(ids, aws.ToString(m.ID))
	}
	want := []string{"logs-expire", "tierflow/consumer-header-eu/tier1-archive", "tierflow/consumer-header/tier1-archive", "tierflow/consumer-header/abort-uploads"}
	if !slices.Equal(ids, want) {
		t.Errorf("merged %v, want %v", ids, want)
	}
}
