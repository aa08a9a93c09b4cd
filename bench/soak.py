#!/usr/bin/env python3
"""Soak: the full policy through real Envoy for a while (`make soak SOAK_MINUTES=30`).

Python 3 stdlib only. Loopback only. It starts the mock provider (`cargo build --example
mock_provider`) and one Envoy (`.venv`, two workers) with tollgate and the full policy
(bench/tollgate-config-full.json: keys, routing, accounting, limits, every redaction detector;
the response cache on the OpenAI route),
plus an Anthropic provider so half the requests are translated and a month-long token rule whose
counter the end checks. Client threads then send, until the time is up:

- OpenAI chat and Anthropic Messages requests, JSON and streamed, to a model of the door's own
  dialect and to one translated for; some prompts carry personal data (redacted, and restored
  where the mock echoes them back);
- about 1% with an injected provider fault (`--fault-rate`): resets, cut bodies, 5xx, slow
  streams and every hostile-upstream mode (tests/support/hostile_upstream.rs);
- about 1% from clients that go away mid-stream (`--abandon-rate`).

Every interval (a minute; 10 s for runs under 3 minutes) it reports Envoy's RSS, the requests
served and the errors, injected and not. At the end: the in-flight limit counter must be back to
zero and the token counter must equal the sum of the metered usage (from the access log), no
prompt text in Envoy's log, no VM failure, no error that was not injected, and (runs of 5 minutes
or more) RSS growth after warm-up of at most 5%. The table goes to --out (default
bench/results/soak-<UTC date-time>.md); the exit status says whether the goals were met.
"""

from __future__ import annotations

import argparse
import datetime
import http.client
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
ENVOY = Path(os.environ.get("TOLLGATE_ENVOY", REPO / ".venv" / "bin" / "envoy"))
WASM = REPO / "target" / "wasm32-wasip1" / "release" / "tollgate.wasm"
MOCK = REPO / "target" / "debug" / "examples" / "mock_provider"
ESTIMATE = REPO / "target" / "debug" / "examples" / "estimate"
FULL_CONFIG = BENCH / "tollgate-config-full.json"
KEY = "tg-bench-key"
MARKER = "soak-prompt-marker-51c7"
SOAK_TOKENS = 10**14
ROUTE_TIMEOUT_S = 5

# Requests in the client's own dialect and translated: (path, native model, translated model).
DOORS = [("/v1/chat/completions", "gpt-4o-mini", "claude-soak"), ("/v1/messages", "claude-soak", "gpt-4o-mini")]
PROMPTS = [
    f"{MARKER} Write a haiku about gateways.",
    f"{MARKER} Mail jane.doe@example.com and call +44 20 7946 0958 about the invoice.",
    f"{MARKER} The server at 203.0.113.7 used key AKIAIOSFODNN7EXAMPLE; card 4111 1111 1111 1111.",
    f"{MARKER} Summarise: " + "the quick brown fox jumps over the lazy dog. " * 40,
]
HOSTILE = ["html", "not-json", "gzip", "brotli", "lying-type", "huge-headers", "bad-utf8", "usage-negative", "usage-huge",
           "usage-float", "usage-string", "reset-mid-body", "huge-event", "keepalive", "stall"]
FAULTS = [("reset", {"x-mock-reset": "1"}), ("cut", {"x-mock-cut-after-events": "2"}), ("5xx", {"x-mock-status": "503"}),
          ("slow-stream", {"x-mock-chunk-delay-ms": "300"})] + [(f"hostile-{m}", {"x-mock-hostile": m}) for m in HOSTILE]


