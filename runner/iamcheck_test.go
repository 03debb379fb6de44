//go:build cgo && !noduckdb

package runner

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/tierflow/tierflow/runner/deploy"
)

// iamRequest is one authorization AWS makes for a request: the IAM action,
// the resource ARN it is checked on and the condition keys the request
// carries. One API call can need several (CopyObject: s3:GetObject on the
// source and s3:PutObject on the target; a Glue table call: the catalog,
// the database and the table; an SSE-KMS write: kms:GenerateDataKey by
// way of S3).
type iamRequest struct {
	Role     string            `json:"role"`
	Call     string            `json:"call"` // e.g. "s3 PutObject", for messages
	Action   string            `json:"action"`
	Resource string            `json:"resource"`
	Context  map[string]string `json:"context,omitempty"`
}

// iamRecorder sits between the SDK and the servers as a reverse proxy per
// server, and records what every request needs IAM to allow. It knows the
// role behind a request by its access key.
type iamRecorder struct {
	t                *testing.T
	region, account  string
	mu               sync.Mutex
	roles            map[string]string // access key id → role
	reqs             []iamRequest
	athenaWorkgroups map[string]string // query id → workgroup
	unclassified     []string
}

func newIAMRecorder(t *testing.T, region, account string) *iamRecorder {
	return &iamRecorder{t: t, region: region, account: account, roles: map[string]string{}, athenaWorkgroups: map[string]string{}}
}

// role names the principal whose requests are signed with accessKey.
func (r *iamRecorder) role(accessKey, role string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.roles[accessKey] = role
}

// proxy returns the URL of a recording reverse proxy to upstream. The
// Host header is kept, so SigV4 signatures still verify upstream.
func (r *iamRecorder) proxy(upstream string) string {
	u, err := url.Parse(upstream)
	if err != nil {
		r.t.Fatal(err)
	}
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(u)
			pr.Out.Host = pr.In.Host
			// Keep the body for observe (DeleteObjects' keys, JSON
			// inputs); the tests' requests are small.
			b, err := io.ReadAll(pr.In.Body)
			if err != nil {
				r.t.Errorf("proxy: reading %s %s: %v", pr.In.Method, pr.In.URL, err)
			}
			pr.Out.Body = io.NopCloser(bytes.NewReader(b))
			pr.Out = pr.Out.WithContext(context.WithValue(pr.Out.Context(), bodyKey{}, b))
		},
		ModifyResponse: r.observe,
	}
	srv := httptest.NewServer(rp)
	r.t.Cleanup(srv.Close)
	return srv.URL
}

