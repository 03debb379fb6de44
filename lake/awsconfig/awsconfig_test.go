package awsconfig_test

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/logging"

	"github.com/tierflow/tierflow/lake/awsconfig"
)

// isolate points the SDK at empty shared files and clears the environment
// variables that would otherwise leak in from the machine.
func isolate(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, f := range []string{"config", "credentials"} {
		if err := os.WriteFile(filepath.Join(dir, f), nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "credentials"))
	for _, v := range []string{"AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
		"AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL_DYNAMODB", "AWS_MAX_ATTEMPTS",
		"AWS_RETRY_MODE", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
		"AWS_CONTAINER_AUTHORIZATION_TOKEN", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN"} {
		t.Setenv(v, "")
	}
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	return dir
}

var static = credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", "")

// hits is an S3-ish server that answers GetObject with "ok" and counts
// requests by path.
func hits(t *testing.T) (*httptest.Server, *atomic.Int64, *atomic.Value) {
	var n atomic.Int64
	var path atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		path.Store(r.URL.Path)
		w.Header().Set("Content-Length", "2")
		_, _ = w.Write([]byte("ok"))
	}))
	t.Cleanup(srv.Close)
	return srv, &n, &path
}

func getObject(t *testing.T, cfg aws.Config) error {
	t.Helper()
	c := s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true })
	out, err := c.GetObject(t.Context(), &s3.GetObjectInput{Bucket: aws.String("b"), Key: aws.String("k")})
	if err == nil {
		out.Body.Close()
	}
	return err
}

func TestServiceEndpointFromEnvironment(t *testing.T) {
	isolate(t)
	srv, n, path := hits(t)
	t.Setenv("AWS_ENDPOINT_URL_S3", srv.URL)
	cfg, err := awsconfig.Load(t.Context(), awsconfig.Options{Credentials: static})
	if err != nil {
		t.Fatal(err)
	}
	if err := getObject(t, cfg); err != nil {
		t.Fatal(err)
	}
	if n.Load() != 1 || path.Load() != "/b/k" {
		t.Fatalf("requests %d, last path %v; want 1 to /b/k", n.Load(), path.Load())
	}
}

func TestGlobalEndpointAndOption(t *testing.T) {
	isolate(t)
	viaEnv, nEnv, _ := hits(t)
	viaOpt, nOpt, _ := hits(t)
	t.Setenv("AWS_ENDPOINT_URL", viaEnv.URL)
	cfg, err := awsconfig.Load(t.Context(), awsconfig.Options{Credentials: static})
	if err != nil {
		t.Fatal(err)
	}
	if err := getObject(t, cfg); err != nil || nEnv.Load() != 1 {
		t.Fatalf("AWS_ENDPOINT_URL: err %v, %d requests", err, nEnv.Load())
	}
	cfg, err = awsconfig.Load(t.Context(), awsconfig.Options{Credentials: static, Endpoint: viaOpt.URL})
	if err != nil {
		t.Fatal(err)
	}
	if err := getObject(t, cfg); err != nil || nOpt.Load() != 1 || nEnv.Load() != 1 {
		t.Fatalf("Options.Endpoint: err %v, %d requests to it, %d to the env endpoint", err, nOpt.Load(), nEnv.Load())
	}
}

