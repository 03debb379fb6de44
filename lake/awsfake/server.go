// Package awsfake is an in-process, strict front for AWS JSON-protocol
// APIs: an httptest server on 127.0.0.1 that aws-sdk-go-v2 clients reach
// through aws.Config's BaseEndpoint. It fakes what no local AWS
// implementation does: Athena's query execution (NewAthena: each query runs
// through an executor the test supplies, e.g. DuckDB for a CTAS) and Step
// Functions' execution semantics (NewStepFunctions: scripted executions
// with map runs, stop and redrive). Everything else, it forwards to an
// implementation written by others (Forward, OnMoto: moto).
//
// The server checks every request the way AWS would and more strictly than
// a mock: a SigV4 Authorization header whose credential scope names the
// service and region and whose signature verifies against the server's
// credentials; for the services it fakes also POST to "/", the service's
// Content-Type, a known X-Amz-Target and a body that decodes into the
// operation's input with no unknown members and all required members set.
// A request that fails those checks is a bug in the code under test: the
// server reports it with t.Errorf and answers with an AWS-shaped 400, so
// the SDK call fails too. Service-level errors (ExecutionDoesNotExist,
// InvalidRequestException, ...) are ordinary answers and do not fail the
// test.
//
// Every request, forwarded or not, is logged (Requests) with its target and
// decoded body, so a test can assert on exactly what was sent, and any can
// be made to fail (FailNext).
package awsfake

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// The region requests must be signed for, and the key pair Config signs
// with; the server rejects requests signed with any other (UseCredentials
// changes it).
const (
	Region          = "us-east-1"
	AccessKeyID     = "AKIDAWSFAKE000000000"
	SecretAccessKey = "awsfake/secret/key/not/a/real/one/0000"
)

// Server is a fake AWS endpoint. Create it with New; it is closed when the
// test ends.
type Server struct {
	tb testing.TB
	hs *httptest.Server

	mu       sync.Mutex
	services map[string]*JSONService // by target prefix
	requests []Request
	faults   map[string][]*Error // target → errors to answer next, in order
	creds    aws.Credentials     // the key pair Config signs with, the only one accepted
	upstream *upstream           // where what no fake serves goes (forward.go); nil: nowhere
}

// New starts a server that serves nothing yet: register fakes with
// NewAthena and NewStepFunctions, forward the rest with Forward.
func New(tb testing.TB) *Server {
	tb.Helper()
	s := &Server{
		tb:       tb,
		services: map[string]*JSONService{},
		faults:   map[string][]*Error{},
	}
	s.UseCredentials(AccessKeyID, SecretAccessKey)
	s.hs = httptest.NewServer(http.HandlerFunc(s.serve))
	tb.Cleanup(s.hs.Close)
	return s
}

// UseCredentials makes the server accept (only) this key pair instead of
// the fake's own, so one aws.Config can reach it and a real local server
// (versitygw) that insists on its root key.
func (s *Server) UseCredentials(accessKeyID, secret string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.creds = aws.Credentials{AccessKeyID: accessKeyID, SecretAccessKey: secret}
}

func (s *Server) credentials() aws.Credentials {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.creds
}

// URL is the endpoint to put into aws.Config.BaseEndpoint.
func (s *Server) URL() string { return s.hs.URL }

// Config returns an aws.Config that reaches this server: BaseEndpoint, the
// fake's static credentials and region, the SDK's standard retryer with
// millisecond backoff so retried throttling does not slow tests down, and
// endpoint host prefixes disabled (Step Functions' StartSyncExecution would
// otherwise dial "sync-127.0.0.1").
func (s *Server) Config() aws.Config {
	return aws.Config{
		APIOptions:   []func(*middleware.Stack) error{disableHostPrefix},
		Region:       Region,
		Credentials:  credentials.NewStaticCredentialsProvider(s.credentials().AccessKeyID, s.credentials().SecretAccessKey, ""),
		BaseEndpoint: aws.String(s.URL()),
		HTTPClient:   s.hs.Client(),
		Retryer: func() aws.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) {
				o.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return time.Millisecond, nil })
			})
		},
	}
}

