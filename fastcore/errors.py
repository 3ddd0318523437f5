"""The one error hierarchy of fastcore.

Every fault a client can cause is a :class:`ParseError` carrying the HTTP status
the server answers with and a one-line ``reason`` naming the fault. Both parser
implementations (compiled and pure Python) raise these same classes, so callers
and tests never need to know which one ran.
"""

__all__ = [
    "ParseError",
    "BadRequest",
    "URITooLong",
    "HeaderFieldsTooLarge",
    "ContentTooLarge",
    "NotImplementedCoding",
    "VersionNotSupported",
]


class ParseError(ValueError):
    """Bytes that can never become a valid HTTP/1.1 request.

    ``status`` is the HTTP status to answer with; ``reason`` is one line of
    plain text naming the fault (safe to send back to the client).
    """

    status = 400

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.reason!r})"

    def __reduce__(self):
        return (type(self), (self.reason,))


class BadRequest(ParseError):
    """Malformed syntax or framing (400)."""

    status = 400


class URITooLong(ParseError):
    """The request line is longer than ``Limits.max_request_line`` (414)."""

    status = 414


class HeaderFieldsTooLarge(ParseError):
    """Too many header fields, or too many bytes in them (431)."""

    status = 431


class ContentTooLarge(ParseError):
    """A request body larger than the server's ``max_content_length`` (413).
    The parser has no body limit; the server applies this one."""

    status = 413


class NotImplementedCoding(ParseError):
    """A transfer coding other than chunked (501, RFC 9112 section 6.1)."""

    status = 501


class VersionNotSupported(ParseError):
    """An HTTP major version other than 1 (505)."""

    status = 505


def byte_name(c: int) -> str:
    """How a reason names an offending byte: 'x' when printable, else 0x07."""
    if 0x21 <= c <= 0x7E:
        return repr(chr(c))
    return f"0x{c:02X}"
