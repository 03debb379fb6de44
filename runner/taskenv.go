package runner

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"runtime"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/tierflow/tierflow/jobs"
)

// EnvECSMetadata is the variable ECS sets in every container (Fargate
// platform 1.4+) to its task metadata endpoint, version 4.
const EnvECSMetadata = "ECS_CONTAINER_METADATA_URI_V4"

// TaskCPUs returns the vCPUs of the ECS task this process runs in, read
// from the task metadata endpoint ($ECS_CONTAINER_METADATA_URI_V4/task,
// Limits.CPU, in vCPUs at the task level). ok is false outside ECS (the
// variable is unset). client may be nil.
func TaskCPUs(ctx context.Context, getenv func(string) string, client *http.Client) (cpus float64, ok bool, err error) {
	base := getenv(EnvECSMetadata)
	if base == "" {
		return 0, false, nil
	}
	if client == nil {
		client = &http.Client{Timeout: 5 * time.Second}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(base, "/")+"/task", nil)
	if err != nil {
		return 0, true, fmt.Errorf("task metadata: %w", err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, true, fmt.Errorf("task metadata: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return 0, true, fmt.Errorf("task metadata: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return 0, true, fmt.Errorf("task metadata: %s: %s", resp.Status, strings.TrimSpace(string(body)))
	}
	var meta struct {
		Limits *struct {
			CPU *float64 `json:"CPU"`
		} `json:"Limits"`
	}
	if err := json.Unmarshal(body, &meta); err != nil {
		return 0, true, fmt.Errorf("task metadata: %w", err)
	}
	if meta.Limits == nil || meta.Limits.CPU == nil || *meta.Limits.CPU <= 0 {
		return 0, true, fmt.Errorf("task metadata has no task-level Limits.CPU")
	}
	return *meta.Limits.CPU, true, nil
}

// SizeWorkers sets spec.Convert.Workers when the job leaves it at 0: the
// task's vCPUs inside ECS (at least 1; a 0.25-vCPU task gets one worker),
// else runtime.NumCPU(). It returns the number and where it came from. A
// metadata endpoint that does not answer is logged and falls back.
func SizeWorkers(ctx context.Context, spec *jobs.Spec, getenv func(string) string, client *http.Client, log zerolog.Logger) (int, string) {
	if spec.Convert.Workers > 0 {
		return spec.Convert.Workers, "job"
	}
	n, from := runtime.NumCPU(), "cpus"
	cpus, inECS, err := TaskCPUs(ctx, getenv, client)
	switch {
	case err != nil:
		log.Warn().Err(err).Int("workers", n).Msg("sizing workers from the machine's CPUs instead of the ECS task's")
	case inECS:
		n, from = max(1, int(math.Floor(cpus))), "ecs-task"
	}
	spec.Convert.Workers = n
	return n, from
}
