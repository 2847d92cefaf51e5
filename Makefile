# vmfleet developer targets. `make test` is the one test command (CI runs it).
GO ?= go
STATICCHECK_VERSION ?= v0.8.2
GOBIN ?= $(shell $(GO) env GOPATH)/bin
# The real buildkite-agent the end-to-end tests run (e2e TestRealBuildkiteAgent*),
# built from tools/go.mod, which pins its version; rebuilt when that changes.
BUILDKITE_AGENT ?= bin/buildkite-agent

.PHONY: test lint unit fuzz demo build tools buildkite-agent release

# The build's identity (internal/buildinfo, `vmfleet version`, vmfleet_build_info): the tag from
# git (or the short commit before the first tag), the commit, the commit's time (UTC, so a rebuild
# of one commit is identical) and whether tracked files have uncommitted changes. Outside a git
# checkout they stay empty and the binary falls back to what Go recorded.
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null)
COMMIT ?= $(shell git rev-parse HEAD 2>/dev/null)
DATE ?= $(shell TZ=UTC git log -1 --format=%cd --date=format-local:%Y-%m-%dT%H:%M:%SZ 2>/dev/null)
DIRTY ?= $(shell git rev-parse HEAD >/dev/null 2>&1 && { test -z "$$(git status --porcelain --untracked-files=no)" && echo false || echo true; })
BUILDINFO := github.com/vmfleet/vmfleet/internal/buildinfo
VERSION_LDFLAGS = -X $(BUILDINFO).version=$(VERSION) -X $(BUILDINFO).commit=$(COMMIT) -X $(BUILDINFO).date=$(DATE) -X $(BUILDINFO).dirty=$(DIRTY)
BIN ?= bin/vmfleet

test: lint unit fuzz demo

tools:
	@test -x $(GOBIN)/staticcheck || $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

lint: tools
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GOBIN)/staticcheck ./...

buildkite-agent: $(BUILDKITE_AGENT)

$(BUILDKITE_AGENT): tools/go.mod tools/go.sum
	$(GO) -C tools build -o $(abspath $(BUILDKITE_AGENT)) github.com/buildkite/agent/v3

unit: $(BUILDKITE_AGENT)
	VMFLEET_TEST_BUILDKITE_AGENT=$(abspath $(BUILDKITE_AGENT)) $(GO) test -race -count=1 -timeout 20m ./...

# Each fuzz target runs briefly: enough to catch a regression, not a search. The budget is a
# count of executions, not a duration: a duration races the Go fuzz coordinator's deadline and can
# fail with a bare "context deadline exceeded" and no failing input (go.dev/issue/75804).
FUZZTIME ?= 20000x
fuzz:
	@set -e; for f in $$(grep -l '^func Fuzz' $$(git ls-files '*_test.go')); do \
		dir=./$$(dirname $$f); \
		for fz in $$(grep -o '^func Fuzz[A-Za-z0-9_]*' $$f | cut -d' ' -f2); do \
			echo "fuzz $$dir $$fz ($(FUZZTIME))"; \
			$(GO) test -run '^$$' -fuzz "^$$fz$$" -fuzztime $(FUZZTIME) $$dir; \
		done; \
	done

demo:
	@if [ -d cmd/vmfleet ] && $(GO) run ./cmd/vmfleet demo --help >/dev/null 2>&1; then \
		$(GO) run ./cmd/vmfleet demo --exit-when-converged --log-format json >/dev/null; fi

build:
	$(GO) build -ldflags "$(VERSION_LDFLAGS)" -o $(BIN) ./cmd/vmfleet

# Release binaries: vmfleet-<os>-<arch> for each platform in dist/ (static: no cgo; -trimpath, so
# no local paths; stripped), and dist/SHA256SUMS. `make release PLATFORMS=darwin/arm64` builds one.
PLATFORMS ?= darwin/arm64 darwin/amd64 linux/amd64 linux/arm64
DIST ?= dist
release:
	@VERSION="$(VERSION)" LDFLAGS="-s -w $(VERSION_LDFLAGS)" GO="$(GO)" ./packaging/release.sh "$(DIST)" $(PLATFORMS)