func disableHostPrefix(st *middleware.Stack) error {
	return st.Initialize.Add(middleware.InitializeMiddlewareFunc("awsfakeDisableHostPrefix",
		func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			return next.HandleInitialize(smithyhttp.DisableEndpointHostPrefix(ctx, true), in)
		}), middleware.Before)
}

// Request is one logged call.
type Request struct {
	// Target names the operation: the X-Amz-Target of a JSON-protocol
	// request ("AWSGlue.CreateTable"), "<service>.<Operation>" for the
	// others ("iam.CreateRole", "scheduler.UpdateSchedule").
	Target    string
	Service   string         // SigV4 service of the credential scope, e.g. "glue"
	Body      map[string]any // the decoded JSON body (numbers as float64), or a Query request's form values
	Raw       []byte         // the body as sent
	Status    int            // HTTP status answered
	ErrorType string         // the error code answered, "" on success
}

// Operation is the part after the prefix: "CreateTable".
func (r Request) Operation() string {
	_, op, _ := strings.Cut(r.Target, ".")
	return op
}

// Requests returns every request received so far, in arrival order.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.requests)
}

// RequestsTo returns the requests whose X-Amz-Target is target.
func (s *Server) RequestsTo(target string) []Request {
	var out []Request
	for _, r := range s.Requests() {
		if r.Target == target {
			out = append(out, r)
		}
	}
	return out
}

// ResetRequests empties the request log.
func (s *Server) ResetRequests() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = nil
}

// FailNext makes the next len(errs) calls to target answer with errs, in
// order, without reaching the operation or the upstream server (e.g.
// ThrottlingException to test the SDK's retries). Each *Error should come
// from Errorf.
func (s *Server) FailNext(target string, errs ...*Error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults[target] = append(s.faults[target], errs...)
}

// nextFault returns the next error FailNext queued for target, or nil.
func (s *Server) nextFault(target string) *Error {
	s.mu.Lock()
	defer s.mu.Unlock()
	q := s.faults[target]
	if len(q) == 0 {
		return nil
	}
	s.faults[target] = q[1:]
	return q[0]
}

// JSONService is one AWS JSON-protocol service.
type JSONService struct {
	TargetPrefix string // X-Amz-Target prefix before the dot, e.g. "AmazonAthena"
	SigningName  string // SigV4 service name, e.g. "athena"
	JSONVersion  string // "1.0" or "1.1": Content-Type application/x-amz-json-<v>
	Operations   map[string]Operation
	// Forwarded are the operations the fake leaves to the upstream server
	// (Forward), e.g. Step Functions' state machine calls; any other
	// operation the fake does not serve is refused as not modelled.
	Forwarded []string
}

// Operation serves one call. It returns the response value (marshalled with
// encoding/json) or an error: an *Error is answered as is; any other error
// is answered as a 500 InternalFailure and fails the test.
type Operation func(c *Call) (any, error)

// Call is one request as an operation sees it.
type Call struct {
	Ctx    context.Context
	Server *Server
	Target string
	Body   []byte
}

// Decode decodes the body into v, rejecting members v does not model: an
// unmodelled member is either a typo in the fake or something the fake
// would silently ignore, and both hide bugs.
//
// Member names must match the json tags of v exactly: encoding/json matches
// case-insensitively, AWS does not ("partitionKeys" is not
// "PartitionKeys").
func (c *Call) Decode(v any) error {
	d := json.NewDecoder(bytes.NewReader(c.Body))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		return BadRequest("SerializationException", "%s: body does not decode into the modelled input: %v", c.Target, err)
	}
	var raw any
	if err := json.Unmarshal(c.Body, &raw); err != nil {
		return BadRequest("SerializationException", "%s: %v", c.Target, err)
	}
	if path := wrongCase(raw, reflect.TypeOf(v), ""); path != "" {
		return BadRequest("SerializationException", "%s: member %s is not spelled as the API spells it", c.Target, path)
	}
	return nil
}

