package jobs

import (
	"slices"
	"testing"
	"time"
)

func TestParseOpsSections(t *testing.T) {
	files := goodFiles()
	files["dir/job.yaml"] = minimalSpec + `rejects: {max_fraction: 0.01}
notify:
  on: failure
  email: [data-team@example.com]
  sms: ["+12065550100"]
  https: [https://hooks.example.com/tierflow]
  webhook: http://localhost:8080/hook
  command: [/usr/local/bin/page, --team, data]
monitor: {late_after: 30h}
lifecycle: {tier1_glacier_ir_days: 90, tier1_deep_archive_days: 365, intake_expire_days: 30, unpublished_expire_days: 14}
`
	s, err := parseFiles(t, files)
	if err != nil {
		t.Fatal(err)
	}
	n := s.Notify
	if !n.OnFailureOnly || !slices.Equal(n.Email, []string{"data-team@example.com"}) || !slices.Equal(n.SMS, []string{"+12065550100"}) ||
		!slices.Equal(n.HTTPS, []string{"https://hooks.example.com/tierflow"}) || n.Webhook != "http://localhost:8080/hook" ||
		!slices.Equal(n.Command, []string{"/usr/local/bin/page", "--team", "data"}) || !n.Set() {
		t.Errorf("notify = %+v", n)
	}
	// rejected_fraction defaults to half of rejects.max_fraction.
	if s.Monitor.RejectedFraction != 0.005 || s.Monitor.LateAfter != 30*time.Hour {
		t.Errorf("monitor = %+v", s.Monitor)
	}
	want := Lifecycle{Tier1GlacierIRDays: 90, Tier1DeepArchiveDays: 365, IntakeExpireDays: 30, UnpublishedExpireDays: 14, IncompleteUploadDays: DefaultIncompleteUploadDays}
	if s.Lifecycle != want {
		t.Errorf("lifecycle = %+v, want %+v", s.Lifecycle, want)
	}
}

func TestParseOpsDefaults(t *testing.T) {
	s, err := parseFiles(t, goodFiles())
	if err != nil {
		t.Fatal(err)
	}
	if s.Notify.Set() || s.Notify.OnFailureOnly {
		t.Errorf("notify = %+v, want nothing", s.Notify)
	}
	if s.Monitor.RejectedFraction != DefaultRejectFraction/2 || s.Monitor.LateAfter != DefaultLateAfter {
		t.Errorf("monitor = %+v", s.Monitor)
	}
	if (s.Lifecycle != Lifecycle{IncompleteUploadDays: DefaultIncompleteUploadDays}) {
		t.Errorf("lifecycle = %+v", s.Lifecycle)
	}
}

func TestParseOpsProblems(t *testing.T) {
	files := goodFiles()
	files["dir/job.yaml"] = minimalSpec + `notify:
  on: sometimes
  email: ["Data Team <data@example.com>"]
  sms: [206-555-0100]
  https: [http://hooks.example.com/x]
  webhook: ftp://example.com/
  command: []
monitor: {rejected_fraction: 0, late_after: 10m}
lifecycle: {tier1_glacier_ir_days: 200, tier1_deep_archive_days: 100, intake_expire_days: -1}
`
	_, err := parseFiles(t, files)
	wantProblems(t, err,
		"dir/job.yaml:12: notify.on: \"sometimes\": want always or failure",
		"dir/job.yaml:13: notify.email: \"Data Team <data@example.com>\" is not an e-mail address",
		"dir/job.yaml:14: notify.sms: \"206-555-0100\" is not an E.164 phone number",
		"dir/job.yaml:15: notify.https: \"http://hooks.example.com/x\" must be an https:// URL",
		"dir/job.yaml:16: notify.webhook: \"ftp://example.com/\" must be an http:// or https:// URL",
		"dir/job.yaml:17: notify.command: name the program first",
		"dir/job.yaml:18: monitor.rejected_fraction: must be above 0",
		"dir/job.yaml:18: monitor.late_after: 10m0s is shorter than the hourly check",
		"dir/job.yaml:19: lifecycle.intake_expire_days: -1 days",
		"dir/job.yaml:19: lifecycle.tier1_deep_archive_days: 100 must be later than tier1_glacier_ir_days (200)",
	)
}
