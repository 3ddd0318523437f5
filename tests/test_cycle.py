"""The connection cycle's rules (fastcore.cycle), in process, on both twins.

Tables of request heads x what the app gave -> framing, whether the
connection goes on, and the bytes on the wire, each response read back by
http.client as a client would read it; the same for reading heads, refusals and the
state after a response. Every combination of the inputs is also run through
the compiled and the pure twin, which must agree byte for byte. (HTTP/1.0's
keep-alive and HEAD's bodiless response were server tests, a subprocess
each; the rows below hold them now, and the server tests check that the
loop acts on what the cycle says.)
"""

import http.client
import io
import itertools
from types import SimpleNamespace

import pytest

from fastcore import _parser_py, cycle
from fastcore.errors import ParseError
from fastcore.limits import Limits

try:
    from fastcore import _parser as _compiled
except ImportError:  # not built: the pure twin alone
    _compiled = None

TWINS = [pytest.param(_parser_py, id="pure")]
if _compiled is not None:
    TWINS.append(pytest.param(_compiled, id="compiled"))

DATE = "Date: Mon, 07 Dec 2026 10:00:00 GMT\r\n"
SERVER = "Server: fastcore-test\r\n"


def request(twin, method="GET", version="HTTP/1.1", connection=None):
    fields = "Host: a\r\n" + (f"Connection: {connection}\r\n" if connection else "")
    return twin.parse_request(f"{method} / {version}\r\n{fields}\r\n".encode())


def frame(twin, head, status="200 OK", headers=(), first=b"", whole=-1, speaks_11=True,
          stopping=False, body=None):
    response = twin.response_head(status, list(headers))
    return twin.frame_response(head, response, first, whole, speaks_11, stopping, body, DATE,
                               SERVER)


def read_back(head, data):
    """The response in ``data`` as http.client reads it for ``head``'s
    request: (status, its fields as a dict of lowercase names, body bytes,
    whether the client may send its next request on the connection)."""
    response = http.client.HTTPResponse(_Wire(data), method=head.method)
    response.begin()
    body = response.read()
    fields = {name.lower(): value for name, value in response.getheaders()}
    return response.status, fields, body, not response.will_close


class _Wire:
    """What http.client reads a response from: the bytes the server sent."""

    def __init__(self, data):
        self._data = data

    def makefile(self, mode):
        return io.BytesIO(self._data)


CL5 = [("Content-Type", "text/plain"), ("Content-Length", "5")]
PLAIN = [("Content-Type", "text/plain")]

