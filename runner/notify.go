package runner

// Notifications: one message per finished run. The figures come from the
// run's lineage record as the run finished it. On AWS the publish and
// finish tasks write the message beside the execution's state and the
// state machine publishes it to the job's SNS topic; `tierflow run` sends
// it to the spec's webhook and command.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/lake/lineage"
)

// Run outcomes a notification reports.
const (
	NotifySucceeded = "SUCCEEDED"
	NotifyFailed    = "FAILED"
)

// Notification is the message about one finished run
// (docs/schemas/notification.schema.json).
type Notification struct {
	Job       string `json:"job"`
	Month     string `json:"month"`
	Status    string `json:"status"` // NotifySucceeded or NotifyFailed
	RunID     string `json:"run_id,omitempty"`
	Execution string `json:"execution,omitempty"`
	// Published: the month now shows this run.
	Published        bool      `json:"published"`
	RowsIn           int64     `json:"rows_in"`
	RowsOut          int64     `json:"rows_out"`
	RowsRejected     int64     `json:"rows_rejected"`
	RejectedFraction float64   `json:"rejected_fraction"`
	DurationSeconds  float64   `json:"duration_s"`
	CostUSD          float64   `json:"cost_usd"`
	Rejects          string    `json:"rejects,omitempty"` // where the run's rejects files are
	Error            string    `json:"error,omitempty"`
	Started          time.Time `json:"started,omitzero"`
	Ended            time.Time `json:"ended,omitzero"`
}

// NewNotification is the message about run as it finished; rejects is
// the URI of its rejects files.
func NewNotification(run lineage.Run, execution, rejects string) Notification {
	n := Notification{
		Job: run.Job, Month: run.Month, Status: NotifyFailed, RunID: run.ID, Execution: execution,
		Published: run.Published, RowsIn: run.RowsIn, RowsOut: run.RowsOut, RowsRejected: run.RowsRejected,
		CostUSD: math.Round(run.Cost.USD*1e6) / 1e6, Rejects: rejects, Error: run.Error,
		Started: run.Started.UTC(), Ended: run.Ended.UTC(),
	}
	if run.Status == lineage.StatusComplete {
		n.Status = NotifySucceeded
	}
	if run.RowsIn > 0 {
		n.RejectedFraction = float64(run.RowsRejected) / float64(run.RowsIn)
	}
	if !run.Ended.IsZero() {
		n.DurationSeconds = math.Round(run.Ended.Sub(run.Started).Seconds()*1000) / 1000
	}
	return n
}

// Subject is a one-line summary (SNS: ASCII, under 100 characters, no
// line breaks; job names and months are ASCII).
func (n Notification) Subject() string {
	s := fmt.Sprintf("tierflow %s %s: %s", n.Job, n.Month, n.Status)
	if n.Status == NotifySucceeded {
		s += fmt.Sprintf(", %d rows, %d rejected", n.RowsOut, n.RowsRejected)
	}
	return clipBytes(s, 99)
}

// Text is the message for people (e-mail).
func (n Notification) Text() string {
	var b strings.Builder
	if n.Status == NotifySucceeded {
		fmt.Fprintf(&b, "Month %s of job %s is published by run %s.\n\n", n.Month, n.Job, n.RunID)
	} else {
		fmt.Fprintf(&b, "Month %s of job %s FAILED; nothing was published.\n\n", n.Month, n.Job)
	}
	row := func(k, v string) { fmt.Fprintf(&b, "%-10s %s\n", k+":", v) }
	if n.RunID != "" {
		row("run", n.RunID)
	}
	if n.Execution != "" {
		row("execution", n.Execution)
	}
	row("rows in", strconv.FormatInt(n.RowsIn, 10))
	row("rows out", strconv.FormatInt(n.RowsOut, 10))
	row("rejected", fmt.Sprintf("%d (%.4f%%)", n.RowsRejected, n.RejectedFraction*100))
	row("duration", (time.Duration(n.DurationSeconds * float64(time.Second))).Round(time.Second).String())
	row("cost", fmt.Sprintf("$%.4f", n.CostUSD))
	if n.Rejects != "" {
		row("rejects", n.Rejects)
	}
	if n.Error != "" {
		row("error", n.Error)
	}
	return b.String()
}

// SMS is the message for a phone: short (one SMS is 140 bytes).
func (n Notification) SMS() string {
	if n.Status == NotifySucceeded {
		return clipBytes(fmt.Sprintf("tierflow %s %s published: %d rows, %d rejected, %s, $%.2f", n.Job, n.Month, n.RowsOut, n.RowsRejected,
			time.Duration(n.DurationSeconds*float64(time.Second)).Round(time.Second), n.CostUSD), 140)
	}
	return clipBytes(fmt.Sprintf("tierflow %s %s FAILED: %s", n.Job, n.Month, n.Error), 140)
}

// clipBytes cuts s to at most n bytes, at a character boundary, marking
// the cut with "...".
func clipBytes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n - 3
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
}

// SNSMessage is the message for SNS Publish with MessageStructure "json":
// each protocol gets its form (e-mail the text, SMS the short one, HTTPS
// and every other the JSON).
func (n Notification) SNSMessage() (string, error) {
	js, err := json.Marshal(n)
	if err != nil {
		return "", err
	}
	b, err := json.Marshal(map[string]string{"default": string(js), "https": string(js), "email": n.Text(), "sms": n.SMS()})
	return string(b), err
}

