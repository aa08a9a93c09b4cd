#!/bin/sh
# Runs every fuzz target (or those named) for FUZZ_SECONDS each, under libFuzzer, from the
# committed seeds (fuzz/corpus/T) plus a working corpus the runs grow (fuzz/corpus-work/T, not
# committed). Prints each target's executions and coverage (libFuzzer's cov/ft) and fails if
# any target crashed; the crashing input is in fuzz/artifacts/T.
#
# cargo-fuzz wants nightly for `-Z` flags; RUSTC_BOOTSTRAP=1 lets the pinned stable toolchain
# take them. No sanitizer by default (FUZZ_SANITIZER=address for one): the crate denies
# `unsafe`, so AddressSanitizer would only halve the executions. Debug assertions (overflow
# checks) are on.
#
# FUZZ_RUNS=N also ends each target after N executions (whichever of the two limits comes
# first): `FUZZ_RUNS=10000000 FUZZ_SECONDS=86400` runs each named target to 10 million.
set -u
cd "$(dirname "$0")"
SECONDS_EACH=${FUZZ_SECONDS:-10}
RUNS_EACH=${FUZZ_RUNS:--1}
TARGETS=${FUZZ_TARGETS:-$(sed -n 's/^name = "\(.*\)"$/\1/p' Cargo.toml | grep -v tollgate-fuzz)}
export RUSTC_BOOTSTRAP=1
# The policy target's config is examples/policy/config.yaml as JSON: refreshed when PyYAML is at hand.
for py in ../.venv/bin/python python3; do
  "$py" -c 'import json, sys, yaml; json.dump(yaml.safe_load(open(sys.argv[1])), open(sys.argv[2], "w"))' \
    ../examples/policy/config.yaml policy-config.json 2>/dev/null && break
done
FLAGS="--sanitizer ${FUZZ_SANITIZER:-none} -O -a"
cargo fuzz build $FLAGS || exit 1
failed=""
for t in $TARGETS; do
  mkdir -p "corpus-work/$t" "artifacts/$t"
  log="artifacts/$t/last-run.log"
  cargo fuzz run $FLAGS "$t" "corpus-work/$t" "corpus/$t" -- \
    -max_total_time="$SECONDS_EACH" -runs="$RUNS_EACH" -max_len=8192 -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 >"$log" 2>&1
  rc=$?
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
  cov=$(grep -E '^#[0-9]+' "$log" | tail -1 | sed -n 's/.*cov: \([0-9]*\) ft: \([0-9]*\).*/cov \1 ft \2/p')
  secs=$(sed -n 's/.*Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$log")
  echo "$t: ${runs:-?} executions, ${cov:-cov ?} in ${secs:-$SECONDS_EACH}s$( [ $rc -ne 0 ] && echo ' CRASH (see '"$log"')')"
  [ $rc -ne 0 ] && failed="$failed $t"
done
[ -z "$failed" ] || { echo "crashed:$failed"; exit 1; }