// observe records a request once its response is known (a GetObject's
// encryption is in the response; Athena's query ids too).
func (r *iamRecorder) observe(resp *http.Response) error {
	req := resp.Request
	if resp.StatusCode >= 300 {
		return nil // refused or failed: it needed nothing that was granted
	}
	body, _ := req.Context().Value(bodyKey{}).([]byte)
	key, service := sigv4Scope(req.Header.Get("Authorization"))
	r.mu.Lock()
	role := r.roles[key]
	r.mu.Unlock()
	if role == "" {
		return nil // the test's own setup (the admin user)
	}
	var out []iamRequest
	var err error
	switch {
	case req.Header.Get("X-Amz-Target") != "":
		out, err = r.jsonCall(req.Header.Get("X-Amz-Target"), body, resp)
	case service == "s3":
		out, err = r.s3Call(req, body, resp)
	case service == "iam" || service == "sts":
		out, err = r.queryCall(service, body)
	case service == "scheduler":
		out, err = r.schedulerCall(req, body)
	case service == "sns":
		out, err = r.snsCall(body)
	case service == "monitoring":
		out, err = r.cloudWatchCall(body)
	default:
		err = fmt.Errorf("service %q is not modelled", service)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if err != nil {
		r.unclassified = append(r.unclassified, fmt.Sprintf("%s %s (%s): %v", req.Method, req.URL, service, err))
		return nil
	}
	for i := range out {
		out[i].Role = role
	}
	r.reqs = append(r.reqs, out...)
	return nil
}

type bodyKey struct{}

// sigv4Scope returns the access key id and the service of a SigV4
// Authorization header.
func sigv4Scope(auth string) (key, service string) {
	_, cred, ok := strings.Cut(auth, "Credential=")
	if !ok {
		return "", ""
	}
	cred, _, _ = strings.Cut(cred, ",")
	scope := strings.Split(cred, "/")
	if len(scope) != 5 {
		return "", ""
	}
	return scope[0], scope[3]
}

func (r *iamRecorder) arn(service, resource string) string {
	return "arn:aws:" + service + ":" + r.region + ":" + r.account + ":" + resource
}

func (r *iamRecorder) kmsKey(id string) string {
	if strings.HasPrefix(id, "arn:") {
		return id
	}
	return r.arn("kms", "key/"+id)
}

// jsonCall maps an AWS JSON-protocol call (X-Amz-Target) to what it needs.
func (r *iamRecorder) jsonCall(target string, body []byte, resp *http.Response) ([]iamRequest, error) {
	prefix, op, _ := strings.Cut(target, ".")
	var in map[string]any
	if err := json.Unmarshal(body, &in); err != nil {
		return nil, err
	}
	str := func(k string) string { s, _ := in[k].(string); return s }
	one := func(action string, resources ...string) []iamRequest {
		var out []iamRequest
		for _, res := range resources {
			out = append(out, iamRequest{Call: target, Action: action, Resource: res})
		}
		return out
	}
	switch prefix {
	case "AWSGlue":
		db := str("DatabaseName")
		if di, ok := in["DatabaseInput"].(map[string]any); ok {
			db, _ = di["Name"].(string)
		}
		if op == "GetDatabase" {
			db = str("Name")
		}
		res := []string{r.arn("glue", "catalog"), r.arn("glue", "database/"+strings.ToLower(db))}
		table := str("TableName")
		if ti, ok := in["TableInput"].(map[string]any); ok {
			table, _ = ti["Name"].(string)
		}
		if op == "GetTable" || op == "DeleteTable" {
			table = str("Name")
		}
		switch {
		case op == "GetTables":
			res = append(res, r.arn("glue", "table/"+strings.ToLower(db)+"/*"))
		case table != "":
			res = append(res, r.arn("glue", "table/"+strings.ToLower(db)+"/"+strings.ToLower(table)))
		}
		return one("glue:"+op, res...), nil
	case "DynamoDB_20120810":
		var tables []string
		if t := str("TableName"); t != "" {
			res := r.arn("dynamodb", "table/"+t)
			if ix := str("IndexName"); ix != "" {
				res += "/index/" + ix
			}
			tables = append(tables, res)
		}
		if items, ok := in["RequestItems"].(map[string]any); ok {
			for t := range items {
				tables = append(tables, r.arn("dynamodb", "table/"+t))
			}
		}
		return one("dynamodb:"+op, tables...), nil
	case "TrentService":
		return one("kms:"+op, r.kmsKey(str("KeyId"))), nil
	case "AmazonAthena":
		return r.athenaCall(op, in, resp)
	case "AWSStepFunctions":
		res := str("stateMachineArn")
		switch {
		case op == "CreateStateMachine":
			res = r.arn("states", "stateMachine:"+str("name"))
		case str("executionArn") != "":
			res = str("executionArn")
		case str("mapRunArn") != "":
			res = str("mapRunArn")
		}
		out := one("states:"+op, res)
		if role := str("roleArn"); role != "" {
			out = append(out, r.passRole(target, role, "states.amazonaws.com"))
		}
		return out, nil
	case "AWSEvents":
		rule := str("Name")
		if op == "PutTargets" {
			rule = str("Rule")
		}
		out := one("events:"+op, r.arn("events", "rule/"+rule))
		if targets, ok := in["Targets"].([]any); ok {
			for _, tg := range targets {
				if role, _ := tg.(map[string]any)["RoleArn"].(string); role != "" {
					out = append(out, r.passRole(target, role, "events.amazonaws.com"))
				}
			}
		}
		return out, nil
	case "AmazonEC2ContainerServiceV20141113":
		switch op {
		case "RegisterTaskDefinition":
			out := one("ecs:"+op, "*")
			for _, k := range []string{"taskRoleArn", "executionRoleArn"} {
				if role := str(k); role != "" {
					out = append(out, r.passRole(target, role, "ecs-tasks.amazonaws.com"))
				}
			}
			return out, nil
		case "CreateCluster":
			return one("ecs:"+op, r.arn("ecs", "cluster/"+str("clusterName"))), nil
		case "DescribeClusters":
			var res []string
			for _, c := range in["clusters"].([]any) {
				name := c.(string)
				if !strings.HasPrefix(name, "arn:") {
					name = r.arn("ecs", "cluster/"+name)
				}
				res = append(res, name)
			}
			return one("ecs:"+op, res...), nil
		}
	}
	return nil, fmt.Errorf("%s is not modelled", target)
}

func (r *iamRecorder) passRole(call, role, service string) iamRequest {
	return iamRequest{Call: call, Action: "iam:PassRole", Resource: role, Context: map[string]string{"iam:PassedToService": service}}
}

// athenaCall: every query call is authorized on the query's workgroup.
func (r *iamRecorder) athenaCall(op string, in map[string]any, resp *http.Response) ([]iamRequest, error) {
	id, _ := in["QueryExecutionId"].(string)
	var wg string
	switch op {
	case "StartQueryExecution":
		wg, _ = in["WorkGroup"].(string)
		if wg == "" {
			wg = "primary"
		}
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			return nil, err
		}
		resp.Body = io.NopCloser(bytes.NewReader(b))
		var out struct{ QueryExecutionId string }
		if err := json.Unmarshal(b, &out); err != nil {
			return nil, err
		}
		r.mu.Lock()
		r.athenaWorkgroups[out.QueryExecutionId] = wg
		r.mu.Unlock()
	case "GetQueryExecution", "GetQueryResults", "StopQueryExecution":
		r.mu.Lock()
		wg = r.athenaWorkgroups[id]
		r.mu.Unlock()
		if wg == "" {
			return nil, fmt.Errorf("athena %s of query %s, started elsewhere", op, id)
		}
	default:
		return nil, fmt.Errorf("athena %s is not modelled", op)
	}
	return []iamRequest{{Call: "athena " + op, Action: "athena:" + op, Resource: r.arn("athena", "workgroup/"+wg)}}, nil
}