// wrongCase returns the path of the first object member in raw whose name
// matches a field of t only case-insensitively, or "".
func wrongCase(raw any, t reflect.Type, path string) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch v := raw.(type) {
	case map[string]any:
		switch t.Kind() {
		case reflect.Map:
			for k, e := range v {
				if p := wrongCase(e, t.Elem(), path+"."+k); p != "" {
					return p
				}
			}
		case reflect.Struct:
			fields := jsonFields(t)
			for k, e := range v {
				ft, ok := fields[k]
				if !ok {
					return path + "." + k
				}
				if p := wrongCase(e, ft, path+"."+k); p != "" {
					return p
				}
			}
		}
	case []any:
		if t.Kind() == reflect.Slice || t.Kind() == reflect.Array {
			for i, e := range v {
				if p := wrongCase(e, t.Elem(), fmt.Sprintf("%s[%d]", path, i)); p != "" {
					return p
				}
			}
		}
	}
	return ""
}

// jsonFields maps the exact JSON member names of a struct (embedded
// structs included) to their types.
func jsonFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for i := range t.NumField() {
		f := t.Field(i)
		tag, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if f.Anonymous && tag == "" && f.Type.Kind() == reflect.Struct {
			for k, v := range jsonFields(f.Type) {
				out[k] = v
			}
			continue
		}
		if !f.IsExported() || tag == "-" {
			continue
		}
		if tag == "" {
			tag = f.Name
		}
		out[tag] = f.Type
	}
	return out
}

// Register adds (or replaces) a JSON service.
func (s *Server) Register(svc *JSONService) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.services[svc.TargetPrefix] = svc
}

// Error is an AWS error response: HTTP status, X-Amzn-ErrorType and a body
// {"__type": Type, "Message": Message, ...Fields}.
type Error struct {
	Status  int            // HTTP status; 400 if zero
	Type    string         // e.g. "EntityNotFoundException"
	Message string         // human-readable
	Fields  map[string]any // extra members, e.g. Athena's AthenaErrorCode
	bug     bool           // the request was malformed: fail the test
}

func (e *Error) Error() string { return e.Type + ": " + e.Message }

// Errorf returns a service error, an ordinary answer that does not fail the
// test (not found, already exists, throttling, ...).
func Errorf(typ, format string, args ...any) *Error {
	return &Error{Type: typ, Message: fmt.Sprintf(format, args...)}
}

// BadRequest returns the error for a request AWS would reject as malformed
// (missing or invalid member, limit exceeded): the server answers it with
// HTTP 400 and also fails the test, since the code under test sent it.
func BadRequest(typ, format string, args ...any) *Error {
	return &Error{Type: typ, Message: fmt.Sprintf(format, args...), bug: true}
}

// serve checks the envelope, logs the request and dispatches it.
func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		s.answer(w, r, nil, nil, BadRequest("SerializationException", "reading body: %v", err))
		return
	}
	target := r.Header.Get("X-Amz-Target")
	if s.forwarded(target) {
		s.forward(w, r, body)
		return
	}
	req := Request{Target: target, Raw: body}
	svc, op, aerr := s.route(r, target)
	if aerr == nil {
		req.Service, aerr = s.checkEnvelope(r, body, svc)
	}
	if aerr == nil && len(bytes.TrimSpace(body)) > 0 {
		if err := json.Unmarshal(body, &req.Body); err != nil {
			aerr = BadRequest("SerializationException", "%s: body is not a JSON object: %v", target, err)
		}
	}
	if aerr == nil && req.Body == nil {
		aerr = BadRequest("SerializationException", "%s: empty body, want a JSON object", target)
	}
	if aerr != nil {
		s.answer(w, r, &req, svc, aerr)
		return
	}
	if aerr = s.nextFault(target); aerr != nil {
		s.answer(w, r, &req, svc, aerr)
		return
	}
	out, err := op(&Call{Ctx: r.Context(), Server: s, Target: target, Body: body})
	if err != nil {
		var e *Error
		if !errors.As(err, &e) {
			s.tb.Errorf("awsfake: %s: operation failed: %v", target, err)
			e = &Error{Status: http.StatusInternalServerError, Type: "InternalFailure", Message: err.Error()}
		}
		s.answer(w, r, &req, svc, e)
		return
	}
	if out == nil {
		out = struct{}{}
	}
	b, err := json.Marshal(out)
	if err != nil {
		s.tb.Errorf("awsfake: %s: encoding response: %v", target, err)
		s.answer(w, r, &req, svc, &Error{Status: http.StatusInternalServerError, Type: "InternalFailure", Message: err.Error()})
		return
	}
	req.Status = http.StatusOK
	s.log(req)
	w.Header().Set("Content-Type", contentType(svc))
	w.Header().Set("X-Amzn-RequestId", newUUID())
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
}

