"""Type stubs and documentation for fastcore's HTTP/1.1 request parser.

``fastcore._parser`` (compiled) and ``fastcore._parser_py`` (pure Python)
export these same names with the same behaviour; import them through
``fastcore.parser``, which picks the compiled one when it is built.
"""

from typing import Any, Mapping, Optional, Union

from fastcore.errors import (
    BadRequest as BadRequest,
    HeaderFieldsTooLarge as HeaderFieldsTooLarge,
    NotImplementedCoding as NotImplementedCoding,
    ParseError as ParseError,
    URITooLong as URITooLong,
    VersionNotSupported as VersionNotSupported,
)
from fastcore.limits import DEFAULT_LIMITS as DEFAULT_LIMITS, Limits as Limits

Buffer = Union[bytes, bytearray, memoryview]

COMPILED: bool
"""True in the compiled module, False in the pure-Python twin."""

class RequestHead:
    """The head of one request, as ``parse_request`` found it.

    All text is ``str`` holding the bytes as latin-1 (PEP 3333 native strings).
    """

    method: str
    """The method token, case as sent ("GET")."""
    target: str
    """The raw request-target ("/a%20b?x=1"); REQUEST_URI and RAW_URI."""
    path: str
    """The path, percent-decoded, as latin-1 ("/a b"); ``"*"`` for ``OPTIONS *``, ""
    for CONNECT, and the path part of an absolute-form target ("/" if empty)."""
    query: str
    """The query string after "?", not decoded ("" if none)."""
    version: str
    """"HTTP/1.0" or "HTTP/1.1" (a higher 1.x minor is answered as 1.1)."""
    headers: list[tuple[str, str]]
    """Every field line in order: (name as sent, value without surrounding
    whitespace)."""
    size: int
    """Bytes consumed, through the empty line that ends the head; the body or
    the next request starts here."""
    content_length: Optional[int]
    """The body length from Content-Length, or None."""
    chunked: bool
    """True when Transfer-Encoding is chunked: decode the body with
    ``ChunkedDecoder``."""
    keep_alive: bool
    """Whether the client allows the connection to stay open: HTTP/1.1 unless
    "Connection: close"; HTTP/1.0 only with "Connection: keep-alive"."""
    expect_continue: bool
    """"Expect: 100-continue" on an HTTP/1.1 request."""
    def __init__(
        self,
        method: str,
        target: str,
        path: str,
        query: str,
        version: str,
        headers: list[tuple[str, str]],
        size: int,
        content_length: Optional[int],
        chunked: bool,
        keep_alive: bool,
        expect_continue: bool,
    ) -> None: ...

def parse_request(data: Buffer, *, limits: Limits = ...) -> Optional[RequestHead]:
    """Parse the request head at the start of ``data``.

    ``data`` holds a connection's unread bytes from the start of a request
    (no copy is made). Returns None while the head is incomplete and no limit
    has been passed, a ``RequestHead`` once the empty line has arrived (bytes
    after it are left alone), and raises a ``ParseError`` subclass as soon as
    the bytes can never become a valid request: a bad byte fails when it
    arrives, an over-long line before its end.
    """

def build_environ(head: RequestHead, base: Optional[Mapping[str, Any]] = None) -> dict[str, Any]:
    """A new WSGI environ for ``head``: a copy of ``base`` (the server's keys:
    wsgi.*, SERVER_*, REMOTE_*) plus REQUEST_METHOD, SCRIPT_NAME (""),
    PATH_INFO, QUERY_STRING, SERVER_PROTOCOL, REQUEST_URI, RAW_URI,
    CONTENT_TYPE and CONTENT_LENGTH when present, and an HTTP_* key per field
    (repeats joined with ","; names containing "_" dropped, so they cannot pose
    as their dash-named twins). An absolute-form target sets HTTP_HOST from its
    authority.
    """

def response_head(
    status: str, headers: list[tuple[str, str]]
) -> tuple[bytes, int, Optional[int], bool, bool]:
    """Check a WSGI app's status and headers (start_response's arguments) and
    encode them: ``(head, code, content_length, has_date, has_server)``, where
    ``head`` is the status line and header lines as latin-1 bytes, each ending
    in CRLF (the empty line that ends the head is left to the caller).

    The status must be three digits, a space and a reason phrase; each header
    a (name, value) tuple of str, the name a token and the value a field value
    (no control character but tab, nothing above "\\xff"). Else TypeError or
    ValueError, as does a hop-by-hop header (Connection, Transfer-Encoding,
    ...), which is the server's to set. ``content_length`` is the int of a
    Content-Length header, or None.
    """

def access_line(
    address: str, when: str, head: RequestHead, code: int, seconds: float
) -> Optional[str]:
    """The line Werkzeug's request handler logs for ``head``, answered with
    status ``code`` after ``seconds``, with the time taken (in ms to one
    decimal, rounded from whole microseconds) at its end:
    ``'127.0.0.1 - - [WHEN] "GET / HTTP/1.1" 200 - 0.1ms'``. None when the
    request does not show as sent: a status other than 200 (Werkzeug colours
    those) or a target holding "%" or "\\" (decoded, or escaped). ``when`` is
    the timestamp as the log shows it.
    """

