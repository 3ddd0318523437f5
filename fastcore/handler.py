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
from werkzeug.wsgi import FileWrapper

from fastcore import __version__
from fastcore.access_log import clock, emit, request_text, style
from fastcore.connection import CLOSE, KEEP_ALIVE, LINGER
from fastcore.errors import ParseError
from fastcore.exchange import Context, Exchange, refusal
from fastcore.parser import parse_request
from fastcore.sockets import is_unix
from fastcore.wsgi_input import NO_BODY

__all__ = ["WSGIRequestHandler"]

SERVER_VERSION = f"fastcore/{__version__} Python/{sys.version.split()[0]}"
# Linux gives accepted sockets the listening socket's TCP_NODELAY.
_NODELAY_INHERITED = sys.platform.startswith("linux")


class WSGIRequestHandler(_WerkzeugHandler):
    """Serves the requests of one connection (see the module docstring)."""

    protocol_version = "HTTP/1.1"
    server_line = f"Server: {SERVER_VERSION}\r\n"
    exchange_class = Exchange
    environ = None  # the current request's
    _exchange = None  # the current request's Exchange
    _refused = None  # the reason of the last refusal

    def __init__(self, request, client_address, server):
        # Werkzeug's (socketserver's) constructor would serve the connection
        # to its end here; the loop drives this one.
        self.request = self.connection = request
        self.client_address = client_address
        self.server = server
        self.setup()

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        cls._hooks = _overridden(cls)

    @property
    def server_version(self):
        return SERVER_VERSION

    def setup(self):
        # Each read of a handler's attribute is slow (see exchange.Context):
        # these are read once and passed on.
        server, connection = self.server, self.connection
        if not _NODELAY_INHERITED and server.address_family != socket.AF_UNIX:
            connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        cls = type(self)
        shared = server.exchange_settings.get(cls)
        if shared is None:
            hooks = self._hooks
            shared = server.exchange_settings[cls] = Context.shared(
                self, own_environ="make_environ" in hooks,
                direct_log=not hooks & _ACCESS_LINE_HOOKS,
                exchange_class=None if hooks & _STEP_HOOKS else self.exchange_class)
        self.context = Context(
            self._connection_environ(server, connection, self.client_address), shared)

    # Werkzeug's names for the current request, for hooks that read them.
    @property
    def command(self):
        return None if self._exchange is None else self._exchange.head.method

    @property
    def path(self):
        return None if self._exchange is None else self._exchange.head.target

    @property
    def request_version(self):
        return None if self._exchange is None else self._exchange.head.version

    @property
    def requestline(self):
        if self._exchange is None:
            return self._refused or ""
        head = self._exchange.head
        return f"{head.method} {head.target} {head.version}"

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
        return self.exchange_class(self.context, conn, head).run()

    def refuse(self, conn, error, timeout=None):
        """Answer bytes that are not a valid request: its status, the reason
        as one line, and close (after lingering, when the send went out)."""
        clock.tick()
        self._refused = error.reason
        self.log_refusal(error)
        try:
            conn.send_all(refusal(error, self.server_line),
                          self.server.body_timeout if timeout is None else timeout)
        except OSError:
            return CLOSE
        return LINGER

    def log_refusal(self, error):
        """The log line of a refused request (its status and reason)."""
        self.log("info", '"%s" %s -', style(f"bad request: {error.reason}", "bold", "red"),
                 error.status)

    def head_timed_out(self):
        """A head trickling in for too long (slowloris): the loop drops it."""
        self.log("info", "request head not complete after %ss; closing", self.server.head_timeout)

    # -- the environ ----------------------------------------------------------------

    def make_environ(self):
        """The WSGI environ of the current request (Werkzeug's hook)."""
        return self._exchange.make_environ()

    def _connection_environ(self, server, connection, address):
        """The environ keys every request on this connection shares."""
        unix = is_unix(connection)
        template = server.environ_templates.get(unix)
        if template is None:
            template = server.environ_templates[unix] = _environ_template(server, unix,
                                                                          self.server_version)
        base = template.copy()
        base["wsgi.errors"] = sys.stderr
        base["werkzeug.socket"] = connection
        if not unix:
            base["REMOTE_ADDR"], base["REMOTE_PORT"] = address[0], str(address[1])
        if isinstance(connection, ssl.SSLSocket):
            cert = connection.getpeercert(binary_form=True)
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
        exchange = self._exchange
        if exchange is None:
            self.log("info", '"%s" %s %s', self.requestline, code, size)
            return
        head = exchange.head
        elapsed = (clock.tick() - exchange.started) * 1000
        self.log("info", '"%s" %s %s %.1fms', request_text(head.method, head.target, head.version,
                                                           code), code, size, elapsed)

    def log_date_time_string(self):
        clock.tick()
        return clock.log_time

    def log(self, type, message, *args):
        """Log ``message % args`` at level ``type`` ("info", "error", ...),
        after the client's address and the time, as Werkzeug's handler does.

        :param type: the name of a logging level.
        :param message: a %-format string.
        """
        address = self.address_string()
        if args:  # an IPv6 address with a zone ("fe80::1%eth0") is not a format
            address = address.replace("%", "%%")
        emit(type, f"{address} - - [{self.log_date_time_string()}] {message}", args)


def _environ_template(server, unix, software):
    """What the base environs of ``server``'s connections start from."""
    if unix:
        # PEP 3333: SERVER_PORT is never empty; a socket file has no port.
        server_name, server_port = server.host, "0"
    else:
        server_name, server_port = server.server_address[0], str(server.server_address[1])
    return {
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http" if server.ssl_context is None else "https",
        "wsgi.errors": None,  # each connection's: sys.stderr when it opened
        "wsgi.multithread": server.multithread,
        "wsgi.multiprocess": server.multiprocess,
        "wsgi.run_once": False,
        "wsgi.file_wrapper": FileWrapper,
        "wsgi.input": NO_BODY,  # a request with a body gets its own
        "werkzeug.socket": None,  # each connection's
        "SERVER_SOFTWARE": software,
        "REMOTE_ADDR": "<local>",  # a TCP connection's: its peer's
        "REMOTE_PORT": "0",
        "SERVER_NAME": server_name,
        "SERVER_PORT": server_port,
    }


# The hooks that make the access line: an Exchange writes it directly when
# none is overridden.
_ACCESS_LINE_HOOKS = frozenset({"log_request", "log", "address_string", "log_date_time_string"})
# The steps from the loop to an Exchange: the server makes the Exchange
# directly when neither is overridden.
_STEP_HOOKS = frozenset({"handle_one_request", "run_wsgi"})
_HOOKS = ("make_environ", *_ACCESS_LINE_HOOKS, *_STEP_HOOKS)


def _overridden(cls):
    """The names of _HOOKS that ``cls`` overrides."""
    return frozenset(name for name in _HOOKS
                     if getattr(cls, name) is not getattr(WSGIRequestHandler, name))


WSGIRequestHandler._hooks = frozenset()
