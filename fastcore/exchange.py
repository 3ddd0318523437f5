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
import threading
import time
import traceback
from http import HTTPStatus
from time import time as _time

from werkzeug.exceptions import InternalServerError
from werkzeug.serving import is_ssl_error
from werkzeug.wsgi import FileWrapper

from fastcore.access_log import access_log, clock, request_text
from fastcore.connection import CLOSE, KEEP_ALIVE, RELEASED, TakenOver
from fastcore.errors import ParseError
from fastcore.parser import access_line, build_environ, response_head
from fastcore.sockets import status_sent
from fastcore.stopping import StreamEnded
from fastcore.wsgi_input import BodyTooLarge, ChunkedInput, ContentLengthInput

__all__ = ["Context", "Exchange", "refusal"]

# An unread request body up to this size is read and dropped so the
# connection can serve the next request; a larger one closes it.
DRAIN_LIMIT = 256 * 1024
CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
# How long a thread of the app's may go on with a connection it took over
# once the app has returned (see _end_taken_over).
TAKEN_OVER_GRACE = 0.1
_DROPPED = (ConnectionError, socket.timeout)


def _is_event_stream(headers):
    """Whether a response's headers say text/event-stream (Server-Sent Events)."""
    for name, value in headers:
        if name.lower() == "content-type":
            return value.partition(";")[0].strip().lower() == "text/event-stream"
    return False


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
    a moment is shut down and closed here. A socket the app said it keeps
    (``outlives_request``) is left to it."""
    if sock.fileno() == -1 or sock.outlives_request:
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


class Context:
    """What the exchanges of one connection share, read from its handler once:
    a handler's attributes are slow to read (Werkzeug's handler class defines
    ``__getattr__``, which keeps CPython from caching how to read any of them).
    The flags say which of the handler's hooks are overridden: the exchange
    calls those, and does the work of the others itself."""

    # It holds no reference to the handler (the handler holds it): a cycle
    # would leave each closed connection to the garbage collector.
    __slots__ = ("base", "server", "timeout", "speaks_11", "server_line",
                 "own_environ", "direct_log", "exchange_class")

    def __init__(self, base, shared):
        self.base = base  # the environ keys every request on the connection shares
        (self.server, self.timeout, self.speaks_11, self.server_line, self.own_environ,
         self.direct_log, self.exchange_class) = shared

    @staticmethod
    def shared(handler, own_environ, direct_log, exchange_class):
        """What the contexts of all the connections of ``handler``'s server
        and class share (made once, read by Context()): ``own_environ`` when
        make_environ is overridden, ``direct_log`` when no hook of the access
        line is, and ``exchange_class`` (else None) when neither
        handle_one_request nor run_wsgi is (the server then makes the exchange
        itself)."""
        server = handler.server
        return (server, server.body_timeout, handler.protocol_version >= "HTTP/1.1",
                handler.server_line, own_environ, direct_log, exchange_class)


class Exchange:
    """One request on a connection (see the module docstring)."""

    # The state of a response not yet started; an exchange sets what changes
    # (and, in __init__, what it reads before it may set it).
    headers = None
    code = 500  # the status code, as logged (an app that failed before starting: 500)
    sent = 0  # body bytes sent
    _lines = None  # the status line and headers, encoded (response_head)
    _length = None  # the Content-Length the app declared
    _sent = 0  # body bytes counted against a declared Content-Length
    _has_date = _has_server = False
    _continued = False  # 100 Continue was sent, or need not be any more

    def __init__(self, context, conn, head):
        self.context = context
        self.conn = conn
        self.head = head
        # Read before they may be set: an instance's own attributes are the
        # quickest to read.
        self.status = None
        self.body = None  # wsgi.input when the request has a body
        self.keep = True  # whether the connection can serve another request
        self._framing = None  # once the head is sent: "length", "chunked", "close" or "none"

    # -- the request body ---------------------------------------------------------

    def make_body(self, limits, max_content_length):
        """wsgi.input for a request with a body."""
        head = self.head
        if head.chunked:
            return ChunkedInput(self, limits, max_content_length)
        return ContentLengthInput(self, head.content_length)

    def read_body_bytes(self, limit):
        """For wsgi.input: sends 100 Continue before the first read that needs
        the client to send the body."""
        conn = self.conn
        if not self._continued and not conn.buffer and self.head.expect_continue:
            self._continued = True
            if self._framing is None:
                conn.send_all(CONTINUE, self.context.timeout)
        return conn.read_body(limit, self.context.timeout)

    def unread(self, data):
        self.conn.unread(data)

    def make_environ(self):
        """The environ of this request: the connection's keys, the request's,
        and wsgi.input (what WSGIRequestHandler.make_environ returns)."""
        head = self.head
        environ = build_environ(head, self.context.base)  # its wsgi.input: NO_BODY
        body = self.body
        if body is not None:
            environ["wsgi.input"] = body
            if head.chunked:
                environ["wsgi.input_terminated"] = True
        return environ

    # -- running it -------------------------------------------------------------------

    def run(self):
        """Serve the request; the connection's fate."""
        context, head, conn = self.context, self.head, self.conn
        handler, server = conn.handler, context.server
        handler._exchange = self
        self.started = now = _time()
        if now >= clock.next_second or now < clock.second:  # (a clock set back, too)
            clock.tick()  # the Date header's second and the log's
        if head.content_length or head.chunked:
            limit = server.max_content_length
            if limit is not None and (head.content_length or 0) > limit:
                # Refused before the app runs, and before 100 Continue invites the body.
                handler._exchange = None
                return handler.refuse(conn, BodyTooLarge(
                    f"request body of {head.content_length} bytes is larger than the limit of "
                    f"{limit} bytes"))
            self.body = self.make_body(server.limits, limit)
        try:
            if context.own_environ:
                environ = handler.make_environ()
            elif self.body is None:  # make_environ's result, without the call
                environ = build_environ(head, context.base)
            else:
                environ = self.make_environ()
        except ParseError as e:  # make_environ found the request invalid
            handler._exchange = None
            return handler.refuse(conn, e)
        handler.environ = environ
        sock = conn.sock
        app_iter = None
        try:
            app_iter = server.app(environ, self.start_response)
            self._send_response(app_iter)
        except TakenOver:
            pass
        except StreamEnded:  # the server is stopping (see fastcore.stopping)
            self.keep = False
        except _DROPPED as e:
            if not sock.taken_over:
                handler.connection_dropped(e, environ)
            self.keep = False
        except ParseError as e:
            # The body was malformed or over the limit, and the app let that
            # escape: the client's fault, answered like a bad head.
            if self._framing is None and not sock.taken_over:
                self._close(app_iter)
                handler._exchange = handler.environ = None
                return handler.refuse(conn, e)
            self.keep = False
            handler.log("info", "request body refused after the response started: %s", e.reason)
        except Exception as e:
            if is_ssl_error(e):
                if conn.stream is None or not server.stop_requested:  # else: the stop cut it
                    handler.log_error("SSL error occurred: %s", e)
                self.keep = False
            elif server.passthrough_errors:
                self.keep = False
                self._close(app_iter)
                handler._exchange = handler.environ = None
                raise
            else:
                self._app_failed(environ)
        if type(app_iter) is not list:
            self._close(app_iter)
        if sock.taken_over:
            # The app took the connection over (a WebSocket): nothing more is
            # sent or read here. Its status is the one it wrote.
            handler.log_request(status_sent(sock.first_sent), "-")
            handler._exchange = handler.environ = None
            _end_taken_over(sock)
            return RELEASED
        if sock.app_timeout:
            sock.restore()
        if self.keep and self.body is not None and not self.body.finished:
            self._finish_body()
        direct = access_log.direct
        if context.direct_log and direct is not None:
            # The line WSGIRequestHandler.log_request would write through its
            # hooks, none of them overridden (see access_log), stamped with
            # the second the request started.
            code = self.code
            seconds = _time() - self.started
            line = access_line(environ["REMOTE_ADDR"], clock.log_time, head, code, seconds)
            if line is None:  # coloured, or its target decoded
                line = (f"{environ['REMOTE_ADDR']} - - [{clock.log_time}] "
                        f'"{request_text(head.method, head.target, head.version, code)}" '
                        f"{code} - {seconds * 1000:.1f}ms")
            access_log.add(direct, line)
        else:
            handler.log_request(self.code, "-")
        handler._exchange = handler.environ = None
        return KEEP_ALIVE if self.keep else CLOSE

    def _close(self, app_iter):
        close = getattr(app_iter, "close", None)
        if close is not None:
            try:
                close()
            except Exception:
                self.context.server.log("error", "Error closing the response:\n%s",
                                        traceback.format_exc())
                self.keep = False

    def _app_failed(self, environ):
        self.context.server.log("error", "Error on request:\n%s", traceback.format_exc())
        if self._framing is not None or self.conn.sock.taken_over:
            # The client must see a truncated response, not a complete one.
            self.keep = False
            return
        body = InternalServerError().get_body(environ).encode()
        self.status = "500 INTERNAL SERVER ERROR"
        self.headers = [("Content-Type", "text/html; charset=utf-8"),
                        ("Content-Length", str(len(body)))]
        (self._lines, self.code, self._length, self._has_date,
         self._has_server) = response_head(self.status, self.headers)
        self._send_head(body)

    def _finish_body(self):
        """Drop what the app left unread of the body, or close if it is too much."""
        body = self.body
        if body.failed:
            self.keep = False
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
                if self._framing is not None:
                    raise exc_info[1].with_traceback(exc_info[2])
            finally:
                exc_info = None
        elif self.status is not None:
            raise AssertionError("start_response() called again without exc_info")
        # Checked here (an app's error surfaces in its own call), sent later.
        (self._lines, self.code, self._length, self._has_date,
         self._has_server) = response_head(status, headers)
        self.status = status
        self.headers = headers
        return self.write

    def write(self, data):
        """The write() callable start_response returns, and every body chunk."""
        if self._framing is None:
            if self.status is None:
                raise AssertionError("write() before start_response()")
            self._send_head(data)
            return
        self._send_data(data)

    def _send_response(self, app_iter):
        if type(app_iter) is list or type(app_iter) is tuple:
            if self.status is None:
                raise AssertionError("the application returned without calling start_response()")
            if self._framing is None:
                # A body given whole goes out with the head in one send; its
                # length is known, so it is said if the app did not say it.
                body = b"".join(app_iter)
                if self._length is None:
                    self._length = len(body)
                    self._send_head(body, add_length=True)
                    return
                self._send_head(body)
                if self._sent < self._length and self._framing == "length":
                    self.keep = False  # less than it declared (see _end_body)
                return
            for chunk in app_iter:
                if chunk:
                    self._send_data(chunk)
        elif isinstance(app_iter, FileWrapper) and self._can_sendfile(app_iter):
            self._sendfile(app_iter)
        else:
            for chunk in app_iter:
                if type(chunk) is not bytes:
                    raise TypeError(f"the application yielded {type(chunk).__name__}, not bytes")
                if chunk:
                    self.write(chunk)
        if self._framing is None:
            if self.status is None:
                raise AssertionError("the application returned without calling start_response()")
            self._send_head(b"", add_length=self._length is None)
        self._end_body()

    def _send_head(self, first, add_length=False):
        """Send the status line, headers and the first body bytes in one send."""
        head, context = self.head, self.context
        code = self.code
        length = self._length
        if code < 200 or code == 204 or code == 304 or head.method == "HEAD":
            framing = "none"
            extra = (f"Content-Length: {len(first)}\r\n"
                     if add_length and head.method == "HEAD" else "")
        elif length is not None:
            framing = "length"
            extra = f"Content-Length: {length}\r\n" if add_length else ""
        else:  # a length not known: only such a response can be endless
            if head.version == "HTTP/1.1" and context.speaks_11:
                framing = "chunked"
                extra = "Transfer-Encoding: chunked\r\n"
            else:
                framing = "close"
                extra = ""
            if _is_event_stream(self.headers):
                self._start_stream()
        if (head.keep_alive and framing != "close" and context.speaks_11
                and not context.server.stopping and (self.body is None or not self.body.failed)):
            if head.version == "HTTP/1.0":
                extra += "Connection: keep-alive\r\n"
        else:
            self.keep = False
            extra += "Connection: close\r\n"
        if self._has_date or self._has_server:
            if not self._has_date:
                extra += clock.date_line
            if not self._has_server:
                extra += context.server_line
            extra += "\r\n"
        else:
            extra = f"{extra}{clock.date_line}{context.server_line}\r\n"
        out = self._lines + extra.encode("latin-1")
        self._framing = framing
        if not first or framing == "none":
            self.conn.send_all(out, context.timeout)
        elif framing == "chunked":
            self.conn.send_all(b"%s%x\r\n%s\r\n" % (out, len(first), first), context.timeout)
            self.sent = len(first)
        else:
            self._sent = sent = len(first)
            if framing == "length" and sent > length:
                first = self._bounded(first)
                sent = len(first)
            self.conn.send_all(out + first, context.timeout)
            self.sent = sent

    def _start_stream(self):
        """An event stream: the server's stop ends it at once (see
        fastcore.stopping), and one starting during the stop ends now."""
        self.conn.stream = threading.get_ident()
        if self.context.server.stop_requested:
            raise StreamEnded

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
            self.conn.send_all(b"%x\r\n%s\r\n" % (len(data), data), self.context.timeout)
        else:
            self._sent += len(data)
            data = self._bounded(data)
            self.conn.send_all(data, self.context.timeout)
        self.sent += len(data)

    def _end_body(self):
        if self._framing == "chunked":
            self.conn.send_all(b"0\r\n\r\n", self.context.timeout)
            self.conn.stream = None
        elif self._framing == "length" and self._sent < self._length:
            # The app sent less than it declared; the client must not wait for
            # the rest on a connection that goes on.
            self.keep = False

    def _can_sendfile(self, wrapper):
        """os.sendfile needs a regular file and a plain (not TLS) socket."""
        if not self.conn.can_sendfile or self._framing is not None or self.status is None:
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
            self.conn.sendfile(filelike, offset, count, self.context.timeout)
            self._sent = self.sent = count
