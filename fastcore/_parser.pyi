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