# (request, status, headers, first, whole, speaks_11, stopping, body failed) ->
# (framing, keep, fields the server added, body the client reads)
FRAMING_TABLE = [
    # A length declared or known: the body goes on the connection.
    (("GET", "HTTP/1.1", None), "200 OK", CL5, b"hello", 5, True, False, False,
     cycle.LENGTH, True, {}, b"hello"),
    (("GET", "HTTP/1.1", None), "200 OK", PLAIN, b"hello", 5, True, False, False,
     cycle.LENGTH, True, {"content-length": "5"}, b"hello"),
    (("GET", "HTTP/1.1", None), "200 OK", PLAIN, b"", 0, True, False, False,
     cycle.LENGTH, True, {"content-length": "0"}, b""),
    # Not known: chunked to an HTTP/1.1 client, until the close to HTTP/1.0.
    (("GET", "HTTP/1.1", None), "200 OK", PLAIN, b"hello", -1, True, False, False,
     cycle.CHUNKED, True, {"transfer-encoding": "chunked"}, b"hello"),
    (("GET", "HTTP/1.0", None), "200 OK", PLAIN, b"hello", -1, True, False, False,
     cycle.UNTIL_CLOSE, False, {"connection": "close"}, b"hello"),
    (("GET", "HTTP/1.0", "keep-alive"), "200 OK", PLAIN, b"hello", -1, True, False, False,
     cycle.UNTIL_CLOSE, False, {"connection": "close"}, b"hello"),
    # HTTP/1.0 keeps the connection only when it asked to, and is told so.
    (("GET", "HTTP/1.0", "keep-alive"), "200 OK", CL5, b"hello", 5, True, False, False,
     cycle.LENGTH, True, {"connection": "keep-alive"}, b"hello"),
    (("GET", "HTTP/1.0", None), "200 OK", CL5, b"hello", 5, True, False, False,
     cycle.LENGTH, False, {"connection": "close"}, b"hello"),
    (("GET", "HTTP/1.1", "close"), "200 OK", CL5, b"hello", 5, True, False, False,
     cycle.LENGTH, False, {"connection": "close"}, b"hello"),
    # No body may be sent: HEAD (with the length a GET would have), 204, 304, 1xx.
    (("HEAD", "HTTP/1.1", None), "200 OK", PLAIN, b"hello", 5, True, False, False,
     cycle.NO_BODY, True, {"content-length": "5"}, b""),
    (("HEAD", "HTTP/1.1", None), "200 OK", CL5, b"hello", 5, True, False, False,
     cycle.NO_BODY, True, {}, b""),
    (("HEAD", "HTTP/1.1", None), "200 OK", PLAIN, b"", -1, True, False, False,
     cycle.NO_BODY, True, {}, b""),
    (("GET", "HTTP/1.1", None), "204 No Content", [], b"", 0, True, False, False,
     cycle.NO_BODY, True, {}, b""),
    (("GET", "HTTP/1.1", None), "304 Not Modified", [("ETag", '"x"')], b"", 0, True, False,
     False, cycle.NO_BODY, True, {}, b""),
    # A server that speaks HTTP/1.0 neither chunks nor keeps connections.
    (("GET", "HTTP/1.1", None), "200 OK", PLAIN, b"hello", -1, False, False, False,
     cycle.UNTIL_CLOSE, False, {"connection": "close"}, b"hello"),
    (("GET", "HTTP/1.1", None), "200 OK", CL5, b"hello", 5, False, False, False,
     cycle.LENGTH, False, {"connection": "close"}, b"hello"),
    # Stopping, or a request body that failed: the connection ends.
    (("GET", "HTTP/1.1", None), "200 OK", CL5, b"hello", 5, True, True, False,
     cycle.LENGTH, False, {"connection": "close"}, b"hello"),
    (("POST", "HTTP/1.1", None), "200 OK", CL5, b"hello", 5, True, False, True,
     cycle.LENGTH, False, {"connection": "close"}, b"hello"),
    # More than declared is cut at the length; a whole body with less ends
    # the connection, whose client would wait for the rest.
    (("GET", "HTTP/1.1", None), "200 OK", [("Content-Length", "3")], b"hello", -1, True, False,
     False, cycle.LENGTH, False, {"connection": "close"}, b"hel"),
    (("GET", "HTTP/1.1", None), "200 OK", [("Content-Length", "3")], b"he", -1, True, False,
     False, cycle.LENGTH, True, {}, None),
    (("GET", "HTTP/1.1", None), "200 OK", [("Content-Length", "9")], b"hello", 5, True, False,
     False, cycle.LENGTH, False, {"connection": "close"}, None),
]


@pytest.mark.parametrize("twin", TWINS)
@pytest.mark.parametrize("row", FRAMING_TABLE, ids=lambda row: f"{row[0][0]}-{row[0][1]}-"
                         f"{row[1][:3]}-{row[4]}-{row[8]}-{row[9]}")
