package openlineage

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"
)

// HTTPTransport POSTs events to an OpenLineage HTTP endpoint, such as
// Marquez's POST /api/v1/lineage (which answers 201 Created), retrying
// what may succeed later: connection errors, timeouts, 408, 429 and 5xx.
// Any other answer (400, 401, 422, …) fails at once: sending the same
// body again would get the same answer.
type HTTPTransport struct {
	URL    string // the endpoint, Config.EndpointURL
	APIKey string
	Client *http.Client
	// Timeout bounds each attempt; Retries attempts follow a failed one,
	// after Backoff, 2×Backoff, 4×Backoff, … (or the server's
	// Retry-After, when it is longer, up to 30 s).
	Timeout time.Duration
	Retries int
	Backoff time.Duration
}

// maxRetryAfter bounds the wait a server may ask for.
const maxRetryAfter = 30 * time.Second

// StatusError is an answer other than 2xx.
type StatusError struct {
	Status int
	Body   string // the start of the answer, for the log
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("HTTP %d: %s", e.Status, e.Body)
}

// retryable says whether an answer may change if asked again.
func (e *StatusError) retryable() bool {
	return e.Status == http.StatusRequestTimeout || e.Status == http.StatusTooManyRequests || e.Status >= 500
}

// Send posts body, retrying as the type says; it returns the last error
// and how many attempts were made.
func (h *HTTPTransport) Send(ctx context.Context, body []byte) (attempts int, err error) {
	wait := h.Backoff
	for {
		attempts++
		var after time.Duration
		after, err = h.post(ctx, body)
		if err == nil {
			return attempts, nil
		}
		var se *StatusError
		if errors.As(err, &se) && !se.retryable() || attempts > h.Retries || ctx.Err() != nil {
			return attempts, err
		}
		d := max(wait, min(after, maxRetryAfter))
		select {
		case <-ctx.Done():
			return attempts, fmt.Errorf("%w (then: %w)", err, context.Cause(ctx))
		case <-time.After(d):
		}
		wait *= 2
	}
}

// post makes one attempt; after is the server's Retry-After, if any.
func (h *HTTPTransport) post(ctx context.Context, body []byte) (after time.Duration, err error) {
	if h.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, h.Timeout)
		defer cancel()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.URL, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	if h.APIKey != "" {
		req.Header.Set("Authorization", "Bearer "+h.APIKey)
	}
	client := h.Client
	if client == nil {
		client = &http.Client{}
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20)) // let the connection be reused
	if resp.StatusCode/100 == 2 {
		return 0, nil
	}
	if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s > 0 {
		after = time.Duration(s) * time.Second
	}
	return after, &StatusError{Status: resp.StatusCode, Body: string(bytes.TrimSpace(snippet))}
}
