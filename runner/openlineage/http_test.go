package openlineage_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/tierflow/tierflow/runner/openlineage"
	"github.com/tierflow/tierflow/runner/openlineage/oltest"
)

const event = `{"eventType":"START","eventTime":"2020-04-02T06:00:00Z","run":{"runId":"0171397a-0c00-7000-8000-000000000000"},"job":{"namespace":"tierflow","name":"j"},"inputs":[],"outputs":[],"producer":"https://github.com/tierflow/tierflow","schemaURL":"` + openlineage.RunEventSchemaURL + `"}`

func transport(url string) *openlineage.HTTPTransport {
	return &openlineage.HTTPTransport{URL: url + "/api/v1/lineage", Client: &http.Client{}, Timeout: 2 * time.Second, Retries: 3, Backoff: 5 * time.Millisecond}
}

func TestHTTPTransport(t *testing.T) {
	ctx := context.Background()
	m := oltest.NewMarquez(t)
	m.APIKey = "t0ken"
	h := transport(m.URL)
	h.APIKey = "t0ken"

	// Taken at once: 201.
	if n, err := h.Send(ctx, []byte(event)); err != nil || n != 1 {
		t.Fatalf("send: %d attempts, %v", n, err)
	}
	// A server failing twice, then recovering: the third attempt lands.
	m.FailNext(2, http.StatusServiceUnavailable)
	if n, err := h.Send(ctx, []byte(event)); err != nil || n != 3 {
		t.Errorf("send through two 503s: %d attempts, %v; want 3, nil", n, err)
	}
	if got := len(m.Events()); got != 2 {
		t.Errorf("the server took %d events, want 2", got)
	}
	// Failing longer than the retries: the last error, after 1 + Retries.
	m.FailNext(10, http.StatusBadGateway)
	n, err := h.Send(ctx, []byte(event))
	var se *openlineage.StatusError
	if !errors.As(err, &se) || se.Status != http.StatusBadGateway || n != 4 {
		t.Errorf("send through ten 502s: %d attempts, %v; want 4 attempts and HTTP 502", n, err)
	}
	m.FailNext(0, 0)

	// Answers that will not change are not retried: Marquez's 422 for an
	// event without a run id, 401 for a wrong key.
	before := m.Attempts()
	if n, err := h.Send(ctx, []byte(`{"eventTime":"2020-04-02T06:00:00Z","producer":"p","job":{"namespace":"n","name":"j"}}`)); !errors.As(err, &se) || se.Status != http.StatusUnprocessableEntity || n != 1 {
		t.Errorf("an event without run: %d attempts, %v; want one, 422", n, err)
	}
	h.APIKey = "wrong"
	if n, err := h.Send(ctx, []byte(event)); !errors.As(err, &se) || se.Status != http.StatusUnauthorized || n != 1 {
		t.Errorf("a wrong key: %d attempts, %v; want one, 401", n, err)
	}
	if got := m.Attempts() - before; got != 2 {
		t.Errorf("the server saw %d requests for two final answers", got)
	}
}

func TestHTTPTransportUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now
	h := transport("http://" + addr)
	t0 := time.Now()
	n, err := h.Send(context.Background(), []byte(event))
	if err == nil || n != 4 {
		t.Fatalf("unreachable endpoint: %d attempts, %v; want 4 and an error", n, err)
	}
	// Backoff 5, 10, 20 ms between the attempts.
	if d := time.Since(t0); d < 35*time.Millisecond {
		t.Errorf("four attempts took %s: no backoff between them", d)
	}

	// A cancelled context stops the retries.
	ctx, cancel := context.WithCancel(context.Background())
	h.Backoff = time.Hour
	go func() { time.Sleep(20 * time.Millisecond); cancel() }()
	if n, err := h.Send(ctx, []byte(event)); !errors.Is(err, context.Canceled) || n != 1 {
		t.Errorf("cancelled during the backoff: %d attempts, %v", n, err)
	}
}
