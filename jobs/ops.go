package jobs

// The spec's operations sections: who hears about a finished run
// (notify), what CloudWatch watches (monitor) and how long the lake keeps
// what in which S3 storage class (lifecycle).

import (
	"fmt"
	"net/mail"
	"net/url"
	"regexp"
	"time"

	"gopkg.in/yaml.v3"
)

// Notify is the job's `notify:` section: one message per finished run.
// On AWS the job's SNS topic gets the E-mail, SMS and HTTPS subscriptions;
// `tierflow run` (local) sends the message to Webhook and Command.
type Notify struct {
	// OnFailureOnly sends only failed runs' messages (`on: failure`);
	// the default (`on: always`) sends every finished run's.
	OnFailureOnly bool
	Email         []string // e-mail addresses (SNS "email")
	SMS           []string // E.164 phone numbers (SNS "sms")
	HTTPS         []string // https:// endpoints (SNS "https"; they must confirm the subscription)
	// Webhook receives the message as a JSON POST after a local run.
	Webhook string
	// Command is run after a local run with the message as JSON on its
	// standard input (argv, no shell).
	Command []string
}

// Set reports whether the section asks for anything.
func (n Notify) Set() bool {
	return len(n.Email)+len(n.SMS)+len(n.HTTPS)+len(n.Command) > 0 || n.Webhook != ""
}

// Monitor is the job's `monitor:` section: the thresholds of its CloudWatch
// alarms.
type Monitor struct {
	// RejectedFraction alarms when a run's rejected rows over rows read
	// exceed it (default: half of rejects.max_fraction, which fails a part).
	RejectedFraction float64
	// LateAfter alarms when the month a schedule firing is for is not
	// published this long after the firing (default 24h; 0: no alarm).
	LateAfter time.Duration
}

// Lifecycle is the job's `lifecycle:` section: S3 lifecycle rules on the
// lake bucket, each in days, 0 = no such rule.
type Lifecycle struct {
	// Tier1GlacierIRDays moves tier-1 objects to Glacier Instant Retrieval
	// (read like STANDARD, cheaper at rest) this many days after creation.
	Tier1GlacierIRDays int
	// Tier1DeepArchiveDays moves them on to Deep Archive (a read needs a
	// restore first; tierflow refuses to read such an object).
	Tier1DeepArchiveDays int
	// IntakeExpireDays expires intake objects this many days after
	// creation, but only those tagged tierflow-tier1=verified: their tier-1
	// copy was read back and its SHA-256 matched.
	IntakeExpireDays int
	// UnpublishedExpireDays expires what never got published: the state of
	// executions (_tierflow/executions/<job>/) and objects a run wrote
	// that are still tagged tierflow-run=unpublished.
	UnpublishedExpireDays int
	// IncompleteUploadDays aborts multipart uploads left incomplete this
	// long under the job's prefixes.
	IncompleteUploadDays int
}

// Object tags the lifecycle rules filter on: a rule cannot ask whether a
// run was published or an intake object's tier-1 copy verified, but it can
// filter on a tag the runner sets when that becomes true (or removes when
// it stops being so).
const (
	// TagRun = TagRunUnpublished marks a run's tier-2 objects from their
	// creation; publish removes it before its commit.
	TagRun            = "tierflow-run"
	TagRunUnpublished = "unpublished"
	// TagTier1 = TagTier1Verified marks an intake object whose tier-1 copy
	// was read back with the same SHA-256.
	TagTier1         = "tierflow-tier1"
	TagTier1Verified = "verified"
)

// Set reports whether any rule is asked for.
func (l Lifecycle) Set() bool {
	return l.Tier1GlacierIRDays+l.Tier1DeepArchiveDays+l.IntakeExpireDays+l.UnpublishedExpireDays+l.IncompleteUploadDays > 0
}

// Defaults of the operations sections.
const (
	DefaultLateAfter = 24 * time.Hour
	// DefaultIncompleteUploadDays aborts multipart uploads a killed task
	// left behind (tierflow gc does it too, when it runs).
	DefaultIncompleteUploadDays = 7
)

var e164RE = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)

func (l *loader) decodeNotify(n *yaml.Node, where string) {
	d, nt := l.d, &l.spec.Notify
	d.mapping(n, where, []field{
		{"on", func(n *yaml.Node, w string) {
			v, ok := d.str(n, w)
			if !ok {
				return
			}
			switch v {
			case "always":
			case "failure":
				nt.OnFailureOnly = true
			default:
				d.errf(d.line(w), "%s: %q: want always or failure", w, v)
			}
		}},
		{"email", d.setStrs(&nt.Email)},
		{"sms", d.setStrs(&nt.SMS)},
		{"https", d.setStrs(&nt.HTTPS)},
		{"webhook", d.setStr(&nt.Webhook)},
		{"command", d.setStrs(&nt.Command)},
	})
}

