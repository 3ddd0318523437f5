"""WSGIRequestHandler: Werkzeug's handler, with its hooks, driven by fastcore's loop.

One handler is made per connection, as in Werkzeug, but it does not serve in
its constructor: the server's loop reads request heads (``fastcore.cycle``)
and runs each complete one (on the loop, or in a worker thread). When no
step is overridden, the server makes the ``Exchange`` itself; else it calls
``handle``, which refuses what is not a request or goes on through
``handle_one_request`` and ``run_wsgi`` to the ``Exchange``. Either way the
connection's next state comes back to the loop.

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
from fastcore.cycle import CLOSE, LINGER, RequestHead, refusal
from fastcore.wsgi.access_log import clock, emit, request_text, style
from fastcore.wsgi.exchange import Context, Exchange, fault
from fastcore.wsgi.wsgi_input import NO_BODY

__all__ = ["WSGIRequestHandler"]

SERVER_VERSION = f"fastcore/{__version__} Python/{sys.version.split()[0]}"
# Linux gives accepted sockets the listening socket's TCP_NODELAY.
_NODELAY_INHERITED = sys.platform.startswith("linux")


class WSGIRequestHandler(_WerkzeugHandler):
    """Serves the requests of one connection (see the module docstring)."""

    protocol_version = "HTTP/1.1"
    server_line = f"Server: {SERVER_VERSION}\r\n"
    exchange_class = Exchange
    _refused = None  # the reason of the last refusal

    def __init__(self, request, client_address, server):
        # Werkzeug's (socketserver's) constructor would serve the connection
        # to its end here; the loop drives this one. A read of a handler's
        # attribute is slow (see exchange.Context): what the connection's
        # context needs comes from the arguments, and the class's hooks are
        # looked up on the class.
        self.request = self.connection = request
        self.client_address = client_address
        self.server = server
        cls = type(self)
        if not _NODELAY_INHERITED and server.address_family != socket.AF_UNIX:
            request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        shared = server.exchange_settings.get(cls)
        if shared is None:
            hooks = cls._hooks
            shared = server.exchange_settings[cls] = Context.shared(
                self, own_environ="make_environ" in hooks,
                direct_log=not hooks & _ACCESS_LINE_HOOKS)
        self.context = Context(cls.connection_environ(self, server, request, client_address),
                               shared)
        if cls.setup is not WSGIRequestHandler.setup:
            self.setup()

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        cls._hooks = _overridden(cls)

    @property
    def server_version(self):
        return SERVER_VERSION

    @classmethod
    def runner(cls):
        """What runs this class's requests for the loop: a class whose
        instances ``run(conn, head)`` one request and return the
        connection's next state. The ``exchange_class`` itself when neither
        ``handle_one_request`` nor ``run_wsgi`` is overridden (the loop then
        makes the Exchange), else one that goes through ``handle``."""
        return _Steps if cls._hooks & _STEP_HOOKS else cls.exchange_class

    def setup(self):
        """socketserver's hook, called once the handler is made (and its
        ``context`` with it); it does nothing here."""

    @property
    def exchange(self):
        """The Exchange of the request under way (None between requests)."""
        return self.context.exchange

    @property
    def environ(self):
        """The environ of the request under way (Werkzeug's handler has this
        attribute), once made; else None."""
        exchange = self.context.exchange
        return None if exchange is None else exchange.environ

    # Werkzeug's names for the current request, for hooks that read them.
    @property
    def command(self):
        exchange = self.context.exchange
        return None if exchange is None else exchange.head.method

    @property
    def path(self):
        exchange = self.context.exchange
        return None if exchange is None else exchange.head.target

    @property
    def request_version(self):
        exchange = self.context.exchange
        return None if exchange is None else exchange.head.version

    @property
    def requestline(self):
        exchange = self.context.exchange
        if exchange is None:
            return self._refused or ""
        head = exchange.head
        return f"{head.method} {head.target} {head.version}"

    # -- serving -------------------------------------------------------------------

    def handle(self, conn, head):
        """Serve one request of ``conn``: ``head``, what the cycle read from
        its buffer (a RequestHead, or the ParseError that refuses the bytes);
        the connection's next state."""
        if type(head) is not RequestHead:
            return self.refuse(conn, head)
        return self.handle_one_request(conn, head)

    def handle_one_request(self, conn, head):
        return self.run_wsgi(conn, head)

    def run_wsgi(self, conn, head):
        """Run the app for one request and send its response; the next state."""
        return self.exchange_class().run(conn, head)

    def refuse(self, conn, error):
        """Answer bytes that are not a valid request (``error``, a
        ParseError): its status, the reason as one line, and close, after
        lingering when the refusal went out. It is sent only if it fits now:
        a server never waits on a client that sent what is not a request."""
        clock.tick()
        self._refused = error.reason
        self.log_refusal(error)
        try:
            conn.send_all(refusal(error, clock.date_line, self.server_line), 0)
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
        return self.context.exchange.make_environ()

    def connection_environ(self, server, connection, address):
        """The environ keys every request on this connection shares (a hook:
        the gunicorn worker adds its own)."""
        unix = type(address) is not tuple  # a Unix socket's peer is a path (str), not (host, port)
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
        for name, value in self.context.exchange.head.headers:
            message[name] = value
        return message

    # -- logging ------------------------------------------------------------------------

    def log_request(self, code="-", size="-"):
        """Werkzeug's request line, with how long the request took."""
        exchange = self.context.exchange
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


class _Steps:
    """The runner of a handler class that overrides a step (see
    ``WSGIRequestHandler.runner``): each request goes through ``handle``."""

    @staticmethod
    def run(conn, head):
        handler = conn.handler
        try:
            return handler.handle(conn, head)
        except Exception:
            return fault(handler.server, conn)


def _overridden(cls):
    """The names of _HOOKS that ``cls`` overrides."""
    return frozenset(name for name in _HOOKS
                     if getattr(cls, name) is not getattr(WSGIRequestHandler, name))


WSGIRequestHandler._hooks = frozenset()