def test_framing_keep_and_the_bytes_a_client_reads(twin, row):
    (method, version, connection), status, headers, first, whole, speaks_11, stopping, \
        failed, framing, keep, added, body = row
    head = request(twin, method, version, connection)
    data, got_framing, got_keep, length, sent_count = frame(
        twin, head, status, headers, first, whole, speaks_11, stopping,
        SimpleNamespace(failed=failed) if failed else None)
    assert (got_framing, got_keep) == (framing, keep)
    head_bytes, _, sent = data.partition(b"\r\n\r\n")
    assert sent_count == (0 if framing == cycle.NO_BODY else
                          len(sent) if framing != cycle.CHUNKED else len(first))
    lines = head_bytes.decode("latin-1").split("\r\n")
    assert lines[0] == f"HTTP/1.1 {status}"
    fields = [line.partition(": ") for line in lines[1:]]
    app_fields = [(name, value) for name, _, value in fields[:len(headers)]]
    assert app_fields == headers, "the app's fields come first, as it gave them"
    server_fields = {name.lower(): value for name, _, value in fields[len(headers):]}
    assert server_fields == {**added, "date": DATE[6:-2], "server": SERVER[8:-2]}
    if body is None:  # incomplete on purpose: what is sent is all there is
        assert sent == first
        return
    # The exchange ends a chunked body after the app's last chunk.
    end = b"0\r\n\r\n" if framing == cycle.CHUNKED else b""
    code, _, read, goes_on = read_back(head, data + end)
    assert code == int(status[:3]) and read == body
    assert goes_on == keep, "the client reads the connection's fate as the server decided it"
    assert length == (None if framing in (cycle.CHUNKED, cycle.UNTIL_CLOSE) or
                      (framing == cycle.NO_BODY and "content-length" not in
                       {**dict((n.lower(), v) for n, v in headers), **added})
                      else int(dict((n.lower(), v) for n, v in headers).get(
                          "content-length", added.get("content-length", 0))))


@pytest.mark.parametrize("twin", TWINS)
def test_the_app_s_date_and_server_are_not_doubled(twin):
    head = request(twin)
    data, *_ = frame(twin, head, headers=[("Date", "x"), ("Server", "y"), ("Content-Length", "0")],
                     whole=0)
    assert data.count(b"Date:") == 1 and data.count(b"Server:") == 1
    data, *_ = frame(twin, head, headers=[("Server", "y"), ("Content-Length", "0")], whole=0)
    assert data.count(b"Server:") == 1 and data.count(DATE.encode()) == 1


@pytest.mark.skipif(_compiled is None, reason="the compiled parser is not built")
def test_the_twins_frame_every_combination_alike():
    """Every combination of the inputs, through both twins: the same bytes,
    framing, keep and length (about ten thousand cases)."""
    heads = [(method, version, connection) for method in ("GET", "HEAD", "POST")
             for version in ("HTTP/1.0", "HTTP/1.1") for connection in (None, "close", "keep-alive")]
    statuses = ["100 Continue", "200 OK", "204 No Content", "304 Not Modified", "404 Not Found"]
    header_sets = [[], PLAIN, CL5, [("Content-Length", "0")], [("Date", "d"), ("Server", "s")]]
    firsts = [(b"", -1), (b"", 0), (b"hello", -1), (b"hello", 5), (b"hello world", 11)]
    count = 0
    for (method, version, connection), status, headers, (first, whole), speaks_11, stopping, \
            failed in itertools.product(heads, statuses, header_sets, firsts, (True, False),
                                        (True, False), (True, False)):
        body = SimpleNamespace(failed=failed)
        results = [frame(twin, request(twin, method, version, connection), status, headers,
                         first, whole, speaks_11, stopping, body)
                   for twin in (_parser_py, _compiled)]
        assert results[0] == results[1], (method, version, connection, status, headers, first,
                                          whole, speaks_11, stopping, failed)
        count += 1
    assert count == 18 * 5 * 5 * 5 * 8


