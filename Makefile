# waooaw — build, test and run. `make help` lists the targets.
GO      ?= go
export PATH := $(PATH):/usr/local/go/bin

MODULE  := github.com/waooaw/waooaw
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo 0.0.0-dev)
COMMIT  ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
LDFLAGS := -s -w -X $(MODULE)/internal/buildinfo.Version=$(VERSION) -X $(MODULE)/internal/buildinfo.Commit=$(COMMIT)
BIN     := bin/waooaw

.PHONY: help run down build test test-race vet bench bench-gateway clean fuzz

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

run: build ## build, bring the stack up (local runtime) and verify it end to end
	$(BIN) up
	$(BIN) verify

down: ## stop the stack (data kept; bin/waooaw down --volumes deletes it)
	$(BIN) down

build: ## build bin/waooaw
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/waooaw

test: vet ## vet, then run every test (needs PostgreSQL server binaries; see README)
	$(GO) test -count=1 ./...

test-race: ## the tests under the race detector
	$(GO) test -count=1 -race ./...

vet: ## gofmt and go vet
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

# Fuzzing: each target runs for FUZZTIME, one after another (-fuzz takes one target per package
# per run). Their seeds, every case of issue 9 included, already run in `make test`.
FUZZTIME    ?= 15s
FUZZFLAGS   ?= -fuzzminimizetime 3s
FUZZTARGETS := internal/token:FuzzFromAuthorizationHeader internal/token:FuzzVerify \
	internal/httpx:FuzzProblem internal/httpx:FuzzDecodeJSON \
	internal/services/gateway:FuzzRoutes internal/services/gateway:FuzzAuditText \
	internal/services/backend:FuzzListQuery internal/services/backend:FuzzCreateBody

fuzz: ## run every fuzz target for FUZZTIME (default 15s) each; a failing input fails it
	@set -e; for t in $(FUZZTARGETS); do \
	  pkg=$${t%%:*}; name=$${t##*:}; \
	  echo "fuzz: $$name in ./$$pkg for $(FUZZTIME)"; \
	  $(GO) test -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) $(FUZZFLAGS) ./$$pkg/; \
	done

bench: ## run the benchmarks (figures in README § Performance)
	$(GO) test -run '^$$' -bench . -benchmem ./...

bench-gateway: ## the gateway's overhead against a bare ReverseProxy (SPEC §10; ~1.5 min)
	$(GO) test -run '^$$' -bench GatewayOverhead -benchtime 1x -count 1 ./internal/services/gateway/

clean: ## remove build output
	rm -rf bin
