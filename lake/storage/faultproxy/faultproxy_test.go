package faultproxy

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// upstream is a loopback server answering every GET with body and counting
// what reaches it.
type upstream struct {
	*httptest.Server
	hits  atomic.Int64
	mu    sync.Mutex
	hosts []string
}

func newUpstream(t *testing.T, body []byte) *upstream {
	u := &upstream{}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.hits.Add(1)
		u.mu.Lock()
		u.hosts = append(u.hosts, r.Host)
		u.mu.Unlock()
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Length", fmt.Sprint(len(body)))
		w.Header().Set("ETag", `"abc"`)
		w.Write(body)
	}))
	t.Cleanup(u.Close)
	return u
}

func start(t *testing.T, cfg Config) *Proxy {
	t.Helper()
	p, err := Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// client never reuses connections, so one reset does not affect the next
// request.
func client() *http.Client {
	return &http.Client{Transport: &http.Transport{DisableKeepAlives: true, Proxy: nil}, Timeout: 10 * time.Second}
}

func get(c *http.Client, url string) (int, []byte, error) {
	resp, err := c.Get(url)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

func TestFaultProxyPassThroughKeepsHost(t *testing.T) {
	body := bytes.Repeat([]byte("x"), 10000)
	up := newUpstream(t, body)
	p := start(t, Config{Target: up.URL, Record: true})
	code, b, err := get(client(), p.URL()+"/bucket/key?x-id=GetObject")
	if err != nil || code != 200 || !bytes.Equal(b, body) {
		t.Fatalf("pass-through: %d, %d bytes, %v", code, len(b), err)
	}
	if got, want := up.hosts[0], strings.TrimPrefix(p.URL(), "http://"); got != want {
		t.Errorf("upstream saw Host %q, want the proxy's %q (signatures cover Host)", got, want)
	}
	reqs := p.Requests()
	if len(reqs) != 1 || reqs[0].Op != "GetObject" || reqs[0].Fault != None || reqs[0].Path != "/bucket/key" {
		t.Errorf("recorded %+v", reqs)
	}
	if s := p.Stats(); s.Total() != 0 || s.Requests != 1 {
		t.Errorf("stats %+v", s)
	}
}

func TestFaultProxyErrorResponses(t *testing.T) {
	up := newUpstream(t, []byte("data"))
	for _, c := range []struct {
		kind Kind
		code int
		s3   string
	}{{SlowDown, 503, "<Code>SlowDown</Code>"}, {InternalError, 500, "<Code>InternalError</Code>"}} {
		t.Run(c.kind.String(), func(t *testing.T) {
			before := up.hits.Load()
			p := start(t, Config{Target: up.URL, Rules: []Rule{{Kind: c.kind, Every: 1, Max: 1}}})
			code, b, err := get(client(), p.URL()+"/b/k")
			if err != nil || code != c.code || !strings.Contains(string(b), c.s3) || !strings.Contains(string(b), "<Error>") {
				t.Fatalf("got %d %q %v, want %d with %s", code, b, err, c.code, c.s3)
			}
			if up.hits.Load() != before {
				t.Error("the faulted request reached the server")
			}
			code, b, err = get(client(), p.URL()+"/b/k")
			if err != nil || code != 200 || string(b) != "data" {
				t.Fatalf("after Max faults: %d %q %v", code, b, err)
			}
			if s := p.Stats(); s.Injected[c.kind] != 1 || s.Total() != 1 || s.ByOp["GetObject"] != 1 {
				t.Errorf("stats %+v", s)
			}
		})
	}
}

func TestFaultProxyResetBeforeResponse(t *testing.T) {
	up := newUpstream(t, []byte("data"))
	p := start(t, Config{Target: up.URL, Rules: []Rule{{Kind: ResetBeforeResponse, Every: 1, Max: 1}}})
	resp, err := client().Get(p.URL() + "/b/k")
	if err == nil {
		resp.Body.Close()
		t.Fatalf("a connection reset before answering gave a response (status %d)", resp.StatusCode)
	}
	if !errors.Is(err, syscall.ECONNRESET) && !errors.Is(err, io.EOF) {
		t.Errorf("error %v, want a connection reset", err)
	}
	if up.hits.Load() != 0 {
		t.Error("the reset request reached the server")
	}
	if s := p.Stats(); s.Injected[ResetBeforeResponse] != 1 {
		t.Errorf("stats %+v", s)
	}
}

func TestFaultProxyResetMidResponse(t *testing.T) {
	body := bytes.Repeat([]byte("0123456789"), 50000) // 500 kB
	up := newUpstream(t, body)
	p := start(t, Config{Target: up.URL, Seed: 3, Rules: []Rule{{Kind: ResetMidResponse, Every: 1, Max: 1}}})
	code, b, err := get(client(), p.URL()+"/b/k")
	if err == nil {
		t.Fatalf("a body cut off mid-way read without error (%d, %d bytes)", code, len(b))
	}
	if code != 200 || len(b) >= len(body) || !bytes.Equal(b, body[:len(b)]) {
		t.Errorf("status %d, %d of %d bytes; want 200 and a true prefix", code, len(b), len(body))
	}
	if up.hits.Load() != 1 {
		t.Errorf("server saw %d requests, want the forwarded 1", up.hits.Load())
	}
	if s := p.Stats(); s.Injected[ResetMidResponse] != 1 {
		t.Errorf("stats %+v", s)
	}
	if _, b, err := get(client(), p.URL()+"/b/k"); err != nil || !bytes.Equal(b, body) {
		t.Errorf("next request: %d bytes, %v", len(b), err)
	}
}

func TestFaultProxyDelayAndTrickle(t *testing.T) {
	body := bytes.Repeat([]byte("z"), 64<<10)
	up := newUpstream(t, body)
	p := start(t, Config{Target: up.URL, Delay: 150 * time.Millisecond, TrickleChunk: 4096, TrickleInterval: 10 * time.Millisecond,
		Rules: []Rule{{Kind: Delay, Every: 1, Max: 1}, {Kind: Trickle, Every: 1, Max: 1}}})
	t0 := time.Now()
	if _, b, err := get(client(), p.URL()+"/b/k"); err != nil || !bytes.Equal(b, body) {
		t.Fatalf("delayed: %d bytes, %v", len(b), err)
	}
	if d := time.Since(t0); d < 150*time.Millisecond {
		t.Errorf("delayed response after %v, want ≥ 150ms", d)
	}
	t0 = time.Now()
	if _, b, err := get(client(), p.URL()+"/b/k"); err != nil || !bytes.Equal(b, body) {
		t.Fatalf("trickled: %d bytes, %v", len(b), err)
	}
	// 16 chunks 10 ms apart.
	if d := time.Since(t0); d < 140*time.Millisecond {
		t.Errorf("trickled 64 KiB in %v, want ≥ 140ms", d)
	}
	if s := p.Stats(); s.Injected[Delay] != 1 || s.Injected[Trickle] != 1 {
		t.Errorf("stats %+v", s)
	}
}

// decisions replays the same request sequence through a fresh proxy.
func decisions(t *testing.T, target string, seed uint64, n int) []Kind {
	p := start(t, Config{Target: target, Seed: seed, Record: true, MaxPerRequest: 100,
		Rules: []Rule{{Kind: SlowDown, Rate: 0.2}, {Kind: InternalError, Rate: 0.1}}})
	c := client()
	for i := range n {
		get(c, fmt.Sprintf("%s/b/k%d", p.URL(), i%50))
	}
	var out []Kind
	for _, r := range p.Requests() {
		out = append(out, r.Fault)
	}
	return out
}

func TestFaultProxyDeterministicAndRate(t *testing.T) {
	up := newUpstream(t, []byte("d"))
	a, b := decisions(t, up.URL, 42, 400), decisions(t, up.URL, 42, 400)
	if fmt.Sprint(a) != fmt.Sprint(b) {
		t.Error("same seed, same requests, different faults")
	}
	if c := decisions(t, up.URL, 43, 400); fmt.Sprint(a) == fmt.Sprint(c) {
		t.Error("another seed gave the same faults")
	}
	count := map[Kind]int{}
	for _, k := range a {
		count[k]++
	}
	// 400 requests: 20% SlowDown, then 10% of the rest InternalError.
	if count[SlowDown] < 50 || count[SlowDown] > 110 || count[InternalError] < 15 || count[InternalError] > 55 {
		t.Errorf("fault counts %v far from the rates", count)
	}
}

func TestFaultProxyBounds(t *testing.T) {
	up := newUpstream(t, []byte("d"))
	p := start(t, Config{Target: up.URL, MaxPerRequest: 3, MaxFaults: 5, Rules: []Rule{{Kind: SlowDown, Rate: 1}}})
	c := client()
	codes := ""
	for range 5 {
		code, _, _ := get(c, p.URL()+"/b/same")
		codes += fmt.Sprint(code, " ")
	}
	if codes != "503 503 503 200 200 " {
		t.Errorf("one request retried: %s, want 3 faults then through", codes)
	}
	for i := range 5 {
		get(c, fmt.Sprintf("%s/b/other%d", p.URL(), i))
	}
	if s := p.Stats(); s.Total() != 5 {
		t.Errorf("%d faults, want MaxFaults 5", s.Total())
	}
	for _, bad := range []string{"http://example.com", "http://10.1.2.3:80", "https://127.0.0.1:1", "::"} {
		if _, err := Start(Config{Target: bad}); err == nil {
			t.Errorf("target %q accepted", bad)
		}
	}
	if _, err := Start(Config{Target: up.URL, Rules: []Rule{{Kind: SlowDown, Rate: 1.5}}}); err == nil {
		t.Error("rate 1.5 accepted")
	}
	if !strings.HasPrefix(p.URL(), "http://127.0.0.1:") {
		t.Errorf("proxy listens at %s, want loopback", p.URL())
	}
}

func TestFaultProxyOperation(t *testing.T) {
	for _, c := range []struct {
		method, url string
		copySrc     bool
		want        string
	}{
		{"GET", "/b/k?x-id=GetObject", false, "GetObject"},
		{"GET", "/b/k", false, "GetObject"},
		{"GET", "/b?list-type=2&prefix=a", false, "ListObjectsV2"},
		{"GET", "/b?uploads&prefix=a", false, "ListMultipartUploads"},
		{"HEAD", "/b/k", false, "HeadObject"},
		{"HEAD", "/b", false, "HeadBucket"},
		{"PUT", "/b/k", false, "PutObject"},
		{"PUT", "/b/k?x-id=PutObject", false, "PutObject"},
		{"PUT", "/b/k?partNumber=2&uploadId=u", false, "UploadPart"},
		{"PUT", "/b/k?partNumber=2&uploadId=u", true, "UploadPartCopy"},
		{"PUT", "/b/k", true, "CopyObject"},
		{"PUT", "/b", false, "CreateBucket"},
		{"PUT", "/b/k?tagging", false, "PutObjectTagging"},
		{"GET", "/b/k?tagging", false, "GetObjectTagging"},
		{"DELETE", "/b/k?tagging", false, "DeleteObjectTagging"},
		{"PUT", "/b/k?acl", false, ""},
		{"POST", "/b/k?uploads", false, "CreateMultipartUpload"},
		{"POST", "/b/k?uploadId=u", false, "CompleteMultipartUpload"},
		{"POST", "/b?delete", false, "DeleteObjects"},
		{"DELETE", "/b/k?uploadId=u", false, "AbortMultipartUpload"},
		{"DELETE", "/b/k", false, "DeleteObject"},
	} {
		r := httptest.NewRequest(c.method, c.url, nil)
		if c.copySrc {
			r.Header.Set("X-Amz-Copy-Source", "b/src")
		}
		if got := Operation(r); got != c.want {
			t.Errorf("%s %s (copy %v): %q, want %q", c.method, c.url, c.copySrc, got, c.want)
		}
	}
}
