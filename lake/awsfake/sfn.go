package awsfake

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
)

// StepFunctions is the fake AWS Step Functions' executions (X-Amz-Target
// prefix "AWSStepFunctions", JSON 1.0, SigV4 service "states", camelCase
// members): moto stores state machines but runs no execution through its
// states, map runs or redrives. The state machines themselves are the
// upstream server's (Forward): CreateStateMachine, UpdateStateMachine and
// DescribeStateMachine are forwarded, and an execution's state machine is
// looked up there. The fake does not interpret ASL: an execution follows
// the steps Script returns for it, one step per DescribeExecution call, so
// a client polling an execution sees it move through states and map runs
// and finish.
//
// Operations: StartExecution, DescribeExecution, StopExecution,
// RedriveExecution, ListExecutions, GetExecutionHistory, ListMapRuns,
// DescribeMapRun.
//
// Like Step Functions it checks execution names (1–80 characters, no
// whitespace or special characters) and that execution input is JSON; it
// answers StateMachineDoesNotExist, ExecutionDoesNotExist,
// ExecutionNotRedrivable, and for StartExecution with a name already used:
// the running execution when the input is the same (an idempotent retry),
// otherwise ExecutionAlreadyExists.
type StepFunctions struct {
	s        *Server
	machines *sfn.Client // where the state machines are
	mu       sync.Mutex
	// Script returns the steps of a started (or redriven) execution. Nil,
	// or no steps: the execution stays RUNNING.
	Script func(e ExecutionInfo) []ExecStep
	execs  map[string]*execution // by ARN
	order  []string              // execution ARNs by start
	// maxRunning is the most executions ever RUNNING at once.
	maxRunning int
}

// ExecutionInfo describes an execution to Script.
type ExecutionInfo struct {
	Name, Arn, StateMachineArn, Input string
	RedriveCount                      int
}

// ExecStep is one step of a scripted execution.
type ExecStep struct {
	// State, if set, is entered (a "<Type>StateEntered" history event; the
	// state must exist in the definition).
	State string
	// MapRun, if set, creates or updates the execution's map run with this
	// label (Label must be the Map state's Label or name).
	MapRun *MapRunStep
	// Status, if set, ends the execution: SUCCEEDED, FAILED, TIMED_OUT or
	// ABORTED, with Output or Error and Cause.
	Status, Output, Error, Cause string
}

// MapRunStep sets a map run's item counts.
type MapRunStep struct {
	Label                    string
	Total, Succeeded, Failed int
}

type execution struct {
	info    ExecutionInfo
	status  string
	start   time.Time
	stop    time.Time
	output  string
	err     string
	cause   string
	steps   []ExecStep
	events  []map[string]any
	mapRuns []*mapRun
	def     map[string]any // parsed definition, to type history events
}

type mapRun struct {
	arn, label               string
	start                    time.Time
	total, succeeded, failed int
}

// NewStepFunctions adds the fake Step Functions' executions to s; their
// state machines are looked up with machines, a client of the server s
// forwards to.
func NewStepFunctions(s *Server, machines *sfn.Client) *StepFunctions {
	f := &StepFunctions{s: s, machines: machines, execs: map[string]*execution{}}
	s.Register(&JSONService{
		TargetPrefix: "AWSStepFunctions", SigningName: "states", JSONVersion: "1.0",
		Forwarded: []string{"CreateStateMachine", "UpdateStateMachine", "DescribeStateMachine"},
		Operations: map[string]Operation{
			"StartExecution":      f.startExecution,
			"DescribeExecution":   f.describeExecution,
			"StopExecution":       f.stopExecution,
			"RedriveExecution":    f.redriveExecution,
			"ListExecutions":      f.listExecutions,
			"GetExecutionHistory": f.getExecutionHistory,
			"ListMapRuns":         f.listMapRuns,
			"DescribeMapRun":      f.describeMapRun,
		},
	})
	return f
}

// Executions lists the executions started, in order.
func (f *StepFunctions) Executions() []ExecutionInfo {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []ExecutionInfo
	for _, a := range f.order {
		out = append(out, f.execs[a].info)
	}
	return out
}

