"""A gunicorn worker class on fastcore's loop: ``gunicorn -k fastcore.gunicorn.Worker app:app``.

gunicorn's arbiter forks the workers, binds the sockets, restarts workers
that stop sending their heartbeat, reloads on SIGHUP and reads the config
file; each worker runs fastcore's server (the same loop, connections and
exchanges as the dev server) on the arbiter's listening sockets. What
gunicorn's settings mean here:

- ``threads``: the most requests running at once (threaded mode's
  ``max_workers``); 1 runs the app on the loop, as single mode does, so an
  app that blocks longer than ``timeout`` stops the heartbeat and the
  arbiter replaces the worker, as with gunicorn's sync worker.
- ``timeout``: the loop calls ``notify()`` at least every ``timeout / 4``
  seconds (at most once a second), busy or idle.
- ``keepalive``, ``graceful_timeout``, ``worker_connections``,
  ``max_requests`` (+ jitter), ``sendfile``, the TLS settings (through
  gunicorn's ``ssl_context`` hook), ``forwarded_allow_ips`` and
  ``secure_scheme_headers`` (``wsgi.url_scheme``; ``REMOTE_ADDR`` is the
  peer, as in gunicorn), ``pre_request``/``post_request``, and the access
  and error logs (``accesslog``, ``access_log_format``, ``errorlog``,
  ``loglevel``).
- ``limit_request_line`` and ``limit_request_fields`` are fastcore's
  ``max_request_line`` and ``max_header_count``; fastcore bounds the header
  section as a whole, so ``limit_request_field_size`` becomes
  ``max_header_bytes`` = fields x field size (at most 1 MiB). A 0 (gunicorn's
  "unlimited") is the largest bound fastcore allows: 64 KiB for the request
  line, 32768 fields, 1 MiB of header section.
- Signals: SIGTERM stops accepting and lets requests in flight finish (up to
  ``graceful_timeout``); SIGQUIT and SIGINT exit at once; SIGUSR1 reopens
  the log files.

Importing ``fastcore`` never imports gunicorn; this module needs it (the
``gunicorn`` extra).
"""

import ipaddress
import logging
import os
import socket
import sys
import threading
import time

from gunicorn import __version__ as GUNICORN_VERSION
from gunicorn.config import PostRequest, PreRequest
from gunicorn.sock import ssl_context as gunicorn_ssl_context
from gunicorn.workers import base

from fastcore import __version__, stopping
from fastcore.wsgi.access_log import access_log, clock
from fastcore.errors import BadRequest
from fastcore.wsgi.exchange import Exchange
from fastcore.gunicorn.log import AccessLog, GunicornRequest, GunicornResponse
from fastcore.wsgi.handler import WSGIRequestHandler
from fastcore.limits import Limits
from fastcore.server import BaseWSGIServer, ThreadedWSGIServer
from fastcore.io.sockets import is_unix

__all__ = ["Worker"]

SERVER_SOFTWARE = f"gunicorn/{GUNICORN_VERSION} fastcore/{__version__}"
# gunicorn's "0 = unlimited", as bounds fastcore can still hold in memory.
LARGEST_REQUEST_LINE = 65536
LARGEST_HEADER_COUNT = 32768
LARGEST_HEADER_BYTES = 1024 * 1024


def limits_from(cfg):
    """fastcore's Limits for gunicorn's limit_request_* settings (see the module docstring)."""
    line = cfg.limit_request_line or LARGEST_REQUEST_LINE
    fields = cfg.limit_request_fields or LARGEST_HEADER_COUNT
    field_size = cfg.limit_request_field_size or LARGEST_HEADER_BYTES
    return Limits(max_request_line=min(line, LARGEST_REQUEST_LINE),
                  max_header_count=min(fields, LARGEST_HEADER_COUNT),
                  max_header_bytes=min(fields * (field_size + 2) + 2, LARGEST_HEADER_BYTES))


def _access_log_enabled(log):
    """Whether gunicorn's Logger writes access lines: its ``access_log_enabled``
    (gunicorn 25.2 on), or before that the test its ``access()`` makes."""
    enabled = getattr(log, "access_log_enabled", None)
    if enabled is not None:
        return enabled
    cfg = log.cfg
    return bool(cfg.accesslog or cfg.logconfig or cfg.logconfig_dict or cfg.logconfig_json
                or (cfg.syslog and not cfg.disable_redirect_access_to_syslog))


