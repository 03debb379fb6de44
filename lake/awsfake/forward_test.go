package awsfake_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/glue"
	"github.com/aws/aws-sdk-go-v2/service/glue/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/scheduler"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"

	"github.com/tierflow/tierflow/lake/awsfake"
)

// TestForward: what no fake serves reaches moto, in the server's own
// account, whatever the protocol (JSON, Query, REST-JSON); it is logged
// with the operation and the error moto answered; a request whose
// signature does not verify never leaves; FailNext answers in the
// request's protocol without reaching moto.
func TestForward(t *testing.T) {
	rec := &recorder{TB: t}
	srv, acct := awsfake.OnMoto(rec)
	ctx := t.Context()
	cl := glue.NewFromConfig(srv.Config())
	var nf *types.EntityNotFoundException
	if _, err := cl.GetDatabase(ctx, &glue.GetDatabaseInput{Name: aws.String("db")}); !errors.As(err, &nf) {
		t.Fatalf("GetDatabase of nothing: %v", err)
	}
	if _, err := cl.CreateDatabase(ctx, &glue.CreateDatabaseInput{DatabaseInput: &types.DatabaseInput{Name: aws.String("db")}}); err != nil {
		t.Fatal(err)
	}
	// It landed in the account, where a direct client sees it.
	if _, err := glue.NewFromConfig(acct.Config).GetDatabase(ctx, &glue.GetDatabaseInput{Name: aws.String("db")}); err != nil {
		t.Fatalf("database created through the server, read from moto: %v", err)
	}
	id, err := sts.NewFromConfig(srv.Config()).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil || aws.ToString(id.Account) != acct.ID {
		t.Fatalf("caller identity through the server: %v %v, want account %s", id, err, acct.ID)
	}
	_, err = iam.NewFromConfig(srv.Config()).GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String("nope")})
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "NoSuchEntity" {
		t.Fatalf("GetRole of nothing: %v", err)
	}
	if _, err := scheduler.NewFromConfig(srv.Config()).GetSchedule(ctx, &scheduler.GetScheduleInput{Name: aws.String("nope")}); !errors.As(err, &ae) || ae.ErrorCode() != "ResourceNotFoundException" {
		t.Fatalf("GetSchedule of nothing: %v", err)
	}
	var got []string
	for _, r := range srv.Requests() {
		got = append(got, r.Service+" "+r.Target+":"+r.ErrorType)
	}
	want := []string{
		"glue AWSGlue.GetDatabase:EntityNotFoundException", "glue AWSGlue.CreateDatabase:", "sts sts.GetCallerIdentity:",
		"iam iam.GetRole:NoSuchEntity", "scheduler scheduler.GetSchedule:ResourceNotFoundException",
	}
	if strings.Join(got, ", ") != strings.Join(want, ", ") {
		t.Errorf("logged %q, want %q", got, want)
	}
	if r := srv.RequestsTo("iam.GetRole"); len(r) != 1 || r[0].Body["RoleName"] != "nope" || r[0].Status != 404 {
		t.Errorf("GetRole logged as %+v", r)
	}
	if r := rec.reports(); len(r) != 0 {
		t.Errorf("well-formed requests reported: %q", r)
	}

	// A wrong secret: refused before moto, and reported.
	bad := srv.Config()
	bad.Credentials = credentials.NewStaticCredentialsProvider(awsfake.AccessKeyID, "not-the-secret", "")
	bad.RetryMaxAttempts = 1
	if _, err := glue.NewFromConfig(bad).CreateDatabase(ctx, &glue.CreateDatabaseInput{DatabaseInput: &types.DatabaseInput{Name: aws.String("forged")}}); !errors.As(err, &ae) || ae.ErrorCode() != "InvalidSignatureException" {
		t.Fatalf("forged request: %v", err)
	}
	if r := rec.reports(); len(r) != 1 {
		t.Errorf("reports %q, want one for the forged request", r)
	}
	if _, err := glue.NewFromConfig(acct.Config).GetDatabase(ctx, &glue.GetDatabaseInput{Name: aws.String("forged")}); !errors.As(err, &nf) {
		t.Errorf("the forged request reached moto: %v", err)
	}

	// FailNext: a JSON error, then an XML one for the Query protocol.
	srv.FailNext("AWSGlue.GetDatabase", awsfake.Errorf("ThrottlingException", "Rate exceeded"))
	srv.ResetRequests()
	if _, err := cl.GetDatabase(ctx, &glue.GetDatabaseInput{Name: aws.String("db")}); err != nil {
		t.Fatalf("GetDatabase throttled once: %v", err)
	}
	if r := srv.RequestsTo("AWSGlue.GetDatabase"); len(r) != 2 || r[0].ErrorType != "ThrottlingException" || r[1].ErrorType != "" {
		t.Errorf("throttled then retried: %+v", r)
	}
	srv.FailNext("iam.GetRole", awsfake.Errorf("AccessDenied", "not you"))
	once := srv.Config()
	once.RetryMaxAttempts = 1
	if _, err := iam.NewFromConfig(once).GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String("nope")}); !errors.As(err, &ae) || ae.ErrorCode() != "AccessDenied" || ae.ErrorMessage() != "not you" {
		t.Fatalf("GetRole failed on purpose: %v", err)
	}
}
