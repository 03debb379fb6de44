// Package faultproxy is a fault-injecting reverse proxy for testing S3
// clients against a local S3-compatible server. It sits between the client
// and the server (point AWS_ENDPOINT_URL_S3 at Proxy.URL) and, by
// configurable rates or schedules, answers requests with 503 SlowDown or
// 500 InternalError, resets the connection before answering or in the
// middle of the response body, delays responses or trickles their bodies.
// It counts every fault it injects and can record every request (method,
// path, query, headers, S3 operation), so a test can check what a client
// sent as well as what it survived.
//
// Decisions are deterministic: whether a request is faulted depends only on
// the seed, the rule, the request's identity (method, key, query without
// uploadId, Range) and how many requests with that identity came before,
// never on timing or on how concurrent requests interleave. (Rules with
// Every use a per-rule counter and are deterministic only for sequential
// clients.)
//
// Bounds: the proxy listens on loopback only and forwards only to a
// loopback target, injects at most Config.MaxFaults faults and faults one
// request identity at most Config.MaxPerRequest times (so a client that
// retries always gets through), caps delays, and streams bodies without
// buffering them.
//
// The proxy keeps the client's Host header, so SigV4 signatures made for
// the proxy's address stay valid at the target. Requests are classified as
// path-style S3 (http://host/bucket/key).
package faultproxy

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"log"
	"math"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Kind is a kind of fault.
type Kind int

// The kinds of fault.
const (
	// SlowDown answers 503 with an S3 <Error><Code>SlowDown</Code> body; the
	// request is not forwarded.
	SlowDown Kind = iota
	// InternalError answers 500 with an S3 InternalError body; the request
	// is not forwarded.
	InternalError
	// ResetBeforeResponse resets the connection (TCP RST) without
	// answering; the request is not forwarded.
	ResetBeforeResponse
	// ResetMidResponse forwards the request, sends the status, headers and
	// part of the body, then resets the connection. Responses with fewer
	// than 2 body bytes are passed through unharmed (and not counted).
	ResetMidResponse
	// Delay holds the request Config.Delay before forwarding it.
	Delay
	// Trickle forwards the request and sends the response body in
	// Config.TrickleChunk pieces, one every Config.TrickleInterval, for at
	// most Config.TrickleFor, then the rest at full speed.
	Trickle

	numKinds
)

// Kinds lists every kind, in order.
var Kinds = []Kind{SlowDown, InternalError, ResetBeforeResponse, ResetMidResponse, Delay, Trickle}

var kindNames = [...]string{"503 SlowDown", "500 InternalError", "reset before response", "reset mid-response", "delay", "slow body"}

func (k Kind) String() string {
	if k < 0 || k >= numKinds {
		return "none"
	}
	return kindNames[k]
}

// None is the Fault of a request that was passed through unharmed.
const None Kind = -1

// Rule injects one kind of fault into the requests it matches.
type Rule struct {
	Kind Kind
	// Rate is the probability, in [0, 1], that a matching request is
	// faulted (decided deterministically from the seed, see the package
	// doc).
	Rate float64
	// Every, when > 0, faults every Every-th matching request instead of
	// using Rate.
	Every int
	// Methods restricts the rule to these HTTP methods; empty: all.
	Methods []string
	// Ops restricts the rule to these S3 operations (see Operation);
	// empty: all.
	Ops []string
	// Max bounds the faults of this rule; 0: only Config.MaxFaults.
	Max int
}

// Config configures a Proxy.
type Config struct {
	// Target is the upstream server's URL, e.g. http://127.0.0.1:7070. Its
	// host must be a loopback address or "localhost".
	Target string
	// Seed makes the decisions reproducible.
	Seed uint64
	// Rules are tried in order; the first one that decides to fault a
	// request wins.
	Rules []Rule
	// MaxFaults bounds the faults injected in total (default 1000).
	MaxFaults int
	// MaxPerRequest bounds how often one request identity is faulted
	// (default 2), so a client retrying the same request gets through.
	MaxPerRequest int
	// Delay is the hold of a Delay fault (default 200 ms, at most 5 s).
	Delay time.Duration
	// TrickleChunk, TrickleInterval and TrickleFor shape a Trickle fault
	// (defaults 1 KiB, 2 ms, 500 ms; TrickleFor at most 5 s).
	TrickleChunk    int
	TrickleInterval time.Duration
	TrickleFor      time.Duration
	// Record keeps every request (see Requests).
	Record bool
}