// MaxRunning is the most executions that were RUNNING at once (measured
// at each start).
func (f *StepFunctions) MaxRunning() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.maxRunning
}

// SetExecutionStatus ends an execution as if it had run elsewhere (a test
// setting up an earlier failed run).
func (f *StepFunctions) SetExecutionStatus(arn, status, errName, cause string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	e := f.execs[arn]
	if e == nil {
		f.s.tb.Errorf("awsfake: SetExecutionStatus: no execution %s", arn)
		return
	}
	f.apply(e, ExecStep{Status: status, Error: errName, Cause: cause})
}

var sfnName = regexp.MustCompile(`^[A-Za-z0-9_.\-]{1,80}$`)

// stateMachine looks an execution's state machine up upstream: its
// definition, parsed to type history events, and its role.
func (f *StepFunctions) stateMachine(ctx context.Context, arn string) (def map[string]any, role string, err error) {
	out, err := f.machines.DescribeStateMachine(ctx, &sfn.DescribeStateMachineInput{StateMachineArn: &arn})
	var nf *sfntypes.StateMachineDoesNotExist
	switch {
	case errors.As(err, &nf):
		return nil, "", Errorf("StateMachineDoesNotExist", "State Machine Does Not Exist: '%s'", arn)
	case err != nil:
		return nil, "", fmt.Errorf("looking up state machine %s: %w", arn, err)
	}
	if err := json.Unmarshal([]byte(aws.ToString(out.Definition)), &def); err != nil {
		return nil, "", fmt.Errorf("state machine %s: definition: %w", arn, err)
	}
	return def, aws.ToString(out.RoleArn), nil
}

func (f *StepFunctions) execARN(smArn, name string) string {
	return strings.Replace(smArn, ":stateMachine:", ":execution:", 1) + ":" + name
}

func (f *StepFunctions) startExecution(c *Call) (any, error) {
	var in struct {
		StateMachineArn *string `json:"stateMachineArn"`
		Name            string  `json:"name,omitempty"`
		Input           string  `json:"input,omitempty"`
		TraceHeader     string  `json:"traceHeader,omitempty"`
	}
	if err := c.Decode(&in); err != nil {
		return nil, err
	}
	if in.StateMachineArn == nil {
		return nil, BadRequest("ValidationException", "StartExecution: no stateMachineArn")
	}
	if in.Name == "" {
		in.Name = newUUID()
	}
	if !sfnName.MatchString(in.Name) {
		return nil, BadRequest("InvalidName", "StartExecution: name %q", in.Name)
	}
	if in.Input == "" {
		in.Input = "{}"
	}
	var obj map[string]any
	if err := json.Unmarshal([]byte(in.Input), &obj); err != nil {
		return nil, BadRequest("InvalidExecutionInput", "StartExecution: input is not a JSON object: %v", err)
	}
	def, role, err := f.stateMachine(c.Ctx, *in.StateMachineArn)
	if err != nil {
		return nil, err
	}
	f.mu.Lock()
	arn := f.execARN(*in.StateMachineArn, in.Name)
	if e := f.execs[arn]; e != nil {
		defer f.mu.Unlock()
		if e.status == "RUNNING" && e.info.Input == in.Input {
			return map[string]any{"executionArn": arn, "startDate": epoch(e.start)}, nil
		}
		return nil, Errorf("ExecutionAlreadyExists", "Execution Already Exists: '%s'", arn)
	}
	e := &execution{info: ExecutionInfo{Name: in.Name, Arn: arn, StateMachineArn: *in.StateMachineArn, Input: in.Input}, status: "RUNNING", start: time.Now(), def: def}
	f.execs[arn] = e
	f.order = append(f.order, arn)
	running := 0
	for _, x := range f.execs {
		if x.status == "RUNNING" {
			running++
		}
	}
	f.maxRunning = max(f.maxRunning, running)
	f.event(e, "ExecutionStarted", "executionStartedEventDetails", map[string]any{"input": in.Input, "roleArn": role})
	script := f.Script
	f.mu.Unlock()
	// The script runs unlocked: it may call back into the fake.
	var steps []ExecStep
	if script != nil {
		steps = script(e.info)
	}
	f.mu.Lock()
	e.steps = steps
	f.mu.Unlock()
	return map[string]any{"executionArn": arn, "startDate": epoch(e.start)}, nil
}

