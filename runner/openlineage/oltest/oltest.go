// Package oltest helps tests of OpenLineage events: Validate checks events
// with ajv against the official OpenLineage JSON Schemas (checked in under
// runner/openlineage/testdata/spec) and tierflow's facet schemas
// (docs/schemas/openlineage); Marquez is an HTTP test server that takes
// events the way Marquez's POST /api/v1/lineage does.
package oltest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"

	"github.com/tierflow/tierflow/lake/storage"
	"github.com/tierflow/tierflow/runner/openlineage"
)

// dir is this package's source directory, from which the schemas and the
// validator script are found whatever package's test calls.
func dir(t testing.TB) string {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("oltest: cannot locate its source")
	}
	return filepath.Dir(file)
}

// Validate checks every event (one JSON body each) with ajv, through
// runner/openlineage/testdata/validate.cjs: the RunEvent schema, and each
// facet against the schema its _schemaURL names, placed where its kind
// belongs. It needs node and TIERFLOW_TEST_NODE_MODULES (ajv, ajv-formats);
// without them it skips, or fails when CI is set.
func Validate(t testing.TB, events [][]byte) {
	t.Helper()
	mods := os.Getenv("TIERFLOW_TEST_NODE_MODULES")
	if mods == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("TIERFLOW_TEST_NODE_MODULES is unset: .ci/tools.sh installs ajv")
		}
		t.Skip("TIERFLOW_TEST_NODE_MODULES is unset (source .ci/tools.sh): no JSON Schema validator")
	}
	if len(events) == 0 {
		t.Fatal("no events to validate")
	}
	var arr bytes.Buffer
	arr.WriteByte('[')
	for i, e := range events {
		if i > 0 {
			arr.WriteByte(',')
		}
		arr.Write(e)
	}
	arr.WriteByte(']')
	d := dir(t)
	cmd := exec.Command("node", filepath.Join(d, "..", "testdata", "validate.cjs"),
		filepath.Join(d, "..", "testdata", "spec"), filepath.Join(d, "..", "..", "..", "docs", "schemas", "openlineage"))
	cmd.Env = append(os.Environ(), "TIERFLOW_TEST_NODE_MODULES="+mods)
	cmd.Stdin = &arr
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("ajv: %v\n%s", err, errb.String())
	}
	t.Logf("ajv: %s", bytes.TrimSpace(out.Bytes()))
}

// Files reads the event files the file transport wrote to st, in key
// (that is, event time) order.
func Files(t testing.TB, st storage.Storage) (keys []string, bodies [][]byte) {
	t.Helper()
	ctx := context.Background()
	err := st.List(ctx, openlineage.FilePrefix, func(o storage.Object) error {
		rc, err := st.Open(ctx, o.Key)
		if err != nil {
			return err
		}
		defer rc.Close()
		b, err := io.ReadAll(rc)
		keys, bodies = append(keys, o.Key), append(bodies, b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return keys, bodies
}

// Marquez is an httptest server that takes OpenLineage events as Marquez
// does (api/src/main/java/marquez/api/OpenLineageResource.java and the
// @NotNull fields of marquez.service.models.LineageEvent): POST
// /api/v1/lineage with a JSON body; 415 for another content type, 400
// for a body that is not JSON, 422 with {"errors": [...]} when eventTime,
// producer, run.runId, job.namespace or job.name is missing, else 201
// with no body. It can also fail requests on purpose.
type Marquez struct {
	*httptest.Server
	// APIKey, when set, must come as "Authorization: Bearer APIKey" (401
	// otherwise), as behind an authenticating proxy.
	APIKey string

	mu       sync.Mutex
	events   [][]byte
	attempts int
	failNext int
	failWith int
}

// NewMarquez starts a Marquez-like server, closed when t ends.
func NewMarquez(t testing.TB) *Marquez {
	m := &Marquez{}
	m.Server = httptest.NewServer(http.HandlerFunc(m.serve))
	t.Cleanup(m.Close)
	return m
}

// FailNext makes the next n requests fail with status (e.g. 503).
func (m *Marquez) FailNext(n, status int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.failNext, m.failWith = n, status
}

// Events are the events taken (201), in order.
func (m *Marquez) Events() [][]byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([][]byte(nil), m.events...)
}

// Attempts counts every POST to the endpoint, failed ones included.
func (m *Marquez) Attempts() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.attempts
}

func (m *Marquez) serve(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/api/v1/lineage" {
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodPost {
		w.WriteHeader(http.StatusMethodNotAllowed)
		return
	}
	m.mu.Lock()
	m.attempts++
	fail := m.failNext > 0
	if fail {
		m.failNext--
	}
	status := m.failWith
	m.mu.Unlock()
	if fail {
		w.WriteHeader(status)
		return
	}
	if m.APIKey != "" && r.Header.Get("Authorization") != "Bearer "+m.APIKey {
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		w.WriteHeader(http.StatusUnsupportedMediaType)
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	var ev struct {
		EventTime *string `json:"eventTime"`
		Producer  *string `json:"producer"`
		Run       *struct {
			RunID *string `json:"runId"`
		} `json:"run"`
		Job *struct {
			Namespace *string `json:"namespace"`
			Name      *string `json:"name"`
		} `json:"job"`
	}
	if err := json.Unmarshal(body, &ev); err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	var missing []string
	for name, ok := range map[string]bool{
		"eventTime": ev.EventTime != nil, "producer": ev.Producer != nil,
		"run.runId":     ev.Run != nil && ev.Run.RunID != nil,
		"job.namespace": ev.Job != nil && ev.Job.Namespace != nil, "job.name": ev.Job != nil && ev.Job.Name != nil,
	} {
		if !ok {
			missing = append(missing, name+" may not be null")
		}
	}
	if len(missing) > 0 {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnprocessableEntity)
		_ = json.NewEncoder(w).Encode(map[string][]string{"errors": missing})
		return
	}
	m.mu.Lock()
	m.events = append(m.events, body)
	m.mu.Unlock()
	w.WriteHeader(http.StatusCreated)
}

// LogBuffer collects log lines written from many goroutines (an
// emitter's sender among them).
type LogBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p.
func (s *LogBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String is everything written so far.
func (s *LogBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
