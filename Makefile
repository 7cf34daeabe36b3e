# cis490 build, test and release targets. GNU make.
#
#   make test     gofmt check, go vet, race-enabled tests (what CI runs)
#   make e2e      the full profile of the end-to-end scenarios (load, chaos, cluster, ...)
#   make demo     the operator walk-through
#   make cross    static linux/amd64 and linux/arm64 (Raspberry Pi 5) binaries
#   make bench    cis490 vs the stock client vs the old HTTP design, into docs/benchmarks.md;
#                 BENCH_RUNS=1 BENCH_WORKLOADS=200x100KiB,4x64MiB to shorten
#   make fuzz     every Fuzz target for FUZZTIME (default 10s) each

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c

GO        ?= go
VERSION   ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -X main.version=$(VERSION)
BENCH_RUNS      ?= 3
BENCH_WORKLOADS ?= 1000x100KiB,20x64MiB,2x1GiB,1x4GiB
BENCH_DOC       ?= docs/benchmarks.md
FUZZTIME  ?= 10s
PKGS      ?= ./...

.PHONY: all build test e2e bench demo cross fuzz clean

all: build

build:
	$(GO) build -ldflags '$(LDFLAGS)' -o bin/cis490 ./cmd/cis490

test:
	@unformatted="$$(gofmt -l .)"; \
	if [ -n "$$unformatted" ]; then echo "gofmt -l lists files to format:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet $(PKGS)
	$(GO) test -race -count=1 -timeout 20m $(PKGS)

# The full profile of every e2e scenario (docs/reliability.md); `make test`
# runs their short profile, with -race. Here -race would check only the test
# process (the binaries under test are built without it) and made recording
# the load scenario's episodes take 2m43s (beside the cluster scenario), so
# it is off. E2E_SEED=n replays a seed's episodes and chaos schedule.
e2e:
	CIS490_E2E=full $(if $(E2E_SEED),CIS490_E2E_SEED=$(E2E_SEED)) $(GO) test -count=1 -timeout 60m -v ./e2e/

# One embedded hub; cis490's publisher and receiver, the stock client and
# the old HTTP design (bench/cmd/httpold, never in the cis490 binary) run as
# processes. Needs free space under $TMPDIR of about 3x the largest workload.
bench:
	$(GO) build -o bin/cis490 ./cmd/cis490
	$(GO) build -o bin/httpold ./bench/cmd/httpold
	bin/cis490 bench --http-old bin/httpold --runs '$(BENCH_RUNS)' --workloads '$(BENCH_WORKLOADS)' $(if $(BENCH_DOC),--doc '$(BENCH_DOC)')

demo:
	$(GO) run ./cmd/cis490 demo

cross:
	CGO_ENABLED=0 GOOS=linux GOARCH=amd64 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/cis490-linux-amd64 ./cmd/cis490
	CGO_ENABLED=0 GOOS=linux GOARCH=arm64 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/cis490-linux-arm64 ./cmd/cis490

# go test -list prints a package's Fuzz targets, then "ok <package>".
fuzz:
	@$(GO) test -list '^Fuzz' $(PKGS) \
	| awk '/^Fuzz/ { f[n++] = $$1 } /^ok / { for (i = 0; i < n; i++) print $$2, f[i]; n = 0 }' \
	| while read -r pkg target; do \
		echo "== $$pkg $$target ($(FUZZTIME))"; \
		$(GO) test -run '^$$' -fuzz "^$$target\$$" -fuzztime '$(FUZZTIME)' "$$pkg" </dev/null; \
	done

clean:
	rm -rf bin cis490
