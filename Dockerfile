# The tierflow image: one static binary, no cgo, no DuckDB (the noduckdb
# build tag: on AWS derived tables run on Athena), on a non-root base.
# ENTRYPOINT is tierflow, so an ECS container override's command is just
# the subcommand: ["convert", "--job", "consumer-header", "--part", "s3://…"].
#
# Base images are build arguments so the image also builds from local
# images with no registry (see .ci/container.sh):
#   podman build --pull=never --network=none \
#     --build-arg GO_IMAGE=localhost/golang-local:1.26 \
#     --build-arg BASE_IMAGE=localhost/busybox-local:latest \
#     --build-arg GOPROXY=off -v "$(go env GOMODCACHE)":/go/pkg/mod:ro -t tierflow .
ARG GO_IMAGE=golang:1.26-bookworm
ARG BASE_IMAGE=gcr.io/distroless/static-debian12:nonroot

FROM ${GO_IMAGE} AS build
# GOPROXY=off builds from a mounted module cache alone; empty is Go's default.
ARG GOPROXY=
# VERSION names the build in run fingerprints and lineage.
ARG VERSION=dev
ENV CGO_ENABLED=0 GOTOOLCHAIN=local GOPROXY=${GOPROXY} GOMODCACHE=/go/pkg/mod GOFLAGS=-buildvcs=false
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN go build -tags noduckdb -trimpath \
      -ldflags="-s -w -X github.com/tierflow/tierflow/runner.buildVersion=${VERSION}" \
      -o /out/tierflow . \
 && /out/tierflow --help >/dev/null \
 && mkdir -p /out/root/tmp && chmod 1777 /out/root/tmp

FROM ${BASE_IMAGE}
# CA certificates for HTTPS to AWS (distroless has them already; a bare
# local base does not), and a /tmp for the converter's spill files.
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=build /out/root/ /
COPY --from=build /out/tierflow /usr/local/bin/tierflow
ENV PATH=/usr/local/bin:/usr/bin:/bin SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt
USER 65532:65532
WORKDIR /tmp
ENTRYPOINT ["tierflow"]
CMD ["--help"]
