package statemachines

// The intake state machine (intake.asl.json) turns an S3 Object Created
// event, sent by an EventBridge rule, into a start of the job's state
// machine for the object's month (docs/aws.md, "Intake-triggered runs"):
//
//	Init → Name → Month? ─no→ NotAMonth
//	                └yes→ Quiet? ─yes→ WaitQuiet ─┐
//	                        └no──────────────────→ Start ─ExecutionAlreadyExists→ AlreadyStarted
//
// An EventBridge target cannot name the execution it starts, and names are
// what make a repeated event harmless; this machine computes the name with
// intrinsic functions, so no Lambda is needed.

import (
	_ "embed"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/tierflow/tierflow/jobs"
)

//go:embed intake.asl.json
var intake []byte

// IntakeTrigger is where a job's deliveries land in the lake's bucket, as
// S3 events name them, and how long each event waits before its check.
type IntakeTrigger struct {
	Bucket string
	// Prefix is the keys' text before the month: the lake's prefix and
	// source.intake's text before {month}, "" or ending in "/".
	Prefix string
	// After is source.intake's text after {month}, starting with "/".
	After string
	// Segment is the index of the month among a key's "/"-separated
	// parts.
	Segment int
	// Wait is source.complete_when.quiet (0 for the other conditions):
	// each event's check waits that long.
	Wait time.Duration
	// Names are the base names whose objects start a check: the parts'
	// pattern, and the marker or manifest.
	Names []string
}

// ErrNoTrigger: the job runs on its schedule only.
var ErrNoTrigger = errors.New("statemachines: the job has no source.complete_when, so a new intake object cannot tell when its month is complete; it runs on its schedule only")

// Intake computes where spec's intake lies in the lake (an s3:// URI). A
// job without source.complete_when has no trigger (ErrNoTrigger): a run
// started by the first part would see a partial delivery. The month must
// be a whole path segment of the key (source.intake like
// intake/consumer/{month}/), since intrinsic functions can split a key at
// "/" but not cut a substring out of it.
func Intake(spec *jobs.Spec, lake string) (IntakeTrigger, error) {
	cw := spec.Source.CompleteWhen
	if !cw.Set() {
		return IntakeTrigger{}, ErrNoTrigger
	}
	bucket, prefix, err := Lake(lake)
	if err != nil {
		return IntakeTrigger{}, err
	}
	before, after, _ := strings.Cut(spec.Source.Intake, "{month}")
	full := prefix + before
	switch {
	case (full != "" && !strings.HasSuffix(full, "/")) || !strings.HasPrefix(after, "/"):
		return IntakeTrigger{}, fmt.Errorf("source.intake %q: intake-triggered runs need {month} to be a whole folder of the key, e.g. intake/%s/{month}/", spec.Source.Intake, spec.Name)
	case strings.HasPrefix(full, "/") || strings.Contains(full, "//"):
		return IntakeTrigger{}, fmt.Errorf("intake keys %q… have an empty folder name, which the trigger cannot count", full)
	}
	t := IntakeTrigger{Bucket: bucket, Prefix: full, After: after, Segment: strings.Count(full, "/"), Wait: cw.Quiet,
		Names: []string{spec.Source.Pattern}}
	if cw.Marker != "" {
		t.Names = append(t.Names, cw.Marker)
	}
	if cw.Manifest != "" {
		t.Names = append(t.Names, cw.Manifest)
	}
	return t, nil
}

// EventPattern is the EventBridge rule's pattern: Object Created events of
// the lake's bucket whose key is an intake object of some month (the
// month, any folder in its place, is checked by the intake state machine).
func (t IntakeTrigger) EventPattern() map[string]any {
	var keys []any
	for _, n := range t.Names {
		keys = append(keys, map[string]string{"wildcard": wildcardEscape(t.Prefix) + "*" + wildcardEscape(t.After) + globWildcard(n)})
	}
	return map[string]any{
		"source":      []string{"aws.s3"},
		"detail-type": []string{"Object Created"},
		"detail": map[string]any{
			"bucket": map[string]any{"name": []string{t.Bucket}},
			"object": map[string]any{"key": keys},
		},
	}
}

// wildcardEscape escapes the characters EventBridge wildcard patterns
// treat specially.
func wildcardEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `*`, `\*`).Replace(s)
}

// globWildcard turns a path.Match glob into an EventBridge wildcard that
// matches at least what the glob does: '?' and [classes] become '*'.
func globWildcard(glob string) string {
	var b strings.Builder
	star := func() {
		if !strings.HasSuffix(b.String(), "*") || strings.HasSuffix(b.String(), `\*`) {
			b.WriteByte('*')
		}
	}
	for i := 0; i < len(glob); i++ {
		switch c := glob[i]; c {
		case '*', '?':
			star()
		case '[':
			if j := strings.IndexByte(glob[i+1:], ']'); j >= 0 {
				i += j + 1
			}
			star()
		case '\\':
			if i+1 < len(glob) {
				i++
				b.WriteString(wildcardEscape(glob[i : i+1]))
			}
		default:
			b.WriteString(wildcardEscape(string(c)))
		}
	}
	return b.String()
}

// RenderIntake returns the intake state machine for spec, starting the
// job's state machine stateMachine (an ARN), indented JSON.
func RenderIntake(spec *jobs.Spec, lake, stateMachine string) ([]byte, error) {
	t, err := Intake(spec, lake)
	if err != nil {
		return nil, err
	}
	return fill(intake, map[string]any{
		"Config":       map[string]int{"segment": t.Segment, "wait": int((t.Wait + time.Second - 1) / time.Second)},
		"StateMachine": stateMachine,
	})
}

// IntakeExecutionMonth recovers the month from the name of an execution
// the intake state machine started ("2026-11-in-<sha256 hex>"), or "".
func IntakeExecutionMonth(name string) string {
	month, hash, ok := strings.Cut(name, "-in-")
	if !ok || len(month) != len("2006-01") || len(hash) != 64 || strings.Trim(hash, "0123456789abcdef") != "" {
		return ""
	}
	if _, err := jobs.ParseMonth(month); err != nil {
		return ""
	}
	return month
}