class HeadReader:
    """How a server reads request heads with ``limits``: a call with the
    bytes buffered returns what ``parse_request`` would, except that bytes
    which are not a request give the ``ParseError`` (its ``status`` and
    ``reason``) as the result instead of raising it. A server checks a result
    once (head, None for "more bytes needed", or a refusal) instead of
    wrapping every parse in ``try``."""

    limits: Limits
    def __init__(self, limits: Limits = ...) -> None: ...
    def __call__(self, data: Buffer) -> Union[RequestHead, ParseError, None]: ...

NO_BODY: int
"""Framing: no body may be sent (HEAD, 1xx, 204, 304)."""
LENGTH: int
"""Framing: the body is delimited by Content-Length."""
CHUNKED: int
"""Framing: Transfer-Encoding: chunked."""
UNTIL_CLOSE: int
"""Framing: the body ends with the connection."""

def frame_response(
    head: RequestHead,
    response: tuple[bytes, int, Optional[int], bool, bool],
    first: bytes,
    whole: int,
    speaks_11: bool,
    stopping: bool,
    body: Any,
    date_line: str,
    server_line: str,
) -> tuple[bytes, int, bool, Optional[int], int]:
    """How the response to ``head`` is framed, and its first bytes on the
    wire: ``(data, framing, keep, length, sent)``.

    ``response`` is what ``response_head`` returned for the app's status and
    headers; ``first`` the first body bytes; ``whole`` the body's length when
    ``first`` (or a file sent after it) is all of it, said as Content-Length
    when the app said none, else -1. ``speaks_11``: the server answers in
    HTTP/1.1 (it may chunk and keep connections); ``stopping``: the server
    has stopped accepting (a client told to reconnect would then be refused);
    ``body``: the request's ``wsgi.input`` (None without a body), whose
    ``failed`` says it turned out malformed or too large, so that what is
    left of it cannot be skipped. ``date_line`` and ``server_line``
    ("Date: ...\\r\\n") are added unless the app gave those headers.

    The framing (one of the constants above) is NO_BODY for HEAD, 1xx, 204
    and 304; LENGTH when a length is declared or known; else CHUNKED for an
    HTTP/1.1 request to an HTTP/1.1 server, and UNTIL_CLOSE otherwise.
    ``keep`` says whether the connection can serve another request after
    this response: the client asked for it, the framing ends the response
    without ending the connection, the server speaks HTTP/1.1, is not
    stopping, and the request body did not fail; a body longer
    than it declared (cut at the declared length) or, when ``whole``, shorter,
    ends it. The head says ``Connection: close`` when it does not stay open,
    and ``Connection: keep-alive`` to an HTTP/1.0 client when it does.
    ``data`` is the status line, headers, the framing's and Date/Server
    fields, the empty line, and ``first`` as the framing sends it (chunked,
    cut at the declared length, or nothing). ``length`` is the Content-Length
    the response declares, or None; ``sent`` how many bytes of ``first``
    ``data`` carries.
    """

KEEP_ALIVE: str
"""A connection's state: wait for the next request."""
DRAIN: str
"""A connection's state: read and drop what is left of the request body
(at most ``DRAIN_LIMIT`` bytes), then wait for the next request."""
CLOSE: str
"""A connection's state: close it."""
LINGER: str
"""A connection's state after a refusal: stop sending, drop what the client
still sends for a moment, then close."""
RELEASED: str
"""A connection's state: the app took its socket over; forget it."""
DRAIN_LIMIT: int
"""The most unread request body a connection drains to go on."""

def after_response(keep: bool, taken_over: bool, body: Any) -> str:
    """A connection's next state once a response is done: RELEASED when the
    app took the socket over; CLOSE when ``keep`` is false (the response
    said ``Connection: close``, or was cut short); KEEP_ALIVE when the
    request had no body (``body`` None) or the app read all of it; CLOSE
    when what is left of it failed or is known to be over DRAIN_LIMIT; else
    DRAIN. ``body`` is the request's ``wsgi.input``: ``finished``, ``failed``
    and ``remaining`` (None when not known, as for a chunked body)."""

class ChunkedDecoder:
    """Incremental decoder of a chunked request body (RFC 9112 section 7.1).

    Any split of the input across ``feed()`` calls gives the same output and
    the same errors. After an error the decoder stays broken: every later
    ``feed()`` raises the same error.
    """

    trailers: list[tuple[str, str]]
    """The trailer fields, once ``done``."""
    def __init__(self, *, limits: Limits = ...) -> None: ...
    @property
    def done(self) -> bool:
        """True once the last chunk and the trailer section are complete."""
    @property
    def unused(self) -> bytes:
        """Bytes fed after the end of the body: the next pipelined request."""
    def feed(self, data: Buffer) -> bytes:
        """Decode ``data``; return the body bytes it completes (maybe b"")."""
