package openlineage

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/tierflow/tierflow/lake/storage"
)

// queueSize bounds the events waiting for the HTTP endpoint; a run emits
// a handful (START, COMPLETE, two per derived table).
const queueSize = 256

// Emitter sends every event to the file transport, synchronously, and to
// the HTTP transport, if configured, in the background and in order, so a
// slow or unreachable endpoint never holds up the run. Neither transport's
// failure is the run's: each is logged as a warning, and an event the
// endpoint did not get is still in its file. Close waits, at most
// Config.FlushTimeout, for the events still being sent.
type Emitter struct {
	cfg      Config
	files    *FileTransport
	http     *HTTPTransport
	endpoint string // for logs (the URL carries no credentials: Config refuses them)
	log      zerolog.Logger

	mu     sync.Mutex
	queue  chan queued // started by the first event for HTTP
	done   chan struct{}
	closed bool
	ctx    context.Context
	cancel context.CancelCauseFunc
}

type queued struct {
	ev   RunEvent
	body []byte
	file string // where its copy is, for the warning if it is not delivered
}

// NewEmitter returns an emitter for cfg (see Config.WithEnv), writing its
// files to st (nil: no files).
func NewEmitter(ctx context.Context, cfg Config, st storage.Storage, log zerolog.Logger) (*Emitter, error) {
	e := &Emitter{cfg: cfg, log: log}
	if cfg.Disabled {
		return e, nil
	}
	if st != nil {
		e.files = &FileTransport{Storage: st, Prefix: FilePrefix}
	}
	if cfg.URL != "" {
		u, err := cfg.EndpointURL()
		if err != nil {
			return nil, err
		}
		e.endpoint = u
		e.http = &HTTPTransport{URL: u, APIKey: cfg.APIKey, Client: &http.Client{}, Timeout: cfg.Timeout, Retries: cfg.Retries, Backoff: cfg.Backoff}
	}
	e.ctx, e.cancel = context.WithCancelCause(context.WithoutCancel(ctx))
	return e, nil
}

// Namespace is the job namespace events are emitted in.
func (e *Emitter) Namespace() string { return e.cfg.Namespace }

// Enabled reports whether events go anywhere.
func (e *Emitter) Enabled() bool { return e != nil && (e.files != nil || e.http != nil) }

// Emit sends ev. It never fails the caller: problems are logged. An
// emitter that is nil or disabled does nothing.
func (e *Emitter) Emit(ctx context.Context, ev RunEvent) {
	if !e.Enabled() {
		return
	}
	log := e.log.With().Str("event", string(ev.EventType)).Str("ol_job", ev.Job.Name).Str("ol_run", ev.Run.RunID).Logger()
	body, err := json.Marshal(ev)
	if err != nil {
		log.Warn().Err(err).Msg("OpenLineage event not emitted: it does not encode")
		return
	}
	var file string
	if e.files != nil {
		// An event about an interrupted run is written all the same.
		key, err := e.files.Write(context.WithoutCancel(ctx), ev, body)
		if err != nil {
			log.Warn().Err(err).Msg("OpenLineage event not written to the lake")
		} else {
			file = e.files.Storage.ObjectURI(key)
		}
	}
	if e.http != nil {
		e.enqueue(queued{ev: ev, body: body, file: file}, log)
	}
}

func (e *Emitter) enqueue(q queued, log zerolog.Logger) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		log.Warn().Str("endpoint", e.endpoint).Str("copy", q.file).Msg("OpenLineage event not sent: the emitter is closed")
		return
	}
	if e.queue == nil {
		e.queue, e.done = make(chan queued, queueSize), make(chan struct{})
		go e.send()
	}
	select {
	case e.queue <- q:
	default:
		log.Warn().Str("endpoint", e.endpoint).Str("copy", q.file).Msg("OpenLineage event not sent: too many events waiting for the endpoint")
	}
}

// send delivers queued events in order until the queue is closed.
func (e *Emitter) send() {
	defer close(e.done)
	for q := range e.queue {
		t0 := time.Now()
		n, err := e.http.Send(e.ctx, q.body)
		log := e.log.With().Str("event", string(q.ev.EventType)).Str("ol_job", q.ev.Job.Name).Str("ol_run", q.ev.Run.RunID).
			Str("endpoint", e.endpoint).Int("attempts", n).Float64("wall_s", time.Since(t0).Seconds()).Logger()
		if err != nil {
			ev := log.Warn().Err(err)
			if q.file != "" {
				ev = ev.Str("copy", q.file)
			}
			ev.Msg("OpenLineage endpoint did not take the event; the run is not affected (the lake keeps its copy)")
			continue
		}
		log.Debug().Msg("OpenLineage event sent")
	}
}

// errFlushTimeout stops the sender when Close has waited long enough.
var errFlushTimeout = errors.New("openlineage: flush timeout")

// Close waits for the events still being sent, at most
// Config.FlushTimeout; those left are logged as not delivered (their
// files remain). Emit after Close writes files only.
func (e *Emitter) Close() {
	if e == nil {
		return
	}
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return
	}
	e.closed = true
	q, done := e.queue, e.done
	e.mu.Unlock()
	if q == nil {
		if e.cancel != nil {
			e.cancel(nil)
		}
		return
	}
	close(q)
	timer := time.NewTimer(e.cfg.FlushTimeout)
	defer timer.Stop()
	select {
	case <-done:
	case <-timer.C:
		e.log.Warn().Str("endpoint", e.endpoint).Int("waiting", len(q)).Float64("flush_timeout_s", e.cfg.FlushTimeout.Seconds()).
			Msg("OpenLineage endpoint too slow: giving up on the events still being sent (the lake keeps their copies)")
		e.cancel(errFlushTimeout)
		<-done
	}
	e.cancel(nil)
}
