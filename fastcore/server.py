"""The server classes and make_server: Werkzeug's serving API on fastcore's loop.

Strategy: ``serve_forever`` runs a ``Loop`` (see ``fastcore.io.loop``) over
the listening sockets, with the handler class's runner (see
``WSGIRequestHandler.runner``) for the requests. The loop calls
``_handle_request_noblock`` to accept; each new connection goes through
``process_request`` (when overridden, or with TLS) to ``finish_request``,
which makes its ``WSGIRequestHandler`` and gives the connection to the loop.
The classes differ in where a complete request runs: on the loop
(``BaseWSGIServer``: one request at a time), in a pool of worker threads
(``ThreadedWSGIServer``), or in a child process that serves the connection
to its end with a loop of its own (``ForkingWSGIServer``). TLS handshakes run
in worker threads with a timeout, never on the loop.

Binding, the fd hand-off of the reloader and the banner come from
Werkzeug's BaseWSGIServer, which these classes extend; what keeps a server
from starting is a StartupError of one line.
The public methods are annotated (the package is typed: ``py.typed``).
"""

from __future__ import annotations

import errno
import os
import re
import signal
import socket
import socketserver
import ssl
import threading
import traceback
from typing import TYPE_CHECKING, Any, Optional, Tuple, Union

from werkzeug.serving import BaseWSGIServer as _WerkzeugServer
from werkzeug.serving import ForkingMixIn, generate_adhoc_ssl_context, load_ssl_context

from fastcore import stopping
from fastcore.io.connection import Connection, TLSConnection
from fastcore.io.handoff import ThreadedLoop
from fastcore.io.loop import Loop
from fastcore.io.pool import WorkerPool
from fastcore.io.sockets import ServerSocket, TLSServerSocket
from fastcore.limits import DEFAULT_LIMITS, Limits
from fastcore.wsgi.access_log import access_log, emit, style
from fastcore.wsgi.handler import WSGIRequestHandler

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication

# What ssl_context may be: a context, (certificate file, key file), or "adhoc".
SSLContextArg = Optional[Union[ssl.SSLContext, Tuple[str, Optional[str]], str]]

__all__ = ["BaseWSGIServer", "ThreadedWSGIServer", "ForkingWSGIServer", "make_server",
           "StartupError"]


class StartupError(SystemExit):
    """The server cannot start: its socket cannot be bound, or its TLS
    certificate cannot be used. ``str()`` is one line for the user. A
    SystemExit: left uncaught (``app.run()``), Python prints that line and
    exits 1, as Werkzeug's server does, without a traceback; ``fastcore
    run`` exits 2 with it."""

    def __str__(self) -> str:
        return str(self.args[0])

_OPTIONS = ("head_timeout", "keep_alive_timeout", "body_timeout", "worker_idle", "max_workers",
            "handoff_after", "max_content_length", "max_connections", "grace_period")