// queryCall maps an IAM or STS Query-protocol call.
func (r *iamRecorder) queryCall(service string, body []byte) ([]iamRequest, error) {
	v, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, err
	}
	op := v.Get("Action")
	switch {
	case service == "sts" && op == "GetCallerIdentity":
		return nil, nil // needs no permission
	case service == "iam" && v.Get("RoleName") != "":
		return []iamRequest{{Call: "iam " + op, Action: "iam:" + op, Resource: "arn:aws:iam::" + r.account + ":role/" + v.Get("RoleName")}}, nil
	}
	return nil, fmt.Errorf("%s %s is not modelled", service, op)
}

// schedulerCall maps EventBridge Scheduler's REST calls on /schedules/NAME.
func (r *iamRecorder) schedulerCall(req *http.Request, body []byte) ([]iamRequest, error) {
	name, ok := strings.CutPrefix(req.URL.Path, "/schedules/")
	if !ok {
		return nil, fmt.Errorf("scheduler %s %s is not modelled", req.Method, req.URL.Path)
	}
	group := req.URL.Query().Get("groupName")
	op := map[string]string{http.MethodGet: "GetSchedule", http.MethodPost: "CreateSchedule", http.MethodPut: "UpdateSchedule"}[req.Method]
	if op != "GetSchedule" {
		var in struct {
			GroupName string
			Target    struct{ RoleArn string }
		}
		if err := json.Unmarshal(body, &in); err != nil {
			return nil, err
		}
		group = in.GroupName
		out := []iamRequest{{Call: "scheduler " + op, Action: "scheduler:" + op, Resource: r.arn("scheduler", "schedule/"+defaultGroup(group)+"/"+name)}}
		if in.Target.RoleArn != "" {
			out = append(out, r.passRole("scheduler "+op, in.Target.RoleArn, "scheduler.amazonaws.com"))
		}
		return out, nil
	}
	return []iamRequest{{Call: "scheduler " + op, Action: "scheduler:" + op, Resource: r.arn("scheduler", "schedule/"+defaultGroup(group)+"/"+name)}}, nil
}

