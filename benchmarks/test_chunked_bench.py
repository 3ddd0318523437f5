"""Chunked request bodies: 16 MiB decoded, fed in 64 KiB reads as from a socket.

Run: pytest benchmarks/ --benchmark-only
"""

import io

import pytest

from corpus import chunked_body

TOTAL = 16 * 1024 * 1024
READ = 65536
BODIES = {size: chunked_body(TOTAL, size) for size in (64, 4096, 65536)}


def fastcore_decode(module):
    def decode(raw):
        decoder = module.ChunkedDecoder()
        out = [decoder.feed(raw[i:i + READ]) for i in range(0, len(raw), READ)]
        assert decoder.done
        return b"".join(out)
    return decode


def werkzeug_decode(raw):
    from werkzeug.serving import DechunkedInput
    stream = DechunkedInput(io.BufferedReader(io.BytesIO(raw), READ))
    out = []
    while True:
        piece = stream.read(READ)
        if not piece:
            return b"".join(out)
        out.append(piece)


def httptools_decode(raw):
    import httptools

    class Protocol:
        def __init__(self):
            self.out = []

        def on_body(self, body):
            self.out.append(body)

    proto = Protocol()
    parser = httptools.HttpRequestParser(proto)
    parser.feed_data(b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n")
    for i in range(0, len(raw), READ):
        parser.feed_data(raw[i:i + READ])
    return b"".join(proto.out)


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