class BaseWSGIServer(_WerkzeugServer):
    """Serves one request at a time, never blocked by an idle connection.

    :param head_timeout: seconds a client may take to send a request head.
    :param keep_alive_timeout: seconds an idle keep-alive connection stays open.
    :param body_timeout: seconds a read of the request body, or a send of the
        response, may stall before the connection is dropped.
    :param worker_idle: seconds a worker thread with nothing to do waits for
        more work before it ends.
    :param max_workers: threaded mode: the most requests running at once;
        more wait, their connections accepted, until one ends.
    :param handoff_after: threaded mode: seconds a request may run on the
        loop's thread before the loop moves to another thread (so a slow
        app never holds up other connections for longer).
    :param grace_period: seconds a stop lets the requests in flight finish
        (see :mod:`fastcore.stopping`).
    :param max_connections: the most connections kept open at once (None,
        the default: no limit); past it, the server stops accepting until one
        closes, and new clients wait in the kernel's queue.
    :param limits: the parser's size limits (``fastcore.parser.Limits``).
    :param max_content_length: the largest request body, in bytes, the server
        lets through (None, the default, as in Werkzeug: no limit). A larger
        Content-Length is answered 413 before the app runs; a chunked body
        that grows past it makes ``wsgi.input`` raise a 413 error (Werkzeug's
        RequestEntityTooLarge) in the app. Either way the connection closes.
    """

    multithread = False
    multiprocess = False
    head_timeout = 10.0
    keep_alive_timeout = 5.0
    body_timeout = 30.0
    handshake_timeout = 5.0
    grace_period = 10.0  # how long serve_forever lets requests in flight finish
    worker_idle = 5.0
    max_workers = 100
    max_connections = None
    handoff_after = 0.002
    max_content_length = None
    # The kernel's queue of connections not yet accepted (Werkzeug: 128). A
    # full queue drops new clients' SYNs, and each such client stalls a second.
    request_queue_size = 1024

    def __init__(self, host: str, port: int, app: WSGIApplication,
                 handler: type[WSGIRequestHandler] | None = None,
                 passthrough_errors: bool = False, ssl_context: SSLContextArg = None,
                 fd: int | None = None, *, limits: Limits = DEFAULT_LIMITS,
                 **options: Any) -> None:
        # State first: Werkzeug's __init__ calls server_close() if binding fails.
        self._loop = None
        self._pool = None
        self._stop_asked = False
        # The loop has stopped accepting: responses say Connection: close (not
        # sooner, or a client would reconnect to a listener about to close,
        # and be reset rather than refused).
        self.stopping = False
        self._warned_single = False
        self._stopped = threading.Event()
        self._stopped.set()
        self.extra_sockets = []
        # Unix socket or not -> what its connections' base environs start from.
        self.environ_templates = {}
        # handler class -> what its exchanges share (exchange.Context.shared).
        self.exchange_settings = {}
        # listener -> (family, type, proto) of its connections: socket.socket
        # builds enums for family and type on every read, on every connection.
        self._accepted_kinds = {}
        super().__init__(host, port, app, handler or WSGIRequestHandler, passthrough_errors,
                         None, fd)
        if isinstance(ssl_context, tuple):
            try:
                ssl_context = _load_certificate(*ssl_context)
            except StartupError:
                self.server_close()
                raise
        elif ssl_context == "adhoc":
            ssl_context = generate_adhoc_ssl_context()
        if ssl_context is not None:
            # Its sockets note an app's takeover (see fastcore.io.sockets).
            ssl_context.sslsocket_class = TLSServerSocket
        self.ssl_context = ssl_context
        self.limits = limits
        for name, value in options.items():
            if name not in _OPTIONS:
                raise TypeError(f"unexpected keyword argument {name!r}")
            if value is not None:
                setattr(self, name, value)
        for sock in (self.socket, *self._localhost_ipv6(host, fd)):
            self.add_listener(sock)

    def server_bind(self) -> None:
        """Bind, or raise StartupError (Werkzeug would print several lines and exit)."""
        try:
            super().server_bind()
        except OSError as e:
            raise StartupError(self._cannot_listen(e)) from None

    def server_activate(self) -> None:
        try:
            super().server_activate()
        except OSError as e:
            raise StartupError(self._cannot_listen(e)) from None

    def _cannot_listen(self, error):
        """What keeps the server from listening, as one line."""
        if self.address_family == getattr(socket, "AF_UNIX", None):
            return f"cannot listen on {self.host}: {error.strerror or error}"
        if isinstance(error, socket.gaierror):
            return f"cannot resolve the host {self.host!r}: {error.strerror or error}"
        if error.errno == errno.EADDRINUSE:
            return (f"port {self.port} is in use by another program: stop that program, "
                    "or choose another port")
        return f"cannot listen on {self.host}:{self.port}: {error.strerror or error}"

    def add_listener(self, sock: socket.socket) -> None:
        """Serve the connections of the listening socket ``sock`` too (the
        server's own is the first; others go to ``extra_sockets``), from
        the next ``serve_forever``."""
        sock.setblocking(False)
        if sock.family != socket.AF_UNIX:  # accepted sockets inherit it (Linux)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if sock is not self.socket:
            self.extra_sockets.append(sock)

    def _localhost_ipv6(self, host, fd):
        """"localhost" means both loopbacks: clients that try ::1 first would
        otherwise be refused there on every new connection before falling
        back to 127.0.0.1. The ::1 socket is passed to the reloader's child
        like the main one (FASTCORE_SERVER_FD6)."""
        if host != "localhost" or self.address_family != socket.AF_INET or not socket.has_ipv6:
            return []
        inherited = os.environ.get("FASTCORE_SERVER_FD6") if fd is not None else None
        try:
            if inherited:
                sock = socket.fromfd(int(inherited), socket.AF_INET6, socket.SOCK_STREAM)
            else:
                sock = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                sock.bind(("::1", self.port))
                sock.listen(self.request_queue_size)
        except OSError:
            return []  # no IPv6 loopback here: 127.0.0.1 alone
        return [sock]

    # -- serving ------------------------------------------------------------------

    def serve_forever(self, poll_interval: float = 0.5) -> None:
        """Serve until shutdown(), SIGTERM/SIGINT or Ctrl+C, then finish the
        requests in flight (up to ``grace_period`` seconds) and close."""
        self._stopped.clear()
        self._pool = self._make_pool()
        loop = self._loop = self._make_loop(threaded=self.multithread)
        for sock in (self.socket, *self.extra_sockets):
            loop.listen(sock)
        if self._stop_asked:
            loop.stop()
        try:
            loop.run(poll_interval, self.grace_period)
        except KeyboardInterrupt:
            pass
        finally:
            loop.close()
            if self._pool is not None:
                # An event stream's thread is not waited for: its socket is
                # shut down, and the thread ends with the process.
                self._pool.wait(self.grace_period, leave=loop.streams())
                self._pool.close()
            access_log.flush()
            self.server_close()
            self._loop = None
            self._stop_asked = self.stopping = False
            self._stopped.set()

    def _make_pool(self):
        """Threads for the loop to move to (threaded mode) and TLS handshakes, or None."""
        if not self.multithread and self.ssl_context is None:
            return None
        return WorkerPool(self.max_workers, self.worker_idle, self._pool_fault)

    def _service_actions(self):
        """service_actions, for the loop to call once per turn; None when it
        is socketserver's, which does nothing."""
        if type(self).service_actions is socketserver.BaseServer.service_actions:
            return None
        return self.service_actions

    def _make_loop(self, threaded):
        options = dict(limits=self.limits, head_timeout=self.head_timeout,
                       keep_alive_timeout=self.keep_alive_timeout,
                       runner=self.RequestHandlerClass.runner(), log=access_log,
                       max_connections=self.max_connections,
                       on_listener=self._handle_request_noblock, on_stop=self._closed_listeners,
                       service_actions=self._service_actions())
        if threaded:
            return ThreadedLoop(pool=self._pool, after=self.handoff_after,
                                max_workers=self.max_workers, **options)
        return Loop(**options)

    def shutdown(self) -> None:
        """Stop serve_forever (from another thread) and wait until it has."""
        self.request_stop()
        self._stopped.wait()

    def request_stop(self) -> None:
        """Ask serve_forever to stop; safe from a signal handler."""
        self._stop_asked = True
        loop = self._loop
        if loop is not None:
            loop.stop()

    @property
    def stop_requested(self) -> bool:
        """Whether a stop was asked for (``request_stop``), even if the loop
        has not acted on it yet."""
        return self._stop_asked

    def requests_in_flight(self) -> list[str]:
        """The request lines of the requests running now, event streams aside."""
        loop = self._loop
        return [] if loop is None else loop.in_flight()

    def streaming_in(self, ident: int) -> bool:
        """Whether the thread ``ident`` is serving an event stream."""
        loop = self._loop
        return loop is not None and loop.streaming_in(ident)

    def _closed_listeners(self):
        self.stopping = True

    def _handle_request_noblock(self, listener=None):
        """Accept the connections waiting on ``listener`` (a burst in one go)."""
        listener = listener or self.socket
        kind = self._accepted_kinds.get(listener)
        if kind is None:
            kind = self._accepted_kinds[listener] = (listener.family, listener.type,
                                                     listener.proto)
        # socketserver's verify_request lets every connection in: called only
        # when overridden.
        verify = (None if type(self).verify_request is socketserver.BaseServer.verify_request
                  else self.verify_request)
        # process_request hands a plain connection to finish_request: that is
        # called directly, unless process_request is overridden.
        process = (self.finish_request if self.ssl_context is None
                   and type(self).process_request is BaseWSGIServer.process_request
                   else self.process_request)
        full = None if self.max_connections is None else self._loop.full
        for _ in range(64):
            if full is not None and full():
                return
            try:
                fd, client_address = listener._accept()
            except OSError:  # none left (or out of descriptors: retried next turn)
                return
            request = ServerSocket(*kind, fileno=fd)
            if verify is None or verify(request, client_address):
                try:
                    process(request, client_address)
                except Exception:
                    self.handle_error(request, client_address)
                    self.shutdown_request(request)
            else:
                self.shutdown_request(request)

    def process_request(self, request, client_address):
        if self.ssl_context is None:
            self.finish_request(request, client_address)
        else:
            self._pool.submit(self._handshake, request, client_address)

    def finish_request(self, request, client_address):
        self._loop.add(self._connection(Connection, request, client_address))

    def _connection(self, kind, sock, client_address):
        sock.on_takeover = self._taken_over
        # Read on every request: an instance's own attributes are the quickest to read.
        sock.taken_over = sock.app_timeout = False
        handler = self.RequestHandlerClass(sock, client_address, self)
        return kind(sock, handler, handler.context)

    def _taken_over(self, sock):
        """An app took a connection over (in the thread running it)."""
        self._loop.taken_over(sock)
        if (not self.multithread and not self.multiprocess and not self._warned_single
                and not sock.outlives_request):
            self._warned_single = True
            self.log("warning", "%s", style(
                "A request took its connection over (a WebSocket): in single mode it holds "
                "the server until it ends, and no other request is served meanwhile. "
                "Serve with threads (drop --no-threads, or threaded=True).", "yellow"))

    def _handshake(self, request, client_address):
        """In a worker: the TLS handshake, with a timeout; then to the loop."""
        try:
            request.settimeout(self.handshake_timeout)
            if not request.recv(1, socket.MSG_PEEK):
                # A port probe (connect, close): nothing failed, nothing to log.
                self.shutdown_request(request)
                return
            tls = self.ssl_context.wrap_socket(request, server_side=True)
        except (OSError, ValueError) as e:
            self.log("info", "TLS handshake with %s failed: %s", client_address[0], e)
            self.shutdown_request(request)
            return
        self._loop.adopt(self._connection(TLSConnection, tls, client_address))

    def _pool_fault(self):
        self.log("error", "Error in a worker thread:\n%s", traceback.format_exc())

    def log(self, type, message, *args):
        emit(type, message, args)

    def server_close(self) -> None:
        for sock in self.extra_sockets:
            sock.close()
        super().server_close()