class _Settings:
    """What the handler reads of gunicorn's settings on every request, read
    once: gunicorn's Config looks each one up anew."""

    def __init__(self, worker):
        cfg = worker.cfg
        self.worker = worker
        self.scheme = "https" if cfg.is_ssl else "http"  # without a proxy's say
        self.pre_request = cfg.pre_request
        if self.pre_request is PreRequest.default and not worker.log.error_log.isEnabledFor(
                logging.DEBUG):
            self.pre_request = None  # the default only logs, at debug level
        self.post_request = None if cfg.post_request is PostRequest.default else cfg.post_request
        self.access = AccessLog(worker.log) if _access_log_enabled(worker.log) else None
        self.counting = worker.max_requests != sys.maxsize
        self.exchange_class = Exchange if cfg.sendfile is not False else _NoSendfileExchange
        self.scheme_headers = cfg.secure_scheme_headers
        # The environ keys those headers arrive as: a request with none of
        # them (nearly all) is not scanned.
        self.scheme_keys = frozenset("HTTP_" + name.upper().replace("-", "_")
                                     for name in self.scheme_headers)
        allowed = cfg.forwarded_allow_ips
        self._any_peer = "*" in allowed
        self._networks = []
        for entry in allowed:
            try:
                self._networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                continue  # "*", or not an address gunicorn would match either
        self._trusted = {}  # peer address -> whether it is in forwarded_allow_ips

    def trusted(self, address):
        """Whether the peer ``address`` is in forwarded_allow_ips."""
        known = self._trusted.get(address)
        if known is None:
            known = self._any_peer
            if not known:
                try:
                    ip = ipaddress.ip_address(address)
                except ValueError:
                    ip = None
                known = ip is not None and any(ip in network for network in self._networks)
            if len(self._trusted) < 1024:
                self._trusted[address] = known
        return known

    def handler_class(self):
        """The worker's handler class: with a step before each exchange only
        when a setting needs it, and what every connection reads of the
        settings as class attributes, set once rather than per connection."""
        base = _StepHandler if self.counting or self.pre_request else GunicornHandler
        return type(base.__name__, (base,), {
            "_settings": self, "_worker": self.worker, "_scheme": self.scheme,
            "exchange_class": self.exchange_class, "_access": self.access,
            "_post_request": staticmethod(self.post_request)})  # the hook, not a method


class _NoSendfileExchange(Exchange):
    """An exchange for ``sendfile = False``: files go through send."""

    def _can_sendfile(self, wrapper):
        return False


class GunicornHandler(WSGIRequestHandler):
    """fastcore's handler, with gunicorn's environ, hooks and logs."""

    server_line = f"Server: {SERVER_SOFTWARE}\r\n"
    # Set for the worker by _Settings.handler_class.
    _settings = _worker = _access = _post_request = None
    _scheme = "http"
    _request = None  # what pre_request got (_StepHandler)

    @property
    def server_version(self):
        return SERVER_SOFTWARE

    def setup(self):
        super().setup()
        # Scheme headers count only from a trusted proxy (or a Unix socket).
        self._scheme_keys = None
        settings = self._settings
        if is_unix(self.connection) or settings.trusted(self.client_address[0]):
            self._scheme_keys = settings.scheme_keys or None

    def make_environ(self):
        environ = super().make_environ()
        keys = self._scheme_keys
        scheme = self._scheme
        if keys is not None and not environ.keys().isdisjoint(keys):
            scheme = environ["wsgi.url_scheme"] = self._request_scheme(self.exchange.head)
        self._url_scheme = scheme  # the request's, whatever the app does to its environ
        return environ

    def _request_scheme(self, head):
        """wsgi.url_scheme from secure_scheme_headers (a request from a
        trusted proxy that sends some); two that disagree are refused, as
        gunicorn does."""
        said = None
        schemes = self._settings.scheme_headers
        for name, value in head.headers:
            wanted = schemes.get(name.upper())
            if wanted is not None:
                this = "https" if value == wanted else "http"
                if said is not None and this != said:
                    raise BadRequest("contradictory scheme headers")
                said = this
        return said or self._scheme

    def connection_environ(self, server, connection, address):
        base = super().connection_environ(server, connection, address)
        base["gunicorn.socket"] = connection
        if server.extra_sockets and not is_unix(connection):
            # Which of the listeners this connection came in on.
            host, port = connection.getsockname()[:2]
            base["SERVER_NAME"], base["SERVER_PORT"] = host, str(port)
        return base

    def log_request(self, code="-", size="-"):
        """gunicorn's access log line and post_request."""
        if self._access is not None:
            self._access.write(code, self.exchange, self.environ,
                               clock.tick() - self.exchange.started, self._url_scheme)
        post_request = self._post_request
        if post_request is not None:
            exchange = self.exchange
            request = self._request or GunicornRequest(exchange.head, self._url_scheme)
            try:
                post_request(self._worker, request, self.environ,
                             GunicornResponse.of(exchange, code))
            except Exception:
                self._worker.log.exception("Exception in post_request hook")

    def log_refusal(self, error):
        self._worker.log.warning("Invalid request from ip=%s: %s", self.address_string(),
                                 error.reason)

    def log(self, type, message, *args):
        getattr(self._worker.log, type)(f"{self.address_string()} - {message}", *args)


