"""Fuzz target: the compiled parser and its pure-Python twin must agree.

Same RequestHead fields, or the same error class, status and reason; for
chunked bodies the same output, trailers, leftover or error. Each input runs
under the default limits and under tiny ones, so the limit checks are reached
with short inputs (run.sh caps inputs at 4 KiB: the pure twin is the slow side).
    python fuzz/fuzz_differential.py fuzz/seeds/parse -max_len=4096 -runs=10000000
"""

import sys

import atheris

with atheris.instrument_imports():
    from fastcore import _parser as compiled
    from fastcore.errors import ParseError
# Not instrumented: tracing every line of the twin made each input ~4x slower,
# and the compiled side's coverage already steers the fuzzer through the same
# algorithm.
from fastcore import _parser_py as pure  # noqa: E402

from fuzz_parse import SMALL


def head_outcome(impl, data, limits):
    try:
        head = impl.parse_request(data, limits=limits)
    except ParseError as e:
        return ("error", type(e), e.status, e.reason)
    if head is None:
        return None
    return head._fields(), impl.build_environ(head)


def chunk_outcome(impl, data, limits):
    decoder = impl.ChunkedDecoder(limits=limits)
    try:
        body = decoder.feed(data)
    except ParseError as e:
        return ("error", type(e), e.status, e.reason)
    return body, decoder.done, decoder.trailers, decoder.unused


def TestOneInput(data):
    for limits in (compiled.DEFAULT_LIMITS, SMALL):
        assert head_outcome(compiled, data, limits) == head_outcome(pure, data, limits), data
        assert chunk_outcome(compiled, data, limits) == chunk_outcome(pure, data, limits), data


if __name__ == "__main__":
    atheris.Setup(sys.argv, TestOneInput)
    atheris.Fuzz()
