"""One request and its response: environ, app, start_response, framing.

Strategy: an Exchange is made for each request and dropped after it. It runs
the app (PEP 3333: start_response with exc_info, the write() callable,
latin-1 native strings, close() always called), sends the status line,
headers and first body bytes in one send, frames the rest (Content-Length,
chunked, or close), drains what the app left unread of the body, and returns
the connection's fate: keep-alive only when the framing on both sides leaves
the connection at a clean request boundary.
"""

import io
import os
import socket
import stat
import time
import traceback
from http import HTTPStatus

from werkzeug.exceptions import InternalServerError
from werkzeug.serving import is_ssl_error
from werkzeug.wsgi import FileWrapper

from fastcore.access_log import clock
from fastcore.connection import CLOSE, KEEP_ALIVE, RELEASED, TakenOver
from fastcore.errors import ParseError
from fastcore.response_check import check_header, check_status
from fastcore.sockets import status_sent
from fastcore.wsgi_input import BodyTooLarge, ChunkedInput, ContentLengthInput

__all__ = ["Exchange", "refusal"]

# RFC 9110 7.6.1 and PEP 3333: headers an application must not set.
HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-authenticate", "proxy-authorization",
                        "te", "trailer", "trailers", "transfer-encoding", "upgrade"})
_NO_BODY_STATUS = frozenset({204, 304})
# An unread request body up to this size is read and dropped so the
# connection can serve the next request; a larger one closes it.
DRAIN_LIMIT = 256 * 1024
CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
# How long a thread of the app's may go on with a connection it took over
# once the app has returned (see _end_taken_over).
TAKEN_OVER_GRACE = 0.1
_DROPPED = (ConnectionError, socket.timeout)


def refusal(error, server_line):
    """The response to bytes that are not a valid request: its status, the
    reason as one line of text, and Connection: close."""
    reason = error.reason.encode("latin-1", "replace") + b"\n"
    code = error.status
    return (f"HTTP/1.1 {code} {HTTPStatus(code).phrase}\r\n"
            "Content-Type: text/plain; charset=utf-8\r\n"
            f"Content-Length: {len(reason)}\r\nConnection: close\r\n"
            f"{clock.date_line}{server_line}\r\n").encode("latin-1") + reason


def _end_taken_over(sock):
    """The app that took ``sock`` over has returned: the connection ends with
    its call, as under Werkzeug, unless the app closed it already (a client
    that never answers a close frame must not hold it). The read side is shut
    down first: that wakes a thread of the app's still blocked reading the
    socket (simple-websocket's, which then closes it) and lets one still
    writing (the reply to a client's close frame) finish. What is open after
    a moment is shut down and closed here."""
    if sock.fileno() == -1:
        return
    _shutdown(sock, socket.SHUT_RD)
    give_up = time.monotonic() + TAKEN_OVER_GRACE
    while sock.fileno() != -1 and time.monotonic() < give_up:
        time.sleep(0.002)
    if sock.fileno() != -1:
        _shutdown(sock, socket.SHUT_RDWR)
        socket.socket.close(sock)


def _shutdown(sock, how):
    try:
        socket.socket.shutdown(sock, how)
    except OSError:  # the client is gone already
        pass