// Request is one request the proxy received.
type Request struct {
	Op       string // S3 operation, see Operation
	Method   string
	Path     string // URL path: /bucket/key
	RawQuery string
	Header   http.Header // as received (a copy)
	Fault    Kind        // None if passed through unharmed
}

// Stats are the proxy's counters.
type Stats struct {
	Requests int64            // requests received
	Injected map[Kind]int64   // faults injected, by kind
	ByOp     map[string]int64 // faults injected, by S3 operation
}

// Total is the number of faults injected.
func (s Stats) Total() int64 {
	var n int64
	for _, v := range s.Injected {
		n += v
	}
	return n
}

// Proxy is a running fault-injecting proxy. It is safe for concurrent use.
type Proxy struct {
	cfg    Config
	target *url.URL
	ln     net.Listener
	srv    *http.Server
	rp     *httputil.ReverseProxy
	tr     *http.Transport

	requests atomic.Int64
	total    atomic.Int64

	mu       sync.Mutex
	seen     map[string]uint64 // request identity → requests seen
	faulted  map[string]int    // request identity → faults injected
	ruleHits []int             // faults per rule
	ruleSeen []int             // matching requests per rule (for Every)
	injected [numKinds]int64
	byOp     map[string]int64
	log      []Request
}

// Limits.
const (
	maxDelay        = 5 * time.Second
	defaultMaxFault = 1000
)

// Start validates cfg and starts a proxy listening on a free loopback
// port.
func Start(cfg Config) (*Proxy, error) {
	target, err := url.Parse(cfg.Target)
	if err != nil {
		return nil, fmt.Errorf("faultproxy: target %q: %w", cfg.Target, err)
	}
	if target.Scheme != "http" || !isLoopback(target.Hostname()) {
		return nil, fmt.Errorf("faultproxy: target %q: must be http:// on a loopback address", cfg.Target)
	}
	for i, r := range cfg.Rules {
		if r.Kind < 0 || r.Kind >= numKinds {
			return nil, fmt.Errorf("faultproxy: rule %d: unknown kind %d", i, r.Kind)
		}
		if !(r.Rate >= 0 && r.Rate <= 1) || r.Every < 0 || r.Max < 0 {
			return nil, fmt.Errorf("faultproxy: rule %d (%s): rate must be in [0, 1], every and max ≥ 0", i, r.Kind)
		}
	}
	if cfg.MaxFaults <= 0 {
		cfg.MaxFaults = defaultMaxFault
	}
	if cfg.MaxPerRequest <= 0 {
		cfg.MaxPerRequest = 2
	}
	if cfg.Delay <= 0 {
		cfg.Delay = 200 * time.Millisecond
	}
	cfg.Delay = min(cfg.Delay, maxDelay)
	if cfg.TrickleChunk <= 0 {
		cfg.TrickleChunk = 1 << 10
	}
	if cfg.TrickleInterval <= 0 {
		cfg.TrickleInterval = 2 * time.Millisecond
	}
	if cfg.TrickleFor <= 0 {
		cfg.TrickleFor = 500 * time.Millisecond
	}
	cfg.TrickleFor = min(cfg.TrickleFor, maxDelay)

	// Resets are the point, not news: the server and the reverse proxy
	// would log every one of them.
	quiet := log.New(io.Discard, "", 0)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("faultproxy: listen: %w", err)
	}
	p := &Proxy{
		cfg: cfg, target: target, ln: ln,
		seen: map[string]uint64{}, faulted: map[string]int{}, byOp: map[string]int64{},
		ruleHits: make([]int, len(cfg.Rules)), ruleSeen: make([]int, len(cfg.Rules)),
		tr: &http.Transport{
			Proxy:               nil, // never an HTTP_PROXY from the environment
			DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
			MaxIdleConnsPerHost: 64,
			IdleConnTimeout:     30 * time.Second,
		},
	}
	p.rp = &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.Out.URL.Scheme, pr.Out.URL.Host = target.Scheme, target.Host
			pr.Out.Host = pr.In.Host // the client signed this Host
		},
		Transport:     p.tr,
		FlushInterval: -1, // trickled bodies reach the client as they are written
		ErrorLog:      quiet,
	}
	p.srv = &http.Server{Handler: p, ReadHeaderTimeout: 10 * time.Second, ErrorLog: quiet}
	go p.srv.Serve(ln)
	return p, nil
}