// event appends a history event.
func (f *StepFunctions) event(e *execution, typ, detailsKey string, details map[string]any) {
	ev := map[string]any{"id": len(e.events) + 1, "timestamp": epoch(time.Now()), "type": typ}
	if len(e.events) > 0 {
		ev["previousEventId"] = len(e.events)
	}
	if detailsKey != "" {
		ev[detailsKey] = details
	}
	e.events = append(e.events, ev)
}

// apply runs one step of an execution.
func (f *StepFunctions) apply(e *execution, st ExecStep) {
	if st.State != "" {
		typ := f.stateType(e, st.State)
		if typ == "" {
			f.s.tb.Errorf("awsfake: script for %s enters state %q, which its definition does not have", e.info.Name, st.State)
			typ = "Task"
		}
		f.event(e, typ+"StateEntered", "stateEnteredEventDetails", map[string]any{"name": st.State, "input": "{}"})
	}
	if mr := st.MapRun; mr != nil {
		var run *mapRun
		for _, r := range e.mapRuns {
			if r.label == mr.Label {
				run = r
			}
		}
		if run == nil {
			run = &mapRun{label: mr.Label, start: time.Now(),
				arn: strings.Replace(e.info.StateMachineArn, ":stateMachine:", ":mapRun:", 1) + "/" + mr.Label + ":" + newUUID()}
			e.mapRuns = append(e.mapRuns, run)
			f.event(e, "MapRunStarted", "mapRunStartedEventDetails", map[string]any{"mapRunArn": run.arn})
		}
		run.total, run.succeeded, run.failed = mr.Total, mr.Succeeded, mr.Failed
	}
	if st.Status != "" {
		e.status, e.stop = st.Status, time.Now()
		e.output, e.err, e.cause = st.Output, st.Error, st.Cause
		switch st.Status {
		case "SUCCEEDED":
			f.event(e, "ExecutionSucceeded", "executionSucceededEventDetails", map[string]any{"output": st.Output})
		case "FAILED":
			f.event(e, "ExecutionFailed", "executionFailedEventDetails", map[string]any{"error": st.Error, "cause": st.Cause})
		case "TIMED_OUT":
			f.event(e, "ExecutionTimedOut", "executionTimedOutEventDetails", map[string]any{"error": st.Error, "cause": st.Cause})
		case "ABORTED":
			f.event(e, "ExecutionAborted", "executionAbortedEventDetails", map[string]any{"error": st.Error, "cause": st.Cause})
		default:
			f.s.tb.Errorf("awsfake: script ends %s with status %q", e.info.Name, st.Status)
		}
	}
}

// stateType finds a state's Type in the definition, Map item processors
// included; "" if there is no such state.
func (f *StepFunctions) stateType(e *execution, name string) string {
	var find func(m map[string]any) string
	find = func(m map[string]any) string {
		states, _ := m["States"].(map[string]any)
		for n, s := range states {
			st, _ := s.(map[string]any)
			if n == name {
				t, _ := st["Type"].(string)
				return t
			}
			if p, ok := st["ItemProcessor"].(map[string]any); ok {
				if t := find(p); t != "" {
					return t
				}
			}
		}
		return ""
	}
	return find(e.def)
}

func (f *StepFunctions) lookup(arn *string, op string) (*execution, error) {
	if arn == nil {
		return nil, BadRequest("ValidationException", "%s: no executionArn", op)
	}
	e := f.execs[*arn]
	if e == nil {
		return nil, Errorf("ExecutionDoesNotExist", "Execution Does Not Exist: '%s'", *arn)
	}
	return e, nil
}

