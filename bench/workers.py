#!/usr/bin/env python3
"""Does throughput scale with Envoy workers? (`make bench-workers`; issue 25's goal: 2 workers
give at least 1.8 times the throughput of 1.)

Runs bench/run.py twice, `--workers 1` and `--workers 2`, each with floor-resp, the shipped
default config and the full policy (`wrk` with two threads and 32 connections in both, so the
load generator is the same), and reports each variant's scaling next to the floor's. On a
machine whose cores also run wrk and nginx, the floor's own scaling is the ceiling: a filter
that scales as well as the floor adds no contention of its own (shared data, locks).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))
import keys  # noqa: E402  (parse_summary of run.py's markdown)
import run as R  # noqa: E402

OUT = BENCH_DIR / "results" / "workers.md"


def main() -> int:
    wasm = R.DEFAULT_TOLLGATE_WASM
    variants = [
        f"name=floor-resp,wasm={R.FLOOR_WASM},config={BENCH_DIR / 'floor-resp.json'}",
        f"name=tollgate,wasm={wasm},config={R.TOLLGATE_CONFIG},root_id=tollgate",
        f"name=tollgate-full,wasm={wasm},config={BENCH_DIR / 'tollgate-config-full.json'},root_id=tollgate",
    ]
    rounds, duration = os.environ.get("BENCH_ROUNDS", "3"), os.environ.get("BENCH_DURATION", "5")
    summaries = {}
    for w in (1, 2):
        out = BENCH_DIR / "results" / f"workers-{w}.md"
        argv = [sys.executable, str(BENCH_DIR / "run.py"), "--fresh", "--workers", str(w), "--threads", "2", "--connections", "32",
                "--rounds", rounds, "--duration", duration, "--floor", "floor-resp", "--floor2", "floor-resp", "--baseline", "floor-resp", "--out", str(out)]
        for v in variants:
            argv += ["--variant", v]
        if subprocess.call(argv, cwd=str(R.REPO)) != 0:
            return 1
        summaries[w] = keys.parse_summary(out.read_text())
    floor = summaries[2]["floor-resp"]["rps"] / summaries[1]["floor-resp"]["rps"]
    lines = [
        "# Throughput at 1 and 2 Envoy workers (`make bench-workers`)",
        "",
        f"`bench/run.py --fresh`, {rounds} rounds × {duration} s per worker count, `wrk -t2 -c32`, the 1 KB chat request; "
        f"{R.machine_desc()}, load average {R.loadavg()}; git {R.git_rev()}. Per-run tables: `workers-1.md`, `workers-2.md`.",
        "",
        "| variant | req/s, 1 worker | req/s, 2 workers | 2 workers ÷ 1 | ÷ the floor's scaling |",
        "|---|---:|---:|---:|---:|",
    ]
    for name in ("floor-resp", "tollgate", "tollgate-full"):
        a, b = summaries[1][name]["rps"], summaries[2][name]["rps"]
        lines.append(f"| {name} | {a:,.0f} | {b:,.0f} | **{b / a:.2f}** | {(b / a) / floor:.2f} |")
    md = "\n".join(lines) + "\n"
    OUT.write_text(md)
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
