#!/usr/bin/env python3
"""Keys at scale from a key source (python3 stdlib only; `make bench-keys` calls this).

Question (issue 25): do 100,000 keys cost at most 8 MiB per Envoy process whatever the
worker count, and load in under 0.5 s; and do 1,000,000 keys load and check correctly?

  1. Writes JSON-lines key files (10, 100,000 and 1,000,000 keys; `KEYS_SIZES`) into a temp
     dir. Key i's secret is `tg-src-<i>`; the bench key (`tg-bench-key`) sits in the middle.
  2. Serves them with a real nginx on loopback (Range, ETag, as any static server).
  3. For each file and each worker count (`KEYS_WORKERS`, default "1 4"), starts Envoy with
     the shipped bench config (`bench/tollgate-config.json`) with its inline keys replaced by
     `auth.key_source`, and measures:
       - the load: tollgate's own log line (`N entries loaded in X ms`), and the time from LIVE
         until the bench key is accepted;
       - the Envoy process's VmRSS once loaded, against the 10-key file at the same worker
         count (the difference is what the keys cost);
       - correctness: `KEYS_PROBES` keys drawn across the file are all accepted, as many
         secrets not in the file are all refused (401), and the log has exactly one load.
  4. Writes bench/results/keys-source.md and prints it.
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
import statistics
import sys
import tempfile
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))
import run as R  # noqa: E402

RESULTS_MD = BENCH_DIR / "results" / "keys-source.md"
LOADED = re.compile(r"(\d+) entries loaded in (\d+) ms")


def log(msg: str) -> None:
    print(f"[keys-source] {msg}", file=sys.stderr, flush=True)


def secret(i: int) -> str:
    return f"tg-src-{i}"


def write_file(path: Path, n: int) -> None:
    mid = n // 2
    with path.open("w") as f:
        for i in range(n):
            s = R.API_KEY if i == mid else secret(i)
            d = hashlib.sha256(s.encode()).hexdigest()
            f.write(f'{{"id":"k{i:07d}","tenant":"t{i % 100:03d}","digests":["sha256:{d}"],"models":["*"]}}\n')


def start_nginx(procs: R.Procs, root: Path) -> int:
    prefix = root.parent / "nginx"
    prefix.mkdir()
    port = R.free_port()
    conf = prefix / "nginx.conf"
    conf.write_text(
        f"daemon off;\nmaster_process off;\nworker_processes 1;\npid {prefix}/nginx.pid;\nerror_log {prefix}/error.log warn;\n"
        f"events {{ worker_connections 256; }}\nhttp {{ access_log off; client_body_temp_path {prefix}/cb; proxy_temp_path {prefix}/px; "
        f"fastcgi_temp_path {prefix}/fc; uwsgi_temp_path {prefix}/uw; scgi_temp_path {prefix}/sc;\n"
        f"server {{ listen 127.0.0.1:{port}; root {root}; location / {{ }} }} }}\n"
    )
    procs.start("nginx", ["nginx", "-p", str(prefix), "-c", str(conf), "-e", str(prefix / "error.log")], prefix / "stdout.log")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            st, _ = R.http_get(f"http://127.0.0.1:{port}/keys-10.jsonl", timeout=0.5)
            if st == 200:
                return port
        except OSError:
            pass
        time.sleep(0.05)
    raise R.BenchError("nginx did not serve the key files")


def config_file(tmp: Path, name: str, path: str) -> Path:
    cfg = json.loads(R.TOLLGATE_CONFIG.read_text())
    cfg["keys"] = []
    cfg.setdefault("auth", {})["key_source"] = {"cluster": "keys", "path": path, "refresh_s": 3600}
    p = tmp / f"{name}.json"
    p.write_text(json.dumps(cfg))
    return p


def rss_kb(pid: int) -> dict[str, int]:
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        k, _, v = line.partition(":")
        if k in ("VmRSS", "VmHWM"):
            out[k] = int(v.split()[0])
    return out


def post(port: int, key: str) -> int:
    """The status, with tollgate's own 503 (`keys_unavailable`: not loaded yet) as 0."""
    st, _, body = R.http_post(f"http://127.0.0.1:{port}{R.REQUEST_PATH}", R.request_body().encode(),
                              {"content-type": "application/json", "authorization": f"Bearer {key}"})
    return 0 if st == 503 and b"keys_unavailable" in body else st


