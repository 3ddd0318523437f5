"""Fuzz target: parse_request + build_environ on the compiled parser.

Invariant for every input: a RequestHead, None, or a ParseError; nothing else.
    python fuzz/fuzz_parse.py fuzz/seeds/parse -runs=10000000
"""

import sys

import atheris

with atheris.instrument_imports():
    from fastcore import _parser as parser
    from fastcore.errors import ParseError

SMALL = parser.Limits(max_request_line=64, max_header_count=4, max_header_bytes=256,
                      max_chunk_ext=16, max_trailer_bytes=64)


def TestOneInput(data):
    for limits in (parser.DEFAULT_LIMITS, SMALL):
        try:
            head = parser.parse_request(data, limits=limits)
        except ParseError as e:
            assert isinstance(e.status, int) and e.reason and "\n" not in e.reason
            continue
        if head is None:
            continue
        assert 0 < head.size <= len(data)
        environ = parser.build_environ(head, {"wsgi.url_scheme": "http"})
        assert all(type(v) is str for k, v in environ.items() if k.isupper())
        assert head.headers == head.headers  # pairs built on demand


if __name__ == "__main__":
    atheris.Setup(sys.argv, TestOneInput)
    atheris.Fuzz()