class ThreadedWSGIServer(BaseWSGIServer):
    """Runs requests on as many threads as they need. The loop accepts
    connections and reads request heads as their bytes arrive, so idle and
    slow clients cost no thread; it runs a complete request itself, and moves
    to another thread when that request runs longer than ``handoff_after``
    (see ``fastcore.io.handoff``)."""

    multithread = True


class ForkingWSGIServer(ForkingMixIn, BaseWSGIServer):
    """Serves each connection in a child process (at most ``processes``)."""

    multiprocess = True

    def __init__(self, host: str, port: int, app: WSGIApplication, processes: int = 40,
                 handler: type[WSGIRequestHandler] | None = None,
                 passthrough_errors: bool = False, ssl_context: SSLContextArg = None,
                 fd: int | None = None, **options: Any) -> None:
        if not hasattr(os, "fork"):
            raise ValueError("Your platform does not support forking.")
        super().__init__(host, port, app, handler, passthrough_errors, ssl_context, fd, **options)
        self.max_children = processes

    def _make_pool(self):
        return None  # handshakes run in the child

    def request_stop(self) -> None:
        """The stop reaches the children as SIGTERM (see fastcore.stopping)
        at once: at ``processes`` children the loop waits for one to end."""
        first = not self._stop_asked  # once: a child takes a second SIGTERM as "at once"
        super().request_stop()
        for pid in (self.active_children or ()) if first else ():
            try:
                os.kill(pid, signal.SIGTERM)
            except OSError:
                pass

    def process_request(self, request, client_address):
        # At most max_children at once: with as many running, wait for one to
        # end before forking another (the connections after this one wait in
        # the listen queue, not in the server), as Werkzeug's processes=N does.
        self.collect_children()
        # The child starts with the signals held until it has handlers of its
        # own: one arriving between the fork and those would find the
        # parent's, with the parent's count of signals (see fastcore.stopping).
        with stopping.signals_held():
            ForkingMixIn.process_request(self, request, client_address)

    def finish_request(self, request, client_address):
        """In the child: a loop of its own serves this one connection to its end."""
        self.active_children = None  # the parent's, not this child's to stop
        if stopping.handled():
            # Its own count, and SIGINT ignored: Ctrl+C reaches the child too,
            # and the parent passes it on as SIGTERM.
            stopping.on_signals(self, from_parent=True)
        stopping.release_signals()
        kind = Connection
        if self.ssl_context is not None:
            request.settimeout(self.handshake_timeout)
            request = self.ssl_context.wrap_socket(request, server_side=True)
            kind = TLSConnection
        loop = self._loop = self._make_loop(threaded=False)
        loop.add(self._connection(kind, request, client_address))
        if self._stop_asked:  # forked during the stop: serve this request, then end
            loop.stop()
        try:
            loop.run(until_empty=True)
        finally:
            loop.close()
            access_log.flush()