def start_envoy(procs: R.Procs, envoy: str, wasm: Path, cfg: Path, keys_port: int, upstream_port: int, workers: int, d: Path):
    """Starts Envoy with the `keys` cluster; returns (process, listener port, LIVE instant, log file)."""
    d.mkdir(parents=True)
    v = R.Variant(d.name, wasm, cfg, root_id="tollgate")
    yaml = R.render_envoy(v, upstream_port) + (
        "\n  - name: keys\n    type: STATIC\n    connect_timeout: 1s\n    load_assignment:\n      cluster_name: keys\n"
        f"      endpoints: [{{ lb_endpoints: [{{ endpoint: {{ address: {{ socket_address: {{ address: 127.0.0.1, port_value: {keys_port} }} }} }} }}] }}]\n"
    )
    conf = d / "envoy.yaml"
    conf.write_text(yaml)
    addr_file, logfile = d / "admin.address", d / "envoy.log"
    t0 = time.monotonic()
    p = procs.start("envoy", R.pin_prefix("envoy") + [envoy, "-c", str(conf), "--disable-hot-restart", "--concurrency", str(workers),
                                                     "--admin-address-path", str(addr_file), "--log-level", "info", "--log-path", str(logfile)], d / "stdout.log")
    admin = ""
    while time.monotonic() < t0 + 60:
        if p.poll() is not None:
            raise R.BenchError("envoy exited:\n" + R.tail(logfile))
        if not admin and addr_file.exists():
            admin = addr_file.read_text().strip()
        if admin:
            try:
                st, body = R.http_get(f"http://{admin}/ready", timeout=1.0)
                if st == 200 and body.strip() == b"LIVE":
                    live = time.monotonic()
                    st, body = R.http_get(f"http://{admin}/listeners?format=json")
                    port = next(ls["local_address"]["socket_address"]["port_value"] for ls in json.loads(body)["listener_statuses"])
                    return p, port, live, logfile
            except OSError:
                pass
        time.sleep(0.01)
    raise R.BenchError("envoy not LIVE:\n" + R.tail(logfile))