@pytest.mark.parametrize("twin", TWINS)
def test_reading_heads_gives_a_head_more_needed_or_a_refusal(twin):
    read = twin.HeadReader()
    head = read(b"GET /x HTTP/1.1\r\nHost: a\r\n\r\nGET /y")
    assert isinstance(head, twin.RequestHead) and head.target == "/x" and head.size == 28
    assert read(b"GET /x HTTP/1.1\r\nHost: a\r\n") is None
    assert read(b"") is None
    for data, status in [(b"GET / HTTP/1.1\r\nHost a\r\n\r\n", 400),
                         (b"GET / HTTP/2.0\r\n\r\n", 505),
                         (b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501),
                         (b"\x16\x03\x01", 400)]:
        refusal = read(data)
        assert isinstance(refusal, ParseError) and refusal.status == status, data
    short = twin.HeadReader(Limits(max_request_line=16))
    assert short.limits.max_request_line == 16
    assert short(b"GET /" + b"a" * 40 + b" HTTP/1.1\r\n\r\n").status == 414


@pytest.mark.parametrize("twin", TWINS)
def test_a_refusal_is_one_line_and_closes(twin):
    error = twin.HeadReader()(b"GET / HTTP/1.1\r\nHost a\r\n\r\n")
    code, fields, body, goes_on = read_back(request(twin),
                                            cycle.refusal(error, DATE, SERVER))
    assert (code, body, goes_on) == (400, error.reason.encode() + b"\n", False)
    assert fields["connection"] == "close" and fields["content-type"].startswith("text/plain")


def _body(finished=False, failed=False, remaining=None):
    return SimpleNamespace(finished=finished, failed=failed, remaining=remaining)


AFTER_TABLE = [
    (True, False, None, cycle.KEEP_ALIVE),
    (False, False, None, cycle.CLOSE),
    (True, True, None, cycle.RELEASED),
    (False, True, _body(), cycle.RELEASED),
    (True, False, _body(finished=True), cycle.KEEP_ALIVE),
    (True, False, _body(remaining=10), cycle.DRAIN),
    (True, False, _body(remaining=None), cycle.DRAIN),  # chunked: not known, drained up to the limit
    (True, False, _body(remaining=cycle.DRAIN_LIMIT), cycle.DRAIN),
    (True, False, _body(remaining=cycle.DRAIN_LIMIT + 1), cycle.CLOSE),
    (True, False, _body(failed=True, remaining=3), cycle.CLOSE),
    (False, False, _body(remaining=3), cycle.CLOSE),
]


@pytest.mark.parametrize("twin", TWINS)
@pytest.mark.parametrize("keep, taken_over, body, state", AFTER_TABLE)
def test_the_state_after_a_response(twin, keep, taken_over, body, state):
    assert twin.after_response(keep, taken_over, body) == state


@pytest.mark.parametrize("framing, length, counted, whole", [
    (cycle.LENGTH, 5, 5, True), (cycle.LENGTH, 5, 4, False), (cycle.LENGTH, 5, 6, False),
    (cycle.CHUNKED, None, 9, True), (cycle.NO_BODY, 5, 0, True), (cycle.UNTIL_CLOSE, None, 1, True),
])
def test_a_length_response_must_send_what_it_declared(framing, length, counted, whole):
    assert cycle.sent_whole(framing, length, counted) is whole


@pytest.mark.parametrize("headers, stream", [
    ([("Content-Type", "text/event-stream")], True),
    ([("content-type", "Text/Event-Stream; charset=utf-8")], True),
    ([("Content-Type", "text/plain")], False), ([], False),
])
def test_an_event_stream_is_told_by_its_content_type(headers, stream):
    assert cycle.is_event_stream(headers) is stream


@pytest.mark.skipif(_compiled is None, reason="the compiled parser is not built")
def test_the_twins_share_the_cycle_s_names():
    for name in ("NO_BODY", "LENGTH", "CHUNKED", "UNTIL_CLOSE", "KEEP_ALIVE", "DRAIN", "CLOSE",
                 "LINGER", "RELEASED", "DRAIN_LIMIT"):
        assert getattr(_compiled, name) == getattr(_parser_py, name), name