def _load_certificate(cert, key):
    """An SSL context with the certificate file ``cert`` and its key file
    ``key`` (None: the key is in ``cert``); StartupError when they cannot be
    read or do not belong together."""
    for kind, path in (("certificate", cert), ("key", key)):
        if path is None:
            continue
        if not os.path.isfile(path):
            raise StartupError(f"the TLS {kind} file {path} does not exist")
        if not os.access(path, os.R_OK):
            raise StartupError(f"the TLS {kind} file {path} cannot be read (permission denied)")
    try:
        return load_ssl_context(cert, key)
    except (OSError, ValueError) as e:  # ssl.SSLError is an OSError
        reason = e.args[1] if isinstance(e, ssl.SSLError) and len(e.args) > 1 else str(e)
        reason = re.sub(r" \(_ssl\.c:\d+\)$", "", reason)  # OpenSSL's source line
        pair = cert if key is None else f"{cert} with the key {key}"
        raise StartupError(f"cannot use the TLS certificate {pair}: {reason}") from None


def make_server(host: str, port: int, app: WSGIApplication, threaded: bool = False,
                processes: int = 1, request_handler: type[WSGIRequestHandler] | None = None,
                passthrough_errors: bool = False, ssl_context: SSLContextArg = None,
                fd: int | None = None, **options: Any) -> BaseWSGIServer:
    """Create a server for ``app`` (the arguments of Werkzeug's make_server).

    ``threaded`` and ``processes > 1`` cannot be combined. Further keyword
    arguments (``head_timeout``, ``keep_alive_timeout``, ``body_timeout``,
    ``worker_idle``, ``max_workers``, ``max_content_length``, ``limits``) go
    to the server class.
    """
    if threaded and processes > 1:
        raise ValueError("Cannot have a multi-thread and multi-process server.")
    if threaded:
        return ThreadedWSGIServer(host, port, app, request_handler, passthrough_errors,
                                  ssl_context, fd=fd, **options)
    if processes > 1:
        return ForkingWSGIServer(host, port, app, processes, request_handler,
                                 passthrough_errors, ssl_context, fd=fd, **options)
    return BaseWSGIServer(host, port, app, request_handler, passthrough_errors, ssl_context,
                          fd=fd, **options)
