"""WSGIRequestHandler: Werkzeug's handler, with its hooks, driven by fastcore's loop.

One handler is made per connection, as in Werkzeug, but it does not serve in
its constructor: the server's loop reads request heads, and calls ``handle``
(on the loop, or in a worker thread) once one is complete. ``handle`` serves
that request and every complete one already buffered behind it (pipelining),
each through an ``Exchange``, and returns the connection's fate.

It subclasses Werkzeug's handler, so the hooks users override there
(``make_environ``, ``log_request``, ``log``, ``address_string``,
``connection_dropped``, ``protocol_version``) keep working, and tools that
check ``isinstance(handler, werkzeug.serving.WSGIRequestHandler)`` still pass.
A ``make_environ`` may raise a ``ParseError`` (``BadRequest``): the request is
refused with its status, as a malformed one is.
"""

import socket
import ssl
import sys
from http.client import HTTPMessage

from werkzeug.serving import WSGIRequestHandler as _WerkzeugHandler
from werkzeug.serving import _ansi_style
from werkzeug.urls import uri_to_iri
from werkzeug.wsgi import FileWrapper

from fastcore import __version__
from fastcore.access_log import clock, emit
from fastcore.connection import CLOSE, KEEP_ALIVE, LINGER
from fastcore.errors import ParseError
from fastcore.exchange import Exchange, refusal
from fastcore.parser import build_environ, parse_request
from fastcore.sockets import is_unix
from fastcore.wsgi_input import ContentLengthInput

__all__ = ["WSGIRequestHandler"]

SERVER_VERSION = f"fastcore/{__version__} Python/{sys.version.split()[0]}"
# Linux gives accepted sockets the listening socket's TCP_NODELAY.
_NODELAY_INHERITED = sys.platform.startswith("linux")


class WSGIRequestHandler(_WerkzeugHandler):
    """Serves the requests of one connection (see the module docstring)."""

    protocol_version = "HTTP/1.1"
    server_line = f"Server: {SERVER_VERSION}\r\n"
    exchange_class = Exchange

    def __init__(self, request, client_address, server):
        # Werkzeug's (socketserver's) constructor would serve the connection
        # to its end here; the loop drives this one.
        self.request = self.connection = request
        self.client_address = client_address
        self.server = server
        self.setup()

    @property
    def server_version(self):
        return SERVER_VERSION

    def setup(self):
        if not _NODELAY_INHERITED and self.server.address_family != socket.AF_UNIX:
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.environ = None
        self._exchange = None
        self._base = None  # the environ keys every request on this connection shares
        self._no_body = None  # one empty wsgi.input for the requests without a body

    # -- serving -------------------------------------------------------------------

    def handle(self, conn, head=None):
        """Serve the request ``head`` (complete in ``conn.buffer``; None: the
        next one there, if complete) and those buffered behind it; the
        connection's fate."""
        fate = KEEP_ALIVE if head is None else self.handle_one_request(conn, head)
        while fate is KEEP_ALIVE and conn.buffer:
            try:
                head = parse_request(conn.buffer, limits=self.server.limits)
            except ParseError as e:
                return self.refuse(conn, e)
            if head is None:
                break  # part of the next head: the loop waits for the rest
            fate = self.handle_one_request(conn, head)
        return fate

    def handle_one_request(self, conn, head):
        conn.buffer = conn.buffer[head.size:]
        return self.run_wsgi(conn, head)

    def run_wsgi(self, conn, head):
        """Run the app for one request and send its response; the fate."""
        return self.exchange_class(self, conn, head).run()

    def start_exchange(self, exchange):
        """The environ of the exchange starting now (called by it)."""
        head = exchange.head
        self._exchange = exchange
        self.command = head.method
        self.path = head.target
        self.request_version = head.version
        self.requestline = f"{head.method} {head.target} {head.version}"
        self._started = clock.tick()
        if self._no_body is None or self._no_body.closed:
            self._no_body = ContentLengthInput(None, 0)  # never reads: nothing to read from
        server = self.server
        exchange.body = exchange.make_body(server.limits, server.max_content_length,
                                           self._no_body)
        self.environ = environ = self.make_environ()
        return environ

    def end_exchange(self):
        self.environ = None
        self._exchange = None

    def refuse(self, conn, error, timeout=None):
        """Answer bytes that are not a valid request: its status, the reason
        as one line, and close (after lingering, when the send went out)."""
        clock.tick()
        self.requestline = error.reason
        self.command = None
        self.log_refusal(error)
        try:
            conn.send_all(refusal(error, self.server_line),
                          self.server.body_timeout if timeout is None else timeout)
        except OSError:
            return CLOSE
        return LINGER

    def log_refusal(self, error):
        """The log line of a refused request (its status and reason)."""
        self.log("info", '"%s" %s -', _ansi_style(f"bad request: {error.reason}", "bold", "red"),
                 error.status)

    def head_timed_out(self):
        """A head trickling in for too long (slowloris): the loop drops it."""
        self.log("info", "request head not complete after %ss; closing", self.server.head_timeout)

    # -- the environ ----------------------------------------------------------------

    def make_environ(self):
        """The WSGI environ of the current request (Werkzeug's hook)."""
        exchange = self._exchange
        if self._base is None:
            self._base = self._connection_environ()
        environ = build_environ(exchange.head, self._base)
        if exchange.head.chunked:
            environ["wsgi.input_terminated"] = True
        environ["wsgi.input"] = exchange.body
        return environ

    def _connection_environ(self):
        server = self.server
        if is_unix(self.connection):
            remote_addr, remote_port = "<local>", "0"
            # PEP 3333: SERVER_PORT is never empty; a socket file has no port.
            server_name, server_port = server.host, "0"
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

    @property
    def headers(self):
        """The request's header fields as an http.client.HTTPMessage, built
        only for code that asks (Werkzeug's handler has this attribute)."""
        message = HTTPMessage()
        for name, value in self._exchange.head.headers:
            message[name] = value
        return message

    # -- logging ------------------------------------------------------------------------

    def log_request(self, code="-", size="-"):
        """Werkzeug's request line, with how long the request took."""
        path = self.path
        if "%" in path:
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
        elapsed = (clock.tick() - self._started) * 1000
        self.log("info", '"%s" %s %s %.1fms', msg, code, size, elapsed)

    def log_date_time_string(self):
        clock.tick()
        return clock.log_time

    def log(self, type, message, *args):
        emit(type, f"{self.address_string()} - - [{self.log_date_time_string()}] {message}", args)