// URL is the proxy's base URL, e.g. http://127.0.0.1:41234.
func (p *Proxy) URL() string { return "http://" + p.ln.Addr().String() }

// Close stops the proxy and closes its connections.
func (p *Proxy) Close() error {
	err := p.srv.Close()
	p.tr.CloseIdleConnections()
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

// Stats returns the counters so far.
func (p *Proxy) Stats() Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := Stats{Requests: p.requests.Load(), Injected: map[Kind]int64{}, ByOp: map[string]int64{}}
	for k, n := range p.injected {
		if n > 0 {
			s.Injected[Kind(k)] = n
		}
	}
	for op, n := range p.byOp {
		s.ByOp[op] = n
	}
	return s
}

// Requests returns the requests recorded so far (Config.Record), in
// arrival order.
func (p *Proxy) Requests() []Request {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.log)
}

// ServeHTTP decides a request's fault and applies it.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.requests.Add(1)
	op := Operation(r)
	kind := p.decide(r, op)
	if p.cfg.Record {
		p.mu.Lock()
		p.log = append(p.log, Request{Op: op, Method: r.Method, Path: r.URL.Path, RawQuery: r.URL.RawQuery, Header: r.Header.Clone(), Fault: kind})
		p.mu.Unlock()
	}
	switch kind {
	case SlowDown:
		p.count(kind, op)
		writeS3Error(w, r, http.StatusServiceUnavailable, "SlowDown", "Please reduce your request rate.")
	case InternalError:
		p.count(kind, op)
		writeS3Error(w, r, http.StatusInternalServerError, "InternalError", "We encountered an internal error. Please try again.")
	case ResetBeforeResponse:
		p.count(kind, op)
		reset(w)
	case ResetMidResponse:
		p.resetMidResponse(w, r, op)
	case Delay:
		p.count(kind, op)
		select {
		case <-time.After(p.cfg.Delay):
		case <-r.Context().Done():
			return
		}
		p.rp.ServeHTTP(w, r)
	case Trickle:
		p.count(kind, op)
		p.rp.ServeHTTP(&trickleWriter{ResponseWriter: w, p: p}, r)
	default:
		p.rp.ServeHTTP(w, r)
	}
}

func (p *Proxy) count(k Kind, op string) {
	p.mu.Lock()
	p.injected[k]++
	p.byOp[op]++
	p.mu.Unlock()
}

// identity names a request for the deterministic decisions: method, key
// (the path without its bucket, which tests name uniquely per run), query
// without the (random) uploadId, and Range.
func identity(r *http.Request) string {
	q := r.URL.Query()
	q.Del("uploadId")
	_, key, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	return r.Method + " /" + key + "?" + q.Encode() + " " + r.Header.Get("Range")
}

// decide returns the fault for r, or None.
func (p *Proxy) decide(r *http.Request, op string) Kind {
	id := identity(r)
	p.mu.Lock()
	defer p.mu.Unlock()
	occurrence := p.seen[id]
	p.seen[id]++
	if p.faulted[id] >= p.cfg.MaxPerRequest || int(p.total.Load()) >= p.cfg.MaxFaults {
		return None
	}
	for i, rule := range p.cfg.Rules {
		if !rule.matches(r.Method, op) || (rule.Max > 0 && p.ruleHits[i] >= rule.Max) {
			continue
		}
		p.ruleSeen[i]++
		hit := false
		if rule.Every > 0 {
			hit = p.ruleSeen[i]%rule.Every == 0
		} else {
			hit = uniform(p.cfg.Seed, uint64(i), id, occurrence) < rule.Rate
		}
		if hit {
			p.ruleHits[i]++
			p.faulted[id]++
			p.total.Add(1)
			return rule.Kind
		}
	}
	return None
}

