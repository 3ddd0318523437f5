"""One request and its response: environ, app, start_response, the body on the wire.

Strategy: an Exchange is made for each request and dropped after it. It runs
the app (PEP 3333: start_response with exc_info, the write() callable,
latin-1 native strings, close() always called), sends the status line,
headers and first body bytes in one send, sends the rest as the framing
says, drains what the app left unread of the body, and returns the
connection's next state. How the response is framed and whether the
connection goes on are the cycle's rules (``fastcore.cycle``): the exchange
gives it the facts and does the I/O.
"""

import io
import os
import socket
import stat
import threading
import time
import traceback
from time import time as _time

from werkzeug.exceptions import InternalServerError
from werkzeug.serving import is_ssl_error
from werkzeug.wsgi import FileWrapper

from fastcore.cycle import (
    CHUNKED,
    CLOSE,
    CONTINUE,
    DRAIN,
    DRAIN_LIMIT,
    KEEP_ALIVE,
    LENGTH,
    NO_BODY,
    RELEASED,
    RequestHead,
    after_response,
    frame_response,
    is_event_stream,
    sent_whole,
)
from fastcore.errors import ParseError
from fastcore.io.connection import TakenOver
from fastcore.io.sockets import status_sent
from fastcore.parser import access_line, build_environ, response_head
from fastcore.stopping import StreamEnded
from fastcore.wsgi.access_log import access_log, clock, request_text
from fastcore.wsgi.wsgi_input import BodyTooLarge, ChunkedInput, ContentLengthInput

__all__ = ["Context", "Exchange"]
# How long a thread of the app's may go on with a connection it took over
# once the app has returned (see _end_taken_over).
TAKEN_OVER_GRACE = 0.1
_DROPPED = (ConnectionError, socket.timeout)


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
                 "own_environ", "direct_log", "exchange")

    def __init__(self, base, shared):
        self.base = base  # the environ keys every request on the connection shares
        self.exchange = None  # the request under way, for the handler's hooks to read
        (self.server, self.timeout, self.speaks_11, self.server_line, self.own_environ,
         self.direct_log) = shared

    @staticmethod
    def shared(handler, own_environ, direct_log):
        """What the contexts of all the connections of ``handler``'s server
        and class share (made once, read by Context()): ``own_environ`` when
        make_environ is overridden, ``direct_log`` when no hook of the access
        line is."""
        server = handler.server
        return (server, server.body_timeout, handler.protocol_version >= "HTTP/1.1",
                handler.server_line, own_environ, direct_log)


def fault(server, conn):
    """What a request that raised past its exchange comes to: logged by the
    server's ``handle_error``, and the connection closes; re-raised (out of
    serve_forever) with ``passthrough_errors`` in single mode, as in
    Werkzeug. Called while the exception is handled."""
    if server.passthrough_errors and not server.multithread:
        raise  # noqa: PLE0704 (the exception being handled)
    server.handle_error(conn.sock, conn.handler.client_address)
    return CLOSE


