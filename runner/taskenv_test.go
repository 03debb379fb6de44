package runner

import (
	"net/http"
	"net/http/httptest"
	"runtime"
	"testing"

	"github.com/rs/zerolog"

	"github.com/tierflow/tierflow/jobs"
)

// metadataServer answers /task like the ECS task metadata endpoint v4.
func metadataServer(t *testing.T, status int, body string) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v4/abc/task" {
			http.NotFound(w, r)
			return
		}
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/v4/abc"
}

// A trimmed Fargate answer: task-level Limits.CPU is in vCPUs, the
// container's in CPU units.
const fargateTask = `{"Cluster":"arn:aws:ecs:us-east-1:123456789012:cluster/tierflow","TaskARN":"arn:aws:ecs:us-east-1:123456789012:task/tierflow/x",
 "Family":"tierflow-consumer-header","Revision":"3","Limits":{"CPU":4,"Memory":16384},
 "Containers":[{"Name":"tierflow","Limits":{"CPU":4096,"Memory":16384}}],"LaunchType":"FARGATE"}`

func TestSizeWorkers(t *testing.T) {
	env := func(uri string) func(string) string {
		return func(k string) string {
			if k == EnvECSMetadata {
				return uri
			}
			return ""
		}
	}
	for _, c := range []struct {
		name     string
		uri      string
		preset   int
		want     int
		wantFrom string
	}{
		{"fargate 4 vCPU", metadataServer(t, 200, fargateTask), 0, 4, "ecs-task"},
		{"quarter vCPU", metadataServer(t, 200, `{"Limits":{"CPU":0.25,"Memory":512}}`), 0, 1, "ecs-task"},
		{"job says", metadataServer(t, 200, fargateTask), 3, 3, "job"},
		{"outside ECS", "", 0, runtime.NumCPU(), "cpus"},
		{"endpoint fails", metadataServer(t, 500, "boom"), 0, runtime.NumCPU(), "cpus"},
		{"no limits", metadataServer(t, 200, `{"Containers":[]}`), 0, runtime.NumCPU(), "cpus"},
	} {
		spec := &jobs.Spec{Convert: jobs.Convert{Workers: c.preset}}
		n, from := SizeWorkers(t.Context(), spec, env(c.uri), nil, zerolog.Nop())
		if n != c.want || from != c.wantFrom || spec.Convert.Workers != c.want {
			t.Errorf("%s: %d workers from %s (spec %d), want %d from %s", c.name, n, from, spec.Convert.Workers, c.want, c.wantFrom)
		}
	}
	if _, ok, err := TaskCPUs(t.Context(), env(metadataServer(t, 200, "not json")), nil); !ok || err == nil {
		t.Errorf("bad JSON: ok %v err %v", ok, err)
	}
}
