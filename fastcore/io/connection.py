"""One client connection: its socket, the bytes read ahead, and how to wait on it.

Strategy: every socket is non-blocking, so a call never waits and no timeout
is set on it (``settimeout`` would make CPython poll before every call). The
loop reads only what arrived. A party that has to wait (a worker reading the
rest of a request body, or sending to a slow client) tries the call first and
waits in ``poll`` only when it says it would block, up to a deadline. So a
request costs one ``recv`` and one ``send``.

After a request, the cycle (``fastcore.cycle``) says what comes next; a
connection that refused bytes lingers (``start_linger``, ``discard``): it
stops sending and drops what the client still sends for a moment before it
closes, for closing on unread bytes resets the connection, and a reset can
destroy the refusal before the client reads it (RFC 9112 section 9.6).

The socket is a ``sockets.ServerSocket`` (or ``TLSServerSocket``), whose
public methods note an app's use; the connection calls the base class's.
"""

import _socket
import functools
import os
import select
import socket
import ssl
import time

__all__ = ["Connection", "TLSConnection", "TakenOver"]

# What one read takes from the socket. A read that fills it may have left
# more behind, which an edge-triggered poller will not report again.
READ_SIZE = 65536
# Lingering close: drop what arrives for this long, or this much, at most.
LINGER_SECONDS = 2.0
LINGER_BYTES = 4 * 1024 * 1024
# What a non-blocking read or send raises when it cannot go on now.
_WOULD_BLOCK = (BlockingIOError, InterruptedError, ssl.SSLWantReadError, ssl.SSLWantWriteError)

if hasattr(select, "poll"):
    def _ready(fd, write, timeout):
        poller = select.poll()
        poller.register(fd, select.POLLOUT if write else select.POLLIN)
        return bool(poller.poll(max(0.0, timeout) * 1000))
else:  # Windows
    def _ready(fd, write, timeout):
        fds = [fd]
        return any(select.select([] if write else fds, fds if write else [], [], max(0.0, timeout)))


class TakenOver(Exception):
    """The app took the connection's socket over: the server must not send."""