class Exchange:
    """One request on ``conn``, served by ``handler`` (see the module docstring)."""

    def __init__(self, handler, conn, head):
        self.handler = handler
        self.conn = conn
        self.head = head
        self.timeout = handler.server.body_timeout
        self.keep = True  # whether the connection can serve another request
        self.status = None
        self.headers = None
        self.headers_sent = False
        self.body = None  # wsgi.input
        self._continue = head.expect_continue  # 100 Continue not yet sent
        self._length = None  # the Content-Length the app declared
        self._framing = None  # "length", "chunked", "close" or "none"
        self._sent = 0  # body bytes counted against a declared Content-Length
        self.sent = 0  # body bytes sent
        self._has_date = self._has_server = False

    # -- the request body ---------------------------------------------------------

    def make_body(self, limits, max_content_length, no_body):
        head = self.head
        if head.chunked:
            return ChunkedInput(self, limits, max_content_length)
        if head.content_length:
            return ContentLengthInput(self, head.content_length)
        return no_body

    def read_body_bytes(self, limit):
        """For wsgi.input: sends 100 Continue before the first read that needs
        the client to send the body."""
        if self._continue and not self.conn.buffer:
            self._continue = False
            if not self.headers_sent:
                self.conn.send_all(CONTINUE, self.timeout)
        return self.conn.read_body(limit, self.timeout)

    def unread(self, data):
        self.conn.unread(data)

    # -- running it -------------------------------------------------------------------

    def run(self):
        """Serve the request; the connection's fate."""
        handler, head = self.handler, self.head
        server = handler.server
        limit = server.max_content_length
        if limit is not None and (head.content_length or 0) > limit:
            # Refused before the app runs, and before 100 Continue invites the body.
            return handler.refuse(self.conn, BodyTooLarge(
                f"request body of {head.content_length} bytes is larger than the limit of "
                f"{limit} bytes"))
        try:
            environ = handler.start_exchange(self)
        except ParseError as e:  # make_environ found the request invalid
            handler.end_exchange()
            return handler.refuse(self.conn, e)
        sock = self.conn.sock
        app_iter = None
        try:
            app_iter = server.app(environ, self.start_response)
            self._send_response(app_iter)
        except TakenOver:
            pass
        except _DROPPED as e:
            if not sock.taken_over:
                handler.connection_dropped(e, environ)
            self.keep = False
        except ParseError as e:
            # The body was malformed or over the limit, and the app let that
            # escape: the client's fault, answered like a bad head.
            if not self.headers_sent and not sock.taken_over:
                self._close(app_iter)
                handler.end_exchange()
                return handler.refuse(self.conn, e)
            self.keep = False
            handler.log("info", "request body refused after the response started: %s", e.reason)
        except Exception as e:
            if is_ssl_error(e):
                handler.log_error("SSL error occurred: %s", e)
                self.keep = False
            elif server.passthrough_errors:
                self.keep = False
                self._close(app_iter)
                handler.end_exchange()
                raise
            else:
                self._app_failed(environ)
        self._close(app_iter)
        if sock.taken_over:
            # The app took the connection over (a WebSocket): nothing more is
            # sent or read here. Its status is the one it wrote.
            handler.log_request(status_sent(sock.first_sent), "-")
            handler.end_exchange()
            _end_taken_over(sock)
            return RELEASED
        if sock.app_timeout:
            sock.restore()
        if self.keep:
            self._finish_body()
        handler.log_request(self.status_code, "-")
        handler.end_exchange()
        return KEEP_ALIVE if self.keep else CLOSE

    @property
    def status_code(self):
        return int(self.status[:3]) if self.status else 500

    def _close(self, app_iter):
        if app_iter is not None and hasattr(app_iter, "close"):
            try:
                app_iter.close()
            except Exception:
                self.handler.server.log("error", "Error closing the response:\n%s",
                                        traceback.format_exc())
                self.keep = False

    def _app_failed(self, environ):
        self.handler.server.log("error", "Error on request:\n%s", traceback.format_exc())
        if self.headers_sent or self.conn.sock.taken_over:
            # The client must see a truncated response, not a complete one.
            self.keep = False
            return
        body = InternalServerError().get_body(environ).encode()
        self.status = "500 INTERNAL SERVER ERROR"
        self.headers = [("Content-Type", "text/html; charset=utf-8"),
                        ("Content-Length", str(len(body)))]
        self._length = len(body)
        self._has_date = self._has_server = False
        self._send_head(body)

    def _finish_body(self):
        """Drop what the app left unread of the body, or close if it is too much."""
        body = self.body
        if body is None or body.failed:  # a make_environ override made its own wsgi.input
            self.keep = False
            return
        if body.finished:
            return
        if isinstance(body, ContentLengthInput) and body.remaining > DRAIN_LIMIT:
            self.keep = False
            return
        drained = 0
        try:
            while drained <= DRAIN_LIMIT:
                data = body.read(65536)
                if not data:
                    return
                drained += len(data)
        except Exception:  # malformed, cut off or stalled: the connection ends either way
            pass
        self.keep = False

    # -- the response --------------------------------------------------------------------

    def start_response(self, status, headers, exc_info=None):
        """PEP 3333 start_response."""
        if exc_info:
            try:
                if self.headers_sent:
                    raise exc_info[1].with_traceback(exc_info[2])
            finally:
                exc_info = None
        elif self.status is not None:
            raise AssertionError("start_response() called again without exc_info")
        check_status(status)
        length = None
        self._has_date = self._has_server = False
        for item in headers:
            if type(item) is not tuple or len(item) != 2:
                raise TypeError(f"response header {item!r} is not a (name, value) tuple")
            name, value = item
            check_header(name, value)
            lowered = name.lower()
            if lowered == "content-length":
                length = int(value)
            elif lowered in HOP_BY_HOP:
                raise ValueError(f"hop-by-hop header {name!r} is set by the server, not the app")
            elif lowered == "date":
                self._has_date = True
            elif lowered == "server":
                self._has_server = True
        self.status = status
        self.headers = headers
        self._length = length
        return self.write

    def write(self, data):
        """The write() callable start_response returns, and every body chunk."""
        if not self.headers_sent:
            if self.status is None:
                raise AssertionError("write() before start_response()")
            self._send_head(data)
            return
        self._send_data(data)

    def _send_response(self, app_iter):
        if type(app_iter) is list or type(app_iter) is tuple:
            if self.status is None:
                raise AssertionError("the application returned without calling start_response()")
            if self._length is None and not self.headers_sent:
                # A body given whole: its length is known, so say it.
                body = b"".join(app_iter)
                self._length = len(body)
                self._send_head(body, add_length=True)
                return
            for chunk in app_iter:
                if chunk:
                    self.write(chunk)
        elif isinstance(app_iter, FileWrapper) and self._can_sendfile(app_iter):
            self._sendfile(app_iter)
        else:
            for chunk in app_iter:
                if type(chunk) is not bytes:
                    raise TypeError(f"the application yielded {type(chunk).__name__}, not bytes")
                if chunk:
                    self.write(chunk)
        if not self.headers_sent:
            if self.status is None:
                raise AssertionError("the application returned without calling start_response()")
            self._send_head(b"", add_length=self._length is None)
        self._end_body()

    def _send_head(self, first, add_length=False):
        """Send the status line, headers and the first body bytes in one send."""
        head, handler = self.head, self.handler
        code = int(self.status[:3])
        no_body = head.method == "HEAD" or code < 200 or code in _NO_BODY_STATUS
        http11 = head.version == "HTTP/1.1" and handler.protocol_version >= "HTTP/1.1"
        extra = ""
        if no_body:
            framing = "none"
            if add_length and head.method == "HEAD":
                extra = f"Content-Length: {len(first)}\r\n"
        elif self._length is not None:
            framing = "length"
            if add_length:
                extra = f"Content-Length: {self._length}\r\n"
        elif http11:
            framing = "chunked"
            extra = "Transfer-Encoding: chunked\r\n"
        else:
            framing = "close"
        keep = (head.keep_alive and framing != "close" and handler.protocol_version >= "HTTP/1.1"
                and not (self.body is not None and self.body.failed) and not handler.server.stopping)
        if not keep:
            self.keep = False
            extra += "Connection: close\r\n"
        elif head.version == "HTTP/1.0":
            extra += "Connection: keep-alive\r\n"
        if not self._has_date:
            extra += clock.date_line
        if not self._has_server:
            extra += handler.server_line
        out = (f"HTTP/1.1 {self.status}\r\n"
               + "".join([f"{name}: {value}\r\n" for name, value in self.headers])
               + extra + "\r\n").encode("latin-1")
        self._framing = framing
        self.headers_sent = True
        if not first or no_body:
            self.conn.send_all(out, self.timeout)
        elif framing == "chunked":
            self.conn.send_all(b"%s%x\r\n%s\r\n" % (out, len(first), first), self.timeout)
            self.sent = len(first)
        else:
            self._sent = len(first)
            first = self._bounded(first)
            self.conn.send_all(out + first, self.timeout)
            self.sent = len(first)

    def _bounded(self, data):
        """Never send more than the Content-Length the app declared."""
        if self._framing == "length" and self._sent > self._length:
            over = self._sent - self._length
            self.keep = False
            return data[:len(data) - over] if over < len(data) else b""
        return data

    def _send_data(self, data):
        framing = self._framing
        if framing == "none":
            return
        if framing == "chunked":
            self.conn.send_all(b"%x\r\n%s\r\n" % (len(data), data), self.timeout)
        else:
            self._sent += len(data)
            data = self._bounded(data)
            self.conn.send_all(data, self.timeout)
        self.sent += len(data)

    def _end_body(self):
        if self._framing == "chunked":
            self.conn.send_all(b"0\r\n\r\n", self.timeout)
        elif self._framing == "length" and self._sent < self._length:
            # The app sent less than it declared; the client must not wait for
            # the rest on a connection that goes on.
            self.keep = False

    def _can_sendfile(self, wrapper):
        """os.sendfile needs a regular file and a plain (not TLS) socket."""
        if not self.conn.can_sendfile or self.headers_sent or self.status is None:
            return False
        try:
            return stat.S_ISREG(os.fstat(wrapper.file.fileno()).st_mode)
        except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
            return False

    def _sendfile(self, wrapper):
        filelike = wrapper.file
        offset = filelike.tell()
        size = os.fstat(filelike.fileno()).st_size - offset
        if self._length is None:
            self._length = size
            self._send_head(b"", add_length=True)
        else:
            self._send_head(b"")
        if self._framing != "none":
            count = min(size, self._length)
            self.conn.sendfile(filelike, offset, count, self.timeout)
            self._sent = self.sent = count