// snsCall maps an SNS Query-protocol call: topic calls on the topic, and
// subscription calls on theirs (a subscription ARN is the topic's followed
// by ":<id>"; subscriptions are no IAM resource of their own).
func (r *iamRecorder) snsCall(body []byte) ([]iamRequest, error) {
	v, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, err
	}
	op := v.Get("Action")
	call := "sns " + op
	switch op {
	case "CreateTopic":
		topic := r.arn("sns", v.Get("Name"))
		out := []iamRequest{{Call: call, Action: "sns:CreateTopic", Resource: topic}}
		if v.Get("Tags.member.1.Key") != "" {
			out = append(out, iamRequest{Call: call, Action: "sns:TagResource", Resource: topic})
		}
		return out, nil
	case "ListSubscriptionsByTopic", "Subscribe", "Publish":
		return []iamRequest{{Call: call, Action: "sns:" + op, Resource: v.Get("TopicArn")}}, nil
	case "SetSubscriptionAttributes", "Unsubscribe":
		sub := v.Get("SubscriptionArn")
		return []iamRequest{{Call: call, Action: "sns:" + op, Resource: sub[:strings.LastIndex(sub, ":")]}}, nil
	}
	return nil, fmt.Errorf("sns %s is not modelled", op)
}

// cloudWatchCall maps a CloudWatch Query-protocol call (deploy speaks
// Query to CloudWatch). Dashboards are global: no region in their ARN.
func (r *iamRecorder) cloudWatchCall(body []byte) ([]iamRequest, error) {
	v, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, err
	}
	op := v.Get("Action")
	call := "cloudwatch " + op
	switch op {
	case "PutMetricAlarm":
		alarm := r.arn("cloudwatch", "alarm:"+v.Get("AlarmName"))
		out := []iamRequest{{Call: call, Action: "cloudwatch:PutMetricAlarm", Resource: alarm}}
		if v.Get("Tags.member.1.Key") != "" {
			out = append(out, iamRequest{Call: call, Action: "cloudwatch:TagResource", Resource: alarm})
		}
		return out, nil
	case "PutDashboard":
		return []iamRequest{{Call: call, Action: "cloudwatch:PutDashboard", Resource: "arn:aws:cloudwatch::" + r.account + ":dashboard/" + v.Get("DashboardName")}}, nil
	}
	return nil, fmt.Errorf("cloudwatch %s is not modelled", op)
}

func defaultGroup(g string) string {
	if g == "" {
		return "default"
	}
	return g
}