// route finds the service and operation for a request.
func (s *Server) route(r *http.Request, target string) (*JSONService, Operation, *Error) {
	if r.Method != http.MethodPost || r.URL.Path != "/" {
		return nil, nil, BadRequest("UnknownOperationException", "%s %s: AWS JSON services take POST /", r.Method, r.URL.Path)
	}
	prefix, name, ok := strings.Cut(target, ".")
	s.mu.Lock()
	svc := s.services[prefix]
	s.mu.Unlock()
	if !ok || svc == nil {
		return nil, nil, BadRequest("UnknownOperationException", "X-Amz-Target %q is not <service>.<operation>", target)
	}
	op := svc.Operations[name]
	if op == nil {
		return svc, nil, BadRequest("UnknownOperationException", "X-Amz-Target %q: operation not modelled by awsfake", target)
	}
	return svc, op, nil
}

func contentType(svc *JSONService) string {
	v := "1.1"
	if svc != nil && svc.JSONVersion != "" {
		v = svc.JSONVersion
	}
	return "application/x-amz-json-" + v
}

// checkEnvelope checks Content-Type and SigV4 and returns the credential
// scope's service.
func (s *Server) checkEnvelope(r *http.Request, body []byte, svc *JSONService) (string, *Error) {
	if ct := r.Header.Get("Content-Type"); ct != contentType(svc) {
		return "", BadRequest("SerializationException", "Content-Type %q, want %q", ct, contentType(svc))
	}
	return s.checkSigV4(r, body, svc.SigningName, "host", "x-amz-date", "x-amz-target", "content-type")
}

// checkSigV4 verifies a request's SigV4 signature: the Authorization
// header's credential scope (an accepted access key, the date of
// X-Amz-Date, the fake's region, service), that mustSign are among the
// signed headers, and the signature itself. It returns the scope's
// service, "" when the header does not parse.
func (s *Server) checkSigV4(r *http.Request, body []byte, service string, mustSign ...string) (string, *Error) {
	auth := r.Header.Get("Authorization")
	const alg = "AWS4-HMAC-SHA256 "
	if !strings.HasPrefix(auth, alg) {
		return "", s.signatureError("missing or non-SigV4 Authorization header %q", auth)
	}
	fields := map[string]string{}
	for f := range strings.SplitSeq(strings.TrimPrefix(auth, alg), ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(f), "=")
		fields[k] = v
	}
	scope := strings.Split(fields["Credential"], "/")
	if len(scope) != 5 || scope[4] != "aws4_request" {
		return "", s.signatureError("credential %q is not AKID/date/region/service/aws4_request", fields["Credential"])
	}
	date := r.Header.Get("X-Amz-Date")
	signed := strings.Split(fields["SignedHeaders"], ";")
	creds := s.credentials()
	switch {
	case scope[0] != creds.AccessKeyID:
		return scope[3], s.signatureError("access key %q, want the server's %q", scope[0], creds.AccessKeyID)
	case len(date) < 8 || scope[1] != date[:8]:
		return scope[3], s.signatureError("credential date %q does not match X-Amz-Date %q", scope[1], date)
	case scope[2] != Region:
		return scope[3], s.signatureError("region %q, want %q", scope[2], Region)
	case scope[3] != service:
		return scope[3], s.signatureError("credential scope names service %q, want %q", scope[3], service)
	}
	for _, h := range mustSign {
		if !slices.Contains(signed, h) {
			return scope[3], s.signatureError("SignedHeaders %q lack %s", fields["SignedHeaders"], h)
		}
	}
	if err := verifySignature(r, body, signed, date, scope[3], auth, creds); err != nil {
		return scope[3], s.signatureError("%v", err)
	}
	return scope[3], nil
}

