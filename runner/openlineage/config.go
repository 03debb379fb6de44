package openlineage

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// The standard environment variables of the OpenLineage clients that
// tierflow reads (the Python client's names and meanings).
const (
	EnvURL       = "OPENLINEAGE_URL"       // the HTTP endpoint's base URL, e.g. http://marquez:5000
	EnvEndpoint  = "OPENLINEAGE_ENDPOINT"  // its path, default api/v1/lineage
	EnvAPIKey    = "OPENLINEAGE_API_KEY"   // sent as "Authorization: Bearer KEY"
	EnvNamespace = "OPENLINEAGE_NAMESPACE" // the job namespace
	EnvDisabled  = "OPENLINEAGE_DISABLED"  // "true": no events at all, not even files
)

// Defaults of Config.
const (
	DefaultEndpoint     = "api/v1/lineage"
	DefaultNamespace    = "tierflow"
	DefaultTimeout      = 5 * time.Second
	DefaultRetries      = 5
	DefaultBackoff      = 300 * time.Millisecond
	DefaultFlushTimeout = 30 * time.Second
	// FilePrefix is where the file transport writes, below the lake root.
	FilePrefix = "_tierflow/openlineage/"
)

// Config says where events go. Files always go to the lake (unless
// Disabled); HTTP only when URL is set.
type Config struct {
	URL      string // base URL of the HTTP endpoint; "" = no HTTP
	Endpoint string // path below URL
	// APIKey is a bearer token. It only ever comes from the environment
	// (OPENLINEAGE_API_KEY), never from a job spec, and is never logged.
	APIKey    string
	Namespace string // job namespace
	Disabled  bool
	// Timeout bounds one HTTP attempt; Retries is how many attempts follow
	// a failed one, the first after Backoff, each next one after twice the
	// wait before; FlushTimeout bounds how long Close waits for events
	// still being sent.
	Timeout      time.Duration
	Retries      int
	Backoff      time.Duration
	FlushTimeout time.Duration
}

// WithEnv returns c with the standard environment variables applied over
// it (a set variable wins over the job spec: it is the deployment's
// setting) and defaults filled in. getenv is os.Getenv, or a map in tests.
func (c Config) WithEnv(getenv func(string) string) (Config, error) {
	for _, v := range []struct {
		name string
		dst  *string
	}{{EnvURL, &c.URL}, {EnvEndpoint, &c.Endpoint}, {EnvAPIKey, &c.APIKey}, {EnvNamespace, &c.Namespace}} {
		if s := strings.TrimSpace(getenv(v.name)); s != "" {
			*v.dst = s
		}
	}
	if s := strings.TrimSpace(getenv(EnvDisabled)); s != "" {
		b, err := strconv.ParseBool(s)
		if err != nil {
			return c, fmt.Errorf("%s=%q: want true or false", EnvDisabled, s)
		}
		c.Disabled = b
	}
	if c.Endpoint == "" {
		c.Endpoint = DefaultEndpoint
	}
	if c.Namespace == "" {
		c.Namespace = DefaultNamespace
	}
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	if c.Retries < 0 {
		c.Retries = 0
	} else if c.Retries == 0 {
		c.Retries = DefaultRetries
	}
	if c.Backoff <= 0 {
		c.Backoff = DefaultBackoff
	}
	if c.FlushTimeout <= 0 {
		c.FlushTimeout = DefaultFlushTimeout
	}
	if c.URL != "" {
		if _, err := c.EndpointURL(); err != nil {
			return c, err
		}
	}
	return c, nil
}

// EndpointURL is where events are POSTed: URL joined with Endpoint.
func (c Config) EndpointURL() (string, error) {
	u, err := url.Parse(c.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("openlineage url %q: want http(s)://host[:port][/path]", redact(c.URL))
	}
	if u.User != nil {
		return "", fmt.Errorf("openlineage url %q: credentials in the URL are refused; set %s", redact(c.URL), EnvAPIKey)
	}
	return strings.TrimRight(u.String(), "/") + "/" + strings.TrimLeft(c.Endpoint, "/"), nil
}

// redact drops the user information of a URL for messages.
func redact(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}
