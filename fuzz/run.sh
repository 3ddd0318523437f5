#!/usr/bin/env bash
# Build the parser with AddressSanitizer, UndefinedBehaviorSanitizer (trapping)
# and libFuzzer's coverage instrumentation, then run each atheris target.
#   fuzz/run.sh [SECONDS_PER_TARGET] [more libFuzzer flags, e.g. -runs=10000000]
# Needs clang (apt-get install clang) and atheris (pip install atheris). The
# extension is left built with sanitizers; `make compile` restores the normal build.
#
# Known gap (work in progress on the hardening issue): the fuzzer does not yet
# see the C extension's coverage counters (libFuzzer reports only the Python
# harness's features), so the run is sanitizer-checked but not guided by the C
# code's coverage.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
shift || true

# shellcheck disable=SC1091
. fuzz/sanitize.sh
python fuzz/make_seeds.py
status=0
for target in parse chunked differential; do
    seeds=fuzz/seeds/parse
    [ "$target" = chunked ] && seeds=fuzz/seeds/chunked
    echo "== fuzz_$target (${seconds}s)"
    if ! python "fuzz/fuzz_$target.py" "$seeds" -max_total_time="$seconds" -print_final_stats=1 \
            -artifact_prefix=fuzz/crash- "$@" > "fuzz/$target.log" 2>&1; then
        echo "FAILED: see fuzz/$target.log and fuzz/crash-*"
        status=1
    fi
    grep -E "number_of_executed_units|ERROR" "fuzz/$target.log" || true
done
exit $status