class _StepHandler(GunicornHandler):
    """GunicornHandler for settings that act before each exchange:
    ``max_requests`` counts the request, ``pre_request`` sees it."""

    def handle_one_request(self, conn, head):
        settings = self._settings
        scheme = self._scheme
        if self._scheme_keys is not None:
            # As gunicorn: a request with contradictory scheme headers is
            # refused before it counts or reaches a hook.
            try:
                scheme = self._request_scheme(head)
            except BadRequest as e:
                return self.refuse(conn, e)
        if settings.counting:
            self.server.count_request()
        if settings.pre_request is not None:
            self._request = GunicornRequest(head, scheme)
            settings.pre_request(self._worker, self._request)
        return super().handle_one_request(conn, head)


class _WorkerServer:
    """fastcore's server as a gunicorn worker runs it (mixed into a server class)."""

    def setup_worker(self, worker):
        self.worker = worker
        self.multiprocess = worker.cfg.workers > 1
        self.grace_period = worker.cfg.graceful_timeout
        self._beat = max(0.05, min(1.0, worker.timeout / 4))
        self._next_beat = 0.0
        self._served_lock = threading.Lock()

    def service_actions(self):
        now = time.monotonic()
        if now < self._next_beat:
            return
        self._next_beat = now + self._beat
        worker = self.worker
        worker.notify()
        if worker.ppid != os.getppid():
            worker.log.info("Parent changed, shutting down: %s", worker)
            worker.alive = False
        if not worker.alive:
            self.request_stop()

    def count_request(self):
        """max_requests, counted as a request starts, as gunicorn's workers
        do: the one that reaches it says Connection: close at once, for the
        arbiter's listening socket stays open to the client's next
        connection; the worker stops after it."""
        worker = self.worker
        with self._served_lock:
            worker.nr += 1
            if worker.nr < worker.max_requests or not worker.alive:
                return
            worker.alive = False
        worker.log.info("Autorestarting worker after current request.")
        self.stopping = True
        self.request_stop()

    def handle_error(self, request, client_address):
        self.worker.log.exception("Error handling request")

    def log(self, type, message, *args):
        getattr(self.worker.log, type)(message, *args)


class _SingleServer(_WorkerServer, BaseWSGIServer):
    pass


class _ThreadedServer(_WorkerServer, ThreadedWSGIServer):
    pass


def _address(sock):
    """make_server's host and port for an already bound socket."""
    if sock.family == socket.AF_UNIX:
        return f"unix://{sock.getsockname()}", 0
    host, port = sock.getsockname()[:2]
    return host, port


class Worker(base.Worker):
    """A gunicorn worker serving with fastcore (see the module docstring)."""

    def run(self):
        cfg = self.cfg
        listeners = [listener.sock if hasattr(listener, "sock") else listener
                     for listener in self.sockets]
        host, port = _address(listeners[0])
        kind = _ThreadedServer if cfg.threads > 1 else _SingleServer
        server = kind(host, port, self.wsgi, _Settings(self).handler_class(),
                      ssl_context=gunicorn_ssl_context(cfg) if cfg.is_ssl else None,
                      fd=listeners[0].fileno(), limits=limits_from(cfg),
                      keep_alive_timeout=max(cfg.keepalive, 0.001),
                      max_workers=cfg.threads, max_connections=cfg.worker_connections)
        server.setup_worker(self)
        for listener in listeners[1:]:
            server.add_listener(socket.fromfd(listener.fileno(), listener.family,
                                              socket.SOCK_STREAM))
        self.server = server
        if not self.alive:  # SIGTERM while booting
            server.request_stop()
        server.serve_forever(poll_interval=server._beat)

    def handle_exit(self, sig, frame):
        """SIGTERM: stop accepting, end the event streams, finish the
        requests in flight (see fastcore.stopping)."""
        super().handle_exit(sig, frame)
        server = getattr(self, "server", None)
        if server is not None:
            stopping.stop(server)

    def handle_quit(self, sig, frame):
        """SIGQUIT, SIGINT: exit at once (requests in flight are cut)."""
        self.alive = False
        self.cfg.worker_int(self)
        access_log.flush()
        os._exit(0)
