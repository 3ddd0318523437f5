"""Property tests: generated requests parse to what was generated, the twins
agree on every input (valid or mutated), and h11 accepts what we accept."""

import h11
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fastcore import _parser_py
from fastcore.errors import ParseError
from fastcore.parser import COMPILED
from strategies import chunked_bodies, requests

if COMPILED:
    from fastcore import _parser as _compiled
else:
    _compiled = None

needs_both = pytest.mark.skipif(not COMPILED, reason="compiled twin not in use")
HOSTILE = st.sampled_from(b"\x00\r\n\x7f\xa0 \t:;,\"\\/%#?=\x16\xff0aZ")
SETTINGS = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


def outcome(impl, data):
    try:
        head = impl.parse_request(data)
    except ParseError as exc:
        return ("error", type(exc), exc.status, exc.reason)
    return head if head is None else ("head",) + head._fields()


def chunk_outcome(impl, pieces):
    decoder = impl.ChunkedDecoder()
    body = b""
    try:
        for piece in pieces:
            body += decoder.feed(piece)
    except ParseError as exc:
        return ("error", type(exc), exc.status, exc.reason)
    return (body, decoder.done, decoder.trailers, decoder.unused)


@st.composite
def mutated(draw, source):
    data = bytearray(draw(source))
    for _ in range(draw(st.integers(1, 3))):
        i = draw(st.integers(0, len(data)))
        kind = draw(st.sampled_from(["insert", "replace", "delete"]))
        byte = draw(HOSTILE | st.integers(0, 255))
        if kind == "insert":
            data.insert(i, byte)
        elif i < len(data):
            if kind == "replace":
                data[i] = byte
            else:
                del data[i]
    return bytes(data)


@SETTINGS
@given(request=requests())
def test_generated_requests_parse_to_what_was_generated(impl, request):
    head = impl.parse_request(request.raw)
    assert head.size == len(request.raw)
    assert (head.method, head.target, head.path, head.query, head.version) == (
        request.method, request.target, request.path, request.query, request.version)
    assert head.headers == [(n, v) for n, v in request.headers]
    assert head.content_length == request.content_length
    assert head.keep_alive == (request.version == "HTTP/1.1")


@SETTINGS
@given(request=requests(ascii_only=True))
def test_h11_accepts_what_we_accept(request):
    from fastcore.parser import parse_request
    head = parse_request(request.raw)
    conn = h11.Connection(h11.SERVER)
    conn.receive_data(request.raw)
    event = conn.next_event()
    assert isinstance(event, h11.Request)
    assert event.method.decode() == head.method
    assert event.target.decode("latin-1") == head.target


@needs_both
@SETTINGS
@given(data=mutated(requests().map(lambda r: r.raw)) | st.binary(max_size=200))
def test_twins_agree_on_mutated_requests(data):
    assert outcome(_compiled, data) == outcome(_parser_py, data)
    for cut in (len(data) // 3, len(data) // 2):
        assert outcome(_compiled, data[:cut]) == outcome(_parser_py, data[:cut])


@SETTINGS
@given(body=chunked_bodies(), cuts=st.lists(st.integers(0, 5000), max_size=6))
def test_chunked_any_split_gives_the_body(impl, body, cuts):
    raw, decoded = body
    bounds = sorted({c % (len(raw) + 1) for c in cuts} | {0, len(raw)})
    pieces = [raw[a:b] for a, b in zip(bounds, bounds[1:])] + [b"NEXT"]
    assert chunk_outcome(impl, pieces)[:2] == (decoded, True)
    assert chunk_outcome(impl, pieces)[3] == b"NEXT"


@needs_both
@SETTINGS
@given(data=mutated(chunked_bodies().map(lambda b: b[0])),
       cuts=st.lists(st.integers(0, 5000), max_size=4))
def test_twins_agree_on_mutated_chunked_bodies(data, cuts):
    bounds = sorted({c % (len(data) + 1) for c in cuts} | {0, len(data)})
    pieces = [data[a:b] for a, b in zip(bounds, bounds[1:])]
    whole = chunk_outcome(_compiled, [data])
    assert chunk_outcome(_parser_py, [data]) == whole
    assert chunk_outcome(_compiled, pieces) == whole
    assert chunk_outcome(_parser_py, pieces) == whole
