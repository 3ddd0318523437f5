"""Live reload's event streams: each open tab's Server-Sent Events connection,
held by one thread.

Strategy: the events endpoint takes its connection over (it writes the
response head itself on ``environ["werkzeug.socket"]``, as a WebSocket app
does), so the request returns at once and the server forgets the
connection. A stream then holds no request, no worker and no loop turn:
threaded, single-threaded and TLS servers alike go on serving. One daemon
thread owns every stream: it sleeps in a selector until a tab goes away, a
change is announced or the streams are closed, so an idle tab costs no CPU.
Only that thread writes to or closes a stream socket.
"""

import selectors
import socket
import threading

from fastcore.wsgi.access_log import clock
from fastcore.io.connection import TakenOver

__all__ = ["Streams"]

# How long the browser waits before it reconnects a dropped stream (ms): a
# restarting server's listening socket stays open, so the reconnection waits
# in its backlog until the new process accepts it.
RETRY_MS = 250
# A tab that takes no bytes for this long is dropped (it reconnects).
SEND_TIMEOUT = 2.0
# Each stream holds a descriptor for as long as its tab is open: past this
# many, a new one is answered 503 (its EventSource retries).
MAX_STREAMS = 256


def event(name, data):
    """One Server-Sent Event: its name and one line of data."""
    return f"event: {name}\ndata: {data}\n\n".encode()


class Streams:
    """The open event streams of one server process, whose ``boot`` id each
    new stream is told first (a tab that sees another id than the one its page
    was served with knows the server restarted)."""

    def __init__(self, boot):
        self.boot = boot
        self._lock = threading.Lock()
        self._joining = []  # sockets taken over, not yet in the selector
        self._outbox = []  # events to send to every stream
        self._closing = False
        self._farewell = False  # closing streams are told "bye" first
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        # Streams in the selector and those on their way to it, counted under
        # the lock, so the limit holds with any number of threads.
        self._count = 0
        self._thread = None

    @property
    def count(self):
        """How many tabs are listening."""
        return self._count

    def open(self, environ, start_response):
        """The events endpoint (a WSGI app): write the stream's head and the
        ``hello`` event on the connection's socket, taking it over, and hand it
        to the streams' thread; the request ends at once."""
        sock = environ.get("werkzeug.socket")
        if sock is None:  # not served by fastcore's server (which gives the socket)
            return _refuse(start_response, "501 Not Implemented",
                           "live reload needs fastcore's server")
        with self._lock:
            full = self._count + len(self._joining) >= MAX_STREAMS
            if not full:
                # Under the lock, so no event is queued between this stream's
                # hello and its joining: it misses none. The head is a few
                # hundred bytes on a new connection: the send does not wait.
                self._send_head(sock, environ)
                if self._closing:
                    sock.close()
                else:
                    self._joining.append(sock)
                    self._start()
        if full:
            return _refuse(start_response, "503 Service Unavailable",
                           f"{MAX_STREAMS} live reload streams are open already")
        self._wake()
        raise TakenOver  # the server sends nothing more on it, and forgets it

    def _send_head(self, sock, environ):
        head = ("HTTP/1.1 200 OK\r\n"
                f"Server: {environ.get('SERVER_SOFTWARE', 'fastcore')}\r\n"
                f"{clock.date_line}"
                "Content-Type: text/event-stream\r\nCache-Control: no-store\r\n"
                "Connection: close\r\n\r\n"
                f"retry: {RETRY_MS}\n").encode("latin-1")
        sock.outlives_request = True  # the server neither waits for it nor closes it
        sock.settimeout(SEND_TIMEOUT)
        sock.sendall(head + event("hello", self.boot))  # the takeover

    def send(self, name, data):
        """Announce an event to every open stream."""
        with self._lock:
            if self._thread is None:
                return
            self._outbox.append(event(name, data))
        self._wake()

    def end(self):
        """Close every stream soon, each told ``bye`` first, so its tab
        reconnects at once (to the next server process, whose listening
        socket is the same). Safe in a signal handler: it takes no lock (the
        interrupted thread may hold it) and waits for nothing."""
        self._farewell = True
        self._closing = True
        self._wake()

    def close(self):
        """Close every stream now (the server is stopping or restarting)."""
        with self._lock:
            self._closing = True
            thread = self._thread
        self._wake()
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=1.0)

    def _start(self):
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, daemon=True,
                                            name="fastcore-live-streams")
            self._thread.start()

    def _wake(self):
        try:
            self._wake_w.send(b"\0")
        except BlockingIOError:  # a wake-up is pending already
            pass

    def _run(self):
        selector = selectors.DefaultSelector()
        selector.register(self._wake_r, selectors.EVENT_READ)
        streams = set()
        try:
            while True:
                for key, _ in selector.select():
                    if key.fileobj is self._wake_r:
                        _drain(self._wake_r)
                    else:  # a tab closed its stream (a browser sends nothing else)
                        _drop(selector, streams, key.fileobj)
                with self._lock:
                    joining, self._joining = self._joining, []
                    outbox, self._outbox = self._outbox, []
                    closing = self._closing
                    self._count = len(streams) + len(joining)
                for sock in joining:
                    streams.add(sock)
                    selector.register(sock, selectors.EVENT_READ)
                if closing:
                    if self._farewell:
                        for sock in streams:
                            try:
                                sock.sendall(event("bye", ""))
                            except OSError:
                                pass
                    return
                for message in outbox:
                    for sock in list(streams):
                        try:
                            sock.sendall(message)
                        except OSError:
                            _drop(selector, streams, sock)
                self._count = len(streams)
        finally:
            for sock in list(streams):
                _drop(selector, streams, sock)
            self._count = 0
            selector.close()


def _refuse(start_response, status, reason):
    body = f"{reason}\n".encode()
    start_response(status, [("Content-Type", "text/plain; charset=utf-8"),
                            ("Content-Length", str(len(body)))])
    return [body]


def _drain(sock):
    try:
        while sock.recv(4096):
            pass
    except BlockingIOError:
        pass


def _drop(selector, streams, sock):
    streams.discard(sock)
    selector.unregister(sock)
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    sock.close()
