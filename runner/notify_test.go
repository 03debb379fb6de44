package runner

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/lake/lineage"
	"github.com/tierflow/tierflow/lake/storage"
)

// notifyJob writes the crash job with extra lines appended (a notify:
// section) into a temporary directory and returns its path.
func notifyJob(t *testing.T, extra string) string {
	t.Helper()
	dir := t.TempDir()
	for _, f := range []string{"job.yaml", "header.csv"} {
		b, err := os.ReadFile(filepath.Join("testdata", "crash", f))
		if err != nil {
			t.Fatal(err)
		}
		if f == "job.yaml" {
			b = append(b, extra...)
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return filepath.Join(dir, "job.yaml")
}

// notifyLake writes notifyJob's job and a new local lake holding one
// month of its intake, and returns the job's path, its spec and the lake.
func notifyLake(t *testing.T, extra string) (job string, spec *jobs.Spec, lake string) {
	t.Helper()
	job = notifyJob(t, extra)
	spec, err := jobs.Load(job)
	if err != nil {
		t.Fatal(err)
	}
	lake = "file://" + t.TempDir()
	env, err := OpenEnv(context.Background(), spec, lake, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	putCrashMonth(t, env.Storage, spec, 1)
	env.Close()
	return job, spec, lake
}

// hook is a webhook that answers the first len(fail) requests with those
// statuses, then 200, keeping every body.
type hook struct {
	mu     sync.Mutex
	fail   []int
	bodies [][]byte
	types  []string
}

func (h *hook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	h.mu.Lock()
	defer h.mu.Unlock()
	h.bodies = append(h.bodies, b)
	h.types = append(h.types, r.Header.Get("Content-Type"))
	if len(h.bodies) <= len(h.fail) {
		w.WriteHeader(h.fail[len(h.bodies)-1])
	}
}

// A local run posts its notification to the webhook: the run's own
// figures, in the shape the schema documents; a failed run runs the
// command with the message on stdin.
func TestRunNotifiesWebhookAndCommand(t *testing.T) {
	h := &hook{}
	srv := httptest.NewServer(h)
	defer srv.Close()
	out := filepath.Join(t.TempDir(), "message.json")
	job, spec, lake := notifyLake(t, "notify:\n  webhook: "+srv.URL+"/tierflow\n  command: [sh, -c, 'cat > \"$0\"; echo \"$TIERFLOW_NOTIFY_STATUS $TIERFLOW_NOTIFY_MONTH\" > \"$0.env\"', "+out+"]\n")
	ctx := context.Background()
	if err := RunMonths(ctx, RunMonthsOptions{Job: job, Lake: lake, Month: crashMonth, Log: zerolog.Nop()}); err != nil {
		t.Fatal(err)
	}
	if len(h.bodies) != 1 || h.types[0] != "application/json" {
		t.Fatalf("webhook got %d requests (%v), want 1 JSON POST", len(h.bodies), h.types)
	}
	var n Notification
	if err := json.Unmarshal(h.bodies[0], &n); err != nil {
		t.Fatal(err)
	}
	env, err := OpenEnv(ctx, spec, lake, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	defer env.Close()
	run, err := env.Lineage.GetRun(ctx, spec.Name, n.RunID)
	if err != nil {
		t.Fatalf("the notification names run %q: %v", n.RunID, err)
	}
	if n.Status != NotifySucceeded || !n.Published || n.Month != crashMonth || n.RowsIn != run.RowsIn || n.RowsOut != run.RowsOut ||
		n.RowsIn != 60 || n.RowsRejected != run.RowsRejected || n.DurationSeconds <= 0 || n.CostUSD <= 0 ||
		n.Rejects != env.Storage.ObjectURI("_tierflow/runs/crash/"+run.ID+"/parts")+"/" {
		t.Errorf("notification %+v does not match run %+v", n, run)
	}
	if err := checkSchemaIn(t, "notification.schema.json", "notification", h.bodies[0]); err != nil {
		t.Error(err)
	}
	// The same month again is skipped: nothing ran, nothing is sent.
	if err := RunMonths(ctx, RunMonthsOptions{Job: job, Lake: lake, Month: crashMonth, Log: zerolog.Nop()}); err != nil {
		t.Fatal(err)
	}
	if len(h.bodies) != 1 {
		t.Errorf("a skipped month sent a notification: %s", h.bodies[len(h.bodies)-1])
	}
	// The command got only the failed run's message: on a success it ran
	// too, so its file holds the last message.
	var first Notification
	if b, err := os.ReadFile(out); err != nil || json.Unmarshal(b, &first) != nil || first.RunID != n.RunID {
		t.Errorf("the command's stdin: %s (%v)", b, err)
	}

	// A month whose part has a wrong header fails: FAILED with the error.
	bad := spec.IntakePrefix("2020-04") + "part-0001.csv.gz"
	if err := storage.Put(ctx, env.Storage, bad, bytes.NewReader(gzipped(t, "ID,Name\n1,x\n")), storage.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	env.Close()
	if err := RunMonths(ctx, RunMonthsOptions{Job: job, Lake: lake, Month: "2020-04", Log: zerolog.Nop()}); err == nil {
		t.Fatal("a part with a wrong header was converted")
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var failed Notification
	if err := json.Unmarshal(b, &failed); err != nil || failed.Status != NotifyFailed || failed.Published || failed.Month != "2020-04" ||
		!strings.Contains(failed.Error, "header") {
		t.Errorf("failed run's message: %s (%v)", b, err)
	}
	if err := checkSchemaIn(t, "notification.schema.json", "notification", b); err != nil {
		t.Error(err)
	}
	if env, err := os.ReadFile(out + ".env"); err != nil || strings.TrimSpace(string(env)) != "FAILED 2020-04" {
		t.Errorf("TIERFLOW_NOTIFY_STATUS and _MONTH: %q (%v)", env, err)
	}
	// The schema is no rubber stamp: a failure claiming to be published fails it.
	if err := checkSchemaIn(t, "notification.schema.json", "notification", bytes.Replace(b, []byte(`"published":false`), []byte(`"published":true`), 1)); err == nil {
		t.Error("the schema accepted a failed run that is published")
	}
}

// The webhook is retried on 5xx and 429, not on other 4xx; a webhook that
// never answers does not fail the run.
func TestNotifierRetries(t *testing.T) {
	n := Notification{Job: "j", Month: "2020-03", Status: NotifyFailed, Error: "boom"}
	h := &hook{fail: []int{503, 429}}
	srv := httptest.NewServer(h)
	defer srv.Close()
	s := Notifier{Spec: jobs.Notify{Webhook: srv.URL}, Log: zerolog.Nop(), Backoff: time.Millisecond}
	if err := s.Send(context.Background(), n); err != nil || len(h.bodies) != 3 {
		t.Errorf("after 503, 429: %v, %d requests (want 3)", err, len(h.bodies))
	}
	h2 := &hook{fail: []int{404}}
	srv2 := httptest.NewServer(h2)
	defer srv2.Close()
	s.Spec.Webhook = srv2.URL
	if err := s.Send(context.Background(), n); err == nil || !strings.Contains(err.Error(), "404") || len(h2.bodies) != 1 {
		t.Errorf("after 404: %v, %d requests (want 1, not retried)", err, len(h2.bodies))
	}
	// on: failure sends nothing for a success.
	s.Spec.OnFailureOnly = true
	if err := s.Send(context.Background(), Notification{Job: "j", Month: "2020-03", Status: NotifySucceeded}); err != nil || len(h2.bodies) != 1 {
		t.Errorf("on: failure sent a success: %v, %d requests", err, len(h2.bodies))
	}

	// A run with a dead webhook still succeeds.
	srv3 := httptest.NewServer(http.NotFoundHandler())
	url := srv3.URL
	srv3.Close()
	job, _, lake := notifyLake(t, "notify: {webhook: '"+url+"'}\n")
	var logs bytes.Buffer
	if err := RunMonths(context.Background(), RunMonthsOptions{Job: job, Lake: lake, Month: crashMonth, Log: zerolog.New(&logs)}); err != nil {
		t.Fatalf("a dead webhook failed the run: %v", err)
	}
	if !strings.Contains(logs.String(), "notification not delivered") {
		t.Errorf("no warning about the undelivered notification in:\n%s", logs.String())
	}
}

// The forms of one message: the subject fits SNS's 100 characters, the
// SMS 140 bytes, and the SNS message carries every protocol's form.
func TestNotificationForms(t *testing.T) {
	t0 := time.Date(2020, 4, 2, 6, 0, 0, 0, time.UTC)
	run := lineage.Run{ID: "abc-1", Job: "consumer-header", Month: "2020-03", Status: lineage.StatusComplete, Published: true,
		Started: t0, Ended: t0.Add(41*time.Minute + 12*time.Second), RowsIn: 1000, RowsOut: 990, RowsRejected: 10,
		Cost: lineage.Cost{USD: 12.3456789}}
	n := NewNotification(run, "consumer-header-2020-03-r1", "s3://lake/_tierflow/runs/consumer-header/abc-1/parts/")
	if n.RejectedFraction != 0.01 || n.DurationSeconds != 2472 || n.CostUSD != 12.345679 {
		t.Errorf("figures: %+v", n)
	}
	if got := n.Subject(); got != "tierflow consumer-header 2020-03: SUCCEEDED, 990 rows, 10 rejected" {
		t.Errorf("subject %q", got)
	}
	if got := n.SMS(); got != "tierflow consumer-header 2020-03 published: 990 rows, 10 rejected, 41m12s, $12.35" {
		t.Errorf("sms %q", got)
	}
	for _, want := range []string{"published by run abc-1", "rejected:  10 (1.0000%)", "duration:  41m12s", "cost:      $12.3457", "rejects:   s3://lake/"} {
		if !strings.Contains(n.Text(), want) {
			t.Errorf("text lacks %q:\n%s", want, n.Text())
		}
	}
	run.Status, run.Published, run.Error = lineage.StatusFailed, false, strings.Repeat("convert failed: part-0001 has 1001 rejected rows ", 5)
	f := NewNotification(run, "", "")
	if len(f.SMS()) > 140 || len(f.Subject()) > 100 || !strings.Contains(f.Text(), "FAILED; nothing was published") {
		t.Errorf("failure forms: %q / %q / %q", f.Subject(), f.SMS(), f.Text())
	}
	msg, err := n.SNSMessage()
	if err != nil {
		t.Fatal(err)
	}
	var forms map[string]string
	if err := json.Unmarshal([]byte(msg), &forms); err != nil {
		t.Fatal(err)
	}
	if forms["email"] != n.Text() || forms["sms"] != n.SMS() || forms["default"] != forms["https"] {
		t.Errorf("SNS forms: %v", forms)
	}
	if err := checkSchemaIn(t, "notification.schema.json", "notification", []byte(forms["default"])); err != nil {
		t.Error(err)
	}
}

// gzipped is s gzip-compressed.
func gzipped(t *testing.T, s string) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	if _, err := zw.Write([]byte(s)); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}
