#!/usr/bin/env bash
# Runs the demo gateway: the mock LLM provider and Envoy with tollgate on envoy/demo.yaml
# (or CONFIG, e.g. envoy/guard.yaml). Called by `make run` and `make run-guard`; Ctrl-C stops both.
set -euo pipefail
cd "$(dirname "$0")/.."
LISTEN_PORT=${LISTEN_PORT:-10000}
ADMIN_PORT=${ADMIN_PORT:-9901}
MOCK_PORT=${MOCK_PORT:-18080}
ENVOY=${ENVOY:-.venv/bin/envoy}
CONFIG=${CONFIG:-envoy/demo.yaml}

cfg=$(mktemp --suffix=.yaml)
sed -e "s/port_value: 10000/port_value: ${LISTEN_PORT}/" \
    -e "s/port_value: 9901/port_value: ${ADMIN_PORT}/" \
    -e "s/port_value: 18080/port_value: ${MOCK_PORT}/" "$CONFIG" > "$cfg"

pids=()
cleanup() {
  trap - EXIT INT TERM
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -f "$cfg"
}
trap cleanup EXIT INT TERM

target/debug/examples/mock_provider --port "$MOCK_PORT" &
pids+=($!)
"$ENVOY" -c "$cfg" --disable-hot-restart -l warning &
pids+=($!)

for _ in $(seq 1 100); do
  curl -fs "http://127.0.0.1:${ADMIN_PORT}/ready" >/dev/null 2>&1 && break
  sleep 0.1
done

if [ "$CONFIG" = envoy/guard.yaml ]; then
cat <<MSG

tollgate guards http://127.0.0.1:${LISTEN_PORT} (admin http://127.0.0.1:${ADMIN_PORT}): no routing and no
virtual keys; prompts are redacted before they reach the mock provider, and pseudonyms come back.

  curl -s http://127.0.0.1:${LISTEN_PORT}/v1/chat/completions -H 'authorization: Bearer sk-your-provider-key' \\
       -H 'content-type: application/json' -H 'x-mock-echo: 1' \\
       -d '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Mail jane@example.com about project blue heron"}]}'

Access log (one JSON line per request) and Envoy warnings print below. Ctrl-C stops everything.
MSG
else
cat <<MSG

tollgate is serving on http://127.0.0.1:${LISTEN_PORT} (admin http://127.0.0.1:${ADMIN_PORT}).
Demo key: tg-demo-key. Without OPENAI_API_KEY / ANTHROPIC_API_KEY the mock provider answers.

  curl -s http://127.0.0.1:${LISTEN_PORT}/v1/chat/completions -H 'authorization: Bearer tg-demo-key' \\
       -H 'content-type: application/json' -d '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Hello"}]}'

  curl -s http://127.0.0.1:${LISTEN_PORT}/v1/messages -H 'x-api-key: tg-demo-key' -H 'anthropic-version: 2023-06-01' \\
       -H 'content-type: application/json' -d '{"model":"claude-sonnet-4-5","max_tokens":64,"messages":[{"role":"user","content":"Hello"}]}'

  curl -s http://127.0.0.1:${LISTEN_PORT}/v1/responses -H 'authorization: Bearer tg-demo-key' \\
       -H 'content-type: application/json' -d '{"model":"claude-sonnet-4-5","input":"Hello"}'   # Responses API, answered by an Anthropic-kind provider

  curl -s http://127.0.0.1:${LISTEN_PORT}/v1/models -H 'authorization: Bearer tg-demo-key'

  curl -si http://127.0.0.1:${LISTEN_PORT}/v1/chat/completions -H 'authorization: Bearer wrong' -d '{}'   # 401

Access log (one JSON line per request) and Envoy warnings print below. Ctrl-C stops everything.
MSG
fi
wait -n "${pids[@]}"
