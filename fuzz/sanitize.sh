#!/usr/bin/env bash
# Source this: builds fastcore/_parser in place with ASan, UBSan (trapping) and
# libFuzzer's coverage instrumentation, and exports the LD_PRELOAD and
# ASAN_OPTIONS that a Python process needs to load it. Needs clang, and atheris
# built from source (`pip install --no-binary atheris atheris` with clang on
# PATH), which is what provides asan_with_fuzzer.so: ASan's runtime with
# libFuzzer linked in. Preloading the plain ASan runtime instead would let its
# empty coverage hooks win, and libFuzzer would never see the extension's
# counters.
#   . fuzz/sanitize.sh && python -m pytest tests/   (from the repository root)
preload="$(python -c 'import atheris; print(atheris.path())' 2>/dev/null || true)/asan_with_fuzzer.so"
if [ ! -f "$preload" ]; then
    echo "building atheris from source for asan_with_fuzzer.so (a few minutes)" >&2
    CC=clang CXX=clang++ python -m pip install --quiet --no-binary atheris --force-reinstall atheris >&2
    preload="$(python -c 'import atheris; print(atheris.path())')/asan_with_fuzzer.so"
fi
# The build tools, as pyproject.toml's build-system asks for them (an installed
# fastcore does not bring them along; a venv's own setuptools may be too old).
python -m pip install --quiet "Cython>=3" "setuptools>=77" >&2
build_log="$(mktemp)"
if ! CC=clang LDSHARED="clang -shared" \
    CFLAGS="-O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined,fuzzer-no-link -fsanitize-trap=undefined" \
    LDFLAGS="-fsanitize=address,undefined,fuzzer-no-link" \
    FASTCORE_SANITIZE=1 python setup.py build_ext --inplace --force > "$build_log" 2>&1; then
    cat "$build_log" >&2
    echo "sanitizer build failed" >&2
    return 1 2> /dev/null || exit 1
fi
export LD_PRELOAD="$preload"
# The in-place build, not an installed copy, is the one to import.
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
export ASAN_OPTIONS="detect_leaks=0:allocator_may_return_null=1"
