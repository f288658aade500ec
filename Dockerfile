# Portcullis, built from source in a Go image and shipped FROM scratch: one
# static binary, no shell, no package manager, an unprivileged user, and
# nothing in the image that needs to be written (run it read-only).
#
#   docker build -t portcullis .            (or: make image)
#   docker run --rm --read-only --tmpfs /tmp --cap-drop ALL --security-opt no-new-privileges \
#     -p 8080:8080 -e PORTCULLIS_UPSTREAM=http://api.internal:8080 portcullis
#
# The image serves /etc/portcullis/portcullis.yaml: by default
# examples/waf-only.yaml (the WAF in front of PORTCULLIS_UPSTREAM); mount
# your own config there (-v ./portcullis.yaml:/etc/portcullis/portcullis.yaml:ro).
# Dockerfile.scratch makes the same final image from a binary built on the
# host (make image-scratch) and pulls nothing; deploy/README.md has both.

ARG GO_IMAGE=golang:1.26-bookworm

FROM ${GO_IMAGE} AS build
WORKDIR /src
ENV CGO_ENABLED=0 GOFLAGS=-trimpath
COPY go.mod go.sum ./
RUN ["go", "mod", "download"]
COPY cmd/ cmd/
COPY internal/ internal/
ARG VERSION=dev
ARG COMMIT=unknown
ARG DATE=unknown
RUN ["/bin/sh", "-c", "go build -ldflags \"-s -w -X main.version=${VERSION} -X main.commit=${COMMIT} -X main.date=${DATE}\" -o /out/portcullis ./cmd/portcullis"]

# ---- final stage: keep it the same as Dockerfile.scratch (a test compares them) ----
FROM scratch
ARG VERSION=dev
LABEL org.opencontainers.image.title="Portcullis" \
      org.opencontainers.image.description="API security gateway and API security tester" \
      org.opencontainers.image.source="https://github.com/portcullis/portcullis" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}"
COPY deploy/docker/passwd deploy/docker/group /etc/
COPY examples/waf-only.yaml /etc/portcullis/portcullis.yaml
COPY --from=build /out/portcullis /usr/local/bin/portcullis
# 65532: no user of the host, and not root (Kubernetes runAsNonRoot checks
# the number).
USER 65532:65532
# The root file system can be read-only; the waf stage (OWASP Coraza) needs
# a writable temporary directory for request bodies it buffers: mount a
# tmpfs at /tmp (docker run --tmpfs /tmp; Kubernetes: an emptyDir).
ENV PORTCULLIS_ADDR=0.0.0.0:8080 TMPDIR=/tmp
EXPOSE 8080
# The admin listener stays on loopback inside the container; the probe runs
# there too. Kubernetes probes use the admin port instead (deploy/kubernetes).
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD ["/usr/local/bin/portcullis", "healthcheck", "-c", "/etc/portcullis/portcullis.yaml"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/portcullis"]
CMD ["serve", "-c", "/etc/portcullis/portcullis.yaml"]
