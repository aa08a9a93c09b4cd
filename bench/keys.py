#!/usr/bin/env python3
"""Virtual-key benchmark (python3 stdlib only; `make bench-keys` calls this).

Question: does the key check cost the same with 10 keys as with 100,000, and
what do 100,000 keys cost at load time and in memory?

  1. Generates three tollgate configs into a temp dir, all derived from
     bench/tollgate-config.json:
       keys-off   auth mode `none`, no keys
       keys-10    the bench key + 9 random keys (bench key in the middle)
       keys-100k  the bench key + 99,999 random distinct digests (ids k00001…,
                  tenants t000…t099, models ["*"]; bench key in the middle)
  2. Startup: starts Envoy (--concurrency 1, port 0) with each config, plus a
     no-filter Envoy, several times, interleaved. Measures wall time from
     process start to /ready = LIVE, the timestamps of tollgate's
     `configured:` log lines (one per VM: main thread + each worker), VmRSS and
     VmHWM of the Envoy process after ready, and checks that the bench key is
     accepted and a wrong key is rejected (401).
  3. Throughput: runs bench/run.py with floor, keys-off, keys-10, keys-100k
     in one interleaved run (nginx upstream, wrk).
  4. Writes bench/results/keys.md and prints it.

Defaults keep the whole run under about 3 minutes: BENCH_ROUNDS=3,
BENCH_DURATION=5, BENCH_WARMUP=2, KEYS_STARTS=3 (startups per config),
KEYS_N=100000. See --help.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import os
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))
import run as R  # noqa: E402  (bench/run.py: shared helpers, no side effects on import)

REPO = R.REPO
RESULTS_MD = BENCH_DIR / "results" / "keys.md"
BENCH_DIGEST = "sha256:" + hashlib.sha256(R.API_KEY.encode()).hexdigest()


def log(msg: str) -> None:
    print(f"[keys] {msg}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------
# configs


def base_config() -> dict:
    if not R.TOLLGATE_CONFIG.exists():
        raise R.BenchError(f"{R.rel(R.TOLLGATE_CONFIG)} is missing")
    cfg = json.loads(R.TOLLGATE_CONFIG.read_text())
    if not any(BENCH_DIGEST in k.get("digests", []) for k in cfg.get("keys", [])):
        raise R.BenchError(f"{R.rel(R.TOLLGATE_CONFIG)} has no key with the bench digest {BENCH_DIGEST}")
    return cfg


def key_list(n_total: int, rng: random.Random, tenants: int = 100) -> list[dict]:
    """n_total keys: the bench key at index n_total // 2, the rest random distinct digests."""
    seen = {BENCH_DIGEST}
    keys: list[dict] = []
    width = max(5, len(str(n_total)))
    for i in range(1, n_total):
        while True:
            d = "sha256:" + rng.getrandbits(256).to_bytes(32, "big").hex()
            if d not in seen:
                seen.add(d)
                break
        keys.append({"id": f"k{i:0{width}d}", "tenant": f"t{(i - 1) % tenants:03d}", "digests": [d], "models": ["*"]})
    keys.insert(n_total // 2, {"id": "bench", "tenant": "bench", "digests": [BENCH_DIGEST], "models": ["*"]})
    return keys


def write_configs(tmp: Path, n_big: int, seed: int) -> dict[str, tuple[Path, int]]:
    """name -> (path, number of keys)."""
    base = base_config()
    rng = random.Random(seed)
    out: dict[str, tuple[Path, int]] = {}

    off = dict(base, auth=dict(base.get("auth", {}), mode="none"), keys=[])
    k10 = dict(base, keys=key_list(10, rng))
    kbig = dict(base, keys=key_list(n_big, rng))
    for name, cfg in (("keys-off", off), ("keys-10", k10), (big_name(n_big), kbig)):
        p = tmp / f"{name}.json"
        p.write_text(json.dumps(cfg, separators=(",", ":")))
        out[name] = (p, len(cfg["keys"]))
    return out


def big_name(n: int) -> str:
    return "keys-100k" if n == 100_000 else f"keys-{n}"


# --------------------------------------------------------------------------
# startup: time to LIVE, configured: lines, RSS

LOG_TS = re.compile(r"^\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3})\]")


def parse_ts(line: str) -> float | None:
    """Envoy log timestamp (no zone) -> naive epoch seconds (local interpretation)."""
    m = LOG_TS.match(line)
    if not m:
        return None
    return datetime.datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S.%f").replace(tzinfo=None).timestamp()


def proc_status(pid: int) -> dict[str, int]:
    out = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            k, _, v = line.partition(":")
            if k in ("VmRSS", "VmHWM"):
                out[k] = int(v.split()[0])  # kB
    except OSError:
        pass
    return out


def one_start(envoy: str, name: str, wasm: Path | None, cfg: Path | None, d: Path, workers: int) -> dict:
    """Start one Envoy, wait for LIVE, measure, probe keys, stop it."""
    d.mkdir(parents=True)
    v = R.Variant(name, wasm, cfg, root_id="tollgate" if wasm and not name.startswith("floor-") else "")
    conf = d / "envoy.yaml"
    # Upstream port 9 (discard): nothing listens there; auth is decided before
    # the upstream is contacted, so a 503 means "key accepted".
    conf.write_text(R.render_envoy(v, 9))
    addr_file = d / "admin.address"
    logfile = d / "envoy.log"
    procs = R.Procs()
    try:
        wall0 = time.time()
        t0 = time.monotonic()
        p = procs.start(
            f"envoy-{name}",
            [
                envoy, "-c", str(conf), "--disable-hot-restart", "--concurrency", str(workers),
                "--admin-address-path", str(addr_file),
                "--log-level", "info", "--log-path", str(logfile),
            ],
            d / "stdout.log",
        )
        admin = ""
        ready_s = None
        deadline = t0 + 120
        while time.monotonic() < deadline:
            if p.poll() is not None:
                raise R.BenchError(f"envoy {name} exited ({p.returncode}):\n" + R.tail(logfile) + "\n" + R.tail(d / "stdout.log"))
            if not admin and addr_file.exists():
                admin = addr_file.read_text().strip()
            if admin:
                try:
                    st, body = R.http_get(f"http://{admin}/ready", timeout=1.0)
                except OSError:
                    st, body = 0, b""
                if st == 200 and body.strip() == b"LIVE":
                    ready_s = time.monotonic() - t0
                    break
            time.sleep(0.01)
        if ready_s is None:
            raise R.BenchError(f"envoy {name} not LIVE within 120 s:\n" + R.tail(logfile))
        time.sleep(0.5)  # let the workers finish logging; RSS after settling
        mem = proc_status(p.pid)
        port = 0
        st, body = R.http_get(f"http://{admin}/listeners?format=json")
        for ls in json.loads(body).get("listener_statuses", []):
            port = ls.get("local_address", {}).get("socket_address", {}).get("port_value", 0) or port
        probes = {}
        if wasm is not None and not name.startswith("floor-"):
            req = R.request_body().encode()
            for label, key in (("bench key", R.API_KEY), ("wrong key", "tg-not-a-key")):
                s, _, _ = R.http_post(
                    f"http://127.0.0.1:{port}{R.REQUEST_PATH}", req,
                    {"content-type": "application/json", "authorization": f"Bearer {key}"},
                )
                probes[label] = s
        mem_after = proc_status(p.pid)
    finally:
        procs.stop_all()

    text = logfile.read_text(errors="replace") if logfile.exists() else ""
    lines = text.splitlines()
    first_ts = next((t for t in (parse_ts(l) for l in lines) if t is not None), None)
    conf_lines = [l for l in lines if "tollgate" in l and "configured:" in l]
    conf_ts = [t for t in (parse_ts(l) for l in conf_lines) if t is not None]
    errors = [l for l in lines if "][error][" in l or "][critical][" in l]

    def ts_of(pattern: str, last: bool = False) -> float | None:
        hits = [parse_ts(l) for l in lines if pattern in l]
        hits = [t for t in hits if t is not None]
        return (hits[-1] if last else hits[0]) if hits else None

    def span(a, b):
        return b - a if a is not None and b is not None else None

    # Phases, from Envoy's own log lines (same clock, no skew):
    #   bootstrap: first line -> admin server start (YAML -> proto of the whole file)
    #   first VM:  "loading N listener(s)" -> first `configured:` (V8 compile + on_configure)
    #   worker VM: "starting workers" -> last `configured:` (clone on the worker + on_configure)
    m0 = re.match(r"^\[[^]]*\]\[(\d+)\]", lines[0]) if lines else None
    main_tid = m0.group(1) if m0 else ""
    worker_conf = [parse_ts(l) for l in conf_lines if main_tid and f"][{main_tid}][" not in l]
    main_conf = [parse_ts(l) for l in conf_lines if main_tid and f"][{main_tid}][" in l]
    phases = {
        "bootstrap_s": span(first_ts, ts_of("Starting admin HTTP server")),
        "first_vm_s": span(ts_of("listener(s)"), main_conf[0] if main_conf else None),
        "main_vm2_s": span(main_conf[0], main_conf[1]) if len(main_conf) >= 2 else None,
        "worker_vm_s": span(ts_of("starting workers"), worker_conf[-1] if worker_conf else None),
        "main_vms": len(main_conf),
        "worker_vms": len(worker_conf),
    }
    # Envoy's log timestamps carry no zone: pick local or UTC, whichever puts
    # the first line right after our Popen.
    skew = 0.0
    if first_ts is not None:
        utc_off = datetime.datetime.now().astimezone().utcoffset().total_seconds()
        cands = [0.0, utc_off]
        skew = min(cands, key=lambda s: abs((first_ts + s) - wall0))
    rel = lambda t: (t + skew) - wall0  # noqa: E731
    return {
        "ready_s": ready_s,
        "first_log_s": rel(first_ts) if first_ts is not None else None,
        "configured": len(conf_lines),
        "configured_s": [rel(t) for t in conf_ts],
        "configured_line": conf_lines[0].split("]", 5)[-1].strip() if conf_lines else "",
        "rss_kb": mem.get("VmRSS", 0),
        "hwm_kb": mem.get("VmHWM", 0),
        "rss_after_probe_kb": mem_after.get("VmRSS", 0),
        "probes": probes,
        "errors": errors[:5],
        "conf_bytes": conf.stat().st_size,
        **phases,
    }


def startup_phase(envoy: str, wasm: Path, configs: dict[str, tuple[Path, int]], tmp: Path, starts: int, workers: int) -> dict[str, list[dict]]:
    # floor-*: the floor wasm with the same configuration string. It never reads
    # its configuration, so floor-100k minus floor-10 is what Envoy itself
    # keeps for a big configuration (YAML/proto/string copies), and the rest of
    # tollgate's delta is what the VMs hold.
    small, big = "keys-10", [n for n in configs if n not in ("keys-off", "keys-10")][0]
    order = [("none", None, None)] + [(n, wasm, p) for n, (p, _) in configs.items()]
    order += [("floor-" + n[5:], R.FLOOR_WASM, configs[n][0]) for n in (small, big)]
    res: dict[str, list[dict]] = {n: [] for n, _, _ in order}
    for i in range(starts):
        rot = order[i % len(order):] + order[: i % len(order)]
        for name, w, cfg in rot:
            r = one_start(envoy, name, w, cfg, tmp / "startup" / f"{name}-{i + 1}", workers)
            res[name].append(r)
            log(
                f"start {i + 1}/{starts} {name:<10} LIVE after {r['ready_s']:.3f} s, "
                f"{r['configured']} configured: lines, RSS {r['rss_kb'] / 1024:.1f} MiB (peak {r['hwm_kb'] / 1024:.1f})"
                + (f", probes {r['probes']}" if r["probes"] else "")
            )
            if r["errors"]:
                raise R.BenchError(f"envoy {name} logged errors:\n" + "\n".join(r["errors"]))
            if w is not None and not name.startswith("floor-"):
                if r["configured"] < 2:
                    raise R.BenchError(f"envoy {name}: expected >= 2 tollgate `configured:` lines, got {r['configured']}")
                if r["probes"].get("bench key") in (401, 403):
                    raise R.BenchError(f"envoy {name}: bench key rejected ({r['probes']['bench key']})")
                want_wrong = "not 401" if name == "keys-off" else 401
                if (r["probes"].get("wrong key") == 401) != (want_wrong == 401):
                    raise R.BenchError(f"envoy {name}: wrong key got HTTP {r['probes'].get('wrong key')}, expected {want_wrong}")
    return res


# --------------------------------------------------------------------------
# throughput: bench/run.py


def throughput_phase(configs: dict[str, tuple[Path, int]], wasm: Path, tmp: Path, args) -> tuple[str, dict[str, dict], str]:
    out_md = tmp / "run.md"
    argv = [sys.executable, str(BENCH_DIR / "run.py"),
            "--variant", f"name=floor,wasm={R.FLOOR_WASM}"]
    for name, (p, _) in configs.items():
        argv += ["--variant", f"name={name},wasm={wasm},config={p},root_id=tollgate"]
    argv += ["--rounds", str(args.rounds), "--duration", str(args.duration), "--warmup", str(args.warmup),
             "--workers", str(args.workers), "--out", str(out_md)]
    log("throughput: " + " ".join(a if " " not in a else repr(a) for a in argv[1:]))
    p = subprocess.Popen(argv, cwd=str(REPO))
    try:
        rc = p.wait()
    except BaseException:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)  # run.py cleans up its nginx/envoys/wrk
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        raise
    if rc != 0 or not out_md.exists():
        raise R.BenchError(f"bench/run.py failed with exit code {rc}")
    md = out_md.read_text()
    return md, parse_summary(md), per_round(md)