func (l *loader) decodeMonitor(n *yaml.Node, where string) {
	d, m := l.d, &l.spec.Monitor
	d.mapping(n, where, []field{
		{"rejected_fraction", d.setFloat(&m.RejectedFraction)},
		{"late_after", func(n *yaml.Node, w string) {
			v, ok := d.str(n, w)
			if !ok {
				return
			}
			t, err := time.ParseDuration(v)
			if err != nil || t < 0 {
				d.errf(d.line(w), "%s: %q is not a duration like 30h (0 turns the alarm off)", w, v)
				return
			}
			m.LateAfter = t
		}},
	})
}

func (l *loader) decodeLifecycle(n *yaml.Node, where string) {
	d, lc := l.d, &l.spec.Lifecycle
	d.mapping(n, where, []field{
		{"tier1_glacier_ir_days", d.setInt(&lc.Tier1GlacierIRDays)},
		{"tier1_deep_archive_days", d.setInt(&lc.Tier1DeepArchiveDays)},
		{"intake_expire_days", d.setInt(&lc.IntakeExpireDays)},
		{"unpublished_expire_days", d.setInt(&lc.UnpublishedExpireDays)},
		{"incomplete_upload_days", d.setInt(&lc.IncompleteUploadDays)},
	})
}

// validateOps checks the notify, monitor and lifecycle sections.
func (l *loader) validateOps() {
	s, d := l.spec, l.d
	nt := s.Notify
	for i, a := range nt.Email {
		if m, err := mail.ParseAddress(a); err != nil || m.Address != a {
			d.errf(d.line(fmt.Sprintf("notify.email[%d]", i)), "notify.email: %q is not an e-mail address (write the bare address, e.g. data-team@example.com)", a)
		}
	}
	for i, p := range nt.SMS {
		if !e164RE.MatchString(p) {
			d.errf(d.line(fmt.Sprintf("notify.sms[%d]", i)), "notify.sms: %q is not an E.164 phone number (+, country code, number, no spaces: +12065550100)", p)
		}
	}
	for i, u := range nt.HTTPS {
		if !httpURL(u, true) {
			d.errf(d.line(fmt.Sprintf("notify.https[%d]", i)), "notify.https: %q must be an https:// URL (SNS delivers to it)", u)
		}
	}
	if nt.Webhook != "" && !httpURL(nt.Webhook, false) {
		d.errf(d.line("notify.webhook"), "notify.webhook: %q must be an http:// or https:// URL", nt.Webhook)
	}
	if _, ok := d.lines["notify.command"]; ok && (len(nt.Command) == 0 || nt.Command[0] == "") {
		d.errf(d.line("notify.command"), "notify.command: name the program first, e.g. [/usr/local/bin/page-team, --job, consumer-header]")
	}

	m := &s.Monitor
	if _, set := d.lines["monitor.rejected_fraction"]; !set {
		m.RejectedFraction = s.Rejects.MaxFraction / 2
	} else if !(m.RejectedFraction > 0 && m.RejectedFraction <= 1) {
		d.errf(d.line("monitor.rejected_fraction"), "monitor.rejected_fraction: must be above 0 and at most 1, got %v", m.RejectedFraction)
	}
	if _, set := d.lines["monitor.late_after"]; !set {
		m.LateAfter = DefaultLateAfter
	}
	if m.LateAfter > 0 && m.LateAfter < time.Hour {
		d.errf(d.line("monitor.late_after"), "monitor.late_after: %v is shorter than the hourly check can tell (at least 1h)", m.LateAfter)
	}

	lc := &s.Lifecycle
	if _, set := d.lines["lifecycle.incomplete_upload_days"]; !set {
		lc.IncompleteUploadDays = DefaultIncompleteUploadDays
	}
	for _, f := range []struct {
		key string
		v   int
	}{
		{"tier1_glacier_ir_days", lc.Tier1GlacierIRDays}, {"tier1_deep_archive_days", lc.Tier1DeepArchiveDays},
		{"intake_expire_days", lc.IntakeExpireDays}, {"unpublished_expire_days", lc.UnpublishedExpireDays},
		{"incomplete_upload_days", lc.IncompleteUploadDays},
	} {
		if f.v < 0 || f.v > 36500 {
			d.errf(d.line("lifecycle."+f.key), "lifecycle.%s: %d days: want 0 (no rule) to 36500", f.key, f.v)
		}
	}
	// S3 refuses a lifecycle configuration whose later transition is not
	// later. (An object leaving Glacier Instant Retrieval before 90 days is
	// billed the rest of the 90: docs/aws.md says so, the spec may choose.)
	if lc.Tier1GlacierIRDays > 0 && lc.Tier1DeepArchiveDays > 0 && lc.Tier1DeepArchiveDays <= lc.Tier1GlacierIRDays {
		d.errf(d.line("lifecycle.tier1_deep_archive_days"), "lifecycle.tier1_deep_archive_days: %d must be later than tier1_glacier_ir_days (%d)",
			lc.Tier1DeepArchiveDays, lc.Tier1GlacierIRDays)
	}
}

func httpURL(s string, httpsOnly bool) bool {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return false
	}
	return u.Scheme == "https" || (!httpsOnly && u.Scheme == "http")
}
