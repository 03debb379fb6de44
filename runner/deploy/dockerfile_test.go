package deploy

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// The container image: the Dockerfile's promises, dockerfilelint, and the
// static build it runs. .ci/container.sh builds and runs the image itself
// with podman where that is possible (TIERFLOW_CI_CONTAINER=1).

func readRepoFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestDockerfile(t *testing.T) {
	df := readRepoFile(t, "Dockerfile")
	for _, want := range []string{
		"ARG GO_IMAGE=golang:1.26-bookworm",
		"ARG BASE_IMAGE=gcr.io/distroless/static-debian12:nonroot",
		"FROM ${GO_IMAGE} AS build",
		"FROM ${BASE_IMAGE}",
		"CGO_ENABLED=0",
		"go build -tags noduckdb -trimpath",
		`-ldflags="-s -w`,
		"COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt",
		"COPY --from=build /out/tierflow /usr/local/bin/tierflow",
		"USER 65532:65532",
		`ENTRYPOINT ["tierflow"]`,
	} {
		if !strings.Contains(df, want) {
			t.Errorf("Dockerfile lacks %q", want)
		}
	}
	// .dockerignore must keep what go build embeds.
	ignore := readRepoFile(t, ".dockerignore")
	for _, line := range strings.Split(ignore, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		for _, needed := range []string{"jobs/consumer-header.yaml", "statemachines/monthly.asl.json", "go.mod", "go.sum", "main.go"} {
			if ok, _ := filepath.Match(strings.TrimPrefix(line, "/"), needed); ok || strings.HasPrefix(needed, strings.Trim(line, "/")+"/") {
				t.Errorf(".dockerignore line %q leaves %s out of the build", line, needed)
			}
		}
	}

	dir := os.Getenv("TIERFLOW_TEST_NPM_BIN")
	if dir == "" {
		t.Skip("dockerfilelint: set TIERFLOW_TEST_NPM_BIN (source .ci/tools.sh, as .ci/run does)")
	}
	lint := filepath.Join(dir, "dockerfilelint")
	cmd := exec.Command(lint, "Dockerfile")
	cmd.Dir = "../.." // where .dockerfilelintrc is
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("dockerfilelint: %v\n%s", err, out)
	}
	// It does find problems: a lower-case instruction and a sudo.
	bad := filepath.Join(t.TempDir(), "Dockerfile")
	if err := os.WriteFile(bad, []byte(df+"\nrun sudo apt-get install -y curl\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(lint, bad).CombinedOutput(); err == nil {
		t.Errorf("dockerfilelint accepted sudo apt-get without a clean-up:\n%s", out)
	}
}

// TestStaticBuild builds tierflow the way the Dockerfile does (no cgo, no
// DuckDB) and checks the binary runs and carries no DuckDB.
func TestStaticBuild(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the whole binary")
	}
	bin := filepath.Join(t.TempDir(), "tierflow")
	cmd := exec.Command("go", "build", "-tags", "noduckdb", "-trimpath", "-o", bin, ".")
	cmd.Dir = "../.."
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("CGO_ENABLED=0 go build -tags noduckdb: %v\n%s", err, out)
	}
	out, err := exec.Command("go", "version", "-m", bin).CombinedOutput()
	if err != nil {
		t.Fatal(err)
	}
	if regexp.MustCompile(`(?m)^\s+dep\s+github.com/duckdb/`).Match(out) {
		t.Errorf("the static binary links DuckDB:\n%s", out)
	}
	if !strings.Contains(string(out), "CGO_ENABLED=0") || !strings.Contains(string(out), "-tags=noduckdb") {
		t.Errorf("build settings:\n%s", out)
	}
	if out, err := exec.Command(bin, "--help").CombinedOutput(); err != nil || !strings.Contains(string(out), "convert") {
		t.Errorf("tierflow --help: %v\n%s", err, out)
	}
}