func (r Rule) matches(method, op string) bool {
	return (len(r.Methods) == 0 || slices.Contains(r.Methods, method)) && (len(r.Ops) == 0 || slices.Contains(r.Ops, op))
}

// uniform maps (seed, rule, identity, occurrence) to [0, 1).
func uniform(seed, rule uint64, id string, occurrence uint64) float64 {
	h := fnv.New64a()
	var b [24]byte
	binary.LittleEndian.PutUint64(b[0:], seed)
	binary.LittleEndian.PutUint64(b[8:], rule)
	binary.LittleEndian.PutUint64(b[16:], occurrence)
	h.Write(b[:])
	io.WriteString(h, id)
	return float64(splitmix(h.Sum64())>>11) / (1 << 53)
}

// splitmix is SplitMix64's finaliser: it spreads FNV's weak low bits.
func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// writeS3Error answers like S3 does when it refuses a request.
func writeS3Error(w http.ResponseWriter, r *http.Request, status int, code, msg string) {
	body := fmt.Sprintf(`<?xml version="1.0" encoding="UTF-8"?>`+"\n"+
		`<Error><Code>%s</Code><Message>%s</Message><Resource>%s</Resource><RequestId>faultproxy</RequestId></Error>`,
		code, msg, xmlEscape(r.URL.Path))
	w.Header().Set("Content-Type", "application/xml")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	// The request body is not read; the connection is not reused.
	w.Header().Set("Connection", "close")
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		io.WriteString(w, body)
	}
}

func xmlEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// reset takes the connection over and resets it (RST, not FIN): what a
// client sees when a load balancer or server drops it.
func reset(w http.ResponseWriter) {
	// No Flush here: on a fresh response it would send a 200 header first.
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		// Not hijackable (HTTP/2): abort the handler, which closes the stream.
		panic(http.ErrAbortHandler)
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	conn.Close()
}

// resetMidResponse forwards r, relays the status, headers and a
// deterministic part of the body, then resets the connection.
func (p *Proxy) resetMidResponse(w http.ResponseWriter, r *http.Request, op string) {
	out := r.Clone(r.Context())
	out.RequestURI = ""
	out.URL.Scheme, out.URL.Host = p.target.Scheme, p.target.Host
	out.Host = r.Host
	for _, h := range hopHeaders {
		out.Header.Del(h)
	}
	if r.ContentLength == 0 {
		out.Body = nil
	}
	resp, err := p.tr.RoundTrip(out)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	n := resp.ContentLength
	if n < 2 || r.Method == http.MethodHead {
		// Nothing to cut in the middle of: pass the response through.
		copyHeader(w.Header(), resp.Header)
		w.WriteHeader(resp.StatusCode)
		io.Copy(w, resp.Body)
		return
	}
	// Cut somewhere in (0, n), deterministically from the request.
	cut := 1 + int64(uniform(p.cfg.Seed, math.MaxUint64, identity(r), 0)*float64(n-1))
	copyHeader(w.Header(), resp.Header)
	w.WriteHeader(resp.StatusCode)
	if _, err := io.CopyN(w, resp.Body, cut); err != nil {
		return // the client went away first
	}
	// Hijack drops what is still buffered in the response writer.
	if err := http.NewResponseController(w).Flush(); err != nil {
		return
	}
	p.count(ResetMidResponse, op)
	reset(w)
}

var hopHeaders = []string{"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade"}

func copyHeader(dst, src http.Header) {
	for k, vs := range src {
		if slices.Contains(hopHeaders, http.CanonicalHeaderKey(k)) {
			continue
		}
		dst[k] = append(dst[k], vs...)
	}
}

// trickleWriter sends what it is given in small pieces, slowly, for a
// bounded time.
type trickleWriter struct {
	http.ResponseWriter
	p     *Proxy
	start time.Time
}

