"""The servers, make_server and run_simple: Werkzeug's serving API on fastcore.

Strategy: one loop (``serve_forever``) watches the listening socket and every
*parked* connection (idle keep-alive, or a head still arriving) with a
selector. A connection with bytes to read goes to its handler: in
``BaseWSGIServer`` the loop runs it itself, so one request is in the app at a
time and no idle client can hold the loop; in ``ThreadedWSGIServer`` a thread
runs it and keeps it while requests follow closely, then parks it again; in
``ForkingWSGIServer`` a child process serves a connection to its end. TLS
handshakes run in a thread with a timeout, never on the loop. Parked
connections past their deadline are closed by the loop.

Binding, the fd hand-off of the reloader, the banner and the "Port N is in
use" message come from Werkzeug's BaseWSGIServer, which these classes extend.
"""

import collections
import os
import queue
import selectors
import signal
import socket
import struct
import sys
import threading
import time

from werkzeug.serving import BaseWSGIServer as _WerkzeugServer
from werkzeug.serving import ForkingMixIn, _ansi_style, generate_adhoc_ssl_context
from werkzeug.serving import is_running_from_reloader, load_ssl_context
from werkzeug._internal import _log

from fastcore.handler import WSGIRequestHandler, access_log
from fastcore.limits import DEFAULT_LIMITS

__all__ = [
    "BaseWSGIServer", "ThreadedWSGIServer", "ForkingWSGIServer", "make_server", "run_simple",
    "is_running_from_reloader",
]

_WAKEUP = object()