def parse_summary(md: str) -> dict[str, dict]:
    lines = md.splitlines()
    start = next(i for i, l in enumerate(lines) if l.startswith("| variant | req/s (median)"))
    header = [c.strip() for c in lines[start].strip("|").split("|")]
    out = {}
    for l in lines[start + 2:]:
        if not l.startswith("|"):
            break
        cells = [c.strip() for c in l.strip("|").split("|")]
        row = dict(zip(header, cells))
        name = row["variant"].split(" ")[0]
        lo, _, hi = row["req/s range"].partition("–")
        out[name] = {
            "rps": float(row["req/s (median)"]), "rps_min": float(lo), "rps_max": float(hi),
            "p50": float(row["p50 ms"]), "p99": float(row["p99 ms"]), "errors": int(row["errors"]),
        }
    return out


def per_round(md: str) -> str:
    lines = md.splitlines()
    try:
        i = next(i for i, l in enumerate(lines) if l.startswith("Per-round"))
    except StopIteration:
        return ""
    block = []
    for l in lines[i + 2:]:
        if not l.startswith("|"):
            break
        block.append(l)
    return "\n".join(block)


# --------------------------------------------------------------------------
# report


def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def mib(kb: float) -> str:
    return f"{kb / 1024:.1f}"


def ratio(a, b) -> str:
    return f"{a / b:.2f}" if a is not None and b else "–"


