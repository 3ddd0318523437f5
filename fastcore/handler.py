"""WSGIRequestHandler: the requests of one connection, from bytes to app to bytes.

Strategy: the handler owns the connection's read buffer. ``handle()`` serves
every request whose head is complete, then either waits for the next one (as
long as the server allows: not at all when one thread serves every
connection) or returns with the connection *parked*, for the server to watch
and hand back when bytes arrive. So an idle or slow client never holds the
server. Where the head was read by the server's loop and the server wants
requests run in worker threads, ``handle()`` stops at a complete head with
the connection *handed off*, and a worker calls it again. Each request is
parsed by ``fastcore.parser``, run through the app, and answered with its
status line, headers and first body bytes in one send; the framing
(Content-Length, chunked, or close) decides whether the connection can serve
another request.

It subclasses Werkzeug's handler, so the hooks users override there
(``make_environ``, ``log_request``, ``log``, ``address_string``,
``connection_dropped``, ``protocol_version``) keep working, and tools that check
``isinstance(handler, werkzeug.serving.WSGIRequestHandler)`` still pass.
"""

import io
import os
import socket
import ssl
import stat
import sys
import threading
import time
import traceback
from email.utils import formatdate
from http import HTTPStatus
from http.client import HTTPMessage

import logging

from werkzeug._internal import _ColorStreamHandler, _log
from werkzeug.exceptions import InternalServerError
from werkzeug.serving import WSGIRequestHandler as _WerkzeugHandler
from werkzeug.serving import _ansi_style, is_ssl_error
from werkzeug.urls import uri_to_iri
from werkzeug.wsgi import FileWrapper

from fastcore import __version__
from fastcore.errors import ParseError
from fastcore.parser import build_environ, parse_request
from fastcore.wsgi_input import BodyTooLarge, ChunkedInput, ContentLengthInput

__all__ = ["WSGIRequestHandler"]

# RFC 9110 7.6.1 and PEP 3333: headers an application must not set.
HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-authenticate", "proxy-authorization",
                        "te", "trailer", "trailers", "transfer-encoding", "upgrade"})
_NO_BODY_STATUS = frozenset({204, 304})
# An unread request body up to this size is read and dropped so the
# connection can serve the next request; a larger one closes it.
DRAIN_LIMIT = 256 * 1024
# After a refusal the server stops sending, then reads and drops what the
# client still sends, for this long and this much at most, before it closes:
# closing on unread bytes resets the connection, and a reset can destroy the
# refusal before the client reads it (RFC 9112 section 9.6).
LINGER_SECONDS = 2.0
LINGER_BYTES = 4 * 1024 * 1024
CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
SERVER_VERSION = f"fastcore/{__version__} Python/{sys.version.split()[0]}"
SERVER_LINE = f"Server: {SERVER_VERSION}\r\n"


class _Clock:
    """Date header and log timestamps, formatted once per second."""

    def __init__(self):
        self._second = None
        self.now = 0.0
        self.date = ""
        self.date_line = ""
        self.log_time = ""

    def tick(self):
        self.now = now = time.time()
        second = int(now)
        if second != self._second:
            self._second = second
            self.date = formatdate(second, usegmt=True)
            self.date_line = f"Date: {self.date}\r\n"
            self.log_time = time.strftime("%d/%b/%Y %H:%M:%S", time.localtime(second))
        return now


_clock = _Clock()
_logger = logging.getLogger("werkzeug")


def _direct_handler():
    """Werkzeug's own stream handler when it is the only place an INFO record
    of the "werkzeug" logger would go (the usual case: nobody configured
    logging), else None. Then an access line can be written to its stream
    as-is, exactly as the handler would print it, without building a
    LogRecord; any other set-up gets the full logging path."""
    logger = _logger
    if logger.disabled or logger.filters or not logger.isEnabledFor(logging.INFO):
        return None
    handlers = logger.handlers
    if len(handlers) != 1:
        return None
    handler = handlers[0]
    if (type(handler) is not _ColorStreamHandler or handler.filters or handler.formatter
            or handler.level > logging.INFO):
        return None
    if logger.propagate and logger.parent is not None and logger.parent.handlers:
        return None
    return handler


