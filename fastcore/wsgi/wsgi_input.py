"""wsgi.input: the request body, read from the connection as the app asks.

A buffered stream (``io.BufferedIOBase``): ``read(n)`` returns exactly ``n``
bytes unless the body ends first, because WSGI apps read that way (Django's
``request.body`` and Engine.IO's polling POSTs make one ``read(length)`` and
take what comes back as the whole body). ``read1(n)`` is the one call that may
return less: what is at hand, reading the socket once only when nothing is.

Both streams take bytes from the connection's buffer first (what arrived with
the head), then from the socket, and never read past the body: reading past
the end returns b"" at once. A read waits for the client up to the server's
``body_timeout`` each time it stalls, then raises. The first read of a
request that sent ``Expect: 100-continue`` sends the interim response, so an
app that answers without reading never invites the body.
"""

import io

from werkzeug.exceptions import ClientDisconnected, RequestEntityTooLarge

from fastcore.errors import ContentTooLarge, ParseError
from fastcore.parser import ChunkedDecoder

__all__ = ["ContentLengthInput", "ChunkedInput", "BodyTooLarge"]

# The most one socket read asks for: a read of 16 MiB is made of reads of
# this size (asking the socket for all of it would allocate it all each time).
_PIECE = 1 << 20
# What a readline or a read1() takes at a time, and what one socket read of a chunked
# body asks for (its framing makes the decoded size unknown in advance).
_LINE_PIECE = 65536


class BodyTooLarge(ContentTooLarge, RequestEntityTooLarge):
    """The body is over the server's ``max_content_length``. Both a ParseError
    (if it escapes the app, the server answers 413 and closes) and Werkzeug's
    RequestEntityTooLarge (so a Flask or Werkzeug app answers 413 itself)."""

    def __init__(self, reason):
        ContentTooLarge.__init__(self, reason)
        RequestEntityTooLarge.__init__(self, reason)


class _BodyInput(io.BufferedIOBase):
    """The read methods PEP 3333 asks for, on top of ``_read_some``."""

    def __init__(self, conn):
        self._conn = conn
        # Body bytes read and not yet returned (bytes, or a memoryview of the
        # piece they came in: a read that takes part of a piece copies no rest).
        self._pending = b""
        # Set when the body turned out malformed or too large: what is left of
        # it cannot be skipped, so the connection must close.
        self.failed = False

    def readable(self):
        return True

    def _read_some(self, limit):
        """The next body bytes (at least one; ``limit`` bounds what is read
        from the socket, a decoded piece may be longer), or b"" at the end."""
        raise NotImplementedError

    def _next(self, size):
        """Up to ``size`` > 0 body bytes, bytes or a memoryview, at least one
        unless the body has ended: what is pending, else one read."""
        data = self._pending
        if data:
            self._pending = b""
        else:
            data = self._read_some(min(size, _PIECE))
        if len(data) > size:
            view = memoryview(data)
            data, self._pending = view[:size], view[size:]
        return data

    def _unread(self, data):
        """Put ``data`` back before what is pending."""
        self._pending = b"".join((data, self._pending)) if self._pending else data

    def read1(self, size=-1):
        """Up to ``size`` bytes of what is at hand (at least one unless the
        body has ended), reading the socket at most once."""
        if size is None or size < 0:
            size = _LINE_PIECE
        return bytes(self._next(size)) if size else b""

    def read(self, size=-1):
        """``size`` bytes, fewer only when the body ends first; all the rest
        of the body when ``size`` is negative or None."""
        if size is None or size < 0:
            return self.readall()
        if not size:
            return b""
        data = self._next(size)
        missing = size - len(data)
        if not missing or not data:
            return bytes(data)  # the usual case: the bytes were there
        parts = [data]
        while missing:
            data = self._next(missing)
            if not data:
                break
            parts.append(data)
            missing -= len(data)
        return b"".join(parts)

    def readall(self):
        parts = []
        while True:
            data = self._next(_PIECE)
            if not data:
                return b"".join(parts)
            parts.append(data)

    def readinto(self, buffer):
        with memoryview(buffer) as view, view.cast("B") as target:
            data = self.read(len(target))
            target[:len(data)] = data
        return len(data)

    def readinto1(self, buffer):
        with memoryview(buffer) as view, view.cast("B") as target:
            data = self.read1(len(target))
            target[:len(data)] = data
        return len(data)

    def readline(self, size=-1):
        if size is None:
            size = -1
        parts = []
        total = 0
        while size < 0 or total < size:
            chunk = self._next(_LINE_PIECE if size < 0 else min(_LINE_PIECE, size - total))
            if not chunk:
                break
            chunk = bytes(chunk)
            end = chunk.find(b"\n")
            if 0 <= end < len(chunk) - 1:
                self._unread(memoryview(chunk)[end + 1:])
                chunk = chunk[:end + 1]
            parts.append(chunk)
            total += len(chunk)
            if end >= 0:
                break
        return b"".join(parts)

    def readlines(self, hint=-1):
        if hint is None:
            hint = -1
        lines = []
        total = 0
        for line in iter(self.readline, b""):
            lines.append(line)
            total += len(line)
            if 0 < hint <= total:
                break
        return lines

    def __iter__(self):
        return iter(self.readline, b"")


class ContentLengthInput(_BodyInput):
    """A body framed by Content-Length."""

    def __init__(self, conn, length):
        super().__init__(conn)
        self.remaining = length

    def _read_some(self, limit):
        if self.remaining <= 0:
            return b""
        data = self._conn.read_body_bytes(min(limit, self.remaining))
        if not data:
            raise ClientDisconnected()
        self.remaining -= len(data)
        return data

    def readall(self):
        # The size is known: one read of it, not a join of pieces of unknown size.
        return self.read(self.remaining + len(self._pending))

    @property
    def finished(self):
        return self.remaining <= 0 and not self._pending


class _NoBody(ContentLengthInput):
    """wsgi.input of a request without a body: empty, and never closed (an
    app may close it), so one serves every such request, on every thread."""

    def __init__(self):
        super().__init__(None, 0)

    def close(self):
        pass


NO_BODY = _NoBody()


class ChunkedInput(_BodyInput):
    """A chunked body, decoded by the parser's ChunkedDecoder; at most
    ``max_length`` decoded bytes when that is not None."""

    remaining = None  # what is left of the body is not known before its last chunk

    def __init__(self, conn, limits, max_length=None):
        super().__init__(conn)
        self._decoder = ChunkedDecoder(limits=limits)
        self._allowed = max_length
        self._max_length = max_length

    def _read_some(self, limit):
        decoder = self._decoder
        while not decoder.done:
            raw = self._conn.read_body_bytes(_LINE_PIECE)
            if not raw:
                raise ClientDisconnected()
            try:
                data = decoder.feed(raw)
            except ParseError:
                self.failed = True
                raise
            if self._allowed is not None:
                self._allowed -= len(data)
                if self._allowed < 0:
                    self.failed = True
                    raise BodyTooLarge(
                        f"chunked request body larger than the limit of {self._max_length} bytes")
            if decoder.done:
                # What followed the body belongs to the next request.
                self._conn.unread(decoder.unused)
            if data:
                return data
        return b""

    @property
    def finished(self):
        return self._decoder.done and not self._pending