def log(msg: str) -> None:
    print(f"[soak {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def soak_config() -> str:
    cfg = json.loads(FULL_CONFIG.read_text())
    cfg["providers"].append({"name": "claude", "kind": "anthropic", "cluster": "upstream"})
    cfg["models"].append({"name": "claude-soak", "targets": [{"provider": "claude"}]})
    cfg["pricing"]["models"]["claude-soak"] = {"input": 3, "output": 15}
    # The response cache on the OpenAI route: repeated prompts are answered by the proxy (a hit
    # charges no tokens and logs none, so the counter check below still holds).
    for m in cfg["models"]:
        if m["name"] == "gpt-4o-mini":
            m["cache"] = {"ttl": 30}
    # The whole run's tokens, on a month window: the end checks it against the metered usage.
    cfg["limits"]["rules"].append({"id": "soak-total", "scope": "key", "kind": "tokens", "window": "month", "limit": SOAK_TOKENS})
    return json.dumps(cfg)


def envoy_bootstrap(port: int, admin: int, mock: int, access_log: Path, workers: int) -> dict:
    fields = ["status", "total_tokens", "usage_estimated", "model", "provider"]
    json_format = {"status": "%RESPONSE_CODE%", "path": "%REQ(:PATH)%", "flags": "%RESPONSE_FLAGS%"}
    json_format.update({f: f"%FILTER_STATE(wasm.tollgate.{f}:PLAIN)%" for f in fields if f != "status"})
    wasm = {
        "name": "envoy.filters.http.wasm",
        "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm",
            "config": {
                "name": "tollgate", "root_id": "tollgate", "allow_on_headers_stop_iteration": True, "failure_policy": "FAIL_RELOAD",
                "vm_config": {"vm_id": "tollgate", "runtime": "envoy.wasm.runtime.v8", "code": {"local": {"filename": str(WASM)}}},
                "configuration": {"@type": "type.googleapis.com/google.protobuf.StringValue", "value": soak_config()},
            },
        },
    }
    hcm = {
        "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
        "stat_prefix": "soak",
        "access_log": [{"name": "envoy.access_loggers.file", "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog", "path": str(access_log),
            "log_format": {"json_format": json_format}}}],
        "route_config": {"virtual_hosts": [{"name": "llm", "domains": ["*"], "routes": [
            {"match": {"prefix": "/"}, "route": {"cluster_header": "x-tollgate-cluster", "timeout": f"{ROUTE_TIMEOUT_S}s"}}]}]},
        "http_filters": [wasm, {"name": "envoy.filters.http.router", "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"}}],
    }
    endpoint = {"endpoint": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": mock}}}}
    return {
        "admin": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": admin}}},
        "static_resources": {
            "listeners": [{"name": "llm", "address": {"socket_address": {"address": "127.0.0.1", "port_value": port}},
                           "filter_chains": [{"filters": [{"name": "envoy.filters.network.http_connection_manager", "typed_config": hcm}]}]}],
            "clusters": [{"name": "upstream", "type": "STATIC", "connect_timeout": "2s",
                          "load_assignment": {"cluster_name": "upstream", "endpoints": [{"lb_endpoints": [endpoint]}]}}],
        },
    }


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def wait_port(port: int, proc: subprocess.Popen, what: str, logfile: Path) -> None:
    deadline = time.time() + 30
    while time.time() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{what} exited:\n{logfile.read_text()[-4000:] if logfile.exists() else ''}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"{what} did not listen on {port}")


class Tally:
    """Counts, per interval and in total, under one lock."""

    KINDS = ["served", "ok", "injected", "uninjected", "abandoned"]

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.now = dict.fromkeys(self.KINDS, 0)
        self.total = dict.fromkeys(self.KINDS, 0)
        self.faults: dict[str, int] = {}
        self.failures: list[str] = []

    def add(self, kind: str, fault: str | None = None, failure: str | None = None) -> None:
        with self.lock:
            for k in ("served", kind):
                self.now[k] += 1
                self.total[k] += 1
            if fault:
                self.faults[fault] = self.faults.get(fault, 0) + 1
            if failure and len(self.failures) < 20:
                self.failures.append(failure)

    def take(self) -> dict[str, int]:
        with self.lock:
            out, self.now = self.now, dict.fromkeys(self.KINDS, 0)
            return out


def request_body(path: str, model: str, stream: bool, prompt: str) -> bytes:
    body = {"model": model, "max_tokens": 64, "stream": stream, "messages": [{"role": "user", "content": prompt}]}
    if stream and path == "/v1/chat/completions" and random.random() < 0.5:
        body["stream_options"] = {"include_usage": True}
    return json.dumps(body).encode()


def well_formed(path: str, stream: bool, status: int, data: bytes, complete: bool) -> str | None:
    """Why an answer to a request without an injected fault is not a success, if it is not."""
    if status != 200:
        return f"status {status}: {data[:200]!r}"
    if not complete:
        return "body cut"
    text = data.decode("utf-8", "replace")
    if stream:
        end = "data: [DONE]" if path == "/v1/chat/completions" else "event: message_stop"
        return None if end in text else f"stream without its end: {text[-200:]!r}"
    try:
        v = json.loads(text)
    except ValueError:
        return f"not JSON: {text[:200]!r}"
    answer = v.get("choices", [{}])[0].get("message", {}).get("content") if path == "/v1/chat/completions" else (v.get("content") or [{}])[0].get("text")
    return None if answer else f"no answer: {text[:200]!r}"


def send(port: int, path: str, body: bytes, headers: dict[str, str], abandon: bool) -> tuple[int, bytes, bool]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=ROUTE_TIMEOUT_S + 20)
    try:
        h = {"authorization": f"Bearer {KEY}", "content-type": "application/json", **headers}
        conn.request("POST", path, body=body, headers=h)
        resp = conn.getresponse()
        if abandon:
            resp.read1(64) if hasattr(resp, "read1") else resp.read(64)
            return resp.status, b"", False
        try:
            return resp.status, resp.read(), True
        except http.client.IncompleteRead as e:
            return resp.status, e.partial, False
    except (OSError, http.client.HTTPException) as e:
        return 0, str(e).encode(), False
    finally:
        conn.close()