class BaseWSGIServer(_WerkzeugServer):
    """Serves one request at a time, never blocked by an idle connection.

    :param head_timeout: seconds a client may take to send a request head.
    :param keep_alive_timeout: seconds an idle keep-alive connection stays open.
    :param body_timeout: seconds a read of the request body, or a send of the
        response, may stall before the connection is dropped.
    :param worker_idle: seconds a worker thread with nothing to do waits for
        more work before it ends.
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
    # How many seconds a serving thread waits for the next request on its
    # connection before parking it (threaded mode).
    linger = 1.0
    # How long serve_forever waits for in-flight requests when stopped.
    grace_period = 10.0
    # How long a worker thread with nothing to do waits for a new task.
    worker_idle = 5.0
    max_content_length = None
    # The kernel's queue of connections not yet accepted (Werkzeug: 128). Under
    # connection churn in threaded mode the loop thread waits for the GIL
    # while workers run, 128 filled up, and the kernel dropped new clients'
    # SYNs: each such client stalled a full second before retrying.
    request_queue_size = 1024

    def __init__(self, host, port, app, handler=None, passthrough_errors=False,
                 ssl_context=None, fd=None, *, limits=DEFAULT_LIMITS, head_timeout=None,
                 keep_alive_timeout=None, body_timeout=None, worker_idle=None,
                 max_content_length=None):
        # State first: Werkzeug's __init__ calls server_close() if binding fails.
        self._parked = {}  # handler -> deadline (time.monotonic)
        self._handbacks = collections.deque()
        self._wakeup_r = self._wakeup_w = None  # a socketpair while serving
        self._selector = None
        self._stop = False
        self._stopped = threading.Event()
        self._stopped.set()
        self._workers = set()
        self._pool_lock = threading.Lock()
        self._tasks = queue.SimpleQueue()
        self._idle_workers = 0
        self._busy = 0
        self._next_sweep = 0.0
        self._loop_thread = None
        self.extra_sockets = []
        super().__init__(host, port, app, handler or WSGIRequestHandler, passthrough_errors,
                         None, fd)
        if isinstance(ssl_context, tuple):
            ssl_context = load_ssl_context(*ssl_context)
        elif ssl_context == "adhoc":
            ssl_context = generate_adhoc_ssl_context()
        self.ssl_context = ssl_context
        self.limits = limits
        if head_timeout is not None:
            self.head_timeout = head_timeout
        if keep_alive_timeout is not None:
            self.keep_alive_timeout = keep_alive_timeout
        if body_timeout is not None:
            self.body_timeout = body_timeout
        if worker_idle is not None:
            self.worker_idle = worker_idle
        if max_content_length is not None:
            self.max_content_length = max_content_length
        self.socket.setblocking(False)
        self.extra_sockets = self._localhost_ipv6(host, fd)

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
        sock.setblocking(False)
        return [sock]

    # -- the loop -------------------------------------------------------------

    def serve_forever(self, poll_interval=0.5):
        """Serve until shutdown(), SIGTERM/SIGINT or Ctrl+C, then finish the
        requests in flight (up to ``grace_period`` seconds) and close."""
        self._stopped.clear()
        self._loop_thread = threading.current_thread()
        self._wakeup_r, self._wakeup_w = socket.socketpair()
        self._wakeup_r.setblocking(False)
        self._wakeup_w.setblocking(False)
        try:
            with selectors.DefaultSelector() as selector:
                self._selector = selector
                selector.register(self.socket, selectors.EVENT_READ, None)
                for sock in self.extra_sockets:
                    selector.register(sock, selectors.EVENT_READ, sock)
                selector.register(self._wakeup_r, selectors.EVENT_READ, _WAKEUP)
                while not self._stop:
                    wait = access_log.BATCH_SECONDS if access_log.pending else poll_interval
                    for key, _ in selector.select(wait):
                        data = key.data
                        if data is None:
                            self._handle_request_noblock()
                        elif data is _WAKEUP:
                            self._take_handbacks()
                        elif data in self.extra_sockets:
                            self._handle_request_noblock(data)
                        else:
                            self._resume(data)
                    access_log.flush()
                    self.service_actions()
        except KeyboardInterrupt:
            pass
        finally:
            self._stop = False
            self._selector = None
            self._loop_thread = None
            self._wait_for_workers()
            access_log.flush()
            self.server_close()
            for sock in (self._wakeup_r, self._wakeup_w):
                sock.close()
            self._stopped.set()

    def shutdown(self):
        """Stop serve_forever (from another thread) and wait until it has."""
        self.request_stop()
        self._stopped.wait()

    def request_stop(self):
        """Ask serve_forever to stop; safe from a signal handler."""
        self._stop = True
        self._wake()

    def _wake(self):
        try:
            self._wakeup_w.send(b"x")
        except (OSError, AttributeError):
            pass

    def service_actions(self):
        now = time.monotonic()
        if now < self._next_sweep:
            return
        self._next_sweep = now + 0.25
        expired = [h for h, deadline in self._parked.items() if deadline <= now]
        for handler in expired:
            self._unpark(handler)
            if handler.rbuf:  # part of a head, not an idle keep-alive connection
                handler.head_timed_out()
            self.shutdown_request(handler.request)

    def _handle_request_noblock(self, listener=None):
        # Accept what is waiting (a burst of new connections in one wake-up).
        for _ in range(32):
            try:
                if listener is None:
                    request, client_address = self.get_request()
                else:
                    request, client_address = listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return
            if self.verify_request(request, client_address):
                try:
                    self.process_request(request, client_address)
                except Exception:
                    self.handle_error(request, client_address)
                    self.shutdown_request(request)
            else:
                self.shutdown_request(request)

    def process_request(self, request, client_address):
        if self.ssl_context is not None:
            self._start_worker(self._handshake, request, client_address)
        else:
            self.finish_request(request, client_address)

    def finish_request(self, request, client_address):
        handler = self.RequestHandlerClass(request, client_address, self)
        self._after_handle(handler)

    def _handshake(self, request, client_address):
        """TLS handshake in a thread, with a timeout; then serve as usual."""
        try:
            request.settimeout(self.handshake_timeout)
            conn = self.ssl_context.wrap_socket(request, server_side=True)
        except (OSError, ValueError) as e:
            self.log("info", "TLS handshake with %s failed: %s", client_address[0], e)
            self.shutdown_request(request)
            return
        if self.multithread:
            self.finish_request(conn, client_address)
        else:
            self._hand_back(("connection", conn, client_address))

    def _after_handle(self, handler):
        """Close the connection, park it until its client sends more, or give
        its complete request to a worker."""
        if handler.close_connection:
            self.shutdown_request(handler.request)
        elif handler.parked:
            self._hand_back(handler)
        elif handler.handed_off:
            self._start_worker(self._serve_parked, handler)

    def _serve_parked(self, handler):
        handler.handle()
        self._after_handle(handler)

    def hand_off(self, handler):
        """Whether a complete request head should go to a worker thread
        instead of being run where it was read. Here: never, one request runs
        at a time, in the loop."""
        return False

    def _hand_back(self, item):
        if threading.current_thread() is self._loop_thread:
            self._take(item)
        else:
            self._handbacks.append(item)
            self._wake()

    def _take_handbacks(self):
        try:
            while self._wakeup_r.recv(4096):
                pass
        except OSError:
            pass
        while self._handbacks:
            self._take(self._handbacks.popleft())

    def _take(self, item):
        if type(item) is tuple:
            _, conn, client_address = item
            self.finish_request(conn, client_address)
            return
        handler = item
        deadline = handler.head_deadline or (time.monotonic() + self.keep_alive_timeout)
        if handler not in self._parked:
            try:
                self._selector.register(handler.request, selectors.EVENT_READ, handler)
            except (ValueError, OSError, KeyError):
                self.shutdown_request(handler.request)
                return
        self._parked[handler] = deadline

    def _unpark(self, handler):
        if self._parked.pop(handler, None) is not None:
            try:
                self._selector.unregister(handler.request)
            except (KeyError, ValueError, OSError):
                pass

    def _resume(self, handler):
        """Bytes arrived on a parked connection: serve them."""
        handler.readable = True
        try:
            handler.handle()
        except Exception:
            if self.passthrough_errors:
                raise
            self.handle_error(handler.request, handler.client_address)
            handler.close_connection = True
        if handler.close_connection:
            self._unpark(handler)
            self.shutdown_request(handler.request)
        elif handler.handed_off:
            self._unpark(handler)
            self._start_worker(self._serve_parked, handler)
        else:
            self._parked[handler] = handler.head_deadline or (
                time.monotonic() + self.keep_alive_timeout)

    def configure_connection(self, sock):
        """Set a new connection's timeouts. Here the loop only reads a socket it
        saw readable, so a read never waits; sends and body reads may wait
        body_timeout."""
        sock.settimeout(self.body_timeout)

    def may_read(self, handler):
        """Whether the handler may read now; otherwise it parks. (TLS may hold
        decrypted bytes the selector cannot see: those may be read too.)"""
        if handler.readable:
            handler.readable = False
            return True
        return self.ssl_context is not None and handler.connection.pending() > 0

    # -- workers (TLS handshakes here, requests too in threaded mode) ---------

    def _start_worker(self, target, *args):
        """Run target(*args) in a worker thread: an idle one if there is one
        (a thread that finished its task waits ``worker_idle`` seconds for
        another), else a new one. Reuse spares a thread start per connection."""
        with self._pool_lock:
            if self._idle_workers:
                self._idle_workers -= 1
                self._tasks.put((target, args))
                return
            thread = threading.Thread(target=self._worker, args=(target, args), daemon=True)
            self._workers.add(thread)
        thread.start()

    def _worker(self, target, args):
        try:
            while target is not None:
                with self._pool_lock:
                    self._busy += 1
                try:
                    self._run_task(target, args)
                finally:
                    with self._pool_lock:
                        self._busy -= 1
                target, args = self._next_task()
        finally:
            with self._pool_lock:
                self._workers.discard(threading.current_thread())

    def _next_task(self):
        """The next task for an idle worker, or (None, None) to end it."""
        with self._pool_lock:
            self._idle_workers += 1
        try:
            return self._tasks.get(timeout=self.worker_idle)
        except queue.Empty:
            with self._pool_lock:
                if self._idle_workers:
                    self._idle_workers -= 1
                    return None, None
            # A task was handed to this worker just as it timed out.
            return self._tasks.get()

    def _run_task(self, target, args):
        try:
            target(*args)
        except Exception:
            # A fault of the server itself: log it and drop that connection.
            connection = args[0].request if hasattr(args[0], "request") else args[0]
            self.handle_error(connection, getattr(args[0], "client_address", None))
            self.shutdown_request(connection)

    def _wait_for_workers(self):
        """Let requests in flight finish (up to grace_period), then end idle workers."""
        deadline = time.monotonic() + self.grace_period
        while self._busy and time.monotonic() < deadline:
            time.sleep(0.05)
        with self._pool_lock:
            idle, self._idle_workers = self._idle_workers, 0
        for _ in range(idle):
            self._tasks.put((None, None))

    def server_close(self):
        for handler in list(self._parked):
            self.shutdown_request(handler.request)
        self._parked.clear()
        for sock in self.extra_sockets:
            sock.close()
        super().server_close()


class ThreadedWSGIServer(BaseWSGIServer):
    """Runs each request in a worker thread. The loop accepts connections and
    reads request heads as their bytes arrive; a connection gets a thread only
    once it has a complete request, so clients that connect and say nothing,
    or trickle a head (slowloris), cost no thread. A worker then keeps the
    connection while its client sends the next request promptly, and parks it
    on the loop when it goes idle."""

    multithread = True

    def process_request(self, request, client_address):
        if self.ssl_context is not None:
            # The handshake, and then every read of this connection, may
            # block: all of it belongs in a worker.
            self._start_worker(self._handshake, request, client_address)
        else:
            self.finish_request(request, client_address)

    def _resume(self, handler):
        if self.ssl_context is not None:
            self._unpark(handler)
            handler.readable = True
            self._start_worker(self._serve_parked, handler)
        else:
            super()._resume(handler)

    def hand_off(self, handler):
        return threading.current_thread() is self._loop_thread

    def configure_connection(self, sock):
        """A thread waits in the kernel for its connection's next bytes (one
        system call, no poll), up to ``linger`` seconds, then parks it."""
        _blocking_with_timeouts(sock, self.linger, self.body_timeout)

    def may_read(self, handler):
        """The loop reads only what the selector saw arrive. A worker waits
        in the kernel for a new request on its connection, but not for the
        rest of a head that came in part (a slow client's: it parks, and the
        loop reads the rest), except what TLS already holds."""
        readable = handler.readable
        handler.readable = False
        if readable or threading.current_thread() is self._loop_thread:
            return readable
        if not handler.rbuf:
            return True
        return self.ssl_context is not None and handler.connection.pending() > 0


def _blocking_with_timeouts(sock, receive, send):
    """Blocking socket with kernel timeouts (SO_RCVTIMEO/SO_SNDTIMEO): a read
    that waits too long fails with EAGAIN, which the handler treats as "park"."""
    sock.settimeout(None)
    for option, seconds in ((socket.SO_RCVTIMEO, receive), (socket.SO_SNDTIMEO, send)):
        whole = int(seconds)
        sock.setsockopt(socket.SOL_SOCKET, option,
                        struct.pack("ll", whole, int((seconds - whole) * 1e6)))


class ForkingWSGIServer(ForkingMixIn, BaseWSGIServer):
    """Serves each connection in a child process (at most ``processes``)."""

    multiprocess = True

    def __init__(self, host, port, app, processes=40, handler=None, passthrough_errors=False,
                 ssl_context=None, fd=None, **options):
        if not hasattr(os, "fork"):
            raise ValueError("Your platform does not support forking.")
        super().__init__(host, port, app, handler, passthrough_errors, ssl_context, fd, **options)
        self.max_children = processes

    def process_request(self, request, client_address):
        ForkingMixIn.process_request(self, request, client_address)

    def finish_request(self, request, client_address):
        if self.ssl_context is not None:
            request.settimeout(self.handshake_timeout)
            request = self.ssl_context.wrap_socket(request, server_side=True)
        self.RequestHandlerClass(request, client_address, self)

    def configure_connection(self, sock):
        _blocking_with_timeouts(sock, self.keep_alive_timeout, self.body_timeout)

    def may_read(self, handler):
        # A child serves one connection: waiting is all it has to do, and
        # "parked" (nothing came within keep_alive_timeout) ends it.
        handler.readable = False
        return True


def make_server(host, port, app, threaded=False, processes=1, request_handler=None,
                passthrough_errors=False, ssl_context=None, fd=None, **options):
    """Create a server for ``app`` (the arguments of Werkzeug's make_server).

    ``threaded`` and ``processes > 1`` cannot be combined. Further keyword
    arguments (``head_timeout``, ``keep_alive_timeout``, ``body_timeout``,
    ``worker_idle``, ``max_content_length``, ``limits``) go to the server class.
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


def _stop_on_signals(server, then_exit=False):
    """SIGTERM and SIGINT stop accepting and let in-flight requests finish.

    With ``then_exit`` (the reloader's child, whose main thread runs the file
    watcher while a thread serves), the handler also waits for the server to
    stop and exits 0.
    """
    def stop(signum, frame):
        if then_exit:
            server.shutdown()
            sys.exit(0)
        server.request_stop()

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)


