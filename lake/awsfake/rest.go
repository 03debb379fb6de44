package awsfake

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"
)

// Services that do not dispatch on X-Amz-Target: EventBridge Scheduler
// (REST-JSON: the operation is the method and path, e.g. POST
// /schedules/{Name}), IAM and STS (the Query protocol: a form-encoded POST
// naming its Action, answered in XML). They are routed by the SigV4
// credential scope's service and logged like the JSON services, with
// Target "<service>.<Operation>" (e.g. "iam.CreateRole") and Body the
// decoded JSON or form values.

// httpProtocol is how a non-target service encodes requests and answers.
type httpProtocol int

const (
	restJSON httpProtocol = iota
	queryXML
)

// httpCall is one request to a non-target service.
type httpCall struct {
	Method string
	Path   string
	Query  url.Values
	Form   url.Values // Query protocol: the decoded body
	Body   []byte     // REST-JSON: the raw body
	// Op is set by the service's route.
	Op string
}

// decode decodes a REST-JSON body strictly, like Call.Decode.
func (c *httpCall) decode(v any) error {
	call := Call{Target: c.Op, Body: c.Body}
	if len(bytes.TrimSpace(c.Body)) == 0 {
		call.Body = []byte("{}")
	}
	return call.Decode(v)
}

// httpService is one non-target service.
type httpService struct {
	signingName string
	protocol    httpProtocol
	// route names the operation of a request, or returns a BadRequest.
	route func(c *httpCall) *Error
	// handle serves it: a value to encode (JSON, or XML inside
	// <OpResponse><OpResult>) or an error.
	handle func(c *httpCall) (any, error)
}

// registerHTTP adds a non-target service.
func (s *Server) registerHTTP(svc *httpService) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.httpServices == nil {
		s.httpServices = map[string]*httpService{}
	}
	s.httpServices[svc.signingName] = svc
}

// serveHTTP serves a request without X-Amz-Target.
func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request, body []byte) {
	c := &httpCall{Method: r.Method, Path: r.URL.Path, Query: r.URL.Query(), Body: body}
	service := credentialService(r.Header.Get("Authorization"))
	s.mu.Lock()
	svc := s.httpServices[service]
	s.mu.Unlock()
	req := Request{Service: service, Raw: body}
	if svc == nil {
		s.answer(w, r, &req, nil, BadRequest("UnknownOperationException", "%s %s: no X-Amz-Target, and SigV4 service %q is not a REST or Query service awsfake serves", r.Method, r.URL.Path, service))
		return
	}
	fail := func(e *Error) {
		req.Status, req.ErrorType = e.Status, e.Type
		if req.Status == 0 {
			req.Status = http.StatusBadRequest
		}
		if e.bug {
			s.tb.Errorf("awsfake: malformed request %s %s (%s): %s: %s", r.Method, r.URL.Path, req.Target, e.Type, e.Message)
		}
		s.log(req)
		svc.writeError(w, e)
	}
	if _, e := s.checkSigV4(r, body, svc.signingName, "host", "x-amz-date"); e != nil {
		fail(e)
		return
	}
	switch svc.protocol {
	case queryXML:
		if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/x-www-form-urlencoded") || r.Method != http.MethodPost || r.URL.Path != "/" {
			fail(BadRequest("InvalidAction", "Query protocol: want POST / with a form body, got %s %s %q", r.Method, r.URL.Path, ct))
			return
		}
		form, err := url.ParseQuery(string(body))
		if err != nil {
			fail(BadRequest("MalformedQueryString", "%v", err))
			return
		}
		c.Form = form
		req.Body = map[string]any{}
		for k, v := range form {
			req.Body[k] = v[0]
		}
	case restJSON:
		if len(bytes.TrimSpace(body)) > 0 {
			if ct := r.Header.Get("Content-Type"); ct != "application/json" {
				fail(BadRequest("ValidationException", "REST-JSON body with Content-Type %q, want application/json", ct))
				return
			}
			if err := json.Unmarshal(body, &req.Body); err != nil {
				fail(BadRequest("ValidationException", "body is not a JSON object: %v", err))
				return
			}
		}
	}
	if e := svc.route(c); e != nil {
		fail(e)
		return
	}
	req.Target = svc.signingName + "." + c.Op
	s.mu.Lock()
	if q := s.faults[req.Target]; len(q) > 0 {
		var e *Error
		e, s.faults[req.Target] = q[0], q[1:]
		s.mu.Unlock()
		fail(e)
		return
	}
	s.mu.Unlock()
	out, err := svc.handle(c)
	if err != nil {
		var e *Error
		if !errors.As(err, &e) {
			s.tb.Errorf("awsfake: %s: operation failed: %v", req.Target, err)
			e = &Error{Status: http.StatusInternalServerError, Type: "InternalFailure", Message: err.Error()}
		}
		fail(e)
		return
	}
	b, err := svc.encode(c.Op, out)
	if err != nil {
		s.tb.Errorf("awsfake: %s: encoding response: %v", req.Target, err)
		fail(&Error{Status: http.StatusInternalServerError, Type: "InternalFailure", Message: err.Error()})
		return
	}
	req.Status = http.StatusOK
	s.log(req)
	if svc.protocol == queryXML {
		w.Header().Set("Content-Type", "text/xml")
	} else {
		w.Header().Set("Content-Type", "application/json")
	}
	w.Header().Set("X-Amzn-RequestId", newUUID())
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
}