func (f *StepFunctions) describeExecution(c *Call) (any, error) {
	var in struct {
		ExecutionArn *string `json:"executionArn"`
		IncludedData string  `json:"includedData,omitempty"`
	}
	if err := c.Decode(&in); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	e, err := f.lookup(in.ExecutionArn, "DescribeExecution")
	if err != nil {
		return nil, err
	}
	if e.status == "RUNNING" && len(e.steps) > 0 {
		st := e.steps[0]
		e.steps = e.steps[1:]
		f.apply(e, st)
	}
	out := map[string]any{"executionArn": e.info.Arn, "stateMachineArn": e.info.StateMachineArn, "name": e.info.Name,
		"status": e.status, "startDate": epoch(e.start), "input": e.info.Input, "redriveCount": e.info.RedriveCount}
	if e.status != "RUNNING" {
		out["stopDate"] = epoch(e.stop)
	}
	for k, v := range map[string]string{"output": e.output, "error": e.err, "cause": e.cause} {
		if v != "" {
			out[k] = v
		}
	}
	if slices.Contains([]string{"FAILED", "ABORTED", "TIMED_OUT"}, e.status) {
		out["redriveStatus"] = "REDRIVABLE"
	} else {
		out["redriveStatus"] = "NOT_REDRIVABLE"
	}
	return out, nil
}

func (f *StepFunctions) stopExecution(c *Call) (any, error) {
	var in struct {
		ExecutionArn *string `json:"executionArn"`
		Error        string  `json:"error,omitempty"`
		Cause        string  `json:"cause,omitempty"`
	}
	if err := c.Decode(&in); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	e, err := f.lookup(in.ExecutionArn, "StopExecution")
	if err != nil {
		return nil, err
	}
	if e.status == "RUNNING" {
		e.steps = nil
		f.apply(e, ExecStep{Status: "ABORTED", Error: in.Error, Cause: in.Cause})
	}
	return map[string]any{"stopDate": epoch(e.stop)}, nil
}

func (f *StepFunctions) redriveExecution(c *Call) (any, error) {
	var in struct {
		ExecutionArn *string `json:"executionArn"`
		ClientToken  string  `json:"clientToken,omitempty"`
	}
	if err := c.Decode(&in); err != nil {
		return nil, err
	}
	f.mu.Lock()
	e, err := f.lookup(in.ExecutionArn, "RedriveExecution")
	if err != nil {
		f.mu.Unlock()
		return nil, err
	}
	if !slices.Contains([]string{"FAILED", "ABORTED", "TIMED_OUT"}, e.status) {
		f.mu.Unlock()
		return nil, Errorf("ExecutionNotRedrivable", "Execution %s is %s; only failed, aborted or timed-out executions can be redriven", e.info.Arn, e.status)
	}
	e.info.RedriveCount++
	e.status, e.err, e.cause = "RUNNING", "", ""
	f.event(e, "ExecutionRedriven", "executionRedrivenEventDetails", map[string]any{"redriveCount": e.info.RedriveCount})
	info, script := e.info, f.Script
	f.mu.Unlock()
	var steps []ExecStep
	if script != nil {
		steps = script(info)
	}
	f.mu.Lock()
	e.steps = steps
	f.mu.Unlock()
	return map[string]any{"redriveDate": epoch(time.Now())}, nil
}

// paging is the paging members of a list request.
type paging struct {
	MaxResults int    `json:"maxResults,omitempty"`
	NextToken  string `json:"nextToken,omitempty"`
}

// page answers a list request: one page of items as member, and the
// nextToken of the next page if there is one.
func (p paging) page(member string, items []map[string]any) (map[string]any, error) {
	start := 0
	if p.NextToken != "" {
		n, err := strconv.Atoi(p.NextToken)
		if err != nil || n < 0 || n > len(items) {
			return nil, Errorf("InvalidToken", "nextToken %q", p.NextToken)
		}
		start = n
	}
	size := p.MaxResults
	if size <= 0 || size > 1000 {
		size = 100
	}
	end := min(start+size, len(items))
	out := map[string]any{member: items[start:end]}
	if end < len(items) {
		out["nextToken"] = strconv.Itoa(end)
	}
	return out, nil
}