func TestRegionDefaultAndProfile(t *testing.T) {
	dir := isolate(t)
	cfg, err := awsconfig.Load(t.Context(), awsconfig.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Region != awsconfig.DefaultRegion {
		t.Fatalf("region with nothing configured: %q, want %q", cfg.Region, awsconfig.DefaultRegion)
	}
	if err := os.WriteFile(filepath.Join(dir, "config"), []byte("[profile lake]\nregion = eu-west-1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "credentials"), []byte("[lake]\naws_access_key_id = AKIDPROFILE\naws_secret_access_key = s\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err = awsconfig.Load(t.Context(), awsconfig.Options{Profile: "lake"})
	if err != nil {
		t.Fatal(err)
	}
	creds, err := cfg.Credentials.Retrieve(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Region != "eu-west-1" || creds.AccessKeyID != "AKIDPROFILE" {
		t.Fatalf("profile lake: region %q, key %q", cfg.Region, creds.AccessKeyID)
	}
	t.Setenv("AWS_REGION", "ap-south-1")
	cfg, err = awsconfig.Load(t.Context(), awsconfig.Options{Profile: "lake"})
	if err != nil || cfg.Region != "ap-south-1" {
		t.Fatalf("AWS_REGION must win over the profile: %q, %v", cfg.Region, err)
	}
	cfg, err = awsconfig.Load(t.Context(), awsconfig.Options{Profile: "lake", Region: "us-west-2"})
	if err != nil || cfg.Region != "us-west-2" {
		t.Fatalf("Options.Region must win: %q, %v", cfg.Region, err)
	}
}

// TestECSTaskRole: on Fargate the agent serves the task role's credentials
// at a container endpoint; the chain must pick them up.
func TestECSTaskRole(t *testing.T) {
	isolate(t)
	var calls atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		if r.Header.Get("Authorization") != "task-token" {
			http.Error(w, "no token", http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"AccessKeyId":"ASIATASK","SecretAccessKey":"s","Token":"t","Expiration":"` +
			time.Now().Add(time.Hour).UTC().Format(time.RFC3339) + `"}`))
	}))
	defer srv.Close()
	t.Setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", srv.URL+"/v2/credentials/abc")
	t.Setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", "task-token")
	cfg, err := awsconfig.Load(t.Context(), awsconfig.Options{})
	if err != nil {
		t.Fatal(err)
	}
	creds, err := cfg.Credentials.Retrieve(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if creds.AccessKeyID != "ASIATASK" || creds.SessionToken != "t" || calls.Load() == 0 {
		t.Fatalf("credentials %q (token %q) after %d endpoint calls; want the task role's", creds.AccessKeyID, creds.SessionToken, calls.Load())
	}
}

// throttler fails the first n requests with status and body, then answers
// ok; it counts requests.
func throttler(t *testing.T, n int64, status int, contentType, body, ok string) (*httptest.Server, *atomic.Int64) {
	var seen atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if seen.Add(1) <= n {
			w.Header().Set("Content-Type", contentType)
			w.WriteHeader(status)
			_, _ = w.Write([]byte(body))
			return
		}
		w.Header().Set("Content-Type", contentType)
		_, _ = w.Write([]byte(ok))
	}))
	t.Cleanup(srv.Close)
	return srv, &seen
}

func TestRetriesS3SlowDown(t *testing.T) {
	isolate(t)
	const slow = `<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>`
	srv, seen := throttler(t, 4, http.StatusServiceUnavailable, "application/xml", slow, "ok")
	cfg, err := awsconfig.Load(t.Context(), awsconfig.Options{Credentials: static, Endpoint: srv.URL, MaxBackoff: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if err := getObject(t, cfg); err != nil || seen.Load() != 5 {
		t.Fatalf("after 4 SlowDowns: err %v, %d attempts; want success on attempt 5", err, seen.Load())
	}
	// With fewer attempts than throttled responses the error surfaces.
	seen.Store(0)
	cfg, err = awsconfig.Load(t.Context(), awsconfig.Options{Credentials: static, Endpoint: srv.URL, MaxAttempts: 3, MaxBackoff: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	err = getObject(t, cfg)
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "SlowDown" || seen.Load() != 3 {
		t.Fatalf("MaxAttempts 3: err %v after %d attempts; want SlowDown after 3", err, seen.Load())
	}
}

func TestRetriesDynamoDBThrottling(t *testing.T) {
	isolate(t)
	const throttled = `{"__type":"com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException","message":"slow down"}`
	srv, seen := throttler(t, 3, http.StatusBadRequest, "application/x-amz-json-1.0", throttled, `{"TableNames":[]}`)
	cfg, err := awsconfig.Load(t.Context(), awsconfig.Options{Credentials: static, Endpoint: srv.URL, MaxBackoff: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	c := dynamodb.NewFromConfig(cfg)
	if _, err := c.ListTables(t.Context(), &dynamodb.ListTablesInput{}); err != nil || seen.Load() != 4 {
		t.Fatalf("after 3 throttles: err %v, %d attempts; want success on attempt 4", err, seen.Load())
	}
}

func TestPathStyle(t *testing.T) {
	for v, want := range map[string]bool{"": false, "0": false, "false": false, "1": true, "true": true, "TRUE": true, " yes ": true, "nope": false} {
		got := awsconfig.PathStyle(func(k string) string {
			if k != awsconfig.EnvPathStyle {
				t.Fatalf("PathStyle read %q", k)
			}
			return v
		})
		if got != want {
			t.Errorf("PathStyle(%q) = %v, want %v", v, got, want)
		}
	}
}

// Options.Logger becomes the config's logger: the SDK's lines go where the
// caller says.
func TestLoggerOption(t *testing.T) {
	var got []string
	l := logging.LoggerFunc(func(_ logging.Classification, format string, v ...any) {
		got = append(got, fmt.Sprintf(format, v...))
	})
	cfg, err := awsconfig.Load(t.Context(), awsconfig.Options{Region: "us-east-1", Logger: l, Credentials: credentials.NewStaticCredentialsProvider("a", "b", "")})
	if err != nil {
		t.Fatal(err)
	}
	cfg.Logger.Logf(logging.Warn, "hello %d", 1)
	if len(got) != 1 || got[0] != "hello 1" {
		t.Errorf("the config's logger wrote %q", got)
	}
}
