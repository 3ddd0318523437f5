"""Chunked request bodies: 16 MiB decoded, fed in 64 KiB reads as from a socket.

Run: pytest benchmarks/ --benchmark-only
"""

import pytest

from corpus import chunked_body
from peers import fastcore_decode, httptools_decode, werkzeug_decode

TOTAL = 16 * 1024 * 1024
BODIES = {size: chunked_body(TOTAL, size) for size in (64, 4096, 65536)}


def _decoders():
    from fastcore import _parser_py
    decoders = {"werkzeug": werkzeug_decode, "fastcore_pure": fastcore_decode(_parser_py)}
    try:
        from fastcore import _parser
        decoders["fastcore"] = fastcore_decode(_parser)
    except ImportError:
        pass
    try:
        import httptools  # noqa: F401
        decoders["httptools"] = httptools_decode
    except ImportError:
        pass
    return decoders


DECODERS = _decoders()


@pytest.mark.parametrize("impl", list(DECODERS))
@pytest.mark.parametrize("chunk_size", sorted(BODIES))
def test_chunked(benchmark, chunk_size, impl):
    if impl == "fastcore_pure" and chunk_size == 64:
        pytest.skip("the pure twin takes seconds per round at 64-byte chunks")
    raw, body = BODIES[chunk_size]
    decode = DECODERS[impl]
    assert decode(raw) == body, f"{impl} decoded a different body"
    benchmark.group = f"chunked:{chunk_size}B"
    benchmark.pedantic(decode, args=(raw,), rounds=5, warmup_rounds=1)
    if benchmark.stats is not None:  # None with --benchmark-disable
        benchmark.extra_info["MB/s"] = round(TOTAL / benchmark.stats.stats.min / 1e6)
