"""The vector tables, each fed whole, one byte at a time, and with trailing bytes,
to both implementations."""

import pytest

from fastcore.errors import ParseError
from fastcore.limits import DEFAULT_LIMITS
from vectors import CHUNKED_INVALID, CHUNKED_VALID, INVALID, VALID

TRAILING = b"GET /next HTTP/1.1\r\nHost: x\r\n\r\n"


def _params(table):
    return [pytest.param(v, id=v["id"]) for v in table]


def _limits(vector):
    return vector["limits"] or DEFAULT_LIMITS


def _fields(head):
    return dict(method=head.method, target=head.target, path=head.path, query=head.query,
                version=head.version, headers=head.headers, content_length=head.content_length,
                chunked=head.chunked, keep_alive=head.keep_alive,
                expect_continue=head.expect_continue)


def _outcome(impl, data, limits):
    """What parse_request does with data: the head, None, or (class, status, reason)."""
    try:
        return impl.parse_request(data, limits=limits)
    except ParseError as exc:
        return (type(exc), exc.status, exc.reason)


@pytest.mark.parametrize("vector", _params(VALID))
def test_valid_whole(impl, vector):
    head = impl.parse_request(vector["raw"], limits=_limits(vector))
    assert isinstance(head, impl.RequestHead)
    assert _fields(head) == vector["expected"]
    assert head.size == len(vector["raw"])


@pytest.mark.parametrize("vector", _params(VALID))
def test_valid_byte_at_a_time(impl, vector):
    raw = vector["raw"]
    for end in range(len(raw)):
        assert impl.parse_request(raw[:end], limits=_limits(vector)) is None, end


@pytest.mark.parametrize("vector", _params(VALID))
def test_valid_with_trailing_bytes(impl, vector):
    raw = vector["raw"]
    for data in (raw + TRAILING, bytearray(raw + b"\x00garbage"), memoryview(raw + b"\r\n")):
        head = impl.parse_request(data, limits=_limits(vector))
        assert head.size == len(raw)
        assert _fields(head) == vector["expected"]


@pytest.mark.parametrize("vector", _params(INVALID))
def test_invalid_whole(impl, vector):
    with pytest.raises(vector["error"]) as info:
        impl.parse_request(vector["raw"], limits=_limits(vector))
    assert info.value.status == vector["error"].status
    assert vector["reason"] in info.value.reason
    assert "\n" not in info.value.reason


@pytest.mark.parametrize("vector", _params(INVALID))
def test_invalid_byte_at_a_time(impl, vector):
    """Each prefix is incomplete until the fault shows; from then on, the same error."""
    raw, limits = vector["raw"], _limits(vector)
    whole = _outcome(impl, raw, limits)
    seen_error = False
    for end in range(len(raw) + 1):
        outcome = _outcome(impl, raw[:end], limits)
        if outcome is None:
            assert not seen_error, f"prefix of {end} bytes parsed after an error"
            continue
        assert outcome == whole, f"prefix of {end} bytes"
        seen_error = True
    assert seen_error


@pytest.mark.parametrize("vector", _params(INVALID))
def test_invalid_with_trailing_bytes(impl, vector):
    raw, limits = vector["raw"], _limits(vector)
    assert _outcome(impl, raw + TRAILING, limits) == _outcome(impl, raw, limits)


def test_incomplete_until_the_empty_line(impl):
    assert impl.parse_request(b"") is None
    assert impl.parse_request(b"\r\n") is None
    assert impl.parse_request(b"GET / HTTP/1.1\r\nHost: a\r\n") is None
    assert impl.parse_request(b"GET / HTTP/1.1\r\nHost: a\r\n\r") is None


def test_rejects_wrong_argument_types(impl):
    with pytest.raises(TypeError):
        impl.parse_request("GET / HTTP/1.1\r\n\r\n")
    with pytest.raises(TypeError):
        impl.parse_request(b"GET / HTTP/1.0\r\n\r\n", limits={"max_request_line": 5})


# ---------------------------------------------------------------------------
# Chunked bodies


def _decode(impl, pieces, limits):
    decoder = impl.ChunkedDecoder(limits=limits)
    body = b"".join(decoder.feed(piece) for piece in pieces)
    return decoder, body


@pytest.mark.parametrize("vector", _params(CHUNKED_VALID))
def test_chunked_valid(impl, vector):
    raw, limits = vector["raw"], _limits(vector)
    splits = {
        "whole": [raw],
        "bytewise": [raw[i:i + 1] for i in range(len(raw))],
        "halves": [raw[: len(raw) // 2], raw[len(raw) // 2:]],
        "memoryview": [memoryview(raw)],
        "bytearray": [bytearray(raw)],
    }
    for how, pieces in splits.items():
        decoder, body = _decode(impl, pieces, limits)
        assert decoder.done, how
        assert body == vector["body"], how
        assert decoder.trailers == vector["trailers"], how
        assert decoder.unused == vector["unused"], how
        decoder.feed(b"more")
        assert decoder.unused == vector["unused"] + b"more"


@pytest.mark.parametrize("vector", _params(CHUNKED_VALID))
def test_chunked_incomplete_until_the_end(impl, vector):
    raw, limits = vector["raw"], _limits(vector)
    end = len(raw) - len(vector["unused"])
    decoder = impl.ChunkedDecoder(limits=limits)
    for i in range(end - 1):
        decoder.feed(raw[i:i + 1])
        assert not decoder.done, i
    decoder.feed(raw[end - 1:end])
    assert decoder.done


@pytest.mark.parametrize("vector", _params(CHUNKED_INVALID))
def test_chunked_invalid(impl, vector):
    raw, limits = vector["raw"], _limits(vector)
    for pieces in ([raw], [raw[i:i + 1] for i in range(len(raw))]):
        decoder = impl.ChunkedDecoder(limits=limits)
        with pytest.raises(vector["error"]) as info:
            for piece in pieces:
                decoder.feed(piece)
        assert vector["reason"] in info.value.reason
        assert info.value.status == vector["error"].status
        assert not decoder.done
        # A broken decoder stays broken: the same error, never more body bytes.
        with pytest.raises(vector["error"]):
            decoder.feed(b"0\r\n\r\n")
