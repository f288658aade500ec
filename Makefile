# Portcullis — build and test.
#
#   make demo    run the demo (no files or services needed)
#   make test    install what the tests need (when missing) and run every test
#   make bench   run bench/run.sh (Portcullis side by side with baselines)

GO      ?= go
PKGS    ?= ./...

.PHONY: all build test deps vet race selftest bench fuzz demo

all: build

build:
	$(GO) build -o bin/portcullis ./cmd/portcullis

demo:
	$(GO) run ./cmd/portcullis demo

deps:
	@scripts/test-deps.sh

vet:
	$(GO) vet $(PKGS)

race:
	$(GO) test -race -count=1 -timeout 20m $(PKGS)

selftest:
	$(GO) run ./cmd/portcullis demo --selftest

test: deps vet race selftest

bench:
	bench/run.sh

# Short fuzzing of every Fuzz target (FUZZTIME per target).
FUZZTIME ?= 10s
fuzz:
	@scripts/fuzz.sh $(FUZZTIME)