def client(port: int, stop: threading.Event, tally: Tally, seed: int, fault_rate: float, abandon_rate: float) -> None:
    rng = random.Random(seed)
    while not stop.is_set():
        path, own, translated = rng.choice(DOORS)
        model = rng.choice([own, translated])
        stream = rng.random() < 0.5
        headers: dict[str, str] = {}
        if rng.random() < 0.2:
            headers["x-mock-echo"] = str(rng.choice([1, 8, 64]))
        roll = rng.random()
        fault = None
        abandon = False
        if roll < fault_rate:
            fault, extra = rng.choice(FAULTS)
            headers.update(extra)
        elif roll < fault_rate + abandon_rate:
            abandon, stream = True, True
            headers["x-mock-chunk-delay-ms"] = "50"
        if fault or abandon:
            # Faults and slow streams must reach the provider, not a stored answer.
            headers["x-tollgate-cache"] = "bypass"
        body = request_body(path, model, stream, rng.choice(PROMPTS))
        status, data, complete = send(port, path, body, headers, abandon)
        if abandon:
            tally.add("abandoned")
        elif fault:
            tally.add("injected", fault=fault)
        else:
            why = well_formed(path, stream, status, data, complete)
            if why:
                tally.add("uninjected", failure=f"{path} {model} stream={stream}: {why}")
            else:
                tally.add("ok")


