// Package awsconfig builds the aws.Config every tierflow AWS client shares.
//
// Credentials and region come from the SDK's standard chain, in its order:
// environment (AWS_ACCESS_KEY_ID, AWS_REGION, ...), the shared config and
// credentials files (AWS_PROFILE or Options.Profile: static keys, SSO,
// assume-role, credential_process), web identity, the ECS task role
// (AWS_CONTAINER_CREDENTIALS_RELATIVE_URI, set by Fargate) and EC2 instance
// metadata. Nothing here reads or logs a secret.
//
// Endpoints also follow the SDK's standard settings, so a local server
// needs no code: AWS_ENDPOINT_URL applies to every service and
// AWS_ENDPOINT_URL_<SERVICE> (AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL_DYNAMODB,
// ...) to one service and wins over the former. Options.Endpoint sets the
// all-services default in code (tests); a service-specific variable still
// wins over it.
//
// Path-style S3 addressing (http://host/bucket/key, needed by most local S3
// servers) is not part of aws.Config: it is an option of the S3 client.
// PathStyle reads the TIERFLOW_S3_PATH_STYLE setting for it; a CLI flag can
// OR its own value in.
//
// Retries: every client retries throttling (S3 SlowDown, DynamoDB
// ProvisionedThroughputExceeded, ...), 5xx and connection errors with the
// SDK's standard retryer and exponential jittered backoff, up to
// Options.MaxAttempts (default 10). The client-side retry token bucket is
// disabled: a batch job that is being throttled should slow down and keep
// going, not fail once the bucket is empty.
package awsconfig

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/aws/smithy-go/logging"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
)

// Defaults used when the corresponding Options field is zero.
const (
	DefaultMaxAttempts = 10
	DefaultMaxBackoff  = 20 * time.Second
	// DefaultRegion is used only when neither Options.Region nor the
	// standard chain (AWS_REGION, the profile) names one; a local endpoint
	// still needs a region to sign requests.
	DefaultRegion = "us-east-1"
	// maxIdleConnsPerHost keeps connections for parallel ranged GETs and
	// part uploads alive between requests (the SDK default is 10).
	maxIdleConnsPerHost = 64
)

// EnvPathStyle is the environment variable PathStyle reads.
const EnvPathStyle = "TIERFLOW_S3_PATH_STYLE"

// Options adjust Load. The zero value uses the standard chain for
// everything.
type Options struct {
	// Region overrides AWS_REGION and the profile's region.
	Region string
	// Profile selects a shared-config profile (overrides AWS_PROFILE).
	Profile string
	// Endpoint is the base endpoint for every service, e.g.
	// http://127.0.0.1:7070; "" keeps AWS_ENDPOINT_URL / the AWS default.
	Endpoint string
	// Credentials replaces the credential chain (tests use static keys).
	Credentials aws.CredentialsProvider
	// MaxAttempts per request including the first (default 10).
	MaxAttempts int
	// MaxBackoff caps the delay between attempts (default 20 s).
	MaxBackoff time.Duration
	// HTTPClient replaces the default HTTP client. When AWS_CA_BUNDLE is
	// set the SDK can only add the CA to an *awshttp.BuildableClient;
	// to wrap requests (tests recording them), wrap the service client's
	// HTTPClient instead (e.g. s3.Options.HTTPClient).
	HTTPClient aws.HTTPClient
	// Logger receives the SDK's own log lines (warnings about response
	// bodies, retries when asked for); nil keeps the SDK's default, which
	// writes to stderr in its own format.
	Logger logging.Logger
}

// Load returns the shared AWS configuration; see the package doc.
func Load(ctx context.Context, o Options) (aws.Config, error) {
	attempts := o.MaxAttempts
	if attempts <= 0 {
		attempts = DefaultMaxAttempts
	}
	backoff := o.MaxBackoff
	if backoff <= 0 {
		backoff = DefaultMaxBackoff
	}
	opts := []func(*config.LoadOptions) error{
		config.WithDefaultRegion(DefaultRegion),
		config.WithRetryer(func() aws.Retryer {
			return retry.NewStandard(func(so *retry.StandardOptions) {
				so.MaxAttempts = attempts
				so.MaxBackoff = backoff
				so.RateLimiter = ratelimit.None
			})
		}),
	}
	if o.Region != "" {
		opts = append(opts, config.WithRegion(o.Region))
	}
	if o.Profile != "" {
		opts = append(opts, config.WithSharedConfigProfile(o.Profile))
	}
	if o.Endpoint != "" {
		opts = append(opts, config.WithBaseEndpoint(o.Endpoint))
	}
	if o.Credentials != nil {
		opts = append(opts, config.WithCredentialsProvider(o.Credentials))
	}
	if o.Logger != nil {
		opts = append(opts, config.WithLogger(o.Logger))
	}
	if o.HTTPClient != nil {
		opts = append(opts, config.WithHTTPClient(o.HTTPClient))
	} else {
		opts = append(opts, config.WithHTTPClient(awshttp.NewBuildableClient().WithTransportOptions(func(t *http.Transport) {
			t.MaxIdleConnsPerHost = maxIdleConnsPerHost
		})))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		// The SDK's errors name files and profiles, never secrets.
		return aws.Config{}, fmt.Errorf("awsconfig: load: %w", err)
	}
	return cfg, nil
}

// PathStyle reports whether EnvPathStyle asks for path-style S3 addressing
// ("1", "true", "yes"; case-insensitive). getenv is usually os.Getenv.
func PathStyle(getenv func(string) string) bool {
	v := strings.TrimSpace(getenv(EnvPathStyle))
	if strings.EqualFold(v, "yes") {
		return true
	}
	b, err := strconv.ParseBool(v)
	return err == nil && b
}
