# xt2onnx — developer and user entry points. Every target installs what it
# needs (the ONNX Runtime library included) and can be run again safely.
#
#   make demo   export the built-in default with a KV cache, inspect and run it,
#               compare the native and ONNX Runtime backends, generate tokens,
#               and check a PyTorch reference fixture
#   make test   lint and run every test (what CI runs, with make test-readme)

GO ?= go
BIN := bin/xt2onnx
STATICCHECK_VERSION := v0.8.2
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)
DEMO_DIR := out/demo

.PHONY: all build ort demo test test-readme test-short lint fmt-check vet staticcheck bench bench-size bench-go verify-fixtures clean oracle-venv test-oracle fuzz

all: build

## ort: fetch and verify the ONNX Runtime 1.30.0 library (cached; ~113 MB once)
ort:
	@scripts/fetch-onnxruntime.sh >/dev/null

## build: build the xt2onnx command into bin/
build:
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/xt2onnx

## demo: the main job on the built-in default (preset "small", random weights):
## export with a KV cache, inspect, run, compare both backends, generate, verify
demo: ort build
	@mkdir -p $(DEMO_DIR)
	$(BIN) export --preset small --seed 1 --kv-cache -o $(DEMO_DIR)/small.onnx
	$(BIN) inspect $(DEMO_DIR)/small.onnx
	$(BIN) run $(DEMO_DIR)/small.onnx --random --batch 2 --seq 32 -o $(DEMO_DIR)/logits.safetensors
	$(BIN) parity $(DEMO_DIR)/small.onnx --random --batch 2 --seq 32
	$(BIN) generate $(DEMO_DIR)/small.onnx --prompt-tokens 1,2,3,4 --max-new 32 --greedy
	$(BIN) verify --fixture fixtures/xtransformers-1.9.2/dec_qknorm_dimscale

## test: formatting, vet, staticcheck, then every test with the race detector,
## and the separate-module library example (examples/, public packages only)
test: ort lint
	$(GO) test -race -count=1 ./...
	cd examples && $(GO) test -race -count=1 ./...

## test-readme: every shell command of README.md, literally and in order, in
## a fresh clone of HEAD (scripts/readme-commands.sh; under a minute)
test-readme:
	scripts/readme-commands.sh

## test-short: the tests without lint and without the race detector
test-short: ort
	$(GO) test -count=1 ./...
	cd examples && $(GO) test -count=1 ./...

## fuzz: run every fuzz target for FUZZTIME each (default 60s); the default
## test run replays their corpora (testdata/fuzz) and seeds
FUZZTIME ?= 60s
fuzz:
	scripts/fuzz.sh $(FUZZTIME)

lint: fmt-check vet staticcheck

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...
	cd examples && $(GO) vet ./...

staticcheck:
	$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) ./...
	cd examples && $(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) ./...

## bench: the native backend and ONNX Runtime side by side (presets base and
## small, 1 and 2 threads, forward and KV-cache generation): a markdown table
## of medians, peak RSS and allocations per run; about 10 minutes
bench: ort build
	$(GO) run ./tools/benchtable -bin $(BIN)

## verify-fixtures: verify --generate --kv-cache on every fixture, both
## backends, both KV-cache layouts (a few minutes)
verify-fixtures: ort build
	scripts/verify-fixtures.sh $(BIN)

## bench-size: export a 0.81B (SIZE=1b, default) or 2.0B (SIZE=2b) decoder with
## random weights as external data: time and peak RSS against 1.2x the largest
## tensor + 200 MB; 1b also runs in both backends and checks their parity
SIZE ?= 1b
bench-size: ort
	scripts/bench-export-size.sh $(SIZE)

## bench-go: the Go benchmarks (export, forward, GEMM), for profiling
bench-go: ort
	$(GO) test -run '^$$' -bench . -benchtime 5x -count 3 ./builder/ ./runtime/native/

clean:
	rm -rf bin out