func (svc *httpService) encode(op string, out any) ([]byte, error) {
	if svc.protocol == restJSON {
		if out == nil {
			out = struct{}{}
		}
		return json.Marshal(out)
	}
	var inner []byte
	switch v := out.(type) {
	case nil:
	case xmlElements:
		inner = []byte(v)
	default:
		b, err := xml.Marshal(out)
		if err != nil {
			return nil, err
		}
		inner = b
	}
	return fmt.Appendf(nil, `<%sResponse xmlns="https://%s.amazonaws.com/doc/"><%sResult>%s</%sResult><ResponseMetadata><RequestId>%s</RequestId></ResponseMetadata></%sResponse>`,
		op, svc.signingName, op, inner, op, newUUID(), op), nil
}

func (svc *httpService) writeError(w http.ResponseWriter, e *Error) {
	status := e.Status
	if status == 0 {
		status = http.StatusBadRequest
	}
	w.Header().Set("X-Amzn-RequestId", newUUID())
	if svc.protocol == queryXML {
		var msg bytes.Buffer
		_ = xml.EscapeText(&msg, []byte(e.Message))
		w.Header().Set("Content-Type", "text/xml")
		w.WriteHeader(status)
		fmt.Fprintf(w, `<ErrorResponse><Error><Type>Sender</Type><Code>%s</Code><Message>%s</Message></Error><RequestId>%s</RequestId></ErrorResponse>`, e.Type, msg.Bytes(), newUUID())
		return
	}
	b, _ := json.Marshal(map[string]string{"Message": e.Message})
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Amzn-ErrorType", e.Type)
	w.WriteHeader(status)
	_, _ = w.Write(b)
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

// --- EventBridge Scheduler --------------------------------------------------

// Scheduler is the fake EventBridge Scheduler (REST-JSON, SigV4 service
// "scheduler"): schedules in memory, in the "default" group unless named.
//
// Operations: CreateSchedule (POST /schedules/{Name}), GetSchedule (GET),
// UpdateSchedule (PUT, a full replacement), DeleteSchedule (DELETE).
// It checks the members Scheduler requires (ScheduleExpression,
// FlexibleTimeWindow.Mode, Target.Arn and Target.RoleArn as ARNs), that the
// expression is cron(…), rate(…) or at(…), that a Target Input is JSON,
// and answers ResourceNotFoundException (404) and ConflictException (409).
type Scheduler struct {
	s         *Server
	mu        sync.Mutex
	schedules map[string]*ScheduleRecord // group/name
}

// ScheduleRecord is a stored schedule, as Scheduler returns it.
type ScheduleRecord struct {
	Arn                        string              `json:"Arn"`
	Name                       string              `json:"Name"`
	GroupName                  string              `json:"GroupName"`
	Description                string              `json:"Description,omitempty"`
	ScheduleExpression         string              `json:"ScheduleExpression"`
	ScheduleExpressionTimezone string              `json:"ScheduleExpressionTimezone,omitempty"`
	State                      string              `json:"State"`
	FlexibleTimeWindow         *flexibleTimeWindow `json:"FlexibleTimeWindow"`
	Target                     *scheduleTarget     `json:"Target"`
	CreationDate               float64             `json:"CreationDate"`
	LastModificationDate       float64             `json:"LastModificationDate"`
	// Updates counts UpdateSchedule calls.
	Updates int `json:"-"`
}

type flexibleTimeWindow struct {
	Mode                   *string `json:"Mode"`
	MaximumWindowInMinutes int     `json:"MaximumWindowInMinutes,omitempty"`
}

type scheduleTarget struct {
	Arn         *string `json:"Arn"`
	RoleArn     *string `json:"RoleArn"`
	Input       string  `json:"Input,omitempty"`
	RetryPolicy *struct {
		MaximumEventAgeInSeconds int `json:"MaximumEventAgeInSeconds,omitempty"`
		MaximumRetryAttempts     int `json:"MaximumRetryAttempts"`
	} `json:"RetryPolicy,omitempty"`
	// EcsParameters make the target an ECS RunTask (Arn is the cluster).
	EcsParameters *EcsParameters `json:"EcsParameters,omitempty"`
}

// EcsParameters are a schedule target's ECS RunTask parameters (the
// members tierflow sends).
type EcsParameters struct {
	TaskDefinitionArn    *string `json:"TaskDefinitionArn"`
	LaunchType           string  `json:"LaunchType,omitempty"`
	TaskCount            int     `json:"TaskCount,omitempty"`
	NetworkConfiguration *struct {
		AwsvpcConfiguration *struct {
			Subnets        []string `json:"Subnets"`
			SecurityGroups []string `json:"SecurityGroups,omitempty"`
			AssignPublicIp string   `json:"AssignPublicIp,omitempty"`
		} `json:"awsvpcConfiguration"` // so spelled in Scheduler's API
	} `json:"NetworkConfiguration,omitempty"`
}

type scheduleInput struct {
	ClientToken                string              `json:"ClientToken,omitempty"`
	Description                string              `json:"Description,omitempty"`
	GroupName                  string              `json:"GroupName,omitempty"`
	ScheduleExpression         *string             `json:"ScheduleExpression"`
	ScheduleExpressionTimezone string              `json:"ScheduleExpressionTimezone,omitempty"`
	State                      string              `json:"State,omitempty"`
	FlexibleTimeWindow         *flexibleTimeWindow `json:"FlexibleTimeWindow"`
	Target                     *scheduleTarget     `json:"Target"`
}

// NewScheduler adds the fake EventBridge Scheduler to s.
func NewScheduler(s *Server) *Scheduler {
	sc := &Scheduler{s: s, schedules: map[string]*ScheduleRecord{}}
	s.registerHTTP(&httpService{signingName: "scheduler", protocol: restJSON, route: sc.route, handle: sc.handle})
	return sc
}

// Schedule returns the named schedule of the default group.
func (sc *Scheduler) Schedule(name string) (ScheduleRecord, bool) {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	r, ok := sc.schedules["default/"+name]
	if !ok {
		return ScheduleRecord{}, false
	}
	return *r, true
}

var scheduleName = regexp.MustCompile(`^[0-9a-zA-Z\-_.]{1,64}$`)

func (sc *Scheduler) route(c *httpCall) *Error {
	name, ok := strings.CutPrefix(c.Path, "/schedules/")
	if !ok || !scheduleName.MatchString(name) {
		return BadRequest("ValidationException", "%s %s: not /schedules/{Name} with a valid name", c.Method, c.Path)
	}
	switch c.Method {
	case http.MethodPost:
		c.Op = "CreateSchedule"
	case http.MethodGet:
		c.Op = "GetSchedule"
	case http.MethodPut:
		c.Op = "UpdateSchedule"
	case http.MethodDelete:
		c.Op = "DeleteSchedule"
	default:
		return BadRequest("ValidationException", "%s %s: no such operation", c.Method, c.Path)
	}
	return nil
}

var scheduleExpr = regexp.MustCompile(`^(cron|rate|at)\(.+\)$`)

func (sc *Scheduler) handle(c *httpCall) (any, error) {
	name := strings.TrimPrefix(c.Path, "/schedules/")
	group := c.Query.Get("groupName")
	var in scheduleInput
	if c.Op == "CreateSchedule" || c.Op == "UpdateSchedule" {
		if err := c.decode(&in); err != nil {
			return nil, err
		}
		group = in.GroupName
		switch {
		case in.ScheduleExpression == nil || !scheduleExpr.MatchString(*in.ScheduleExpression):
			return nil, BadRequest("ValidationException", "%s: ScheduleExpression %v is not cron(…), rate(…) or at(…)", c.Op, in.ScheduleExpression)
		case in.FlexibleTimeWindow == nil || in.FlexibleTimeWindow.Mode == nil || (*in.FlexibleTimeWindow.Mode != "OFF" && *in.FlexibleTimeWindow.Mode != "FLEXIBLE"):
			return nil, BadRequest("ValidationException", "%s: FlexibleTimeWindow.Mode must be OFF or FLEXIBLE", c.Op)
		case in.Target == nil || in.Target.Arn == nil || !strings.HasPrefix(*in.Target.Arn, "arn:") || in.Target.RoleArn == nil || !iamRoleARN.MatchString(*in.Target.RoleArn):
			return nil, BadRequest("ValidationException", "%s: Target needs an Arn and a RoleArn that are ARNs", c.Op)
		case in.State != "" && in.State != "ENABLED" && in.State != "DISABLED":
			return nil, BadRequest("ValidationException", "%s: State %q", c.Op, in.State)
		}
		if e := in.Target.EcsParameters; e != nil && (e.TaskDefinitionArn == nil || !strings.HasPrefix(*e.TaskDefinitionArn, "arn:") ||
			(e.NetworkConfiguration != nil && (e.NetworkConfiguration.AwsvpcConfiguration == nil || len(e.NetworkConfiguration.AwsvpcConfiguration.Subnets) == 0))) {
			return nil, BadRequest("ValidationException", "%s: Target.EcsParameters needs a TaskDefinitionArn that is an ARN, and subnets in an AwsvpcConfiguration", c.Op)
		}
		if in.Target.Input != "" && !json.Valid([]byte(in.Target.Input)) {
			return nil, BadRequest("ValidationException", "%s: Target.Input is not JSON: %s", c.Op, in.Target.Input)
		}
	}
	if group == "" {
		group = "default"
	}
	key := group + "/" + name
	now := epoch(sc.s.clock())
	sc.mu.Lock()
	defer sc.mu.Unlock()
	cur := sc.schedules[key]
	if cur == nil && c.Op != "CreateSchedule" {
		e := Errorf("ResourceNotFoundException", "Schedule %s does not exist.", name)
		e.Status = http.StatusNotFound
		return nil, e
	}
	switch c.Op {
	case "GetSchedule":
		return cur, nil
	case "DeleteSchedule":
		delete(sc.schedules, key)
		return nil, nil
	case "CreateSchedule":
		if cur != nil {
			e := Errorf("ConflictException", "Schedule %s already exists.", name)
			e.Status = http.StatusConflict
			return nil, e
		}
		cur = &ScheduleRecord{Arn: fmt.Sprintf("arn:aws:scheduler:%s:%s:schedule/%s/%s", Region, AccountID, group, name), Name: name, GroupName: group, CreationDate: now}
		sc.schedules[key] = cur
	case "UpdateSchedule":
		cur.Updates++
	}
	cur.Description, cur.ScheduleExpression, cur.ScheduleExpressionTimezone = in.Description, *in.ScheduleExpression, in.ScheduleExpressionTimezone
	cur.State, cur.FlexibleTimeWindow, cur.Target, cur.LastModificationDate = in.State, in.FlexibleTimeWindow, in.Target, now
	if cur.State == "" {
		cur.State = "ENABLED"
	}
	return map[string]string{"ScheduleArn": cur.Arn}, nil
}

// --- IAM and STS (Query protocol) ----------------------------------------------

// IAM is the fake IAM (Query protocol, SigV4 service "iam") for roles and
// their inline policies, and STS GetCallerIdentity (service "sts").
//
// Operations: GetRole, CreateRole, UpdateAssumeRolePolicy, PutRolePolicy,
// GetRolePolicy, ListRolePolicies, DeleteRolePolicy; sts GetCallerIdentity.
// Policy documents must be JSON with a Version of 2012-10-17 and a
// Statement whose entries have Effect, Action and Resource (trust
// policies: Principal instead of Resource); role and policy names are
// checked like IAM does. NoSuchEntity (404) and EntityAlreadyExists (409)
// are ordinary answers.
type IAM struct {
	s     *Server
	mu    sync.Mutex
	roles map[string]*RoleRecord
}

// RoleRecord is a stored role.
type RoleRecord struct {
	Name        string
	Arn         string
	Trust       string            // the assume-role policy document
	Policies    map[string]string // inline policies by name
	Description string
	Created     time.Time
}

// NewIAM adds the fake IAM and STS to s.
func NewIAM(s *Server) *IAM {
	i := &IAM{s: s, roles: map[string]*RoleRecord{}}
	s.registerHTTP(&httpService{signingName: "iam", protocol: queryXML, route: i.route, handle: i.handle})
	s.registerHTTP(&httpService{signingName: "sts", protocol: queryXML, route: stsRoute, handle: stsHandle})
	return i
}

// Role returns a copy of the named role.
func (i *IAM) Role(name string) (RoleRecord, bool) {
	i.mu.Lock()
	defer i.mu.Unlock()
	r, ok := i.roles[name]
	if !ok {
		return RoleRecord{}, false
	}
	c := *r
	c.Policies = map[string]string{}
	for k, v := range r.Policies {
		c.Policies[k] = v
	}
	return c, true
}

// Roles lists the role names.
func (i *IAM) Roles() []string {
	i.mu.Lock()
	defer i.mu.Unlock()
	var out []string
	for n := range i.roles {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

var (
	iamName    = regexp.MustCompile(`^[\w+=,.@-]{1,64}$`)
	policyName = regexp.MustCompile(`^[\w+=,.@-]{1,128}$`)
	iamRoleARN = regexp.MustCompile(`^arn:aws:iam::\d{12}:role/[\w+=,.@/-]{1,64}$`)
)

var iamOps = []string{"GetRole", "CreateRole", "UpdateAssumeRolePolicy", "PutRolePolicy", "GetRolePolicy", "ListRolePolicies", "DeleteRolePolicy"}

func queryRoute(c *httpCall, ops []string, version string) *Error {
	c.Op = c.Form.Get("Action")
	if !slices.Contains(ops, c.Op) {
		return BadRequest("InvalidAction", "Action %q is not modelled by awsfake", c.Op)
	}
	if v := c.Form.Get("Version"); v != version {
		return BadRequest("InvalidParameterValue", "%s: Version %q, want %s", c.Op, v, version)
	}
	return nil
}

func (i *IAM) route(c *httpCall) *Error { return queryRoute(c, iamOps, "2010-05-08") }

// xmlElements is a Query result's members as XML, written as is.
type xmlElements string

// elements renders name, value pairs as sibling XML elements.
func elements(pairs ...string) xmlElements {
	var b bytes.Buffer
	for i := 0; i+1 < len(pairs); i += 2 {
		b.WriteString("<" + pairs[i] + ">")
		_ = xml.EscapeText(&b, []byte(pairs[i+1]))
		b.WriteString("</" + pairs[i] + ">")
	}
	return xmlElements(b.String())
}

// roleResult is an IAM Role element.
type roleResult struct {
	XMLName xml.Name `xml:"Role"`
	Path    string   `xml:"Path"`
	Name    string   `xml:"RoleName"`
	ID      string   `xml:"RoleId"`
	Arn     string   `xml:"Arn"`
	Created string   `xml:"CreateDate"`
	Trust   string   `xml:"AssumeRolePolicyDocument"`
	Desc    string   `xml:"Description,omitempty"`
}

func (i *IAM) handle(c *httpCall) (any, error) {
	f := c.Form
	name := f.Get("RoleName")
	if !iamName.MatchString(name) {
		return nil, BadRequest("ValidationError", "%s: RoleName %q", c.Op, name)
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	role := i.roles[name]
	if role == nil && c.Op != "CreateRole" {
		e := Errorf("NoSuchEntity", "The role with name %s cannot be found.", name)
		e.Status = http.StatusNotFound
		return nil, e
	}
	result := func(r *RoleRecord) any {
		return &roleResult{Path: "/", Name: r.Name, ID: "AROA" + strings.ToUpper(strings.ReplaceAll(newUUID(), "-", ""))[:17], Arn: r.Arn,
			Created: r.Created.UTC().Format(time.RFC3339), Trust: url.QueryEscape(r.Trust), Desc: r.Description}
	}
	switch c.Op {
	case "GetRole":
		return result(role), nil
	case "CreateRole":
		if role != nil {
			e := Errorf("EntityAlreadyExists", "Role with name %s already exists.", name)
			e.Status = http.StatusConflict
			return nil, e
		}
		trust := f.Get("AssumeRolePolicyDocument")
		if err := checkPolicy(trust, true); err != nil {
			return nil, BadRequest("MalformedPolicyDocument", "CreateRole %s: %v", name, err)
		}
		role = &RoleRecord{Name: name, Arn: fmt.Sprintf("arn:aws:iam::%s:role/%s", AccountID, name), Trust: trust,
			Policies: map[string]string{}, Description: f.Get("Description"), Created: i.s.clock()}
		i.roles[name] = role
		return result(role), nil
	case "UpdateAssumeRolePolicy":
		doc := f.Get("PolicyDocument")
		if err := checkPolicy(doc, true); err != nil {
			return nil, BadRequest("MalformedPolicyDocument", "UpdateAssumeRolePolicy %s: %v", name, err)
		}
		role.Trust = doc
		return nil, nil
	case "PutRolePolicy":
		pn, doc := f.Get("PolicyName"), f.Get("PolicyDocument")
		if !policyName.MatchString(pn) {
			return nil, BadRequest("ValidationError", "PutRolePolicy: PolicyName %q", pn)
		}
		if err := checkPolicy(doc, false); err != nil {
			return nil, BadRequest("MalformedPolicyDocument", "PutRolePolicy %s/%s: %v", name, pn, err)
		}
		if len(doc) > 10240 {
			return nil, Errorf("LimitExceeded", "Maximum policy size of 10240 bytes exceeded for role %s", name)
		}
		role.Policies[pn] = doc
		return nil, nil
	case "GetRolePolicy":
		pn := f.Get("PolicyName")
		doc, ok := role.Policies[pn]
		if !ok {
			e := Errorf("NoSuchEntity", "The role policy with name %s cannot be found.", pn)
			e.Status = http.StatusNotFound
			return nil, e
		}
		return elements("RoleName", name, "PolicyName", pn, "PolicyDocument", url.QueryEscape(doc)), nil
	case "ListRolePolicies":
		names := slices.Sorted(func(yield func(string) bool) {
			for k := range role.Policies {
				if !yield(k) {
					return
				}
			}
		})
		members := ""
		for _, n := range names {
			members += string(elements("member", n))
		}
		return xmlElements("<PolicyNames>" + members + "</PolicyNames><IsTruncated>false</IsTruncated>"), nil
	case "DeleteRolePolicy":
		pn := f.Get("PolicyName")
		if _, ok := role.Policies[pn]; !ok {
			e := Errorf("NoSuchEntity", "The role policy with name %s cannot be found.", pn)
			e.Status = http.StatusNotFound
			return nil, e
		}
		delete(role.Policies, pn)
		return nil, nil
	}
	return nil, fmt.Errorf("unhandled %s", c.Op)
}

// checkPolicy checks a policy document's shape the way IAM rejects
// malformed ones.
func checkPolicy(doc string, trust bool) error {
	var p struct {
		Version   string
		Statement []map[string]json.RawMessage
	}
	d := json.NewDecoder(strings.NewReader(doc))
	if err := d.Decode(&p); err != nil {
		return fmt.Errorf("not JSON: %v", err)
	}
	if p.Version != "2012-10-17" {
		return fmt.Errorf("Version %q, want 2012-10-17", p.Version)
	}
	if len(p.Statement) == 0 {
		return errors.New("no Statement")
	}
	for i, st := range p.Statement {
		for _, k := range []string{"Effect", "Action"} {
			if _, ok := st[k]; !ok {
				return fmt.Errorf("statement %d has no %s", i, k)
			}
		}
		want := "Resource"
		if trust {
			want = "Principal"
		}
		if _, ok := st[want]; !ok {
			return fmt.Errorf("statement %d has no %s", i, want)
		}
		for k := range st {
			if !slices.Contains([]string{"Sid", "Effect", "Action", "Resource", "Principal", "Condition", "NotAction", "NotResource"}, k) {
				return fmt.Errorf("statement %d: unknown member %s", i, k)
			}
		}
	}
	return nil
}

func stsRoute(c *httpCall) *Error { return queryRoute(c, []string{"GetCallerIdentity"}, "2011-06-15") }

func stsHandle(*httpCall) (any, error) {
	return elements("Account", AccountID, "Arn", "arn:aws:iam::"+AccountID+":user/awsfake", "UserId", "AIDAAWSFAKE0000000000"), nil
}
