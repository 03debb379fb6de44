#!/usr/bin/env bash
# .ci/container.sh: builds the tierflow image from the Dockerfile with
# podman, offline (no registry is reachable here: the base images are made
# locally), then runs it once on a small generated part. .ci/run calls it
# when TIERFLOW_CI_CONTAINER=1 (it costs a few minutes); by hand:
#
#   bash .ci/container.sh            # WORK defaults to .ci-work
#
# Local images (kept between runs, rebuilt when missing):
#   localhost/golang-local:<go version>  busybox + this machine's /usr/local/go
#                                         + CA certificates (the build stage)
#   scratch                               the final stage's base here, in place
#                                         of distroless/static (which is scratch
#                                         + CA certificates + /tmp + passwd; the
#                                         Dockerfile adds the first two itself)
# podman runs with runc and .ci/containers.conf (crun cannot run here).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
WORK=${WORK:-${TIERFLOW_CI_WORK:-$ROOT/.ci-work}}
mkdir -p "$WORK/logs"
export CONTAINERS_CONF=$ROOT/.ci/containers.conf
IMAGE=localhost/tierflow:ci
# The build context (default: this checkout).
CONTEXT=${TIERFLOW_CONTAINER_CONTEXT:-$ROOT}
log=$WORK/logs/container.log
: >"$log"

step() { printf '== container: %s\n' "$*"; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f s", b - a }'; }

t0=$(now)
if ! command -v podman >/dev/null || ! command -v runc >/dev/null || ! command -v busybox >/dev/null; then
  step "installing podman, runc, busybox-static (apt)"
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq podman runc busybox-static; } >>"$log" 2>&1
fi
step "podman $(podman --version | awk '{print $3}') with $(runc --version | head -1) ($(since "$t0"))"

GOVERSION=$(go env GOVERSION)
GO_IMAGE=localhost/golang-local:${GOVERSION#go}
if ! podman image exists "$GO_IMAGE"; then
  t=$(now)
  step "making $GO_IMAGE from busybox and $(go env GOROOT)"
  rootfs=$(mktemp -d "$WORK/golang-rootfs.XXXXXX")
  mkdir -p "$rootfs/bin" "$rootfs/tmp" "$rootfs/etc/ssl/certs" "$rootfs/root"
  chmod 1777 "$rootfs/tmp"
  cp "$(command -v busybox)" "$rootfs/bin/busybox"
  for a in $(busybox --list); do [ -e "$rootfs/bin/$a" ] || ln -s busybox "$rootfs/bin/$a"; done
  cp /etc/ssl/certs/ca-certificates.crt "$rootfs/etc/ssl/certs/"
  goroot=$(go env GOROOT)
  tar -C "$rootfs" -cf - . -C / "${goroot#/}" |
    podman import --change "ENV PATH=$goroot/bin:/bin" --change "ENV GOCACHE=/gocache" \
      --change "ENV HOME=/root" - "$GO_IMAGE" >>"$log" 2>&1
  rm -rf "$rootfs"
  step "made $GO_IMAGE ($(since "$t"))"
fi

t=$(now)
# The image builds offline from this machine's module cache, mounted
# read-only: fill it first with every module go.mod names (go test only
# fetches what the tests import; the image's go mod download wants all).
step "filling the module cache for the offline build (go mod download)"
go mod download >>"$log" 2>&1 || { tail -20 "$log"; echo "container: go mod download failed; see $log" >&2; exit 1; }
step "module cache ready ($(since "$t"))"

t=$(now)
step "building $IMAGE (offline: --pull=never --network=none, module cache mounted read-only)"
mkdir -p "$WORK/container-gocache"
podman build --pull=never --network=none \
  --build-arg GO_IMAGE="$GO_IMAGE" --build-arg BASE_IMAGE=scratch --build-arg GOPROXY=off \
  --build-arg VERSION="$(git -C "$CONTEXT" rev-parse --short=12 HEAD 2>/dev/null || echo dev)" \
  -v "$(go env GOMODCACHE)":/go/pkg/mod:ro -v "$WORK/container-gocache":/gocache \
  -f "$ROOT/Dockerfile" -t "$IMAGE" "$CONTEXT" >>"$log" 2>&1 || { tail -30 "$log"; echo "container: build failed; see $log" >&2; exit 1; }
size=$(podman image inspect "$IMAGE" --format '{{.Size}}')
step "built $IMAGE: $((size / 1024 / 1024)) MiB ($(since "$t"))"

user=$(podman image inspect "$IMAGE" --format '{{.Config.User}}')
entry=$(podman image inspect "$IMAGE" --format '{{json .Config.Entrypoint}}')
if [ "$user" != "65532:65532" ] || [ "$entry" != '["tierflow"]' ]; then
  echo "container: image runs as '$user' with entrypoint $entry; want 65532:65532 and [\"tierflow\"]" >&2
  exit 1
fi

data=$(mktemp -d "$WORK/container-data.XXXXXX")
trap 'rm -rf "$data"' EXIT
chmod 0777 "$data" # the container's user (65532) writes here

t=$(now)
step "generating a small part inside the image (tierflow gen)"
podman run --rm --network=none -v "$data":/data "$IMAGE" \
  gen --job consumer-header --month 2020-03 --rows 20000 --parts 1 --lake file:///data/lake >>"$log" 2>&1 ||
  { tail -20 "$log"; echo "container: gen failed" >&2; exit 1; }
part=$(cd "$data/lake" && find intake -name '*.csv.gz' | head -1)
[ -n "$part" ] || { echo "container: gen wrote no part" >&2; exit 1; }
step "generated $part, $(stat -c %s "$data/lake/$part") bytes ($(since "$t"))"

t=$(now)
# The shipped job with a 64 MiB budget, so the converter spills runs to the
# image's /tmp as it does on Fargate.
mkdir -p "$data/job"
cp jobs/consumer-header.yaml jobs/consumer-header.schema.yaml jobs/consumer-header.header.csv "$data/job/"
sed -i 's/memory_mb: 1024/memory_mb: 64/; s/row_group_mb: 128/row_group_mb: 16/' "$data/job/consumer-header.yaml"
step "converting it (tierflow convert with a 64 MiB budget, JSON logs on stderr)"
podman run --rm --network=none -v "$data":/data "$IMAGE" \
  convert --job /data/job/consumer-header.yaml --part "file:///data/lake/$part" --out file:///data/out \
  >"$WORK/logs/container-convert.out" 2>"$WORK/logs/container-convert.err" ||
  { cat "$WORK/logs/container-convert.err"; echo "container: convert failed" >&2; exit 1; }
files=$(find "$data/out" -name '*.parquet' | wc -l)
manifests=$(find "$data/out" -name '*manifest*.json' | wc -l)
if [ "$files" -eq 0 ] || [ "$manifests" -eq 0 ]; then
  echo "container: convert wrote $files Parquet files and $manifests manifests" >&2
  find "$data/out" | head >&2
  exit 1
fi
runs=$(sed -n 's/.*"spilled_runs": *\([0-9]*\).*/\1/p' "$WORK/logs/container-convert.out" | head -1)
if [ "${runs:-0}" -eq 0 ]; then
  echo "container: the converter spilled no runs (want some with a 64 MiB budget)" >&2
  exit 1
fi
if ! head -1 "$WORK/logs/container-convert.err" | grep -q '^{'; then
  echo "container: the converter's log is not JSON lines:" >&2
  head -3 "$WORK/logs/container-convert.err" >&2
  exit 1
fi
step "converted into $files Parquet files and $manifests manifest, spilling $runs runs ($(since "$t")); logs are JSON lines"
step "done in $(since "$t0")"