func (s *Server) signatureError(format string, args ...any) *Error {
	e := BadRequest("InvalidSignatureException", format, args...)
	e.Status = http.StatusForbidden
	return e
}

// verifySignature re-signs the request's signed headers with the fake's
// secret and compares the result with what the client sent.
func verifySignature(r *http.Request, body []byte, signed []string, date, service, auth string, creds aws.Credentials) error {
	t, err := time.Parse("20060102T150405Z", date)
	if err != nil {
		return fmt.Errorf("X-Amz-Date %q: %v", date, err)
	}
	re, err := http.NewRequest(r.Method, "http://"+r.Host+r.URL.RequestURI(), bytes.NewReader(body))
	if err != nil {
		return err
	}
	for _, h := range signed {
		switch h {
		case "host", "content-length":
		default:
			for _, v := range r.Header.Values(h) {
				re.Header.Add(h, v)
			}
		}
	}
	re.ContentLength = int64(len(body))
	sum := sha256.Sum256(body)
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, re, hex.EncodeToString(sum[:]), service, Region, t); err != nil {
		return err
	}
	if got := re.Header.Get("Authorization"); got != auth {
		return fmt.Errorf("signature does not verify: got %q, recomputed %q", auth, got)
	}
	return nil
}

// answer writes an AWS error response and logs the request (req may be
// nil when the request could not be read). The error is shaped as the
// request's protocol has it: XML for the Query protocol (IAM, STS), JSON
// with __type otherwise.
func (s *Server) answer(w http.ResponseWriter, r *http.Request, req *Request, svc *JSONService, e *Error) {
	status := e.Status
	if status == 0 {
		status = http.StatusBadRequest
	}
	target := r.Header.Get("X-Amz-Target")
	if req != nil {
		target = req.Target
		req.Status, req.ErrorType = status, e.Type
		s.log(*req)
	}
	if e.bug {
		s.tb.Errorf("awsfake: malformed request %s %s %q: %s: %s", r.Method, r.URL.Path, target, e.Type, e.Message)
	}
	w.Header().Set("X-Amzn-RequestId", newUUID())
	if isQuery(r) {
		var msg bytes.Buffer
		_ = xml.EscapeText(&msg, []byte(e.Message))
		w.Header().Set("Content-Type", "text/xml")
		w.WriteHeader(status)
		_, _ = fmt.Fprintf(w, `<ErrorResponse><Error><Type>Sender</Type><Code>%s</Code><Message>%s</Message></Error><RequestId>%s</RequestId></ErrorResponse>`, e.Type, msg.Bytes(), newUUID())
		return
	}
	m := map[string]any{}
	for k, v := range e.Fields {
		m[k] = v
	}
	m["__type"] = e.Type
	m["Message"] = e.Message
	b, _ := json.Marshal(m)
	ct := r.Header.Get("Content-Type")
	if svc != nil || ct == "" {
		ct = contentType(svc)
	}
	w.Header().Set("Content-Type", ct)
	w.Header().Set("X-Amzn-ErrorType", e.Type)
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func (s *Server) log(r Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = append(s.requests, r)
}

// newUUID returns a random version 4 UUID.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// epoch renders a time the way AWS JSON protocols do: seconds since the
// epoch as a number with a fraction.
func epoch(t time.Time) float64 {
	return float64(t.UnixMilli()) / 1000
}