class _AccessLog:
    """Access lines for Werkzeug's own handler, written in batches.

    A line is written at once when none was written in the last
    ``BATCH_SECONDS``; under load, lines wait for the next write (or for the
    server loop, which calls ``flush()`` every turn and wakes at least every
    ``BATCH_SECONDS`` while lines are pending), so a burst costs one write
    instead of one per request. Anything else logged first flushes what is
    pending, so lines never come out of order.
    """

    BATCH_SECONDS = 0.05

    def __init__(self):
        self.pending = []
        self.handler = None
        self.last_write = 0.0
        self.lock = threading.Lock()

    def add(self, handler, text, now):
        with self.lock:
            self.pending.append(text)
            self.handler = handler
            if now - self.last_write < self.BATCH_SECONDS and len(self.pending) < 256:
                return
        self.flush(now)

    def flush(self, now=None):
        with self.lock:
            if not self.pending:
                return
            lines, self.pending = self.pending, []
            handler = self.handler
            self.last_write = time.time() if now is None else now
        handler.acquire()
        try:
            handler.stream.write("\n".join(lines) + "\n")
            handler.flush()
        finally:
            handler.release()


access_log = _AccessLog()


def _emit(type, line, args):
    """Log one line through the "werkzeug" logger (see _direct_handler)."""
    handler = _direct_handler() if type == "info" else None
    if handler is None:
        access_log.flush()
        _log(type, line, *args)
        return
    access_log.add(handler, (line % args if args else line).rstrip(), _clock.now)


