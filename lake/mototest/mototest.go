// Package mototest points tests at the moto servers .ci/services.sh starts:
// AWS implementations of S3, KMS, Glue, DynamoDB, Step Functions, ECS,
// EventBridge Scheduler, IAM and STS written by others than tierflow's
// authors, so that a test checks the client against someone else's reading
// of the AWS API reference, not against the reading the client was written
// from.
//
// There are two servers. The open one (TIERFLOW_TEST_MOTO_ENDPOINT)
// accepts any credentials. The enforcing one
// (TIERFLOW_TEST_MOTO_IAM_ENDPOINT) checks SigV4 against the access keys of
// its IAM users and evaluates their policies; services.sh creates an admin
// user there (TIERFLOW_TEST_MOTO_IAM_ACCESS_KEY/_SECRET_KEY) and tests
// create users holding exactly the policy they want to check.
//
// When a variable is unset the test skips, saying how to start the
// servers, except in CI (CI=true), where it fails: a CI run that silently
// skips the servers it exists to test against proves nothing.
package mototest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/tierflow/tierflow/lake/awsconfig"
)

// Identity of moto's default account and region.
const (
	Region    = "us-east-1"
	AccountID = "123456789012"
)

// Environment variables .ci/services.sh exports.
const (
	EnvEndpoint     = "TIERFLOW_TEST_MOTO_ENDPOINT"
	EnvIAMEndpoint  = "TIERFLOW_TEST_MOTO_IAM_ENDPOINT"
	EnvIAMAccessKey = "TIERFLOW_TEST_MOTO_IAM_ACCESS_KEY"
	EnvIAMSecretKey = "TIERFLOW_TEST_MOTO_IAM_SECRET_KEY"
)

// require returns the variable's value; when it is unset the test skips,
// or fails in CI.
func require(tb testing.TB, name string) string {
	tb.Helper()
	v := os.Getenv(name)
	if v != "" {
		return v
	}
	msg := name + " is unset: no moto server to test against. .ci/run starts moto and sets it (or: source .ci/services.sh; see that script)"
	if os.Getenv("CI") == "true" {
		tb.Fatal(msg)
	}
	tb.Skip(msg)
	return ""
}

// Endpoint is the open moto server's URL.
func Endpoint(tb testing.TB) string {
	tb.Helper()
	return require(tb, EnvEndpoint)
}

// Config reaches the open moto server with any static key. moto keeps its
// state for the life of the process, so tests name what they create
// uniquely (Name).
func Config(tb testing.TB) aws.Config {
	tb.Helper()
	return load(tb, Endpoint(tb), credentials.NewStaticCredentialsProvider("test", "testsecret", ""))
}

func load(tb testing.TB, endpoint string, creds aws.CredentialsProvider) aws.Config {
	tb.Helper()
	cfg, err := awsconfig.Load(context.Background(), awsconfig.Options{
		Region: Region, Endpoint: endpoint, Credentials: creds, MaxBackoff: 200 * time.Millisecond,
	})
	if err != nil {
		tb.Fatal(err)
	}
	return cfg
}

// NewAccount reaches the open moto server as a role in an account of its
// own, random and so empty: a suite whose every open wants a fresh, empty
// service (a catalog with no databases) gets one without resetting moto,
// which other test packages share. moto keeps one state per account, and
// requests signed with credentials from AssumeRole land in the role's
// account.
func NewAccount(tb testing.TB) aws.Config {
	tb.Helper()
	cfg, _ := NewAccountID(tb)
	return cfg
}

// NewAccountID is NewAccount, also returning the account's id.
func NewAccountID(tb testing.TB) (aws.Config, string) {
	tb.Helper()
	var b [5]byte
	_, _ = rand.Read(b[:])
	acct := fmt.Sprintf("%012d", (uint64(b[0])<<32|uint64(b[1])<<24|uint64(b[2])<<16|uint64(b[3])<<8|uint64(b[4]))%1_000_000_000_000)
	out, err := sts.NewFromConfig(Config(tb)).AssumeRole(context.Background(), &sts.AssumeRoleInput{
		RoleArn: aws.String("arn:aws:iam::" + acct + ":role/tierflow-test"), RoleSessionName: aws.String("tierflow-test"),
	})
	if err != nil {
		tb.Fatalf("mototest: assume a role in account %s: %v", acct, err)
	}
	c := out.Credentials
	return load(tb, Endpoint(tb), credentials.NewStaticCredentialsProvider(aws.ToString(c.AccessKeyId), aws.ToString(c.SecretAccessKey), aws.ToString(c.SessionToken))), acct
}

// Name returns prefix-<random hex>: moto is shared by every test package
// of a CI run, so names must not collide.
func Name(prefix string) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return prefix + "-" + hex.EncodeToString(b[:])
}

// IAMServer is the moto server that enforces IAM policies.
type IAMServer struct {
	Endpoint string
	admin    aws.CredentialsProvider
}

// EnforcingIAM returns the enforcing server.
func EnforcingIAM(tb testing.TB) *IAMServer {
	tb.Helper()
	s := &IAMServer{Endpoint: require(tb, EnvIAMEndpoint)}
	s.admin = credentials.NewStaticCredentialsProvider(require(tb, EnvIAMAccessKey), require(tb, EnvIAMSecretKey), "")
	return s
}

// AdminConfig reaches the server as the admin user, allowed everything.
func (s *IAMServer) AdminConfig(tb testing.TB) aws.Config {
	tb.Helper()
	return load(tb, s.Endpoint, s.admin)
}

// Credentials creates an IAM user holding exactly policy (a JSON policy
// document) as its only, inline policy and returns its access key.
func (s *IAMServer) Credentials(tb testing.TB, name, policy string) aws.CredentialsProvider {
	tb.Helper()
	ctx := context.Background()
	c := iam.NewFromConfig(s.AdminConfig(tb))
	user := Name(name)
	if _, err := c.CreateUser(ctx, &iam.CreateUserInput{UserName: &user}); err != nil {
		tb.Fatalf("mototest: create user %s: %v", user, err)
	}
	if _, err := c.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: &user, PolicyName: aws.String(name), PolicyDocument: &policy}); err != nil {
		tb.Fatalf("mototest: policy of %s: %v", user, err)
	}
	k, err := c.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: &user})
	if err != nil {
		tb.Fatalf("mototest: access key of %s: %v", user, err)
	}
	return credentials.NewStaticCredentialsProvider(aws.ToString(k.AccessKey.AccessKeyId), aws.ToString(k.AccessKey.SecretAccessKey), "")
}

// Except wraps a conformance suite's open function so that the suite's
// subtests named in known (by the last elements of their names, e.g.
// "Table/ConditionalUpdate") skip with the reason given: the divergences
// of moto from AWS that the suite would otherwise fail on. Each must be
// pinned by a test of its own that fails once moto is fixed, and each must
// match a subtest, or the test fails: a stale entry would hide a
// regression.
func Except[T any](t *testing.T, open func(t *testing.T) T, known map[string]string) func(t *testing.T) T {
	t.Helper()
	var mu sync.Mutex
	hit := map[string]bool{}
	t.Cleanup(func() {
		for name := range known {
			if !hit[name] {
				t.Errorf("mototest: known divergence %q matched no subtest", name)
			}
		}
	})
	return func(st *testing.T) T {
		for name, why := range known {
			if strings.HasSuffix(st.Name(), "/"+name) {
				mu.Lock()
				hit[name] = true
				mu.Unlock()
				st.Skip("known divergence of moto from AWS: " + why)
			}
		}
		return open(st)
	}
}