func (f *StepFunctions) listExecutions(c *Call) (any, error) {
	var in struct {
		StateMachineArn *string `json:"stateMachineArn"`
		StatusFilter    string  `json:"statusFilter,omitempty"`
		paging
	}
	if err := c.Decode(&in); err != nil {
		return nil, err
	}
	if in.StateMachineArn == nil {
		return nil, BadRequest("ValidationException", "ListExecutions: this fake needs stateMachineArn")
	}
	if _, _, err := f.stateMachine(c.Ctx, *in.StateMachineArn); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	var list []map[string]any
	for i := len(f.order) - 1; i >= 0; i-- { // newest first
		e := f.execs[f.order[i]]
		if e.info.StateMachineArn != *in.StateMachineArn || (in.StatusFilter != "" && e.status != in.StatusFilter) {
			continue
		}
		item := map[string]any{"executionArn": e.info.Arn, "stateMachineArn": e.info.StateMachineArn, "name": e.info.Name,
			"status": e.status, "startDate": epoch(e.start), "redriveCount": e.info.RedriveCount}
		if e.status != "RUNNING" {
			item["stopDate"] = epoch(e.stop)
		}
		list = append(list, item)
	}
	return in.page("executions", list)
}

func (f *StepFunctions) getExecutionHistory(c *Call) (any, error) {
	var in struct {
		ExecutionArn *string `json:"executionArn"`
		paging
		ReverseOrder         bool  `json:"reverseOrder,omitempty"`
		IncludeExecutionData *bool `json:"includeExecutionData,omitempty"`
	}
	if err := c.Decode(&in); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	e, err := f.lookup(in.ExecutionArn, "GetExecutionHistory")
	if err != nil {
		return nil, err
	}
	events := slices.Clone(e.events)
	if in.ReverseOrder {
		slices.Reverse(events)
	}
	return in.page("events", events)
}

func (f *StepFunctions) listMapRuns(c *Call) (any, error) {
	var in struct {
		ExecutionArn *string `json:"executionArn"`
		paging
	}
	if err := c.Decode(&in); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	e, err := f.lookup(in.ExecutionArn, "ListMapRuns")
	if err != nil {
		return nil, err
	}
	var list []map[string]any
	for _, r := range e.mapRuns {
		list = append(list, map[string]any{"executionArn": e.info.Arn, "mapRunArn": r.arn, "stateMachineArn": e.info.StateMachineArn, "startDate": epoch(r.start)})
	}
	return in.page("mapRuns", list)
}

func (f *StepFunctions) describeMapRun(c *Call) (any, error) {
	var in struct {
		MapRunArn *string `json:"mapRunArn"`
	}
	if err := c.Decode(&in); err != nil {
		return nil, err
	}
	if in.MapRunArn == nil {
		return nil, BadRequest("ValidationException", "DescribeMapRun: no mapRunArn")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, e := range f.execs {
		for _, r := range e.mapRuns {
			if r.arn != *in.MapRunArn {
				continue
			}
			status := "RUNNING"
			switch {
			case r.failed > 0 && r.succeeded+r.failed == r.total:
				status = "FAILED"
			case r.succeeded == r.total:
				status = "SUCCEEDED"
			}
			counts := map[string]any{"pending": r.total - r.succeeded - r.failed, "running": 0, "succeeded": r.succeeded, "failed": r.failed,
				"timedOut": 0, "aborted": 0, "total": r.total, "resultsWritten": 0}
			return map[string]any{"mapRunArn": r.arn, "executionArn": e.info.Arn, "status": status, "startDate": epoch(r.start),
				"maxConcurrency": 0, "toleratedFailurePercentage": 0, "toleratedFailureCount": 0,
				"itemCounts": counts, "executionCounts": counts}, nil
		}
	}
	return nil, Errorf("ResourceNotFound", "Map Run Does Not Exist: '%s'", *in.MapRunArn)
}