# --- protobuf (ONNX schema) -------------------------------------------------
# Merge into the top-level Makefile. `make proto` regenerates
# internal/onnxpb/onnx.pb.go from proto/onnx.proto; `make check-proto` fails
# when the committed file is stale. Requires protoc (Debian: protobuf-compiler)
# and installs the pinned protoc-gen-go into $(GOBIN).

PROTOC_GEN_GO_VERSION := v1.36.12
GOBIN ?= $(shell go env GOPATH)/bin
PROTOC ?= protoc
PROTO_SRC := proto/onnx.proto
PROTO_OUT := internal/onnxpb
PROTOC_FLAGS = --proto_path=proto --plugin=protoc-gen-go=$(GOBIN)/protoc-gen-go --go_opt=paths=source_relative

.PHONY: proto check-proto protoc-gen-go protoc-check

protoc-check:
	@command -v $(PROTOC) >/dev/null 2>&1 || { \
	  echo "protoc not found: install it (Debian/Ubuntu: apt-get install protobuf-compiler;"; \
	  echo "others: https://github.com/protocolbuffers/protobuf/releases) or set PROTOC=/path/to/protoc"; \
	  exit 1; }

protoc-gen-go:
	GOBIN=$(GOBIN) go install google.golang.org/protobuf/cmd/protoc-gen-go@$(PROTOC_GEN_GO_VERSION)

proto: protoc-check protoc-gen-go
	$(PROTOC) $(PROTOC_FLAGS) --go_out=$(PROTO_OUT) onnx.proto

# Regenerates into a temporary directory and compares with the committed
# file. The line naming the protoc version is ignored, so any protoc 3.21+
# gives the same verdict.
check-proto: protoc-check protoc-gen-go
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	$(PROTOC) $(PROTOC_FLAGS) --go_out="$$tmp" onnx.proto && \
	if diff -u -I '^//[[:space:]]*protoc[[:space:]]' $(PROTO_OUT)/onnx.pb.go "$$tmp/onnx.pb.go"; then \
	  echo "check-proto: $(PROTO_OUT)/onnx.pb.go is up to date"; \
	else \
	  echo "check-proto: $(PROTO_OUT)/onnx.pb.go is stale: run 'make proto' and commit the result"; exit 1; \
	fi

# --- the PyTorch oracle (developer tool; needs PyPI, several GB) -------------
ORACLE_VENV ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/xt2onnx/oracle-venv
N ?= 200
SEED ?= 1
XT_VERSION ?= 1.9.2
# verify configurations each oracle case is checked with ("backend flags", ;-separated)
ORACLE_CHECKS ?= ort;ort --opset 23;native

.PHONY: test-ref

## oracle-venv: x-transformers 1.9.2 (+ 1.9.1 aside), torch, numpy and xt2onnx_ref in a venv outside the repo
oracle-venv:
	@[ -x "$(ORACLE_VENV)/bin/python" ] || python3 -m venv "$(ORACLE_VENV)"
	"$(ORACLE_VENV)/bin/pip" install -q -r tools/oracle/requirements.txt
	"$(ORACLE_VENV)/bin/pip" install -q --no-deps --target "$(ORACLE_VENV)/x-transformers-1.9.1" x-transformers==1.9.1
	"$(ORACLE_VENV)/bin/pip" install -q --no-deps --force-reinstall ./python

## test-oracle: random configs through PyTorch and through xt2onnx (N, SEED, XT_VERSION, ORACLE_CHECKS)
test-oracle: ort build oracle-venv
	ORACLE_VENV="$(ORACLE_VENV)" XT_VERSION="$(XT_VERSION)" ORACLE_CHECKS="$(ORACLE_CHECKS)" tools/oracle/run.sh $(N) $(SEED)

## test-ref: build references with python/xt2onnx_ref for user-style models and check export --validate on them
test-ref: ort oracle-venv
	ORACLE_VENV="$(ORACLE_VENV)" $(GO) test -tags oracle -count=1 -run 'TestUserReferences' -v ./cmd/xt2onnx/
