# The test run shares one private PostgreSQL cluster (tools/withpg) unless
# AUDITGRAPH_TEST_DATABASE_URL names a server already.
GO ?= go

.PHONY: build test race staticcheck generate check-generated vet fmt-check bench bench-browser screenshots

# build writes ./auditgraph with its version (auditgraph version) set to
# `git describe`: the tag of a tagged commit (v1.2.3), else the tag and
# commits since, or the commit; "-dirty" with uncommitted changes.
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo devel)

build:
	$(GO) build -ldflags "-X main.version=$(VERSION)" -o auditgraph ./cmd/auditgraph

test:
ifdef AUDITGRAPH_TEST_DATABASE_URL
	$(GO) test -count=1 ./...
else
	$(GO) run ./tools/withpg $(GO) test -count=1 ./...
endif

# race runs the suite under the race detector (it needs cgo: gcc).
race:
ifdef AUDITGRAPH_TEST_DATABASE_URL
	$(GO) test -race -count=1 ./...
else
	$(GO) run ./tools/withpg $(GO) test -race -count=1 ./...
endif

# staticcheck is pinned in go.mod as a tool, like gqlgen.
staticcheck:
	$(GO) tool staticcheck ./...

generate:
	$(GO) run ./tools/gqlgen

# check-generated fails when graph/ or the resolver stubs are stale.
check-generated: generate
	git diff --exit-code -- graph resolvers

vet:
	$(GO) vet ./...

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' | grep -v '^graph/')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

# bench measures auditgraph against plain PostgreSQL baselines on a throwaway
# cluster and writes bench/RESULTS.md; BENCH_FLAGS=-quick for a smoke run.
bench:
	$(GO) run ./tools/withpg $(GO) run ./bench $(BENCH_FLAGS)
	$(MAKE) bench-browser

# bench-browser times the dashboard in Chromium on a 10,000-member
# organization: navigation to the first table rows and to both Activity
# plots drawn, against the page's own GraphQL requests alone, and the bytes
# of a cold and a warm page load; and the Audit log on a 1,000,000-event
# organization: first rows drawn against its GraphQL requests alone, and the
# JS heap after 1,000 and 10,000 events scrolled.
bench-browser:
	$(GO) run ./tools/withpg $(GO) test -count=1 -run '^$$' -bench PageLoad -benchtime 5x -timeout 30m ./internal/platform/dashboard/browsertest/

# screenshots runs the dashboard's browser tests in Chromium and writes the
# pages' screenshots to docs/screenshots/*.png (committed; the README shows them).
screenshots:
ifdef AUDITGRAPH_TEST_DATABASE_URL
	SCREENSHOTS=1 $(GO) test -count=1 ./internal/platform/dashboard/browsertest/
else
	SCREENSHOTS=1 $(GO) run ./tools/withpg $(GO) test -count=1 ./internal/platform/dashboard/browsertest/
endif
