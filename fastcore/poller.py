"""What the loop waits on: epoll, edge-triggered, on Linux; a selector elsewhere.

With epoll a connection stays registered for its whole life. An event for a
connection the loop does not hold (a worker has it) is noted and acted on when
it comes back, so moving a connection between threads costs no system call.
Edge-triggered means an event announces new bytes once: the loop reads again
when a read filled its buffer, or when the peer hung up (``HANGUP``), since no
further event will announce the EOF behind the bytes. Elsewhere a
level-triggered selector stops watching a connection while a worker holds it.
"""

import select
import selectors

__all__ = ["Poller"]


class _EdgePoller:
    HANGUP = select.EPOLLRDHUP | select.EPOLLHUP | select.EPOLLERR if hasattr(select, "epoll") else 0
    _EVENTS = select.EPOLLIN | select.EPOLLRDHUP | select.EPOLLET if hasattr(select, "epoll") else 0

    def __init__(self):
        self._epoll = select.epoll()

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

    def remove(self, fd):
        try:
            self._epoll.unregister(fd)
        except OSError:
            pass

    def forget(self, fd):
        pass  # closing the socket unregisters it

    def poll(self, timeout):
        return self._epoll.poll(timeout)

    def has_events(self):
        """Whether a poll would return events now (from any thread)."""
        return bool(select.select([self._epoll.fileno()], [], [], 0)[0])

    def close(self):
        self._epoll.close()


class _LevelPoller:
    HANGUP = 0  # level-triggered: an EOF keeps the connection readable

    def __init__(self):
        self._selector = selectors.DefaultSelector()

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


Poller = _EdgePoller if hasattr(select, "epoll") else _LevelPoller
