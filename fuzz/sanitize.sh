#!/usr/bin/env bash
# Source this: builds fastcore/_parser with ASan, UBSan (trapping) and
# libFuzzer coverage instrumentation in place, and exports the LD_PRELOAD and
# ASAN_OPTIONS that a Python process needs to load it. Needs clang.
#   . fuzz/sanitize.sh && python -m pytest tests/test_parser_*.py
runtime="$(clang -print-runtime-dir)"
fuzz_lib="$(mktemp -d)/libfuzzer_no_main.so"
# libFuzzer as a shared library, so the extension's coverage callbacks resolve
# (atheris loads its own copy privately).
clang -shared -fPIC -o "$fuzz_lib" -Wl,--whole-archive \
    "$runtime/libclang_rt.fuzzer_no_main-x86_64.a" -Wl,--no-whole-archive -lstdc++ -lpthread -lm
CC=clang LDSHARED="clang -shared" \
CFLAGS="-O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined,fuzzer-no-link -fsanitize-trap=undefined" \
LDFLAGS="-fsanitize=address,undefined,fuzzer-no-link" \
    FASTCORE_SANITIZE=1 python setup.py build_ext --inplace --force > /dev/null 2>&1
export LD_PRELOAD="$runtime/libclang_rt.asan-x86_64.so:$fuzz_lib"
export ASAN_OPTIONS="detect_leaks=0:allocator_may_return_null=1"
