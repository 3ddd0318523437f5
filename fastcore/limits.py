"""Size limits that bound how much of a request fastcore will buffer or scan."""

from typing import NamedTuple

__all__ = ["Limits", "DEFAULT_LIMITS"]


class Limits(NamedTuple):
    """Bounds on the parts of a request that are held in memory.

    Every limit is checked by position as bytes arrive, so a request that
    exceeds one fails before its end has been received, never after an
    unbounded amount of buffering.

    max_request_line = 8190
        Bytes of the request line, not counting its CRLF. 8190 is Apache
        httpd's ``LimitRequestLine`` and Werkzeug's own cap, and RFC 9112
        section 3 recommends supporting at least 8000 octets. Longer lines get
        414 URI Too Long. Empty lines skipped before the request line are bounded
        by the same number.
    max_header_count = 100
        Field lines in the header section: Apache's ``LimitRequestFields`` and
        Python's ``http.client`` use 100. More get 431.
    max_header_bytes = 65536
        Bytes of the header section after the request line, CRLFs and the final
        empty line included. Browsers send 1-4 KiB; a large cookie jar fits many
        times over, while a client streaming endless fields is stopped at 64 KiB
        (431).
    max_chunk_ext = 4096
        Bytes of chunk extensions on one chunk-size line. Extensions are
        skipped, so without a bound a client could make the server read
        forever without producing a body byte (400).
    max_trailer_bytes = 16384
        Bytes of the trailer section after the last chunk. Trailers are rare
        and small; 16 KiB leaves room for checksums and signatures (431).
    """

    max_request_line: int = 8190
    max_header_count: int = 100
    max_header_bytes: int = 65536
    max_chunk_ext: int = 4096
    max_trailer_bytes: int = 16384


DEFAULT_LIMITS = Limits()