def one(envoy: str, wasm: Path, cfg: Path, keys_port: int, n: int, workers: int, d: Path, probes: int, rng: random.Random) -> dict:
    procs = R.Procs()
    try:
        # Upstream port 9 (nothing listens): a 503 means the key was accepted.
        p, port, live, logfile = start_envoy(procs, envoy, wasm, cfg, keys_port, 9, workers, d)
        accepted = None
        while time.monotonic() < live + 120:
            if post(port, R.API_KEY) not in (0, 401):
                accepted = time.monotonic()
                break
            time.sleep(0.01)
        if accepted is None:
            raise R.BenchError("the bench key was never accepted:\n" + R.tail(logfile))
        time.sleep(1.0)
        mem = rss_kb(p.pid)
        sample = sorted(rng.sample(range(n), min(probes, n)))
        bad_in = [i for i in sample if i != n // 2 and post(port, secret(i)) in (401, 403)]
        bad_out = [i for i in range(n, n + probes) if post(port, secret(i)) != 401]
    finally:
        procs.stop_all()  # Envoy flushes its log file on exit
    text = logfile.read_text(errors="replace")
    loads = LOADED.findall(text)
    if len(loads) != 1 or int(loads[0][0]) != n:
        raise R.BenchError(f"expected one load of {n} keys, log has {loads}")
    if bad_in or bad_out:
        raise R.BenchError(f"keys in the file refused: {bad_in[:5]}; keys not in it accepted: {bad_out[:5]}")
    return {"load_ms": int(loads[0][1]), "live_to_key_s": accepted - live, "rss": mem["VmRSS"], "hwm": mem["VmHWM"], "probed": len(sample)}


def throughput(envoy: str, wasm: Path, variants: dict[str, Path], keys_port: int, tmp: Path, rounds: int, duration: int) -> dict[str, list[tuple[float, float]]]:
    """Interleaved rounds, a fresh Envoy (one worker) per variant and round, against nginx's static
    chat answer: (req/s, Envoy CPU µs per request) per round."""
    procs = R.Procs()
    out: dict[str, list[tuple[float, float]]] = {n: [] for n in variants}
    try:
        (tmp / "upstream").mkdir()
        upstream = R.start_nginx(procs, tmp / "upstream", 1)
        script = R.wrk_script(tmp, R.request_body())
        for r in range(rounds):
            for name, cfg in variants.items():
                vp = R.Procs()
                try:
                    p, port, _, _ = start_envoy(vp, envoy, wasm, cfg, keys_port, upstream, 1, tmp / f"tp-{r}-{name}")
                    deadline = time.monotonic() + 60
                    while post(port, R.API_KEY) != 200:
                        if time.monotonic() > deadline:
                            raise R.BenchError(f"{name}: the bench key never got a 200")
                        time.sleep(0.02)
                    R.run_wrk(script, port, 1, 16, 2)
                    c0 = R.group_cpu_seconds(p.pid)
                    w = R.run_wrk(script, port, 1, 16, duration)
                    cpu = R.group_cpu_seconds(p.pid) - c0
                    reqs = w["rps"] * duration
                    out[name].append((w["rps"], cpu * 1e6 / reqs if reqs else 0.0))
                    log(f"round {r + 1} {name}: {w['rps']:.0f} req/s, {out[name][-1][1]:.1f} µs CPU/req")
                finally:
                    vp.stop_all()
    finally:
        procs.stop_all()
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default=os.environ.get("KEYS_SIZES", "10 100000 1000000"))
    ap.add_argument("--workers", default=os.environ.get("KEYS_WORKERS", "1 4"))
    ap.add_argument("--starts", type=int, default=R.env_int("KEYS_STARTS", 2))
    ap.add_argument("--probes", type=int, default=R.env_int("KEYS_PROBES", 300))
    ap.add_argument("--rounds", type=int, default=R.env_int("BENCH_ROUNDS", 3), help="throughput rounds (0: skip)")
    ap.add_argument("--duration", type=int, default=R.env_int("BENCH_DURATION", 5))
    ap.add_argument("--out", default=str(RESULTS_MD))
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split()]
    workers = [int(w) for w in args.workers.split()]
    if 10 not in sizes:
        sizes = [10] + sizes
    wasm = R.DEFAULT_TOLLGATE_WASM
    tmp = Path(tempfile.mkdtemp(prefix="tollgate-keys-source-"))
    procs = R.Procs()
    rng = random.Random(20261207)
    try:
        envoy = R.ensure_envoy()
        root = tmp / "root"
        root.mkdir()
        for n in sizes:
            t = time.monotonic()
            write_file(root / f"keys-{n}.jsonl", n)
            log(f"keys-{n}.jsonl: {(root / f'keys-{n}.jsonl').stat().st_size:,} B in {time.monotonic() - t:.1f} s")
        for dd in (tmp, root):
            dd.chmod(0o755)
        keys_port = start_nginx(procs, root)
        results: dict[tuple[int, int], list[dict]] = {}
        for s in range(args.starts):
            for w in workers:
                for n in sizes:
                    cfg = config_file(tmp, f"cfg-{n}", f"/keys-{n}.jsonl")
                    r = one(envoy, wasm, cfg, keys_port, n, w, tmp / f"run-{s}-{w}-{n}", args.probes, rng)
                    results.setdefault((w, n), []).append(r)
                    log(f"start {s + 1} workers {w} keys {n:,}: loaded in {r['load_ms']} ms, RSS {r['rss'] / 1024:.1f} MiB, {r['probed']} probes ok")
        L = [
            "# Keys at scale from a key source (`make bench-keys`)",
            "",
            f"Generated by `bench/keys_source.py` on {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC (git {R.git_rev()}); "
            f"{R.machine_desc()}; load average {R.loadavg()}; Envoy {R.tool_version([envoy, '--version'])}; tollgate.wasm {wasm.stat().st_size:,} B.",
            "",
            f"The shipped bench config with `auth.key_source` (a JSON-lines file served by nginx, fetched in 256 KiB ranges) "
            f"instead of inline keys; {args.starts} starts per row, median. RSS is the Envoy process's VmRSS 1 s after the "
            "bench key is first accepted; `keys cost` is that minus the 10-key file's RSS at the same worker count.",
            "",
            "| workers | keys | file | load (tollgate's log) | LIVE → key accepted | VmRSS | keys cost | VmHWM | probes |",
            "|---:|---:|---:|---:|---:|---:|---:|---:|---|",
        ]
        for w in workers:
            base = statistics.median(r["rss"] for r in results[(w, 10)])
            for n in sizes:
                rs = results[(w, n)]
                rss = statistics.median(r["rss"] for r in rs)
                L.append(
                    f"| {w} | {n:,} | {(root / f'keys-{n}.jsonl').stat().st_size / 1e6:.1f} MB | {statistics.median(r['load_ms'] for r in rs):.0f} ms "
                    f"| {statistics.median(r['live_to_key_s'] for r in rs):.2f} s | {rss / 1024:.1f} MiB | **{(rss - base) / 1024:+.1f} MiB** "
                    f"| {statistics.median(r['hwm'] for r in rs) / 1024:.1f} MiB | {rs[0]['probed']} in the file accepted, {args.probes} not in it refused |"
                )
        big = max(sizes)
        if args.rounds > 0 and 100_000 in sizes:
            tp = throughput(envoy, wasm, {"inline": R.TOLLGATE_CONFIG, "source-100k": config_file(tmp, "tp-100k", "/keys-100000.jsonl")},
                            keys_port, tmp, args.rounds, args.duration)
            med = {n: (statistics.median(x[0] for x in v), statistics.median(x[1] for x in v)) for n, v in tp.items()}
            L += [
                "",
                f"**The key check per request** ({args.rounds} interleaved rounds × {args.duration} s, one worker, `wrk -t1 -c16`, "
                "nginx's static chat answer upstream, median): the shipped default config with its key inline, against the same "
                "config with the key found in the 100,000-key index (one shared-data read of its bucket and one record decoded; each VM reads the index's pointer once a second).",
                "",
                "| variant | req/s | Envoy CPU µs/req |",
                "|---|---:|---:|",
            ] + [f"| {n} | {m[0]:,.0f} | {m[1]:.1f} |" for n, m in med.items()] + [
                "",
                f"source-100k / inline: **{med['source-100k'][0] / med['inline'][0]:.2f}** of the throughput, "
                f"**{med['source-100k'][1] - med['inline'][1]:+.1f} µs** of CPU per request.",
            ]
        del big
        md = "\n".join(L) + "\n"
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(md)
        print(md)
        return 0
    except R.BenchError as e:
        log(f"error: {e}")
        return 1
    finally:
        procs.stop_all()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