def _forward_signals_to_children():
    """In the reloader's parent: pass SIGTERM/SIGINT on to the serving child,
    wait for it to finish its requests, and exit 0 (Werkzeug's parent would
    die at once and leave the child running)."""
    def forward(signum, frame):
        children = _child_pids()
        for pid in children:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        for pid in children:
            try:
                os.waitpid(pid, 0)
            except ChildProcessError:
                pass
        sys.exit(0)

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, forward)
        signal.signal(signal.SIGINT, forward)


def _child_pids():
    """This process's children, from /proc (Linux); none elsewhere."""
    me = str(os.getpid())
    pids = []
    try:
        entries = os.listdir("/proc")
    except OSError:
        return pids
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[1] == me:
            pids.append(int(entry))
    return pids


def run_simple(hostname, port, application, use_reloader=False, use_debugger=False,
               use_evalex=True, extra_files=None, exclude_patterns=None, reloader_interval=1,
               reloader_type="auto", threaded=False, processes=1, request_handler=None,
               static_files=None, passthrough_errors=False, ssl_context=None, **options):
    """Start a development server for ``application``: Werkzeug's run_simple,
    with the same parameters and behaviour, served by fastcore.

    :param hostname: a host name, IPv4 or IPv6 address, or ``unix://PATH``.
    :param port: the port; 0 picks a free one (the banner shows it).
    :param application: the WSGI application.
    :param use_reloader: restart the server when a module or ``extra_files`` changes.
    :param use_debugger: wrap the app in Werkzeug's interactive debugger.
    :param use_evalex: allow the debugger's console.
    :param extra_files: more files the reloader watches.
    :param exclude_patterns: fnmatch patterns of files the reloader ignores.
    :param reloader_interval: seconds between the stat reloader's checks.
    :param reloader_type: ``"auto"``, ``"stat"`` or ``"watchdog"``.
    :param threaded: serve each active connection in a thread.
    :param processes: serve each connection in a child process, at most this many.
    :param request_handler: a WSGIRequestHandler subclass.
    :param static_files: URL prefix -> directory, served by SharedDataMiddleware.
    :param passthrough_errors: let app errors crash the server instead of a 500.
    :param ssl_context: an SSLContext, a (cert, key) tuple, or ``"adhoc"``.
    """
    if not isinstance(port, int):
        raise TypeError("port must be an integer")
    if static_files:
        from werkzeug.middleware.shared_data import SharedDataMiddleware

        application = SharedDataMiddleware(application, static_files)
    if use_debugger:
        from werkzeug.debug import DebuggedApplication

        application = DebuggedApplication(application, evalex=use_evalex)
        application.trusted_hosts.append(hostname)

    fd = int(os.environ["WERKZEUG_SERVER_FD"]) if is_running_from_reloader() else None
    srv = make_server(hostname, port, application, threaded, processes, request_handler,
                      passthrough_errors, ssl_context, fd=fd, **options)
    srv.socket.set_inheritable(True)
    os.environ["WERKZEUG_SERVER_FD"] = str(srv.fileno())
    for sock in srv.extra_sockets:
        sock.set_inheritable(True)
        os.environ["FASTCORE_SERVER_FD6"] = str(sock.fileno())
    if not is_running_from_reloader():
        srv.log_startup()
        _log("info", _ansi_style("Press CTRL+C to quit", "yellow"))

    if use_reloader:
        from werkzeug._reloader import run_with_reloader

        if is_running_from_reloader():
            _stop_on_signals(srv, then_exit=True)
        else:
            _forward_signals_to_children()
        try:
            run_with_reloader(srv.serve_forever, extra_files=extra_files,
                              exclude_patterns=exclude_patterns, interval=reloader_interval,
                              reloader_type=reloader_type)
        finally:
            srv.server_close()
    else:
        _stop_on_signals(srv)
        srv.serve_forever()
