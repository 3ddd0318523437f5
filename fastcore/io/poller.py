"""What the loop waits on: epoll, edge-triggered, on Linux; a selector elsewhere.

Either can be woken from another thread (``wake``) and polled busily.

With epoll a connection stays registered for its whole life. An event for a
connection the loop does not hold (a worker has it) is noted and acted on when
it comes back, so moving a connection between threads costs no system call; a
worker that waits on the connection for a while mutes it instead.
Edge-triggered means an event announces new bytes once: the loop reads again
when a read filled its buffer, or when the peer hung up (``HANGUP``), since no
further event will announce the EOF behind the bytes. Elsewhere a
level-triggered selector stops watching a connection while a worker holds it.
"""

import select
import selectors
import socket
import time

__all__ = ["Poller"]


class _Wakeable:
    """A wake-up socket the poller watches, and busy polling."""

    def _open_wake(self):
        self._wake_r, self._wake_w = socket.socketpair()
        for sock in (self._wake_r, self._wake_w):
            sock.setblocking(False)
        self.watch(self._wake_r.fileno())

    def wake(self):
        """End the current or next poll (any thread)."""
        try:
            self._wake_w.send(b"\0")
        except OSError:
            pass  # full (the poll will end anyway) or closed

    def drain_wake(self):
        """After the wake-up socket's event (it is the one fd the loop does not know)."""
        try:
            self._wake_r.recv(4096)
        except OSError:
            pass

    def poll_busily(self, seconds, pending):
        """Poll without sleeping for up to ``seconds``, until events come or
        ``pending`` (filled by other threads) is not empty: the events."""
        until = time.perf_counter() + seconds
        while True:
            events = self.poll(0)
            if events or pending or time.perf_counter() >= until:
                return events

    def _close_wake(self):
        self._wake_r.close()
        self._wake_w.close()


class _EdgePoller(_Wakeable):
    HANGUP = select.EPOLLRDHUP | select.EPOLLHUP | select.EPOLLERR if hasattr(select, "epoll") else 0
    FORGETS = False  # closing a socket unregisters it: no forget() before
    _EVENTS = select.EPOLLIN | select.EPOLLRDHUP | select.EPOLLET if hasattr(select, "epoll") else 0

    def __init__(self):
        self._epoll = select.epoll()
        self._open_wake()
        self.poll = self._epoll.poll  # (timeout) -> [(fd, events)]: called each turn

    def watch(self, fd):
        """A listening socket or the wake-up socket: level-triggered."""
        self._epoll.register(fd, select.EPOLLIN)

    def add(self, fd):
        try:
            self._epoll.register(fd, self._EVENTS)
        except FileExistsError:  # the fd of a closed connection, still known through a dup
            self._epoll.modify(fd, self._EVENTS)

    def pause(self, fd):
        pass

    resume = pause

    def mute(self, fd):
        """Report nothing more of ``fd`` until ``unmute`` (any thread): a
        worker holding the connection waits on it itself, and the loop need
        not wake for it. ``unmute`` reports bytes that came meanwhile."""
        self._epoll.modify(fd, select.EPOLLET)

    def unmute(self, fd):
        self._epoll.modify(fd, self._EVENTS)

    def remove(self, fd):
        try:
            self._epoll.unregister(fd)
        except OSError:
            pass


    def has_events(self):
        """Whether a poll would return events now (from any thread)."""
        return bool(select.select([self._epoll.fileno()], [], [], 0)[0])

    def close(self):
        self._epoll.close()
        self._close_wake()


class _LevelPoller(_Wakeable):
    HANGUP = 0  # level-triggered: an EOF keeps the connection readable
    FORGETS = True  # a socket must be unregistered (forget) before it closes

    def __init__(self):
        self._selector = selectors.DefaultSelector()
        self._open_wake()

    def watch(self, fd):
        self._selector.register(fd, selectors.EVENT_READ)

    def add(self, fd):
        self._selector.register(fd, selectors.EVENT_READ)

    resume = add

    def remove(self, fd):
        try:
            self._selector.unregister(fd)
        except (KeyError, ValueError):
            pass  # removed already (an app took the connection over)

    pause = forget = remove

    def mute(self, fd):
        pass  # not watched while a worker holds it (paused)

    unmute = mute

    def poll(self, timeout):
        return [(key.fd, events) for key, events in self._selector.select(timeout)]

    def has_events(self):
        try:
            fd = self._selector.fileno()  # kqueue, devpoll
        except AttributeError:
            return True  # cannot tell: assume so
        return bool(select.select([fd], [], [], 0)[0])

    def close(self):
        self._selector.close()
        self._close_wake()


Poller = _EdgePoller if hasattr(select, "epoll") else _LevelPoller
