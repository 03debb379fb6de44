package awsfake

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/tierflow/tierflow/lake/mototest"
)

// upstream is where a server forwards what no fake serves.
type upstream struct {
	url   *url.URL
	creds aws.CredentialsProvider
}

// Forward makes the server pass every request no fake serves (and the
// operations a fake lists as Forwarded) to endpoint, after checking its
// SigV4 signature, re-signed with creds: the client's key pair need not be
// the upstream's (one aws.Config can reach this server and a local S3
// server that insists on its own key), and the requests land in the
// upstream account creds belong to. Forwarded requests are logged and
// FailNext applies to them; their members are not checked, as no fake
// models them: the upstream's own validation checks them.
func (s *Server) Forward(endpoint string, creds aws.CredentialsProvider) {
	u, err := url.Parse(endpoint)
	if err != nil || u.Host == "" {
		s.tb.Fatalf("awsfake: Forward: endpoint %q is not a URL", endpoint)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.upstream = &upstream{url: u, creds: creds}
}

// Account is the moto account an OnMoto server forwards to.
type Account struct {
	ID string
	// Config reaches moto directly as the account: for what the fakes do
	// there on their own (Athena's Glue calls, the state machines Step
	// Functions' executions run) and for tests reading what the code under
	// test created.
	Config aws.Config
}

// OnMoto starts a server that forwards what no fake serves to the open
// moto server (mototest), into an account of its own, fresh and empty, so
// that tests sharing moto never see each other's resources. Like mototest,
// it skips the test when moto is not running, and fails it in CI.
func OnMoto(tb testing.TB) (*Server, Account) {
	tb.Helper()
	endpoint := mototest.Endpoint(tb)
	cfg, id := mototest.NewAccountID(tb)
	s := New(tb)
	s.Forward(endpoint, cfg.Credentials)
	return s, Account{ID: id, Config: cfg}
}

// forwarded reports whether a request with this X-Amz-Target ("" for the
// REST-JSON and Query protocols) is for no fake.
func (s *Server) forwarded(target string) bool {
	prefix, op, _ := strings.Cut(target, ".")
	s.mu.Lock()
	defer s.mu.Unlock()
	svc := s.services[prefix]
	return target == "" || svc == nil || slices.Contains(svc.Forwarded, op)
}

// forward checks a request's signature, logs it and passes it upstream.
func (s *Server) forward(w http.ResponseWriter, r *http.Request, body []byte) {
	service := credentialService(r.Header.Get("Authorization"))
	req := Request{Service: service, Raw: body}
	req.Target, req.Body = operation(r, body, service)
	s.mu.Lock()
	up := s.upstream
	s.mu.Unlock()
	if up == nil {
		s.answer(w, r, &req, nil, BadRequest("UnknownOperationException", "%s %s %q: no fake serves it, and nothing is forwarded", r.Method, r.URL.Path, req.Target))
		return
	}
	signed := []string{"host", "x-amz-date"}
	if r.Header.Get("X-Amz-Target") != "" {
		signed = append(signed, "x-amz-target")
	}
	if _, e := s.checkSigV4(r, body, service, signed...); e != nil {
		s.answer(w, r, &req, nil, e)
		return
	}
	if e := s.nextFault(req.Target); e != nil {
		s.answer(w, r, &req, nil, e)
		return
	}
	resp, err := up.send(r, body, service)
	if err != nil {
		s.tb.Errorf("awsfake: forwarding %s: %v", req.Target, err)
		s.answer(w, r, &req, nil, &Error{Status: http.StatusBadGateway, Type: "InternalFailure", Message: err.Error()})
		return
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		s.tb.Errorf("awsfake: reading the upstream's answer to %s: %v", req.Target, err)
	}
	req.Status = resp.StatusCode
	if resp.StatusCode >= 300 {
		req.ErrorType = errorCode(resp.Header, out)
	}
	s.log(req)
	for k, vs := range resp.Header {
		switch k {
		case "Content-Length", "Connection", "Keep-Alive", "Transfer-Encoding": // this hop's, not the answer's
		default:
			w.Header()[k] = vs
		}
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = w.Write(out)
}

// send passes a request to the upstream server, signed with its
// credentials.
func (up *upstream) send(r *http.Request, body []byte, service string) (*http.Response, error) {
	u := *up.url
	u.Path, u.RawPath, u.RawQuery = r.URL.Path, r.URL.RawPath, r.URL.RawQuery
	out, err := http.NewRequestWithContext(r.Context(), r.Method, u.String(), bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	for k, vs := range r.Header {
		switch http.CanonicalHeaderKey(k) {
		case "Authorization", "X-Amz-Date", "X-Amz-Security-Token", "Accept-Encoding", "Content-Length":
		default:
			out.Header[k] = vs
		}
	}
	creds, err := up.creds.Retrieve(r.Context())
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(body)
	if err := v4.NewSigner().SignHTTP(r.Context(), creds, out, hex.EncodeToString(sum[:]), service, Region, time.Now()); err != nil {
		return nil, err
	}
	return http.DefaultClient.Do(out)
}

// operation names a request as Request.Target does and decodes its body.
func operation(r *http.Request, body []byte, service string) (string, map[string]any) {
	var decoded map[string]any
	if isQuery(r) {
		form, _ := url.ParseQuery(string(body))
		decoded = map[string]any{}
		for k, v := range form {
			decoded[k] = v[0]
		}
		return service + "." + form.Get("Action"), decoded
	}
	_ = json.Unmarshal(body, &decoded)
	if t := r.Header.Get("X-Amz-Target"); t != "" {
		return t, decoded
	}
	segs := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	key := r.Method + " /" + segs[0]
	if len(segs) > 1 {
		key += "/{}"
	}
	if op, ok := restOperations[service+" "+key]; ok {
		return service + "." + op, decoded
	}
	return service + "." + r.Method + " " + r.URL.Path, decoded
}

// restOperations names the REST-JSON operations the code calls, by SigV4
// service, method and path: the SDK sends no operation name.
var restOperations = map[string]string{
	"scheduler POST /schedules/{}":   "CreateSchedule",
	"scheduler GET /schedules/{}":    "GetSchedule",
	"scheduler PUT /schedules/{}":    "UpdateSchedule",
	"scheduler DELETE /schedules/{}": "DeleteSchedule",
	"scheduler GET /schedules":       "ListSchedules",
}

// isQuery reports whether r uses the Query protocol (IAM, STS).
func isQuery(r *http.Request) bool {
	return strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded")
}

var xmlCode = regexp.MustCompile(`<Code>([^<]*)</Code>`)

// errorCode finds the error code of an AWS error answer: the
// X-Amzn-ErrorType header, a JSON body's __type or an XML body's Code.
func errorCode(h http.Header, body []byte) string {
	if t := h.Get("X-Amzn-ErrorType"); t != "" {
		t, _, _ = strings.Cut(t, ":")
		return t
	}
	var m struct {
		Type string `json:"__type"`
	}
	if json.Unmarshal(body, &m) == nil && m.Type != "" {
		return m.Type[strings.LastIndex(m.Type, "#")+1:]
	}
	if c := xmlCode.FindSubmatch(body); c != nil {
		return string(c[1])
	}
	return "unknown"
}

// credentialService returns the service of a SigV4 Authorization
// header's credential scope, or "".
func credentialService(auth string) string {
	_, cred, ok := strings.Cut(auth, "Credential=")
	if !ok {
		return ""
	}
	cred, _, _ = strings.Cut(cred, ",")
	scope := strings.Split(cred, "/")
	if len(scope) != 5 {
		return ""
	}
	return scope[3]
}