func (t *trickleWriter) Write(b []byte) (int, error) {
	if t.start.IsZero() {
		t.start = time.Now()
	}
	rc := http.NewResponseController(t.ResponseWriter)
	written := 0
	for len(b) > 0 && time.Since(t.start) < t.p.cfg.TrickleFor {
		k := min(len(b), t.p.cfg.TrickleChunk)
		n, err := t.ResponseWriter.Write(b[:k])
		written += n
		if err != nil {
			return written, err
		}
		_ = rc.Flush()
		b = b[k:]
		time.Sleep(t.p.cfg.TrickleInterval)
	}
	if len(b) > 0 {
		n, err := t.ResponseWriter.Write(b)
		return written + n, err
	}
	return written, nil
}

// Flush lets the reverse proxy flush through the wrapper.
func (t *trickleWriter) Flush() { _ = http.NewResponseController(t.ResponseWriter).Flush() }

// Unwrap gives http.ResponseController the underlying writer.
func (t *trickleWriter) Unwrap() http.ResponseWriter { return t.ResponseWriter }

// isLoopback reports whether host is a loopback IP or "localhost".
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Operation names the S3 operation of a path-style request
// (/bucket[/key]) from its method, query and headers, e.g. "PutObject",
// "UploadPart", "UploadPartCopy", "CopyObject", "CreateMultipartUpload",
// "CompleteMultipartUpload", "GetObject", "ListObjectsV2", "PutObjectTagging";
// "" when it is none of the operations it knows.
func Operation(r *http.Request) string {
	path := strings.TrimPrefix(r.URL.Path, "/")
	_, key, _ := strings.Cut(path, "/")
	hasKey := key != ""
	q := r.URL.Query()
	has := func(k string) bool { _, ok := q[k]; return ok }
	copySrc := r.Header.Get("X-Amz-Copy-Source") != ""
	// The SDKs name most object operations in the query themselves.
	if id := q.Get("x-id"); id != "" {
		return id
	}
	sub := false // a sub-resource such as ?tagging or ?acl
	for k := range q {
		if k != "uploadId" && k != "partNumber" && k != "uploads" && k != "list-type" && !strings.HasPrefix(k, "x-") {
			sub = true
		}
	}
	if hasKey && has("tagging") {
		// An object's tag set (the lifecycle tags): metadata, not its bytes.
		switch r.Method {
		case http.MethodGet:
			return "GetObjectTagging"
		case http.MethodPut:
			return "PutObjectTagging"
		case http.MethodDelete:
			return "DeleteObjectTagging"
		}
	}
	switch r.Method {
	case http.MethodGet:
		switch {
		case !hasKey && q.Get("list-type") == "2":
			return "ListObjectsV2"
		case !hasKey && has("uploads"):
			return "ListMultipartUploads"
		case hasKey && has("uploadId"):
			return "ListParts"
		case hasKey:
			return "GetObject"
		case has("location"):
			return "GetBucketLocation"
		default:
			return "ListObjects"
		}
	case http.MethodHead:
		if hasKey {
			return "HeadObject"
		}
		return "HeadBucket"
	case http.MethodPut:
		switch {
		case hasKey && has("uploadId") && copySrc:
			return "UploadPartCopy"
		case hasKey && has("uploadId"):
			return "UploadPart"
		case hasKey && copySrc:
			return "CopyObject"
		case hasKey && !sub:
			return "PutObject"
		case !hasKey && !sub:
			return "CreateBucket"
		}
	case http.MethodPost:
		switch {
		case hasKey && has("uploads"):
			return "CreateMultipartUpload"
		case hasKey && has("uploadId"):
			return "CompleteMultipartUpload"
		case !hasKey && has("delete"):
			return "DeleteObjects"
		}
	case http.MethodDelete:
		switch {
		case hasKey && has("uploadId"):
			return "AbortMultipartUpload"
		case hasKey:
			return "DeleteObject"
		case !sub:
			return "DeleteBucket"
		}
	}
	return ""
}