def report(meta: dict, configs, startup, summ, rounds_md, big: str) -> str:
    L = []
    L += [
        "# tollgate virtual-key benchmark",
        "",
        f"Generated by `bench/keys.py` on {meta['date']} (git {meta['git']}).",
        "",
        f"- machine: {meta['machine']}; load average before / after startups / after throughput: "
        f"{meta['load_before']} / {meta['load_mid']} / {meta['load_after']}",
        f"- envoy {meta['envoy_version']}, `--concurrency {meta['workers']}`, `--disable-hot-restart`; "
        f"tollgate.wasm {meta['wasm_size']} B (sha256 {meta['wasm_sha']}…)",
        f"- `configured:` line: `{meta['configured_line']}`",
        "",
        "## Configs",
        "",
        "| variant | keys | tollgate config (JSON) | rendered envoy.yaml |",
        "|---|---:|---:|---:|",
    ]
    for name, (p, n) in configs.items():
        eb = startup[name][0]["conf_bytes"]
        L.append(f"| {name} | {n} | {p.stat().st_size:,} B | {eb:,} B |")
    L += [
        "",
        "All derived from `bench/tollgate-config.json`. `keys-off`: `auth.mode = none`, no keys. "
        f"`keys-10` / `{big}`: the bench key (`sha256(\"tg-bench-key\")`) in the middle of the list, the others random "
        "distinct digests (seeded), ids `k00001`…, tenants `t000`…`t099`, models `[\"*\"]`. The JSON travels inline "
        "as the filter's `configuration` (`google.protobuf.StringValue`) in the envoy YAML, exactly as run.py renders it.",
        "",
        f"## Startup ({meta['starts']} starts per variant, interleaved; median, range in brackets)",
        "",
        "| variant | time to LIVE s | `configured:` lines (main + workers) | bootstrap parse s | 1st VM: compile + configure s | 2nd main-thread VM configure s | worker VM configure s | probes (bench / wrong key) |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]

    def cell(rs, k, fmt="{:.3f}"):
        xs = [r[k] for r in rs if r.get(k) is not None]
        return fmt.format(statistics.median(xs)) if xs else "–"

    for name, rs in startup.items():
        ready = [r["ready_s"] for r in rs]
        ncf = sorted({f"{r['configured']} ({r['main_vms']} + {r['worker_vms']})" for r in rs})
        pr = rs[0]["probes"]
        L.append(
            f"| {name} | {med(ready):.3f} ({min(ready):.3f}–{max(ready):.3f}) "
            f"| {', '.join(ncf) if rs[0]['configured'] else '–'} "
            f"| {cell(rs, 'bootstrap_s')} | {cell(rs, 'first_vm_s')} | {cell(rs, 'main_vm2_s')} | {cell(rs, 'worker_vm_s')} "
            f"| {(str(pr.get('bench key')) + ' / ' + str(pr.get('wrong key'))) if pr else '–'} |"
        )
    L += [
        "",
        "Seconds. `time to LIVE`: from starting the Envoy process to `GET /ready` answering `LIVE` (polled every 10 ms). "
        "The phases come from Envoy's own log timestamps: bootstrap parse = first log line → admin server start "
        "(the YAML → proto of the whole file, which holds the key list as one JSON string); "
        "1st VM = `loading N listener(s)` → first `configured:` (V8 compiles the module, then `on_configure`); "
        "2nd main-thread VM = first → second `configured:` on the main thread; worker VM = `starting workers` → "
        "the worker's `configured:`. `floor-*` rows: the floor wasm with the same configuration string; it never "
        "reads it. `probes`: one POST with the bench key (503 = key accepted, these Envoys have no upstream) and one "
        "with an unknown key (401 = refused).",
        "",
        "## Memory (Envoy process, `/proc/PID/status`, 0.5 s after LIVE; median)",
        "",
        "| variant | VmRSS MiB | VmRSS range | VmHWM (peak) MiB |",
        "|---|---:|---:|---:|",
    ]
    for name, rs in startup.items():
        L.append(
            f"| {name} | {mib(med([r['rss_kb'] for r in rs]))} "
            f"| {mib(min(r['rss_kb'] for r in rs))}–{mib(max(r['rss_kb'] for r in rs))} "
            f"| {mib(med([r['hwm_kb'] for r in rs]))} |"
        )
    rss = {n: med([r["rss_kb"] for r in rs]) for n, rs in startup.items()}
    hwm = {n: med([r["hwm_kb"] for r in rs]) for n, rs in startup.items()}
    rdy = {n: med([r["ready_s"] for r in rs]) for n, rs in startup.items()}
    fbig = "floor-" + big[5:]
    n_vm = max(r["configured"] for r in startup[big])
    nbig = configs[big][1]
    delta = rss[big] - rss["keys-10"]
    envoy_side = rss[fbig] - rss["floor-10"]
    vm_side = delta - envoy_side
    L += [
        "",
        "Derived:",
        "",
        f"- tollgate with a small config (keys-10) vs no filter: +{mib(rss['keys-10'] - rss['none'])} MiB RSS, "
        f"+{(rdy['keys-10'] - rdy['none']) * 1000:.0f} ms to LIVE (mostly V8 compiling the module).",
        f"- **{big} vs keys-10: +{(rdy[big] - rdy['keys-10']) * 1000:.0f} ms to LIVE, +{mib(delta)} MiB RSS** "
        f"(peak VmHWM +{mib(hwm[big] - hwm['keys-10'])} MiB).",
        f"- VMs that loaded the config: {n_vm} `configured:` lines = 2 on the main thread + 1 per worker "
        f"(`--concurrency {meta['workers']}`).",
        f"- Naive split: ({mib(rss[big])} − {mib(rss['keys-10'])}) / {n_vm} = **{mib(delta / n_vm)} MiB per VM**.",
        f"- Envoy's own share (the floor with the same strings, {fbig} − floor-10): +{mib(envoy_side)} MiB, "
        f"paid once per process, not per VM (bootstrap and filter-config copies of a "
        f"{configs[big][0].stat().st_size / 1e6:.1f} MB string).",
        f"- **tollgate's VM share: ({mib(delta)} − {mib(envoy_side)}) / {n_vm} = {mib(vm_side / n_vm)} MiB per VM**, "
        f"≈ {vm_side * 1024 / n_vm / max(1, nbig - 10):.0f} B per key per VM (config JSON: "
        f"{configs[big][0].stat().st_size / nbig:.0f} B per key). A wasm VM's linear memory only grows, so this "
        "includes the peak of parsing the JSON, not just the final key store.",
        "",
        f"## Throughput ({meta['rounds']} interleaved rounds × {meta['duration']} s, `wrk -t1 -c16`, median; via bench/run.py)",
        "",
        "| variant | req/s | req/s range | p50 ms | p99 ms | errors |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name in ["floor"] + list(configs):
        s = summ[name]
        L.append(f"| {name} | {s['rps']:.0f} | {s['rps_min']:.0f}–{s['rps_max']:.0f} | {s['p50']:.3f} | {s['p99']:.3f} | {s['errors']} |")
    off, k10, kb = summ["keys-off"], summ["keys-10"], summ[big]
    L += [
        "",
        "| ratio | req/s | p50 | p99 |",
        "|---|---:|---:|---:|",
        f"| keys-10 / keys-off (cost of the key check) | **{ratio(k10['rps'], off['rps'])}** | {ratio(k10['p50'], off['p50'])} | {ratio(k10['p99'], off['p99'])} |",
        f"| {big} / keys-10 (cost of key count) | **{ratio(kb['rps'], k10['rps'])}** | {ratio(kb['p50'], k10['p50'])} | {ratio(kb['p99'], k10['p99'])} |",
        f"| keys-off / floor | {ratio(off['rps'], summ['floor']['rps'])} | {ratio(off['p50'], summ['floor']['p50'])} | {ratio(off['p99'], summ['floor']['p99'])} |",
        "",
        "Per-round req/s (p50 ms / p99 ms):",
        "",
        rounds_md,
        "",
    ]
    if meta.get("notes"):
        L += ["Notes:", ""] + [f"- {n}" for n in meta["notes"]] + [""]
    return "\n".join(L)


# --------------------------------------------------------------------------


def main() -> int:
    ap = argparse.ArgumentParser(
        description="tollgate virtual-key benchmark: config load time, VM memory and throughput at 10 vs 100k keys.",
        epilog="env: ENVOY, TOLLGATE_WASM, BENCH_ROUNDS (3), BENCH_DURATION (5), BENCH_WARMUP (2), BENCH_WORKERS (1), "
        "KEYS_STARTS (3), KEYS_N (100000), KEYS_SEED, BENCH_KEEP_TMP=1, BENCH_PIN=1 (passed to run.py)",
    )
    ap.add_argument("--rounds", type=int, default=R.env_int("BENCH_ROUNDS", 3))
    ap.add_argument("--duration", type=int, default=R.env_int("BENCH_DURATION", 5))
    ap.add_argument("--warmup", type=int, default=R.env_int("BENCH_WARMUP", 2))
    ap.add_argument("--workers", type=int, default=R.env_int("BENCH_WORKERS", 1), help="envoy --concurrency")
    ap.add_argument("--starts", type=int, default=R.env_int("KEYS_STARTS", 3), help="Envoy startups per variant")
    ap.add_argument("--keys", type=int, default=R.env_int("KEYS_N", 100_000), help="keys in the big config")
    ap.add_argument("--seed", type=int, default=R.env_int("KEYS_SEED", 20261123))
    ap.add_argument("--out", default=str(RESULTS_MD))
    ap.add_argument("--skip-throughput", action="store_true", help="startup/memory only")
    args = ap.parse_args()
    if min(args.rounds, args.duration, args.workers, args.starts) < 1 or args.keys < 20:
        ap.error("counts must be >= 1 (--keys >= 20)")

    tg = os.environ.get("TOLLGATE_WASM", "").strip()
    wasm = (Path(tg) if os.path.isabs(tg) else REPO / tg) if tg else R.DEFAULT_TOLLGATE_WASM
    if not wasm.exists():
        log(f"error: {wasm} not found (build it: make build)")
        return 1

    tmp = Path(tempfile.mkdtemp(prefix="tollgate-keys-"))

    def on_signal(signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    failed = True
    t_start = time.monotonic()
    try:
        envoy = R.ensure_envoy()
        R.build_floor()  # the startup phase uses the floor wasm too (BENCH_NO_BUILD=1 skips)
        load_before = R.loadavg()
        t = time.monotonic()
        configs = write_configs(tmp, args.keys, args.seed)
        big = big_name(args.keys)
        log(f"generated configs in {time.monotonic() - t:.1f} s: "
            + ", ".join(f"{n} {p.stat().st_size:,} B" for n, (p, _) in configs.items()))

        startup = startup_phase(envoy, wasm, configs, tmp, args.starts, args.workers)
        load_mid = R.loadavg()
        if args.skip_throughput:
            summ = {n: {"rps": 0, "rps_min": 0, "rps_max": 0, "p50": 0, "p99": 0, "errors": 0} for n in ["floor", *configs]}
            rounds_md = "(skipped)"
        else:
            _, summ, rounds_md = throughput_phase(configs, wasm, tmp, args)
        meta = {
            "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "git": R.git_rev(),
            "machine": R.machine_desc(),
            "load_before": load_before,
            "load_mid": load_mid,
            "load_after": R.loadavg(),
            "envoy_version": R.tool_version([envoy, "--version"]),
            "workers": args.workers,
            "wasm_size": wasm.stat().st_size,
            "wasm_sha": R.sha256_short(wasm),
            "configured_line": next((r["configured_line"] for r in startup[big] if r["configured_line"]), "?"),
            "starts": args.starts,
            "rounds": args.rounds,
            "duration": args.duration,
            "notes": [f"total bench time {time.monotonic() - t_start:.0f} s"]
            + (["throughput skipped (--skip-throughput)"] if args.skip_throughput else []),
        }
        md = report(meta, configs, startup, summ, rounds_md, big)
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(md)
        print(md)
        log(f"wrote {R.rel(out)}")
        errs = sum(s["errors"] for s in summ.values())
        failed = errs > 0
        return 2 if errs else 0
    except R.BenchError as e:
        log(f"error: {e}")
        return 1
    except KeyboardInterrupt as e:
        log(f"interrupted ({str(e) or 'Ctrl-C'})")
        return 130
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if failed or os.environ.get("BENCH_KEEP_TMP") == "1":
            log(f"kept temp dir {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
