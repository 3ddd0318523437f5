"""wsgi.input against io.BytesIO: any sequence of reads returns what BytesIO
returns for the same body, however the bytes arrive (pieces of any size from
the socket, any chunk sizes), for Content-Length and chunked bodies, with the
compiled and the pure-Python chunked decoder."""

import importlib
import io

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import PURE_ONLY, PURE_REASON
from fastcore.wsgi import wsgi_input
from fastcore.limits import DEFAULT_LIMITS


class Arrivals:
    """What the exchange gives wsgi.input: the raw bytes, in pieces of the
    given sizes (as recv returns them), and what the input gives back."""

    def __init__(self, raw, sizes):
        self.raw = raw
        self.sizes = list(sizes) or [len(raw) or 1]
        self.at = 0
        self.calls = 0
        self.unread_bytes = b""

    def read_body_bytes(self, limit):
        size = min(limit, self.sizes[self.calls % len(self.sizes)])
        self.calls += 1
        data = self.raw[self.at:self.at + size]
        self.at += len(data)
        return data

    def unread(self, data):
        self.unread_bytes = bytes(data) + self.unread_bytes


def chunked(body, chunk_sizes):
    out, at, i = [], 0, 0
    while at < len(body):
        piece = body[at:at + chunk_sizes[i % len(chunk_sizes)]]
        out.append(b"%x\r\n%s\r\n" % (len(piece), piece))
        at += len(piece)
        i += 1
    return b"".join(out) + b"0\r\n\r\n"


@pytest.fixture(params=["length", "chunked-compiled", "chunked-pure"])
def make_input(request, monkeypatch):
    """make(body, sizes, chunk_sizes, after) -> (wsgi.input, Arrivals), for
    a Content-Length body, or a chunked one decoded by the compiled or the
    pure-Python decoder."""
    kind = request.param
    if kind == "chunked-compiled":
        if PURE_ONLY:
            pytest.skip(f"pure-Python parser only: {PURE_REASON}")
        monkeypatch.setattr(wsgi_input, "ChunkedDecoder",
                            importlib.import_module("fastcore._parser").ChunkedDecoder)
    elif kind == "chunked-pure":
        monkeypatch.setattr(wsgi_input, "ChunkedDecoder",
                            importlib.import_module("fastcore._parser_py").ChunkedDecoder)

    def make(body, sizes, chunk_sizes=(7,), after=b""):
        if kind == "length":
            conn = Arrivals(body + after, sizes)
            return wsgi_input.ContentLengthInput(conn, len(body)), conn
        conn = Arrivals(chunked(body, chunk_sizes) + after, sizes)
        return wsgi_input.ChunkedInput(conn, DEFAULT_LIMITS), conn
    make.kind = kind
    return make


OPERATIONS = st.lists(st.one_of(
    st.tuples(st.just("read"), st.integers(-1, 70000) | st.none()),
    st.tuples(st.just("read1"), st.integers(-1, 70000)),
    st.tuples(st.just("readline"), st.integers(-1, 200) | st.none()),
    st.tuples(st.just("readlines"), st.integers(-1, 300)),
    st.tuples(st.just("readinto"), st.integers(0, 70000)),
    st.tuples(st.just("next"), st.none()),
), max_size=12)


def apply(stream, name, arg):
    if name == "readinto":
        buffer = bytearray(arg)
        return bytes(buffer[:stream.readinto(buffer)])
    if name == "next":
        return next(iter(stream), b"")
    if name == "read" and arg is None:
        return stream.read(None)
    return getattr(stream, name)(arg)


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@given(body=st.binary(max_size=3000) | st.builds(lambda n, b: b * n, st.integers(1, 20000),
                                                  st.sampled_from([b"x", b"ab\n", b"\n"])),
       sizes=st.lists(st.integers(1, 70000), min_size=1, max_size=5),
       chunk_sizes=st.lists(st.integers(1, 70000), min_size=1, max_size=5),
       operations=OPERATIONS)
def test_reads_return_what_bytesio_returns(make_input, body, sizes, chunk_sizes, operations):
    stream, conn = make_input(body, sizes, chunk_sizes, after=b"GET /next HTTP/1.1\r\n")
    model = io.BytesIO(body)
    for name, arg in operations:
        got = apply(stream, name, arg)
        if name == "read1":
            # read1 may return less: a prefix of what read returns, at least a byte.
            assert got == model.read(len(got))
            if not got and arg != 0:
                assert model.read(1) == b""  # nothing only at the end
        elif name == "readlines":
            assert got == model.readlines(arg)
        else:
            assert got == apply(model, name, arg), (name, arg)
    assert stream.read() == model.read()
    assert stream.finished and stream.read(10) == b""
    if make_input.kind != "length":
        assert conn.unread_bytes + conn.raw[conn.at:] == b"GET /next HTTP/1.1\r\n"
    else:
        assert conn.at == len(body)  # nothing read past the body


def test_a_read_of_n_takes_as_many_socket_reads_as_the_pieces_need(make_input):
    body = bytes(range(256)) * 400  # 102,400 bytes
    stream, conn = make_input(body, [30000, 70000], chunk_sizes=[102400])
    assert stream.read(100000) == body[:100000]
    assert stream.read(100000) == body[100000:]


def test_one_socket_read_when_the_bytes_are_there():
    conn = Arrivals(b"x" * 5000, [65536])
    stream = wsgi_input.ContentLengthInput(conn, 5000)
    assert stream.read(5000) == b"x" * 5000 and conn.calls == 1


def test_a_body_cut_short_raises_client_disconnected(make_input):
    from werkzeug.exceptions import ClientDisconnected

    stream, conn = make_input(b"x" * 1000, [300])
    conn.raw = conn.raw[:500]
    with pytest.raises(ClientDisconnected):
        stream.read(1000)