// SNSNotification is notification.json, what the state machine's Notify
// state publishes: the Publish call's Subject, Message (MessageStructure
// "json") and the status message attribute subscriptions filter on.
type SNSNotification struct {
	Subject string `json:"subject"`
	Message string `json:"message"`
	Status  string `json:"status"`
}

// NotificationKey is where an execution's publish or finish task leaves
// the notification.
func NotificationKey(job, execution string) string {
	return ExecPrefix(job, execution) + "notification.json"
}

// saveNotification writes the execution's notification.json.
func (j *job) saveNotification(ctx context.Context, run lineage.Run) {
	n := NewNotification(run, j.ex.Name, DirURI(j.env.Storage, j.layout.RunMetaPrefix(run.ID)+"parts/"))
	msg, err := n.SNSMessage()
	if err == nil {
		err = putJSON(context.WithoutCancel(ctx), j.env.Storage, NotificationKey(j.spec.Name, j.ex.Name), SNSNotification{Subject: n.Subject(), Message: msg, Status: n.Status})
	}
	if err != nil {
		// The state machine then sends the short message it has itself.
		j.log.Warn().Err(err).Msg("writing the run's notification")
	}
}

// Notifier sends a local run's notification to the spec's webhook and
// command. Sending never fails the run: failures are logged.
type Notifier struct {
	Spec jobs.Notify
	Log  logger
	// Client posts to the webhook (default: a client with a 10 s timeout).
	Client *http.Client
	// Attempts and Backoff: the webhook is tried Attempts times (default
	// 3), waiting Backoff (default 2 s), then twice that, in between.
	Attempts int
	Backoff  time.Duration
	// CommandTimeout bounds the command (default 1 minute).
	CommandTimeout time.Duration
}

// Send delivers n to the webhook and the command. It reports what failed,
// for the caller to log; the run's outcome does not depend on it.
func (s Notifier) Send(ctx context.Context, n Notification) error {
	if s.Spec.OnFailureOnly && n.Status != NotifyFailed {
		return nil
	}
	body, err := json.Marshal(n)
	if err != nil {
		return err
	}
	var errs []error
	if s.Spec.Webhook != "" {
		errs = append(errs, s.post(ctx, body))
	}
	if len(s.Spec.Command) > 0 {
		errs = append(errs, s.run(ctx, n, body))
	}
	err = errors.Join(errs...)
	if err != nil {
		s.Log.Warn().Err(err).Str("month", n.Month).Msg("notification not delivered (the run's outcome stands)")
	}
	return err
}

// post sends body to the webhook, retrying network errors, 429 and 5xx.
func (s Notifier) post(ctx context.Context, body []byte) error {
	client := s.Client
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	attempts, wait := max(s.Attempts, 1), s.Backoff
	if s.Attempts == 0 {
		attempts = 3
	}
	if wait == 0 {
		wait = 2 * time.Second
	}
	var last error
	for i := range attempts {
		if i > 0 {
			select {
			case <-ctx.Done():
				return fmt.Errorf("webhook %s: %w (after %v)", s.Spec.Webhook, ctx.Err(), last)
			case <-time.After(wait << (i - 1)):
			}
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.Spec.Webhook, bytes.NewReader(body))
		if err != nil {
			return fmt.Errorf("webhook %s: %w", s.Spec.Webhook, err)
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("User-Agent", "tierflow/"+CreatedBy())
		resp, err := client.Do(req)
		if err != nil {
			last = err
			continue
		}
		resp.Body.Close()
		switch {
		case resp.StatusCode < 300:
			return nil
		case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
			last = fmt.Errorf("HTTP %s", resp.Status)
		default:
			return fmt.Errorf("webhook %s: HTTP %s (not retried)", s.Spec.Webhook, resp.Status)
		}
	}
	return fmt.Errorf("webhook %s: %d attempts failed, the last: %w", s.Spec.Webhook, attempts, last)
}

// run runs the command with the message as JSON on stdin and its main
// figures in TIERFLOW_NOTIFY_* variables.
func (s Notifier) run(ctx context.Context, n Notification, body []byte) error {
	timeout := s.CommandTimeout
	if timeout <= 0 {
		timeout = time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, s.Spec.Command[0], s.Spec.Command[1:]...)
	cmd.Stdin = bytes.NewReader(body)
	cmd.Env = append(os.Environ(),
		"TIERFLOW_NOTIFY_JOB="+n.Job, "TIERFLOW_NOTIFY_MONTH="+n.Month, "TIERFLOW_NOTIFY_STATUS="+n.Status,
		"TIERFLOW_NOTIFY_RUN="+n.RunID, "TIERFLOW_NOTIFY_SUBJECT="+n.Subject())
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("notify command %s: %w: %s", s.Spec.Command[0], err, Clip(strings.TrimSpace(out.String()), 300))
	}
	return nil
}

// notifyLocal sends the notification of a local run of month: res and
// err are what Run returned. A skipped month (nothing ran) and an
// interrupted command send nothing.
func notifyLocal(ctx context.Context, spec *jobs.Spec, month string, res *Result, err error, log logger) {
	if (spec.Notify.Webhook == "" && len(spec.Notify.Command) == 0) || ctx.Err() != nil {
		return
	}
	var n Notification
	switch {
	case res == nil && err != nil:
		n = Notification{Job: spec.Name, Month: month, Status: NotifyFailed, Error: err.Error()}
	case res == nil || res.Skipped:
		return
	default:
		n = NewNotification(res.Run, "", res.RunMeta+"parts/")
	}
	_ = Notifier{Spec: spec.Notify, Log: log}.Send(ctx, n)
}
