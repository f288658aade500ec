# Portcullis — build and test.
#
#   make build          bin/portcullis: static, stripped, -trimpath, version-stamped
#   make install        the same binary into $(go env GOPATH)/bin
#   make demo           run the demo (no files or services needed)
#   make test           install what the tests need (when missing) and run every test
#   make deploy-check   check the packaging: systemd unit, Kubernetes manifests, Dockerfiles
#   make image          docker build (multi-stage; needs a Docker daemon and the golang image)
#   make image-scratch  docker build -f Dockerfile.scratch (pulls no image)
#   make bench          run bench/run.sh (Portcullis side by side with baselines)

GO      ?= go
PKGS    ?= ./...
DOCKER  ?= docker
IMAGE   ?= portcullis:$(VERSION)

# Version stamps for `portcullis version`. Without a v* tag the version is
# the next release's, marked -dev; the commit carries -dirty when the
# working tree has uncommitted changes.
VERSION ?= $(shell git describe --tags --match 'v[0-9]*' --dirty 2>/dev/null || echo v0.1.0-dev)
COMMIT  ?= $(shell git rev-parse HEAD 2>/dev/null)$(shell git diff --quiet HEAD -- 2>/dev/null || echo -dirty)
DATE    ?= $(shell date -u +%Y-%m-%dT%H:%M:%SZ)
LDFLAGS := -s -w -X main.version=$(VERSION) -X main.commit=$(COMMIT) -X main.date=$(DATE)
# CGO_ENABLED=0: a static binary that runs on any Linux, FROM scratch included.
BUILD   := CGO_ENABLED=0 $(GO) build -trimpath -ldflags "$(LDFLAGS)"

.PHONY: all build install test deps vet race selftest bench fuzz demo deploy-check image image-scratch

all: build

build:
	@echo "building bin/portcullis $(VERSION) (about 2 minutes on a cold cache)"
	$(BUILD) -o bin/portcullis ./cmd/portcullis

install:
	CGO_ENABLED=0 $(GO) install -trimpath -ldflags "$(LDFLAGS)" ./cmd/portcullis

demo: build
	bin/portcullis demo

deps:
	@scripts/test-deps.sh

vet:
	$(GO) vet $(PKGS)

race:
	$(GO) test -race -count=1 -timeout 20m $(PKGS)

selftest: build
	bin/portcullis demo --selftest

test: deps vet race selftest

deploy-check: deps
	$(GO) test -count=1 -v -run . ./deploy/...

image:
	$(DOCKER) build --build-arg VERSION=$(VERSION) --build-arg COMMIT=$(COMMIT) --build-arg DATE=$(DATE) -t $(IMAGE) .

# The scratch image copies a binary built here, so the build pulls nothing.
image-scratch: build
	$(DOCKER) build -f Dockerfile.scratch -t $(IMAGE)-scratch .

bench:
	bench/run.sh

# Short fuzzing of every Fuzz target (FUZZTIME per target).
FUZZTIME ?= 10s
fuzz:
	@scripts/fuzz.sh $(FUZZTIME)
