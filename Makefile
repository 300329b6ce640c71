# parallax: `make run` runs the host on examples/config.hcl, `make test`
# runs every test. Both build what they need first.

GO        ?= go
BIN       := bin
PLUGINS   := $(BIN)/plugins
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
MODULES   := ./sdk/... ./sdk/agent/... ./sdk/agent/registry/registrytest/... ./host/... ./plugins/runtime-local/... ./plugins/runtime-docker/... ./plugins/runtime-kubernetes/... ./test/kube/... ./examples/... ./examples/runtime-skeleton/...
# The test binaries' builds are cached here between runs on one machine.
export GOFLAGS ?= -buildvcs=false

.PHONY: all build run test agent-clis-latest bench lint fmt proto fuzz images clean kube-tools

all: build

build:
	$(GO) build -ldflags "-X main.version=$(VERSION)" -o $(BIN)/parallax-host ./host/cmd/parallax-host
	$(GO) build -o $(PLUGINS)/parallax-runtime-local ./plugins/runtime-local
	$(GO) build -o $(PLUGINS)/parallax-runtime-docker ./plugins/runtime-docker
	$(GO) build -o $(PLUGINS)/parallax-runtime-kubernetes ./plugins/runtime-kubernetes

run: build
	$(BIN)/parallax-host run examples/config.hcl

# Unit tests, the conformance suite against runtime-local and runtime-docker
# as real plugins, and the end-to-end tests that drive the built binaries and
# the real agent CLIs (pinned in test/agent-clis, cached outside the repo)
# over REST. test/docker/setup.sh installs and starts a Docker engine if
# there is none, and builds the runtime-docker test image; test/browser/setup.sh
# installs Debian's chromium for the browser test; test/kube/setup.sh
# builds kube-apiserver, kube-scheduler and kwok for the runtime-kubernetes
# tests once per machine (about 10 minutes cold on 2 cores, then cached).
test: build lint
	sh test/docker/setup.sh
	sh test/browser/setup.sh
	sh test/kube/setup.sh >/dev/null
	PARALLAX_AGENT_CLIS="$$(sh test/agent-clis/install.sh)" && export PARALLAX_AGENT_CLIS && \
	$(GO) test -race -count=1 -timeout 20m $(MODULES)
	# The parsers of what callers send: REST bodies and terminal frames.
	cd host && $(GO) test -run '^$$' -fuzz '^FuzzRequestBodies$$' -fuzztime 30s ./internal/api/
	cd host && $(GO) test -run '^$$' -fuzz '^FuzzTerminalFrame$$' -fuzztime 30s ./internal/api/

# Tries the latest agent CLIs against the detectors and reports what broke.
agent-clis-latest: build
	PARALLAX_AGENT_CLIS="$$(sh test/agent-clis/latest.sh)" && export PARALLAX_AGENT_CLIS && \
	$(GO) test -count=1 -run 'RealCLI' -v ./host/... 2>&1 | tee /tmp/parallax-agent-clis-latest.log | grep -E '^(=== RUN|--- (PASS|FAIL)|ok|FAIL)'

bench: build
	PARALLAX_AGENT_CLIS="$$(sh test/agent-clis/install.sh)" && export PARALLAX_AGENT_CLIS && \
	PARALLAX_CLAUDE_PREVIOUS="$$(sh test/agent-clis/install.sh test/agent-clis/previous)" && export PARALLAX_CLAUDE_PREVIOUS && \
	$(GO) test -run '^$$' -bench . -benchtime 1x -count 1 ./host/e2e/ && \
	$(GO) test -run '^$$' -bench . -benchtime 2x -count 1 ./host/internal/session/ ./host/internal/screen/ ./host/internal/api/
	$(GO) test -run '^$$' -bench . -benchmem -count 1 ./host/internal/store/
	sh test/docker/setup.sh
	$(GO) test -run '^$$' -bench . -benchtime 1x -count 1 ./plugins/runtime-docker/docker/

lint:
	$(GO) vet $(MODULES)
	@out=$$(gofmt -l sdk host plugins examples test); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

fmt:
	gofmt -w sdk host plugins examples test

# Regenerates the gRPC code under sdk/internal/proto (committed).
proto:
	@command -v protoc >/dev/null || { apt-get update -qq && apt-get install -y -qq protobuf-compiler; }
	sh sdk/internal/proto/generate.sh

# Builds the Kubernetes binaries the runtime-kubernetes tests run against
# (kube-apiserver, kube-scheduler, kwok; pinned in test/kube/tools) into a
# cache outside the repo. The tests run it too; a cold build takes about 10
# minutes on two cores.
kube-tools:
	sh test/kube/setup.sh

# A short run of every fuzzer; FUZZTIME=5m for a longer one.
FUZZTIME ?= 30s
fuzz:
	cd host && $(GO) test -run '^$$' -fuzz FuzzLoad -fuzztime $(FUZZTIME) ./internal/config/
	cd host && $(GO) test -run '^$$' -fuzz FuzzRequestBodies -fuzztime $(FUZZTIME) ./internal/api/
	cd host && $(GO) test -run '^$$' -fuzz FuzzTerminalFrame -fuzztime $(FUZZTIME) ./internal/api/
	cd host && $(GO) test -run '^$$' -fuzz FuzzSpawnRequest -fuzztime $(FUZZTIME) ./internal/agents/
	cd host && $(GO) test -run '^$$' -fuzz FuzzPlainText -fuzztime $(FUZZTIME) ./internal/agents/
	cd host && $(GO) test -run '^$$' -fuzz FuzzWrite -fuzztime $(FUZZTIME) ./internal/screen/
	cd host && $(GO) test -run '^$$' -fuzz FuzzParseLocalAgents -fuzztime $(FUZZTIME) ./internal/catalog/

# The agent images runtime-docker runs by default (see
# plugins/runtime-docker/images/README.md). They install the CLIs from npm
# and PyPI, so this needs the internet.
IMAGE_PREFIX ?= parallax
AGENT_IMAGES := claude codex gemini aider
images:
	docker build -t $(IMAGE_PREFIX)/agent-base:latest plugins/runtime-docker/images/agent-base
	for a in $(AGENT_IMAGES); do \
		docker build --build-arg BASE=$(IMAGE_PREFIX)/agent-base:latest \
			-t $(IMAGE_PREFIX)/agent-$$a:latest plugins/runtime-docker/images/agent-$$a || exit 1; \
	done

clean:
	rm -rf $(BIN)
