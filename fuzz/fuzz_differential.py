"""Fuzz target: the compiled parser and its pure-Python twin must agree.

Same RequestHead fields, or the same error class, status and reason; for
chunked bodies the same output, trailers, leftover or error.
    python fuzz/fuzz_differential.py fuzz/seeds/parse -runs=10000000
"""

import sys

import atheris

with atheris.instrument_imports():
    from fastcore import _parser as compiled
    from fastcore import _parser_py as pure
    from fastcore.errors import ParseError


def head_outcome(impl, data):
    try:
        head = impl.parse_request(data)
    except ParseError as e:
        return ("error", type(e), e.status, e.reason)
    if head is None:
        return None
    return head._fields(), impl.build_environ(head)


def chunk_outcome(impl, data):
    decoder = impl.ChunkedDecoder()
    try:
        body = decoder.feed(data)
    except ParseError as e:
        return ("error", type(e), e.status, e.reason)
    return body, decoder.done, decoder.trailers, decoder.unused


def TestOneInput(data):
    assert head_outcome(compiled, data) == head_outcome(pure, data), data
    assert chunk_outcome(compiled, data) == chunk_outcome(pure, data), data


if __name__ == "__main__":
    atheris.Setup(sys.argv, TestOneInput)
    atheris.Fuzz()
