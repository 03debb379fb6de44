package awsfake_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/glue"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/tierflow/tierflow/lake/awsfake"
)

// recorder stands in for the test the fake reports malformed requests to,
// so that a test can assert those reports happen.
type recorder struct {
	testing.TB
	mu   sync.Mutex
	errs []string
}

func (r *recorder) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

func (r *recorder) Helper() {}

func (r *recorder) reports() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.errs
	r.errs = nil
	return out
}

// send posts a hand-made request signed for service with secret.
func send(t *testing.T, srv *awsfake.Server, target, contentType, service, secret, body string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, srv.URL()+"/", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("X-Amz-Target", target)
	sum := sha256.Sum256([]byte(body))
	creds := aws.Credentials{AccessKeyID: awsfake.AccessKeyID, SecretAccessKey: secret}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, hex.EncodeToString(sum[:]), service, awsfake.Region, time.Now()); err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("answer %q is not JSON: %v", b, err)
	}
	return resp.StatusCode, m
}

const json11 = "application/x-amz-json-1.1"

// athenaServer is a server with the fake Athena and nothing forwarded.
// Its Glue client is never used: no CTAS runs here.
func athenaServer(tb testing.TB) *awsfake.Server {
	srv := awsfake.New(tb)
	awsfake.NewAthena(srv, glue.NewFromConfig(srv.Config()))
	return srv
}

func TestEnvelopeChecks(t *testing.T) {
	rec := &recorder{TB: t}
	srv := athenaServer(rec)
	good := `{"QueryExecutionId":"q-1"}`
	// A well-formed request is answered without a report.
	status, body := send(t, srv, "AmazonAthena.GetQueryExecution", json11, "athena", awsfake.SecretAccessKey, good)
	if status != 400 || body["__type"] != "InvalidRequestException" {
		t.Fatalf("well-formed GetQueryExecution: %d %v", status, body)
	}
	if r := rec.reports(); len(r) != 0 {
		t.Fatalf("well-formed request reported: %v", r)
	}
	cases := []struct {
		name, target, ct, service, secret, body string
		status                                  int
		typ                                     string
	}{
		{"WrongContentType", "AmazonAthena.GetQueryExecution", "application/json", "athena", awsfake.SecretAccessKey, good, 400, "SerializationException"},
		{"StepFunctionsContentTypeForAthena", "AmazonAthena.GetQueryExecution", "application/x-amz-json-1.0", "athena", awsfake.SecretAccessKey, good, 400, "SerializationException"},
		{"UnknownServiceNothingForwarded", "AWSGlue.GetDatabase", json11, "glue", awsfake.SecretAccessKey, `{"Name":"consumer"}`, 400, "UnknownOperationException"},
		{"UnknownOperation", "AmazonAthena.GetWorkGroup", json11, "athena", awsfake.SecretAccessKey, `{"WorkGroup":"primary"}`, 400, "UnknownOperationException"},
		{"SignedForOtherService", "AmazonAthena.GetQueryExecution", json11, "glue", awsfake.SecretAccessKey, good, 403, "InvalidSignatureException"},
		{"WrongSecret", "AmazonAthena.GetQueryExecution", json11, "athena", "not-the-secret", good, 403, "InvalidSignatureException"},
		{"CamelCaseMember", "AmazonAthena.GetQueryExecution", json11, "athena", awsfake.SecretAccessKey, `{"queryExecutionId":"q-1"}`, 400, "SerializationException"},
		{"UnknownMember", "AmazonAthena.GetQueryExecution", json11, "athena", awsfake.SecretAccessKey, `{"QueryExecutionId":"q-1","Nmae":"x"}`, 400, "SerializationException"},
		{"NotJSON", "AmazonAthena.GetQueryExecution", json11, "athena", awsfake.SecretAccessKey, `QueryExecutionId=q-1`, 400, "SerializationException"},
		{"RequiredMissing", "AmazonAthena.GetQueryExecution", json11, "athena", awsfake.SecretAccessKey, `{}`, 400, "InvalidRequestException"},
		{"NestedCamelCase", "AmazonAthena.StartQueryExecution", json11, "athena", awsfake.SecretAccessKey, `{"QueryString":"SELECT 1","ResultConfiguration":{"outputLocation":"s3://r/"}}`, 400, "SerializationException"},
		{"AthenaTokenTooShort", "AmazonAthena.StartQueryExecution", json11, "athena", awsfake.SecretAccessKey, `{"QueryString":"SELECT 1","ClientRequestToken":"short"}`, 400, "InvalidRequestException"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, body := send(t, srv, c.target, c.ct, c.service, c.secret, c.body)
			if status != c.status || body["__type"] != c.typ {
				t.Errorf("answer %d %v, want %d %s", status, body, c.status, c.typ)
			}
			if r := rec.reports(); len(r) != 1 {
				t.Errorf("reports %q, want one", r)
			} else {
				t.Log(r[0])
			}
		})
	}
	// Every request was logged with what was answered.
	reqs := srv.Requests()
	if len(reqs) != len(cases)+1 {
		t.Fatalf("%d requests logged, want %d", len(reqs), len(cases)+1)
	}
	if r := reqs[0]; r.Target != "AmazonAthena.GetQueryExecution" || r.Service != "athena" || r.Body["QueryExecutionId"] != "q-1" || r.ErrorType != "InvalidRequestException" || r.Status != 400 {
		t.Errorf("first request logged as %+v", r)
	}
}

