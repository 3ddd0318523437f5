"""Fuzz target: ChunkedDecoder fed at split points chosen by the fuzzer.

Invariants: only ParseError escapes; the output and the outcome do not
depend on how the input is split; no byte is decoded past the end.
    python fuzz/fuzz_chunked.py fuzz/seeds/chunked -runs=10000000
"""

import sys

import atheris

with atheris.instrument_imports():
    from fastcore import _parser as parser
    from fastcore.errors import ParseError

SMALL = parser.Limits(max_chunk_ext=8, max_trailer_bytes=32, max_header_count=3)


def decode(pieces, limits):
    decoder = parser.ChunkedDecoder(limits=limits)
    body = b""
    try:
        for piece in pieces:
            body += decoder.feed(piece)
    except ParseError as e:
        return ("error", type(e), e.reason)
    return (body, decoder.done, decoder.trailers, decoder.unused)


def TestOneInput(data):
    fdp = atheris.FuzzedDataProvider(data)
    cuts = [fdp.ConsumeIntInRange(0, 4096) for _ in range(fdp.ConsumeIntInRange(0, 6))]
    raw = fdp.ConsumeBytes(fdp.remaining_bytes())
    bounds = [0, *sorted(c % (len(raw) + 1) for c in cuts), len(raw)]
    pieces = [raw[a:b] for a, b in zip(bounds, bounds[1:])]
    for limits in (parser.DEFAULT_LIMITS, SMALL):
        whole = decode([raw], limits)
        assert decode(pieces, limits) == whole, (raw, bounds)
        if whole[0] != "error":
            assert len(whole[0]) <= len(raw)


if __name__ == "__main__":
    atheris.Setup(sys.argv, TestOneInput)
    atheris.Fuzz()