def access_log_lines(path: Path) -> list[dict]:
    if not path.exists():
        return []
    out = []
    for line in path.read_text().splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            pass
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=float(os.environ.get("SOAK_MINUTES", "30")))
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--workers", type=int, default=2, help="Envoy worker threads")
    ap.add_argument("--fault-rate", type=float, default=0.01)
    ap.add_argument("--abandon-rate", type=float, default=0.01)
    ap.add_argument("--interval", type=float, default=0, help="report interval in seconds (default: 60; 10 under 3 minutes)")
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--seed", type=int, default=27)
    args = ap.parse_args()
    interval = args.interval or (60.0 if args.minutes >= 3 else 10.0)
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%d-%H%M")
    out = args.out or BENCH / "results" / f"soak-{stamp}.md"
    for p, how in [(ENVOY, "make envoy"), (WASM, "make build"), (MOCK, "cargo build --example mock_provider"), (ESTIMATE, "cargo build --example estimate")]:
        if not p.exists():
            raise SystemExit(f"{p} is missing: {how}")

    tmp = Path(tempfile.mkdtemp(prefix="tollgate-soak-"))
    procs: list[subprocess.Popen] = []
    try:
        mock_port = free_port()
        mock_log = tmp / "mock.log"
        procs.append(subprocess.Popen([str(MOCK), "--port", str(mock_port)], stdout=mock_log.open("w"), stderr=subprocess.STDOUT))
        wait_port(mock_port, procs[-1], "mock provider", mock_log)
        port, admin = free_port(), free_port()
        access_log, envoy_log = tmp / "access.log", tmp / "envoy.log"
        cfg = tmp / "envoy.json"
        cfg.write_text(json.dumps(envoy_bootstrap(port, admin, mock_port, access_log, args.workers)))
        envoy = subprocess.Popen([str(ENVOY), "-c", str(cfg), "--concurrency", str(args.workers), "--disable-hot-restart",
                                  "--base-id", str(40_000 + os.getpid() % 10_000), "-l", "warning", "--file-flush-interval-msec", "200"],
                                 stdout=envoy_log.open("w"), stderr=subprocess.STDOUT)
        procs.append(envoy)
        wait_port(port, envoy, "envoy", envoy_log)
        month = time.strftime("%Y-%m", time.gmtime())
        log(f"envoy pid {envoy.pid} on :{port}, {args.clients} clients, {args.minutes:g} min, report every {interval:g} s, logs in {tmp}")

        tally, stop = Tally(), threading.Event()
        threads = [threading.Thread(target=client, args=(port, stop, tally, args.seed + i, args.fault_rate, args.abandon_rate), daemon=True)
                   for i in range(args.clients)]
        for t in threads:
            t.start()
        rows = []
        started = time.time()
        end = started + args.minutes * 60
        while time.time() < end:
            time.sleep(max(0.0, min(interval, end - time.time())))
            c = tally.take()
            rss = rss_kib(envoy.pid)
            rows.append({"t": time.time() - started, "rss": rss, **c})
            log(f"{rows[-1]['t']:7.0f} s  RSS {rss / 1024:7.1f} MiB  served {c['served']:6d}  ok {c['ok']:6d}  injected {c['injected']:4d}  "
                f"uninjected {c['uninjected']:3d}  abandoned {c['abandoned']:4d}")
        stop.set()
        for t in threads:
            t.join(timeout=ROUTE_TIMEOUT_S + 30)
        total = tally.total

        # Every request settled (cut and abandoned ones too): then the counters must be exact.
        deadline = time.time() + 30
        while len(access_log_lines(access_log)) < total["served"] and time.time() < deadline:
            time.sleep(0.2)
        lines = access_log_lines(access_log)
        metered = sum(int(l["total_tokens"]) for l in lines if str(l.get("total_tokens", "")).isdigit())
        probe = request_body("/v1/chat/completions", "gpt-4o-mini", False, PROMPTS[0])
        estimate = int(subprocess.run([str(ESTIMATE), probe.decode()], check=True, capture_output=True, text=True).stdout.strip())
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("POST", "/v1/chat/completions", body=probe, headers={"authorization": f"Bearer {KEY}", "content-type": "application/json"})
        resp = conn.getresponse()
        resp.read()
        inflight_left = int(resp.getheader("x-ratelimit-limit-concurrency", "0")) - int(resp.getheader("x-ratelimit-remaining-concurrency", "0")) - 1
        counted = SOAK_TOKENS - int(resp.getheader("x-ratelimit-remaining-tokens", "0")) - estimate - 64
        same_month = month == time.strftime("%Y-%m", time.gmtime())
        envoy_text = envoy_log.read_text(errors="replace")
        vm_failed = any(s in envoy_text for s in ["panicked", "wasm trap", "Function: proxy_on"])
        leaked = MARKER in envoy_text

        warm = max(1, len(rows) // 5)
        base = rows[warm - 1]["rss"] if rows else 0
        last = rows[-1]["rss"] if rows else 0
        growth = (last - base) / base * 100 if base else 0.0
        checks = [
            ("no error that was not injected", total["uninjected"] == 0, f"{total['uninjected']} uninjected errors"),
            ("in-flight counter back to zero", inflight_left == 0, f"{inflight_left} left in flight"),
            ("token counter = metered usage", counted == metered or not same_month, f"counter {counted}, metered {metered}" + ("" if same_month else " (month changed: not compared)")),
            ("every request logged", len(lines) >= total["served"], f"{len(lines)} log lines for {total['served']} requests"),
            ("no VM failure in Envoy's log", not vm_failed, "see envoy.log" if vm_failed else "none"),
            ("no prompt text in Envoy's log", not leaked, "leaked" if leaked else "none"),
            ("RSS growth after warm-up ≤ 5%", growth <= 5 or args.minutes < 5, f"{growth:+.1f}% ({base / 1024:.1f} → {last / 1024:.1f} MiB)" + ("" if args.minutes >= 5 else ", reported only under 5 minutes")),
        ]
        ok = all(c[1] for c in checks)
        write_report(out, args, rows, total, tally, checks, metered, counted, warm, interval)
        for name, passed, detail in checks:
            log(f"{'PASS' if passed else 'FAIL'}  {name}: {detail}")
        for f in tally.failures:
            log(f"uninjected: {f}")
        log(f"report: {out}")
        return 0 if ok else 1
    finally:
        for p in reversed(procs):
            p.terminate()
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()


def write_report(out: Path, args, rows, total, tally: Tally, checks, metered: int, counted: int, warm: int, interval: float) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True).stdout.strip()
    lines = [
        f"# Soak, {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC ({rev})",
        "",
        f"`bench/soak.py`: {args.minutes:g} min, {args.clients} clients, Envoy {args.workers} workers, full policy "
        f"(bench/tollgate-config-full.json + an Anthropic provider), faults {args.fault_rate:.0%}, clients going away {args.abandon_rate:.0%}, "
        f"load average at the end {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs. Warm-up: the first {warm} interval(s).",
        "",
        "| t (s) | Envoy RSS (MiB) | served | ok | injected faults | uninjected errors | clients gone |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(f"| {r['t']:.0f} | {r['rss'] / 1024:.1f} | {r['served']} | {r['ok']} | {r['injected']} | {r['uninjected']} | {r['abandoned']} |")
    lines.append(f"| **total** | | **{total['served']}** | {total['ok']} | {total['injected']} | {total['uninjected']} | {total['abandoned']} |")
    lines += ["", "Faults injected: " + (", ".join(f"{k} {v}" for k, v in sorted(tally.faults.items())) or "none") + ".", "",
              f"Tokens metered (access log): {metered}; token counter: {counted}.", "", "| goal | met | detail |", "|---|---|---|"]
    lines += [f"| {n} | {'yes' if p else '**no**'} | {d} |" for n, p, d in checks]
    out.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    sys.exit(main())