// s3Call maps a path-style S3 REST call to the actions S3 authorizes it
// as (Amazon S3 API reference, "Permissions" of each operation), plus the
// KMS actions S3 performs on the caller's behalf for SSE-KMS
// (kms:ViaService).
func (r *iamRecorder) s3Call(req *http.Request, body []byte, resp *http.Response) ([]iamRequest, error) {
	bucket, key, _ := strings.Cut(strings.TrimPrefix(req.URL.EscapedPath(), "/"), "/")
	key, err := url.PathUnescape(key)
	if err != nil {
		return nil, err
	}
	q := req.URL.Query()
	h := req.Header
	bucketARN := "arn:aws:s3:::" + bucket
	object := func(k string) string { return bucketARN + "/" + k }
	var out []iamRequest
	add := func(call, action, res string, ctx map[string]string) {
		out = append(out, iamRequest{Call: "s3 " + call, Action: action, Resource: res, Context: ctx})
	}
	via := map[string]string{"kms:ViaService": "s3." + r.region + ".amazonaws.com", "kms:CallerAccount": r.account}
	sseWrite := func(call string) map[string]string {
		ctx := map[string]string{}
		if sse := h.Get("X-Amz-Server-Side-Encryption"); sse != "" {
			ctx["s3:x-amz-server-side-encryption"] = sse
			if k := h.Get("X-Amz-Server-Side-Encryption-Aws-Kms-Key-Id"); k != "" {
				ctx["s3:x-amz-server-side-encryption-aws-kms-key-id"] = k
				add(call, "kms:GenerateDataKey", r.kmsKey(k), via)
			}
		}
		return ctx
	}
	decrypt := func(call, k string) {
		if k != "" {
			add(call, "kms:Decrypt", r.kmsKey(k), via)
		}
	}
	// A write with tags (x-amz-tagging) needs s3:PutObjectTagging too.
	tagged := func(call string) {
		if h.Get("X-Amz-Tagging") != "" {
			add(call, "s3:PutObjectTagging", object(key), nil)
		}
	}
	respKMS := resp.Header.Get("X-Amz-Server-Side-Encryption-Aws-Kms-Key-Id")
	copySource := h.Get("X-Amz-Copy-Source")
	copyFrom := func(call string) error {
		src, err := url.PathUnescape(strings.TrimPrefix(copySource, "/"))
		if err != nil {
			return err
		}
		src, _, _ = strings.Cut(src, "?")
		add(call, "s3:GetObject", "arn:aws:s3:::"+src, nil)
		decrypt(call, respKMS) // the source is encrypted like the lake
		return nil
	}
	switch {
	case key == "" && req.Method == http.MethodHead:
		add("HeadBucket", "s3:ListBucket", bucketARN, nil)
	case key == "" && req.Method == http.MethodGet && q.Has("uploads"):
		ctx := map[string]string{}
		if p := q.Get("prefix"); q.Has("prefix") {
			ctx["s3:prefix"] = p
		}
		add("ListMultipartUploads", "s3:ListBucketMultipartUploads", bucketARN, ctx)
	case key == "" && req.Method == http.MethodGet && q.Has("location"):
		add("GetBucketLocation", "s3:GetBucketLocation", bucketARN, nil)
	case key == "" && q.Has("notification") && (req.Method == http.MethodGet || req.Method == http.MethodPut):
		op := map[string]string{http.MethodGet: "Get", http.MethodPut: "Put"}[req.Method]
		add(op+"BucketNotificationConfiguration", "s3:"+op+"BucketNotification", bucketARN, nil)
	case key == "" && req.Method == http.MethodGet && q.Get("list-type") == "2":
		ctx := map[string]string{}
		if q.Has("prefix") {
			ctx["s3:prefix"] = q.Get("prefix")
		}
		if q.Has("delimiter") {
			ctx["s3:delimiter"] = q.Get("delimiter")
		}
		add("ListObjectsV2", "s3:ListBucket", bucketARN, ctx)
	case key == "" && q.Has("lifecycle"):
		// DeleteBucketLifecycle is authorized as PutLifecycleConfiguration.
		action := map[string]string{http.MethodGet: "s3:GetLifecycleConfiguration", http.MethodPut: "s3:PutLifecycleConfiguration", http.MethodDelete: "s3:PutLifecycleConfiguration"}[req.Method]
		add(req.Method+"BucketLifecycle", action, bucketARN, nil)
	case key == "" && req.Method == http.MethodPost && q.Has("delete"):
		var del struct {
			Object []struct{ Key string }
		}
		if err := xml.Unmarshal(body, &del); err != nil {
			return nil, fmt.Errorf("DeleteObjects body: %w", err)
		}
		for _, o := range del.Object {
			add("DeleteObjects", "s3:DeleteObject", object(o.Key), nil)
		}
	case key == "":
		return nil, fmt.Errorf("bucket call %s ?%s is not modelled", req.Method, req.URL.RawQuery)
	case q.Has("tagging"):
		op := map[string]string{http.MethodGet: "GetObjectTagging", http.MethodPut: "PutObjectTagging", http.MethodDelete: "DeleteObjectTagging"}[req.Method]
		add(op, "s3:"+op, object(key), nil)
	case req.Method == http.MethodPut && q.Has("uploadId") && copySource != "":
		add("UploadPartCopy", "s3:PutObject", object(key), nil)
		if err := copyFrom("UploadPartCopy"); err != nil {
			return nil, err
		}
	case req.Method == http.MethodPut && q.Has("uploadId"):
		add("UploadPart", "s3:PutObject", object(key), nil)
	case req.Method == http.MethodPut && copySource != "":
		add("CopyObject", "s3:PutObject", object(key), sseWrite("CopyObject"))
		if err := copyFrom("CopyObject"); err != nil {
			return nil, err
		}
	case req.Method == http.MethodPut:
		add("PutObject", "s3:PutObject", object(key), sseWrite("PutObject"))
		tagged("PutObject")
	case req.Method == http.MethodPost && q.Has("uploads"):
		add("CreateMultipartUpload", "s3:PutObject", object(key), sseWrite("CreateMultipartUpload"))
		tagged("CreateMultipartUpload")
	case req.Method == http.MethodPost && q.Has("uploadId"):
		add("CompleteMultipartUpload", "s3:PutObject", object(key), nil)
		decrypt("CompleteMultipartUpload", respKMS) // S3 reads the encrypted parts
	case req.Method == http.MethodDelete && q.Has("uploadId"):
		add("AbortMultipartUpload", "s3:AbortMultipartUpload", object(key), nil)
	case req.Method == http.MethodGet && q.Has("uploadId"):
		add("ListParts", "s3:ListMultipartUploadParts", object(key), nil)
	case req.Method == http.MethodGet:
		add("GetObject", "s3:GetObject", object(key), nil)
		decrypt("GetObject", respKMS)
	case req.Method == http.MethodHead:
		add("HeadObject", "s3:GetObject", object(key), nil)
	case req.Method == http.MethodDelete:
		add("DeleteObject", "s3:DeleteObject", object(key), nil)
	default:
		return nil, fmt.Errorf("object call %s ?%s is not modelled", req.Method, req.URL.RawQuery)
	}
	return out, nil
}