func TestFailNext(t *testing.T) {
	srv := athenaServer(t)
	srv.FailNext("AmazonAthena.GetQueryExecution", awsfake.Errorf("ThrottlingException", "Rate exceeded"))
	status, body := send(t, srv, "AmazonAthena.GetQueryExecution", json11, "athena", awsfake.SecretAccessKey, `{"QueryExecutionId":"x"}`)
	if status != 400 || body["__type"] != "ThrottlingException" || body["Message"] != "Rate exceeded" {
		t.Fatalf("first: %d %v", status, body)
	}
	_, body = send(t, srv, "AmazonAthena.GetQueryExecution", json11, "athena", awsfake.SecretAccessKey, `{"QueryExecutionId":"x"}`)
	if body["__type"] != "InvalidRequestException" {
		t.Fatalf("second: %v", body)
	}
}

// TestRegisterService shows the extension point with a JSON 1.0 service
// (Step Functions, camelCase members) and that Config's clients reach it
// even for an operation with a host prefix (StartSyncExecution: "sync-").
func TestRegisterService(t *testing.T) {
	rec := &recorder{TB: t}
	srv := awsfake.New(rec)
	srv.Register(&awsfake.JSONService{
		TargetPrefix: "AWSStepFunctions",
		SigningName:  "states",
		JSONVersion:  "1.0",
		Operations: map[string]awsfake.Operation{
			"StartSyncExecution": func(c *awsfake.Call) (any, error) {
				var in struct {
					StateMachineArn *string `json:"stateMachineArn"`
					Input           string  `json:"input"`
					Name            string  `json:"name"`
				}
				if err := c.Decode(&in); err != nil {
					return nil, err
				}
				if in.StateMachineArn == nil {
					return nil, awsfake.BadRequest("ValidationException", "stateMachineArn is required")
				}
				return map[string]any{"executionArn": *in.StateMachineArn + ":x", "status": "SUCCEEDED", "startDate": 1.7645e9, "stopDate": 1.7645e9, "output": in.Input}, nil
			},
		},
	})
	cl := sfn.NewFromConfig(srv.Config())
	out, err := cl.StartSyncExecution(t.Context(), &sfn.StartSyncExecutionInput{
		StateMachineArn: aws.String("arn:aws:states:us-east-1:123456789012:stateMachine:etl"), Input: aws.String(`{"a":1}`),
	})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(out.Output) != `{"a":1}` || out.Status != "SUCCEEDED" {
		t.Errorf("answer %+v", out)
	}
	r := srv.RequestsTo("AWSStepFunctions.StartSyncExecution")
	if len(r) != 1 || r[0].Service != "states" || r[0].Body["stateMachineArn"] == nil {
		t.Errorf("logged %+v", r)
	}
	if rep := rec.reports(); len(rep) != 0 {
		t.Errorf("reports %v", rep)
	}
}