class WSGIRequestHandler(_WerkzeugHandler):
    """Serves the requests of one connection (see the module docstring)."""

    protocol_version = "HTTP/1.1"

    @property
    def server_version(self):
        return SERVER_VERSION

    # -- connection lifecycle ---------------------------------------------

    def setup(self):
        sock = self.connection = self.request
        if self.server.address_family != socket.AF_UNIX:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.configure_connection(sock)
        self.rbuf = bytearray()
        self.close_connection = False
        self.parked = False
        self.handed_off = False
        self.readable = False
        self.head_deadline = None
        self.environ = None
        self._linger_left = None  # bytes still to drop after a refusal
        self._base = None
        self._no_body = None

    def finish(self):
        """Nothing to flush: every response is sent whole before this runs."""

    def handle(self):
        """Serve requests while they come; park or close when there are none,
        or stop at a complete head the server wants run by a worker thread."""
        self.parked = False
        self.handed_off = False
        try:
            while not self.close_connection and not self.parked and not self.handed_off:
                self.handle_one_request()
        except (ConnectionError, socket.timeout, BlockingIOError) as e:
            self.connection_dropped(e, self.environ)
            self.close_connection = True
        except Exception as e:
            if self.server.ssl_context is not None and is_ssl_error(e):
                self.log_error("SSL error occurred: %s", e)
                self.close_connection = True
            else:
                raise

    def handle_one_request(self):
        if self._linger_left is not None:
            self._discard_input()
            return
        head = self._read_head()
        if head is None:
            return
        if self.server.hand_off(self):
            # The head stays in rbuf; the worker parses it again (a
            # microsecond) rather than carrying parser state across threads.
            self.handed_off = True
            return
        self.run_wsgi(head)

    def _discard_input(self):
        """Lingering close: drop what arrives until EOF, the byte budget or
        the deadline, whichever comes first."""
        if time.monotonic() > self.head_deadline:
            self.close_connection = True
            return
        got = self._receive()
        if got is None:
            self.parked = True
            return
        self._linger_left -= len(self.rbuf)
        self.rbuf.clear()
        if not got or self._linger_left <= 0:
            self.close_connection = True

    def _read_head(self):
        """The next request head, or None with the connection parked or closed."""
        limits = self.server.limits
        while True:
            if self.rbuf:
                try:
                    head = parse_request(self.rbuf, limits=limits)
                except ParseError as e:
                    self.refuse(e)
                    return None
                if head is not None:
                    self.head_deadline = None
                    return head
                if self.head_deadline is None:
                    self.head_deadline = time.monotonic() + self.server.head_timeout
                elif time.monotonic() > self.head_deadline:
                    self.head_timed_out()
                    return None
            got = self._receive()
            if got is None:
                self.parked = True
                return None
            if not got:
                self.close_connection = True
                return None

    def head_timed_out(self):
        """A head trickling in for too long (slowloris): drop the connection."""
        self.log("info", "request head not complete after %ss; closing", self.server.head_timeout)
        self.close_connection = True

    def _receive(self):
        """Read what the client sent: True, False at EOF, or None when nothing
        came in the time the server gives a waiting connection (then it parks)."""
        if not self.server.may_read(self):
            return None
        try:
            data = self.connection.recv(65536)
        except (BlockingIOError, ssl.SSLWantReadError, socket.timeout):
            return None
        if not data:
            return False
        self.rbuf += data
        return True

    # -- reading the body ---------------------------------------------------

    def read_body_bytes(self, limit):
        """Up to ``limit`` bytes of request body from the buffer or the socket."""
        rbuf = self.rbuf
        if rbuf:
            data = bytes(rbuf[:limit])
            del rbuf[:limit]
            return data
        if self._continue_pending:
            self._continue_pending = False
            if not self.headers_sent:
                self.connection.sendall(CONTINUE)
        # A read may time out sooner than body_timeout (a thread's socket waits
        # only as long as it would for a next request); retry until then.
        give_up = None
        while True:
            try:
                return self.connection.recv(limit)
            except (BlockingIOError, ssl.SSLWantReadError):
                now = time.monotonic()
                if give_up is None:
                    give_up = now + self.server.body_timeout
                elif now >= give_up:
                    raise socket.timeout("request body stalled") from None

    def unread(self, data):
        """Give back bytes read past the end of a body (a pipelined request)."""
        if data:
            self.rbuf[0:0] = data

    # -- one request ----------------------------------------------------------

    def make_environ(self):
        """The WSGI environ of the current request (Werkzeug's hook)."""
        head = self._head
        if self._base is None:
            self._base = self._connection_environ()
        environ = build_environ(head, self._base)
        if head.chunked:
            self._body = ChunkedInput(self, self.server.limits, self.server.max_content_length)
            environ["wsgi.input_terminated"] = True
        elif head.content_length:
            self._body = ContentLengthInput(self, head.content_length)
        else:
            # No body: one empty stream serves every such request on the connection.
            if self._no_body is None:
                self._no_body = ContentLengthInput(self, 0)
            self._body = self._no_body
        environ["wsgi.input"] = self._body
        return environ

    def _connection_environ(self):
        """The environ keys that are the same for every request on this connection."""
        server = self.server
        if server.address_family == socket.AF_UNIX:
            remote_addr, remote_port = "<local>", "0"
            server_name, server_port = server.host, ""
        else:
            remote_addr, remote_port = self.client_address[0], str(self.client_address[1])
            server_name, server_port = server.server_address[0], str(server.server_address[1])
        base = {
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": "http" if server.ssl_context is None else "https",
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": server.multithread,
            "wsgi.multiprocess": server.multiprocess,
            "wsgi.run_once": False,
            "wsgi.file_wrapper": FileWrapper,
            "werkzeug.socket": self.connection,
            "SERVER_SOFTWARE": self.server_version,
            "REMOTE_ADDR": remote_addr,
            "REMOTE_PORT": remote_port,
            "SERVER_NAME": server_name,
            "SERVER_PORT": server_port,
        }
        if isinstance(self.connection, ssl.SSLSocket):
            cert = self.connection.getpeercert(binary_form=True)
            if cert is not None:
                base["SSL_CLIENT_CERT"] = ssl.DER_cert_to_PEM_cert(cert)
        return base

    def run_wsgi(self, head=None):
        """Run the app for one request and send its response."""
        if head is None:  # called as do_GET etc. through Werkzeug's __getattr__
            return
        self._head = head
        self.command = head.method
        self.path = head.target
        self.request_version = head.version
        self.requestline = f"{head.method} {head.target} {head.version}"
        del self.rbuf[:head.size]
        limit = self.server.max_content_length
        if limit is not None and (head.content_length or 0) > limit:
            # Refused before the app runs, and before 100 Continue invites the body.
            self.refuse(BodyTooLarge(f"request body of {head.content_length} bytes is larger "
                                     f"than the limit of {limit} bytes"))
            return
        self._started = _clock.tick()
        self._continue_pending = head.expect_continue
        self.status = None
        self.response_headers = None
        self.headers_sent = False
        self._framing = None
        self._length = None
        self._has_date = self._has_server = False
        self._sent = 0
        self._body = None
        self.environ = environ = self.make_environ()

        app_iter = None
        try:
            app_iter = self.server.app(environ, self.start_response)
            self._send_response(app_iter)
        except (ConnectionError, socket.timeout, BlockingIOError) as e:
            self.connection_dropped(e, environ)
            self.close_connection = True
        except ParseError as e:
            # The body was malformed or over the limit, and the app let that
            # escape: the client's fault, answered like a bad head.
            if self.headers_sent:
                self.close_connection = True
                self.log("info", "request body refused after the response started: %s", e.reason)
            else:
                self.refuse(e)
                return
        except Exception:
            if self.server.passthrough_errors:
                self.close_connection = True
                raise
            self._app_failed(environ)
        finally:
            if app_iter is not None and hasattr(app_iter, "close"):
                try:
                    app_iter.close()
                except Exception:
                    self.server.log("error", "Error closing the response:\n%s",
                                    traceback.format_exc())
                    self.close_connection = True
        if not self.close_connection:
            self._finish_body(self._body)
        self.log_request(self._status_code(), "-")
        self.environ = None

    def _app_failed(self, environ):
        self.server.log("error", "Error on request:\n%s", traceback.format_exc())
        if self.headers_sent:
            # The client must see a truncated response, not a complete one.
            self.close_connection = True
            return
        response = InternalServerError()
        body = response.get_body(environ).encode()
        self.status = "500 INTERNAL SERVER ERROR"
        self.response_headers = [("Content-Type", "text/html; charset=utf-8"),
                                 ("Content-Length", str(len(body)))]
        self._length = len(body)
        self._has_date = self._has_server = False
        self._send_head(body)

    def _finish_body(self, body):
        """Drop what the app left unread of the body, or close if it is too much."""
        if body is None:  # a make_environ override made its own wsgi.input
            self.close_connection = True
            return
        if body.failed:
            self.close_connection = True
            return
        if body.finished:
            return
        if isinstance(body, ContentLengthInput) and body.remaining > DRAIN_LIMIT:
            self.close_connection = True
            return
        drained = 0
        try:
            while drained <= DRAIN_LIMIT:
                data = body.read(65536)
                if not data:
                    return
                drained += len(data)
        except (ParseError, ConnectionError, socket.timeout, OSError):
            pass
        except Exception:  # ClientDisconnected and the like
            pass
        self.close_connection = True

    # -- the response -----------------------------------------------------------

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
        if type(status) is not str or len(status) < 5 or not status[:3].isdigit() or status[3] != " ":
            raise ValueError(f"invalid status {status!r}: expected a str like '200 OK'")
        length = None
        self._has_date = self._has_server = False
        for item in headers:
            if type(item) is not tuple or len(item) != 2:
                raise TypeError(f"response header {item!r} is not a (name, value) tuple")
            name, value = item
            if type(name) is not str or type(value) is not str:
                raise TypeError(f"response header {item!r} must be two native strings")
            if "\n" in value or "\r" in value or "\n" in name or ":" in name:
                raise ValueError(f"response header {name!r} contains a line break or colon")
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
        self.response_headers = headers
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
                self._end_body()
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

    def _status_code(self):
        return int(self.status[:3]) if self.status else 500

    def _send_head(self, first, add_length=False):
        """Send the status line, headers and the first body bytes in one send."""
        head = self._head
        code = int(self.status[:3])
        no_body = head.method == "HEAD" or code < 200 or code in _NO_BODY_STATUS
        http11 = head.version == "HTTP/1.1" and self.protocol_version >= "HTTP/1.1"
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
        keep = head.keep_alive and framing != "close" and self.protocol_version >= "HTTP/1.1"
        if keep and self._body is not None and self._body.failed:
            keep = False  # the rest of a refused body cannot be skipped
        if not keep:
            self.close_connection = True
            extra += "Connection: close\r\n"
        elif head.version == "HTTP/1.0":
            extra += "Connection: keep-alive\r\n"
        if not self._has_date:
            extra += _clock.date_line
        if not self._has_server:
            extra += SERVER_LINE
        out = (f"HTTP/1.1 {self.status}\r\n"
               + "".join([f"{name}: {value}\r\n" for name, value in self.response_headers])
               + extra + "\r\n").encode("latin-1")
        self._framing = framing
        self.headers_sent = True
        if not first or no_body:
            self.connection.sendall(out)
        elif framing == "chunked":
            self.connection.sendall(b"%s%x\r\n%s\r\n" % (out, len(first), first))
        else:
            self._sent = len(first)
            self.connection.sendall(out + self._bounded(first))

    def _bounded(self, data):
        """Never send more than the Content-Length the app declared."""
        if self._framing == "length" and self._sent > self._length:
            over = self._sent - self._length
            self.close_connection = True
            return data[:len(data) - over] if over < len(data) else b""
        return data

    def _send_data(self, data):
        framing = self._framing
        if framing == "none":
            return
        if framing == "chunked":
            self.connection.sendall(b"%x\r\n%s\r\n" % (len(data), data))
        else:
            self._sent += len(data)
            self.connection.sendall(self._bounded(data))

    def _end_body(self):
        if self._framing == "chunked":
            self.connection.sendall(b"0\r\n\r\n")
        elif self._framing == "length" and self._sent < self._length:
            # The app sent less than it declared; the client must not wait for
            # the rest on a connection that goes on.
            self.close_connection = True

    def _can_sendfile(self, wrapper):
        """os.sendfile needs a regular file and a plain (not TLS) socket."""
        if self.server.ssl_context is not None or self.headers_sent or self.status is None:
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
            self.connection.sendfile(filelike, offset, count)
            self._sent = count

    def refuse(self, error):
        """Answer bytes that are not a valid request: its status, the reason as
        one line of text, and close (what follows cannot be trusted)."""
        _clock.tick()
        reason = error.reason.encode("latin-1", "replace") + b"\n"
        code = error.status
        response = (f"HTTP/1.1 {code} {HTTPStatus(code).phrase}\r\n"
                    "Content-Type: text/plain; charset=utf-8\r\n"
                    f"Content-Length: {len(reason)}\r\nConnection: close\r\n"
                    f"{_clock.date_line}{SERVER_LINE}\r\n").encode("latin-1") + reason
        self.close_connection = True
        self.rbuf.clear()  # nothing after a refusal is read as a request
        self.requestline = error.reason
        self.command = None
        self.log("info", '"%s" %s -', _ansi_style(f"bad request: {error.reason}", "bold", "red"), code)
        try:
            self.connection.sendall(response)
            if self.server.ssl_context is None:
                self.connection.shutdown(socket.SHUT_WR)
                self.close_connection = False
                self._linger_left = LINGER_BYTES
                self.head_deadline = time.monotonic() + LINGER_SECONDS
        except OSError:
            pass

    # -- logging ------------------------------------------------------------------

    @property
    def headers(self):
        """The request's header fields as an http.client.HTTPMessage, built
        only for code that asks (Werkzeug's handler has this attribute)."""
        message = HTTPMessage()
        for name, value in self._head.headers:
            message[name] = value
        return message

    def log_request(self, code="-", size="-"):
        """Werkzeug's request line, with how long the request took."""
        path = self.path
        if "%" in path or not path.isascii():
            path = uri_to_iri(path)
        msg = f"{self.command} {path} {self.request_version}"
        if not msg.isprintable() or "\\" in msg:
            msg = msg.translate(self._control_char_table)  # escape control characters
        code = str(code)
        if code == "200":
            pass
        elif code.startswith("1"):
            msg = _ansi_style(msg, "bold")
        elif code == "304":
            msg = _ansi_style(msg, "cyan")
        elif code.startswith("3"):
            msg = _ansi_style(msg, "green")
        elif code == "404":
            msg = _ansi_style(msg, "yellow")
        elif code.startswith("4"):
            msg = _ansi_style(msg, "bold", "red")
        else:
            msg = _ansi_style(msg, "bold", "magenta")
        elapsed = (_clock.tick() - self._started) * 1000
        self.log("info", '"%s" %s %s %.1fms', msg, code, size, elapsed)

    def log_date_time_string(self):
        _clock.tick()
        return _clock.log_time

    def log(self, type, message, *args):
        _emit(type, f"{self.address_string()} - - [{self.log_date_time_string()}] {message}", args)