class Exchange:
    """One request on a connection (see the module docstring): made with no
    arguments, then ``run``: the loop's runner of requests when the handler
    class overrides none of its steps (see ``WSGIRequestHandler.runner``)."""

    # The state of a response not yet started; an exchange sets what changes
    # (run() sets status, body and framing first: they are read before they
    # may be set, and an instance's own attribute is the quicker to read).
    headers = None
    response = None  # response_head()'s encoding of the status and headers
    environ = None
    length = None  # the Content-Length the response declares, once framed
    counted = 0  # the body bytes the app gave, counted against that length
    sent = 0  # the body bytes sent
    # Whether the response leaves the connection able to serve another
    # request: the cycle's answer once the head is framed, and False once the
    # response is cut short.
    keep = False
    continued = False  # 100 Continue was sent, or need not be any more

    @property
    def code(self):
        """The status code, as logged (an app that failed before starting: 500)."""
        return 500 if self.response is None else self.response[1]

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
        if not self.continued and not conn.buffer and self.head.expect_continue:
            self.continued = True
            if self.framing is None:
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

    def run(self, conn, head):
        """Serve one request of ``conn``: ``head`` is what the cycle read (a
        RequestHead, or the ParseError that refuses the bytes); the
        connection's next state. What raises past the app comes to ``fault``."""
        context = conn.context
        self.context = context
        self.conn = conn
        self.head = head
        self.status = self.body = self.framing = None
        try:
            if type(head) is not RequestHead:
                return conn.handler.refuse(conn, head)
            conn.buffer = conn.buffer[head.size:]  # the request's head is taken
            context.exchange = self
            handler, server = conn.handler, context.server
            self.started = now = _time()
            if now >= clock.next_second or now < clock.second:  # (a clock set back, too)
                clock.tick()  # the Date header's second and the log's
            if head.content_length or head.chunked:
                limit = server.max_content_length
                if limit is not None and (head.content_length or 0) > limit:
                    # Refused before the app runs, and before 100 Continue invites the body.
                    context.exchange = None
                    return handler.refuse(conn, BodyTooLarge(
                        f"request body of {head.content_length} bytes is larger than the limit "
                        f"of {limit} bytes"))
                self.body = self.make_body(server.limits, limit)
            try:
                if context.own_environ:
                    environ = handler.make_environ()
                elif self.body is None:  # make_environ's result, without the call
                    environ = build_environ(head, context.base)
                else:
                    environ = self.make_environ()
            except ParseError as e:  # make_environ found the request invalid
                context.exchange = None
                return handler.refuse(conn, e)
            self.environ = environ
            sock = conn.sock
            app_iter = None
            try:
                app = server.app  # (read, then called: a method lookup of it is slower)
                app_iter = app(environ, self.start_response)
                if ((type(app_iter) is list or type(app_iter) is tuple) and self.framing is None
                        and self.status is not None):
                    # A body given whole goes out with the head in one send;
                    # its length is known, said if the app did not say it. (What
                    # _send_head does, for a body known whole: not a stream.)
                    body = b"".join(app_iter)
                    data, self.framing, self.keep, self.length, self.sent = frame_response(
                        head, self.response, body, len(body), context.speaks_11,
                        server.stopping, self.body, clock.date_line, context.server_line)
                    conn.send_all(data, context.timeout)
                else:
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
                # The body was malformed or over the limit, and the app let
                # that escape: the client's fault, answered like a bad head.
                if self.framing is None and not sock.taken_over:
                    self._close(app_iter)
                    context.exchange = None
                    return handler.refuse(conn, e)
                self.keep = False
                handler.log("info", "request body refused after the response started: %s",
                            e.reason)
            except Exception as e:
                if is_ssl_error(e):
                    if conn.stream is None or not server.stop_requested:  # else: the stop cut it
                        handler.log_error("SSL error occurred: %s", e)
                    self.keep = False
                elif server.passthrough_errors:
                    self.keep = False
                    self._close(app_iter)
                    raise
                else:
                    self._app_failed(environ)
            if type(app_iter) is not list:
                self._close(app_iter)
            fate = after_response(self.keep, sock.taken_over, self.body)
            if fate is RELEASED:
                # The app took the connection over (a WebSocket): nothing more
                # is sent or read here. Its status is the one it wrote.
                handler.log_request(status_sent(sock.first_sent), "-")
                _end_taken_over(sock)
                return RELEASED
            if sock.app_timeout:
                sock.restore()
            if fate is DRAIN:
                fate = self._drain()
            direct = access_log.direct
            if context.direct_log and direct is not None:
                # The line WSGIRequestHandler.log_request would write through
                # its hooks, none of them overridden (see access_log), stamped
                # with the second the request started.
                code = 500 if self.response is None else self.response[1]
                seconds = _time() - self.started
                line = access_line(environ["REMOTE_ADDR"], clock.log_time, head, code, seconds)
                if line is None:  # coloured, or its target decoded
                    line = (f"{environ['REMOTE_ADDR']} - - [{clock.log_time}] "
                            f'"{request_text(head.method, head.target, head.version, code)}" '
                            f"{code} - {seconds * 1000:.1f}ms")
                pending = access_log.pending  # (what access_log.add does, inlined)
                pending.append(line)
                if len(pending) == 1:
                    access_log.first_added(direct)
            else:
                handler.log_request(self.code, "-")
            return fate
        except Exception:
            return fault(context.server, conn)
        finally:
            context.exchange = None

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
        if self.framing is not None or self.conn.sock.taken_over:
            # The client must see a truncated response, not a complete one.
            self.keep = False
            return
        body = InternalServerError().get_body(environ).encode()
        self.status = "500 INTERNAL SERVER ERROR"
        self.headers = [("Content-Type", "text/html; charset=utf-8"),
                        ("Content-Length", str(len(body)))]
        self.response = response_head(self.status, self.headers)
        self._send_head(body, len(body))

    def _drain(self):
        """Drop what the app left unread of the body (up to DRAIN_LIMIT): the
        connection goes on if that was all of it."""
        body = self.body
        drained = 0
        try:
            while drained <= DRAIN_LIMIT:
                data = body.read(65536)
                if not data:
                    return KEEP_ALIVE
                drained += len(data)
        except Exception:  # malformed, cut off or stalled: the connection ends either way
            pass
        return CLOSE

    # -- the response --------------------------------------------------------------------

    def start_response(self, status, headers, exc_info=None):
        """PEP 3333 start_response."""
        if exc_info:
            try:
                if self.framing is not None:
                    raise exc_info[1].with_traceback(exc_info[2])
            finally:
                exc_info = None
        elif self.status is not None:
            raise AssertionError("start_response() called again without exc_info")
        # Checked here (an app's error surfaces in its own call), sent later.
        self.response = response_head(status, headers)
        self.status = status
        self.headers = headers
        return self.write

    def write(self, data):
        """The write() callable start_response returns, and every body chunk."""
        if self.framing is None:
            if self.status is None:
                raise AssertionError("write() before start_response()")
            self._send_head(data)
            return
        self._send_data(data)

    def _send_response(self, app_iter):
        """Send what ``app_iter`` gives, but a list given whole (see run)."""
        if type(app_iter) is list or type(app_iter) is tuple:
            if self.status is None:
                raise AssertionError("the application returned without calling start_response()")
            for chunk in app_iter:  # after write() started the response
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
        if self.framing is None:
            if self.status is None:
                raise AssertionError("the application returned without calling start_response()")
            self._send_head(b"", 0)
        self._end_body()

    def _send_head(self, first, whole=-1):
        """Send the status line, headers and the first body bytes in one
        send; ``whole``: the body's length when ``first`` is all of it."""
        context = self.context
        data, framing, self.keep, self.length, self.sent = frame_response(
            self.head, self.response, first, whole, context.speaks_11, context.server.stopping,
            self.body, clock.date_line, context.server_line)
        self.framing = framing
        self.counted = len(first)
        if framing >= CHUNKED and is_event_stream(self.headers):  # CHUNKED or UNTIL_CLOSE
            self._start_stream()
        self.conn.send_all(data, context.timeout)

    def _start_stream(self):
        """An event stream: the server's stop ends it at once (see
        fastcore.stopping), and one starting during the stop ends now."""
        self.conn.stream = threading.get_ident()
        if self.context.server.stop_requested:
            raise StreamEnded

    def _send_data(self, data):
        framing = self.framing
        if framing == NO_BODY:
            return
        if framing == CHUNKED:
            self.conn.send_all(b"%x\r\n%s\r\n" % (len(data), data), self.context.timeout)
        else:
            self.counted += len(data)
            if framing == LENGTH and self.counted > self.length:
                # Never more than the Content-Length the app declared.
                self.keep = False
                data = data[:max(0, len(data) - (self.counted - self.length))]
            self.conn.send_all(data, self.context.timeout)
        self.sent += len(data)

    def _end_body(self):
        if self.framing == CHUNKED:
            self.conn.send_all(b"0\r\n\r\n", self.context.timeout)
            self.conn.stream = None
        elif not sent_whole(self.framing, self.length, self.counted):
            self.keep = False

    def _can_sendfile(self, wrapper):
        """os.sendfile needs a regular file and a plain (not TLS) socket."""
        if not self.conn.can_sendfile or self.framing is not None or self.status is None:
            return False
        try:
            return stat.S_ISREG(os.fstat(wrapper.file.fileno()).st_mode)
        except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
            return False

    def _sendfile(self, wrapper):
        filelike = wrapper.file
        offset = filelike.tell()
        size = os.fstat(filelike.fileno()).st_size - offset
        self._send_head(b"", size)
        if self.framing != NO_BODY:
            count = min(size, self.length)
            self.conn.sendfile(filelike, offset, count, self.context.timeout)
            self.counted = self.sent = count