// requests returns what was recorded, and fails the test for calls the
// recorder could not map: an unmapped call is an unchecked one.
func (r *iamRecorder) requests() []iamRequest {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, u := range r.unclassified {
		r.t.Errorf("request not mapped to IAM actions (so not checked): %s", u)
	}
	return slices.Clone(r.reqs)
}

// iamVerdict is iampolicy.cjs's answer for one request.
type iamVerdict struct {
	Result string   `json:"result"` // Allowed, ImplicitlyDenied, ExplicitlyDenied or Error
	Sids   []string `json:"sids"`   // the statements that allowed it
	Error  string   `json:"error"`
}

// simulate asks iam-simulate (testdata/iampolicy.cjs) about every distinct
// request against its role's policy.
func simulate(t *testing.T, policies map[string]deploy.PolicyDocument, reqs []iamRequest) (map[string]iamVerdict, []iamRequest) {
	t.Helper()
	nm := os.Getenv("TIERFLOW_TEST_NODE_MODULES")
	if nm == "" {
		msg := "TIERFLOW_TEST_NODE_MODULES is unset: no IAM policy engine (iam-simulate). .ci/run installs it (or: source .ci/tools.sh)"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	seen := map[string]bool{}
	var distinct []iamRequest
	for _, q := range reqs {
		k := requestKey(q)
		if !seen[k] {
			seen[k] = true
			distinct = append(distinct, q)
		}
	}
	in, err := json.Marshal(map[string]any{"account": "123456789012", "policies": policies, "requests": distinct})
	if err != nil {
		t.Fatal(err)
	}
	script, err := filepath.Abs(filepath.Join("testdata", "iampolicy.cjs"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("node", script)
	cmd.Env = append(os.Environ(), "NODE_PATH="+nm)
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("iampolicy.cjs: %v\n%s", err, stderr.String())
	}
	var verdicts []iamVerdict
	if err := json.Unmarshal(out, &verdicts); err != nil || len(verdicts) != len(distinct) {
		t.Fatalf("iampolicy.cjs answered %d verdicts for %d requests (%v)", len(verdicts), len(distinct), err)
	}
	byKey := map[string]iamVerdict{}
	for i, q := range distinct {
		byKey[requestKey(q)] = verdicts[i]
	}
	return byKey, distinct
}

func requestKey(q iamRequest) string {
	b, _ := json.Marshal(q.Context) // sorted keys
	return q.Role + " " + q.Action + " " + q.Resource + " " + string(b)
}

// unusedGrants lists each role's statement actions that no allowed
// request used, less the justified ones.
func unusedGrants(policies map[string]deploy.PolicyDocument, reqs []iamRequest, verdicts map[string]iamVerdict, justified map[string]string) []string {
	used := map[string]bool{}
	for _, q := range reqs {
		v := verdicts[requestKey(q)]
		if v.Result != "Allowed" {
			continue
		}
		for _, sid := range v.Sids {
			used[q.Role+"/"+sid+"/"+q.Action] = true
		}
	}
	var out []string
	granted := map[string]bool{}
	for role, p := range policies {
		for _, st := range p.Statement {
			granted[role+"/"+st.Sid+"/*"] = true
			for _, a := range st.Action {
				k := role + "/" + st.Sid + "/" + a
				granted[k] = true
				if !used[k] && justified[k] == "" && justified[role+"/"+st.Sid+"/*"] == "" {
					out = append(out, k)
				}
			}
		}
	}
	for k := range justified {
		if !granted[k] {
			out = append(out, "justified but not granted (stale entry): "+k)
		}
	}
	sort.Strings(out)
	return out
}
