#!/usr/bin/env bash
# Build the parser with AddressSanitizer, UndefinedBehaviorSanitizer (trapping)
# and libFuzzer's coverage instrumentation, then run each atheris target,
# guided by the extension's coverage.
#   fuzz/run.sh [SECONDS_PER_TARGET] [more libFuzzer flags, e.g. -runs=10000000]
# Needs atheris, and clang (apt-get install clang) for the sanitizer build;
# sanitize.sh builds atheris from source if the installed one lacks
# asan_with_fuzzer.so. The extension is left built with sanitizers; `make
# compile` restores the normal build. Without clang the targets run on the
# installed build: no sanitizers, and no coverage from the C code.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
shift || true

if command -v clang > /dev/null; then
    # shellcheck disable=SC1091
    . fuzz/sanitize.sh
else
    echo "clang not found: fuzzing the normal build (no sanitizers, no C coverage)"
fi
python fuzz/make_seeds.py
status=0
for target in parse chunked differential; do
    seeds=fuzz/seeds/parse
    extra=()
    [ "$target" = chunked ] && seeds=fuzz/seeds/chunked
    [ "$target" = differential ] && extra=(-max_len=4096)
    echo "== fuzz_$target (at most ${seconds}s)"
    start=$SECONDS
    if ! python "fuzz/fuzz_$target.py" "$seeds" -max_total_time="$seconds" -print_final_stats=1 \
            -artifact_prefix=fuzz/crash- "${extra[@]}" "$@" > "fuzz/$target.log" 2>&1; then
        echo "FAILED: see fuzz/$target.log and fuzz/crash-*"
        status=1
    fi
    grep -E "number_of_executed_units|ERROR|Loaded 1 modules" "fuzz/$target.log" || true
    grep -E "DONE" "fuzz/$target.log" | tail -1 || true
    echo "wall time: $((SECONDS - start)) s"
done
exit $status
