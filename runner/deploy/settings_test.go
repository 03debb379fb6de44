package deploy

import (
	"strings"
	"testing"

	"github.com/tierflow/tierflow/jobs"
)

// deploy and render name every missing setting at once; iam-policy needs
// only what the policies depend on (issue 14, finding 7).
func TestDeploySettingsAllAtOnce(t *testing.T) {
	spec, err := jobs.Shipped("consumer-header")
	if err != nil {
		t.Fatal(err)
	}
	_, err = NewDeployment(spec, Options{Job: "consumer-header"}, "aws", "us-east-1", "123456789012")
	if err == nil {
		t.Fatal("a deployment without image, lake and subnets was accepted")
	}
	for _, want := range []string{"no container image", "needs an s3:// lake", "no subnets"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the refusal %q does not say %q", err, want)
		}
	}
	d, err := NewDeployment(spec, Options{Job: "consumer-header", Lake: "s3://my-bucket/lake", PolicyOnly: true}, "aws", "us-east-1", "123456789012")
	if err != nil || d.Bucket != "my-bucket" {
		t.Fatalf("the policies of a job without image and subnets: %+v, %v", d, err)
	}
}
