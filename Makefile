# ldapsync — build, test, demo.
#
#   make demo    plan → review → apply → drift against the embedded demo
#                directory (over StartTLS) and the ftrack emulator (needs
#                only Go); make demo DEMO_FLAGS=-keep keeps its work
#                directory
#   make test    every test, against a real OpenLDAP slapd (installed from
#                Debian's packages when missing and we are root)
#   make lint    gofmt, go vet, staticcheck (pinned; installed into
#                bin/tools from the Go module proxy on first use),
#                go mod tidy -diff and actionlint (pinned) on the example
#                GitHub workflows

GO      ?= go
BIN     ?= bin
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)
SLAPD   ?= /usr/sbin/slapd

.PHONY: all build test test-deps demo lint bench clean fuzz

all: build

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN)/ldapsync ./cmd/ldapsync
	$(GO) build -o $(BIN)/ftrack-emulator ./cmd/ftrack-emulator

# test-deps installs OpenLDAP's slapd and ldap-utils when they are missing.
test-deps:
	@if [ -x "$(SLAPD)" ] && command -v ldapsearch >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "installing slapd and ldap-utils (Debian packages) for the LDAP tests"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slapd ldap-utils >/dev/null; \
		echo "stopping the slapd service the package started (the tests run private slapd instances on free ports)"; \
		{ command -v service >/dev/null 2>&1 && service slapd stop >/dev/null 2>&1; } || true; \
	else \
		echo "The LDAP tests need OpenLDAP's slapd and ldap-utils: install them (Debian/Ubuntu: sudo apt-get install slapd ldap-utils) and run make test again." >&2; \
		exit 1; \
	fi

test: test-deps
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 20m ./...
	$(MAKE) fuzz FUZZTIME=$(FUZZTIME_TEST)

# fuzz runs each fuzz target for FUZZTIME (make test runs them briefly):
# the plan contract (what UnmarshalPlan accepts is what its checksum
# covers), configuration loading, mapping evaluation, and the Markdown
# and text renderers (no panic, no control byte, no live link).
FUZZTIME      ?= 60s
# make test gives each target a number of inputs, not seconds: with a
# duration, Go 1.26's fuzz coordinator can report its own deadline as a
# failure ("context deadline exceeded", no failing input) on a busy
# machine (Go issue 75804, fixed in Go 1.27).
FUZZTIME_TEST ?= 1000x
FUZZ_TARGETS  := ./engine:FuzzPlanContract ./engine/config:FuzzLoadConfig ./engine/config:FuzzMappingEval ./engine/config:FuzzMappingCompiled \
	./cmd/ldapsync:FuzzPlanMarkdown ./cmd/ldapsync:FuzzPlanText

fuzz:
	@set -e; for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; name=$${t##*:}; \
		echo "fuzz $$name ($$pkg, $(FUZZTIME))"; \
		out=$$(mktemp); \
		$(GO) test -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) $$pkg >$$out 2>&1 || { cat $$out; rm -f $$out; exit 1; }; \
		rm -f $$out; \
	done

demo: build
	$(GO) run ./cmd/ldapsync-demo -ldapsync $(BIN)/ldapsync $(DEMO_FLAGS)

# lint checks formatting (gofmt, tracked and new files), go vet, staticcheck
# and that go.mod and go.sum are tidy. staticcheck is pinned and installed
# into $(BIN)/tools on first use; bump STATICCHECK_VERSION to upgrade it.
STATICCHECK_VERSION := v0.8.2
STATICCHECK := $(BIN)/tools/staticcheck-$(STATICCHECK_VERSION)/staticcheck

$(STATICCHECK):
	GOBIN=$(abspath $(dir $@)) $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

# actionlint checks the example GitHub Actions workflows (and, when
# shellcheck is on the PATH, their run: scripts). It is pinned and run with
# go run (built once into the Go build cache); bump ACTIONLINT_VERSION to
# upgrade it. cmd/ldapsync's examples test runs the same version.
ACTIONLINT_VERSION   := v1.7.12
ACTIONLINT           := $(GO) run github.com/rhysd/actionlint/cmd/actionlint@$(ACTIONLINT_VERSION)
ACTIONLINT_WORKFLOWS := $(wildcard examples/github-actions/*.yml) examples/drift-monitoring/drift.yml

lint: $(STATICCHECK)
	@files=$$(git ls-files --cached --others --exclude-standard '*.go' | while read -r f; do [ ! -f "$$f" ] || echo "$$f"; done); \
	out=$$(gofmt -l $$files 2>&1); if [ -n "$$out" ]; then echo "gofmt -l (format these, or fix the error):"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(STATICCHECK) ./...
	$(GO) mod tidy -diff
	$(ACTIONLINT) $(ACTIONLINT_WORKFLOWS)

# bench runs the hot-path micro-benchmarks, then the scale benchmark
# (cmd/ldapsync BenchmarkScale: the real binary against a slapadd-loaded
# slapd and the ftrack emulator at 10k and 100k users; a few minutes). It
# prints a table of times, peak RSS and ratios (never pass/fail) and
# writes $(BIN)/bench/results.json. LDAPSYNC_SCALE_N, _RUNS, _APPLY_N,
# _SERIAL=0 and _PROFILE=DIR (pprof of every run) tune it.
bench: build test-deps
	@[ -x /usr/bin/time ] || { [ "$$(id -u)" = 0 ] && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq time >/dev/null; } || echo "GNU time is missing: peak RSS falls back to rusage (overstated)" >&2
	$(GO) test -run '^$$' -bench . -benchmem ./engine/... ./providers/...
	$(GO) test -run '^$$' -bench '^BenchmarkScale$$' -benchtime 1x -timeout 60m ./cmd/ldapsync

clean:
	rm -rf $(BIN)
