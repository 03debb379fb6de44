package jobs

import (
	"net/url"

	"gopkg.in/yaml.v3"
)

// OpenLineage is the job's `openlineage:` section: where its runs'
// OpenLineage events go besides the lake's _tierflow/openlineage/ (see
// docs/openlineage.md). The standard OPENLINEAGE_* environment variables
// override it; an API key is only ever read from OPENLINEAGE_API_KEY.
type OpenLineage struct {
	URL       string // HTTP endpoint base, e.g. http://marquez:5000; "" = files only
	Endpoint  string // path below URL; "" = api/v1/lineage
	Namespace string // job namespace; "" = tierflow
}

func (l *loader) decodeOpenLineage(n *yaml.Node, where string) {
	d, o := l.d, &l.spec.OpenLineage
	d.mapping(n, where, []field{
		{"url", func(n *yaml.Node, w string) {
			v, ok := d.str(n, w)
			if !ok {
				return
			}
			u, err := url.Parse(v)
			switch {
			case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
				d.errf(d.line(w), "%s: %q is not an http(s)://host[:port] URL", w, v)
			case u.User != nil:
				d.errf(d.line(w), "%s: credentials do not belong in a job spec; set OPENLINEAGE_API_KEY", w)
			default:
				o.URL = v
			}
		}},
		{"endpoint", d.setStr(&o.Endpoint)},
		{"namespace", d.setStr(&o.Namespace)},
	})
}