class Connection:
    """A plain TCP or Unix connection (see the module docstring).

    The owner of a connection (the loop, or the worker running its request)
    is the only one that touches it; the loop tracks which one that is.
    """

    __slots__ = ("sock", "fd", "handler", "context", "buffer", "away", "maybe_more",
                 "deadlines", "since", "linger_left", "stream", "_read", "_write")
    # The socket's own recv and send: the server's calls must not be the
    # ones sockets.ServerSocket counts as an app's.
    read_function = socket.socket.recv
    write_function = socket.socket.send
    # The C close: socket.py's adds bookkeeping for makefile() objects, which
    # only an app makes (and making one takes the connection over).
    close_function = staticmethod(_socket.socket.close)

    def __init__(self, sock, handler, context):
        socket.socket.setblocking(sock, False)
        self.sock = sock
        # Bound once: a call costs less than a method of this class's would.
        cls = type(self)
        self._read = functools.partial(cls.read_function, sock)
        self._write = functools.partial(cls.write_function, sock)
        self.fd = sock.fileno()
        self.handler = handler  # the WSGIRequestHandler serving its requests
        self.context = context  # its exchange.Context
        self.buffer = b""  # bytes read and not yet consumed
        self.away = False  # a worker has it (the loop must not touch it)
        self.maybe_more = False  # the socket may hold bytes no event announced
        self.deadlines = None  # the loop's timer queue it is in, if any
        self.since = 0.0  # when its deadline there started (see deadlines)
        self.linger_left = None  # bytes still to drop while lingering
        self.stream = None  # the thread serving an event stream on it (its ident)

    # -- reading ----------------------------------------------------------------

    def _recv(self, size):
        """Bytes, b"" at EOF, or None when nothing is there yet."""
        try:
            return self._read(size)
        except _WOULD_BLOCK:
            return None
        except ssl.SSLEOFError:  # a TLS peer gone without closing the TLS stream
            return b""

    def receive(self):
        """Read what arrived, without waiting, onto the buffer: the byte count,
        0 at EOF (or a reset), None when nothing was there."""
        read = self._read  # (read, then called: a method lookup of it is slower)
        try:
            data = read(READ_SIZE)
        except _WOULD_BLOCK:
            return None
        except OSError:
            return 0
        if not data:
            return 0
        self.maybe_more = len(data) == READ_SIZE
        if self.buffer:
            self.buffer += data
        else:
            self.buffer = data
        return len(data)

    def read_body(self, limit, timeout):
        """Up to ``limit`` bytes from the buffer, else from the socket, waiting
        up to ``timeout`` seconds for them; b"" at EOF."""
        buffer = self.buffer
        if buffer:
            if len(buffer) <= limit:
                self.buffer = b""
                return buffer
            self.buffer = buffer[limit:]
            return buffer[:limit]
        give_up = None
        while True:
            data = self._recv(limit)
            if data is not None:
                return data
            if give_up is None:
                give_up = time.monotonic() + timeout
            if not _ready(self.fd, False, give_up - time.monotonic()):
                raise socket.timeout("request body stalled")

    def wait_readable(self, timeout):
        """Whether bytes (or the end) can be read within ``timeout`` seconds."""
        return _ready(self.fd, False, timeout)

    def unread(self, data):
        """Give back bytes read past the end of a body (a pipelined request)."""
        if data:
            self.buffer = bytes(data) + self.buffer

    # -- writing ----------------------------------------------------------------

    def _send(self, data):
        """Bytes sent, or None when the socket cannot take any now."""
        try:
            return self._write(data)
        except _WOULD_BLOCK:
            return None

    def send_all(self, data, timeout):
        """Send all of ``data``, waiting up to ``timeout`` seconds whenever the
        client does not take any of it."""
        if self.sock.taken_over:
            raise TakenOver
        write = self._write  # (read, then called: a method lookup of it is slower)
        try:
            sent = write(data)
        except _WOULD_BLOCK:
            sent = None
        if sent == len(data):
            return
        view = memoryview(data)
        while True:
            if sent:
                view = view[sent:]
                if not view:
                    return
            elif not _ready(self.fd, True, timeout):
                raise socket.timeout("response send stalled")
            sent = self._send(view)

    def sendfile(self, file, offset, count, timeout):
        """Send ``count`` bytes of ``file`` from ``offset`` with os.sendfile."""
        if self.sock.taken_over:
            raise TakenOver
        fileno = file.fileno()
        while count > 0:
            try:
                sent = os.sendfile(self.fd, fileno, offset, count)
            except (BlockingIOError, InterruptedError):
                if not _ready(self.fd, True, timeout):
                    raise socket.timeout("response send stalled") from None
                continue
            if sent == 0:
                break  # the file is shorter than it said
            offset += sent
            count -= sent

    can_sendfile = hasattr(os, "sendfile")

    # -- ending -------------------------------------------------------------------

    def start_linger(self):
        """After a refusal: stop sending, then drop what arrives (see
        ``discard``). False when this connection cannot linger."""
        try:
            socket.socket.shutdown(self.sock, socket.SHUT_WR)
        except OSError:
            return False
        self.buffer = b""
        self.linger_left = LINGER_BYTES
        return True

    def discard(self):
        """Drop what arrived while lingering: whether to go on lingering."""
        while True:
            try:
                data = self._recv(READ_SIZE)
            except OSError:
                return False
            if data is None:
                return True
            self.linger_left -= len(data)
            if not data or self.linger_left <= 0:
                return False

    def close(self):
        try:
            self.close_function(self.sock)
        except OSError:
            pass


class TLSConnection(Connection):
    """A connection after its TLS handshake. OpenSSL reads whole records, so
    a read may hold decrypted bytes no poller sees (``pending``): they are
    read at once. It does not linger (shutting down the write side of a TLS
    stream is not a TLS close) and does not use sendfile (the bytes must be
    encrypted)."""

    __slots__ = ()
    can_sendfile = False
    read_function = ssl.SSLSocket.recv
    write_function = ssl.SSLSocket.send
    close_function = staticmethod(socket.socket.close)  # through SSLSocket's, which drops its SSL object

    def receive(self):
        got = super().receive()
        while got and self.sock.pending():
            more = super().receive()
            if not more:
                break
            got += more
        return got

    def wait_readable(self, timeout):
        return self.sock.pending() > 0 or super().wait_readable(timeout)

    def read_body(self, limit, timeout):
        data = super().read_body(limit, timeout)
        if self.sock.pending():
            # What the client sent after the body (a pipelined request) is
            # decrypted and waiting here, where no poller will announce it.
            self.maybe_more = True
        return data

    def start_linger(self):
        return False
