"""The socket an app gets as ``environ["werkzeug.socket"]``, and how the server
learns that the app took the connection over.

WebSocket libraries (simple-websocket under Flask-Sock and Flask-SocketIO)
write the 101 handshake and every frame themselves on that socket, reading it
from a thread of their own with blocking calls, as Werkzeug's server lets
them. The server's own sockets are non-blocking and watched by its loop, so
every connection is accepted as a ``ServerSocket``, which tells the two users
apart. While the server serves it, the app sees a blocking socket with no
timeout (``gettimeout()`` is None). The app's first call that sends,
receives, shuts down, closes, detaches or duplicates it marks the connection
*taken over*: the server's hook runs (the loop stops watching the fd, which
the app may close and the kernel give to a new connection), the socket turns
blocking for real, and the server writes nothing more on that connection and
forgets it without touching it. The server itself calls the base class's
methods, which these overrides never see.

Setting a timeout alone is not a takeover: the server puts the socket back
as it was when the app returns without using it.
"""

import socket
import ssl

__all__ = ["ServerSocket", "TLSServerSocket", "status_sent", "is_unix"]

# socket.socket's family property converts to an enum on every read, a cost
# on every connection; the C type's own attribute is the plain number.
_raw_family = socket.SocketType.family.__get__


class _Watched:
    """The server sets ``taken_over`` and ``app_timeout`` (the app set a
    timeout or blocking mode of its own) on each connection's socket before
    serving it: they are read on every request, and an instance's own
    attribute is read quickly only when no class attribute shadows it."""

    on_takeover = None  # while the server serves it: called with the socket at the app's first use
    first_sent = None  # the first bytes the app sent after the takeover
    # The app keeps the connection after its call returns (live reload's event
    # streams, set before the takeover): the server neither waits nor closes it.
    outlives_request = False

    def _take(self):
        hook = self.on_takeover
        if hook is None:  # not served by the server (yet, or any more)
            return
        self.on_takeover = None
        self.taken_over = True
        hook(self)
        if not self.app_timeout:
            socket.socket.setblocking(self, True)

    def gettimeout(self):
        if self.on_takeover is not None and not self.app_timeout:
            return None  # what the app will get once it uses the socket
        return super().gettimeout()

    def getblocking(self):
        return self.gettimeout() != 0.0

    def settimeout(self, value):
        if self.on_takeover is not None:
            self.app_timeout = True
        super().settimeout(value)

    def setblocking(self, flag):
        if self.on_takeover is not None:
            self.app_timeout = True
        super().setblocking(flag)

    def restore(self):
        """After the app returned without taking the socket over: undo a
        timeout it set, so the loop's calls stay non-blocking."""
        self.app_timeout = False
        socket.socket.setblocking(self, False)


def _taking(name):
    def method(self, *args, **kwargs):
        self._take()
        return getattr(super(_Watched, self), name)(*args, **kwargs)
    method.__name__ = name
    return method


def _sending(name):
    def method(self, data, *args, **kwargs):
        self._take()
        if self.first_sent is None:
            self.first_sent = bytes(memoryview(data)[:12])
        return getattr(super(_Watched, self), name)(data, *args, **kwargs)
    method.__name__ = name
    return method


for _name in ("recv", "recv_into", "recvfrom", "recvfrom_into", "recvmsg", "sendmsg",
              "sendfile", "shutdown", "close", "detach", "dup", "makefile"):
    setattr(_Watched, _name, _taking(_name))
for _name in ("send", "sendall", "sendto"):
    setattr(_Watched, _name, _sending(_name))
del _name


class ServerSocket(_Watched, socket.socket):
    """An accepted plain connection (see the module docstring)."""


class TLSServerSocket(_Watched, ssl.SSLSocket):
    """An accepted TLS connection: the server's SSLContext makes its sockets
    of this class (``SSLContext.sslsocket_class``)."""


def is_unix(sock):
    """Whether ``sock`` is a Unix socket."""
    return _raw_family(sock) == socket.AF_UNIX


def status_sent(first_sent):
    """The status code the app wrote after taking a connection over: the one
    of its status line if it starts with one, else 101 (a WebSocket)."""
    if first_sent and first_sent.startswith(b"HTTP/1.") and first_sent[9:12].isdigit():
        return int(first_sent[9:12])
    return 101
