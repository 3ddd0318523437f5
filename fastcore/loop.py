"""The loop: it owns every connection between requests, and runs requests.

Strategy: the loop waits on one poller (see ``poller``) for the listening
sockets and every connection it holds. It accepts in batches, reads what
arrived on each ready connection (never waiting: the sockets are
non-blocking) and parses the head as it grows. A connection whose head is
complete runs its request right there, on the loop's thread, and then the
loop acts on the connection's fate (see ``connection``) and goes on.

In threaded mode a monitor (see ``handoff``) moves the loop to another thread
when a request has run on it for longer than ``handoff_after``: the thread it
leaves finishes that request as a worker and gives the connection back with
its fate, waking the loop only when it has something to do at once. The loop
is an object, not a thread: whichever thread runs it owns its state, and
hands over the events it has not processed yet. Past ``max_workers`` requests
running at once, complete requests wait (their connections still accepted).

Deadlines (a head still arriving, an idle keep-alive connection, a lingering
close) live in three queues, one per duration, in deadline order, so the
loop finds what expired by looking at their fronts.
"""

import collections
import socket
import threading
import time

from fastcore.access_log import access_log
from fastcore.connection import CLOSE, KEEP_ALIVE, LINGER, LINGER_SECONDS
from fastcore.errors import ParseError
from fastcore.handoff import Monitor
from fastcore.parser import parse_request
from fastcore.poller import Poller

__all__ = ["Loop"]

_ADOPT = "adopt"  # a hand-back that is a new connection (after its TLS handshake)


class _MovedOff(Exception):
    """Raised on a thread the loop has moved off, once its request is done."""


class _Deadlines:
    """Connections waiting out one duration. Each deadline is "now + seconds"
    when it is set, so insertion order is deadline order."""

    def __init__(self, seconds):
        self.seconds = seconds
        self.due = {}  # Connection -> deadline (time.monotonic)

    def start(self, conn):
        cancel(conn)
        self.due[conn] = time.monotonic() + self.seconds
        conn.deadlines = self

    def first(self):
        for deadline in self.due.values():
            return deadline
        return None

    def expired(self, now):
        gone = []
        for conn, deadline in self.due.items():
            if deadline > now:
                break
            gone.append(conn)
        for conn in gone:
            cancel(conn)
        return gone


def cancel(conn):
    if conn.deadlines is not None:
        del conn.deadlines.due[conn]
        conn.deadlines = None


class Loop:
    """See the module docstring.

    :param serve: ``serve(conn, head) -> fate``: runs the requests of a
        connection whose head is complete (the server's handler).
    :param pool: a WorkerPool for TLS handshakes and, in threaded mode, for
        the threads the loop moves to; or None.
    :param handoff_after: threaded mode: seconds a request may run on the
        loop's thread before the loop moves on; None for single mode.
    :param on_listener: called with a listening socket that has connections
        to accept (the server accepts them and ``add``s or ``adopt``s them).
    :param service_actions: called once per turn.
    """

    def __init__(self, *, limits, head_timeout, keep_alive_timeout, serve, pool, on_listener,
                 service_actions, handoff_after=None, max_workers=1):
        self._limits = limits
        self._serve = serve
        self._pool = pool
        self._on_listener = on_listener
        self._service_actions = service_actions
        self._max_running = max_workers
        self._monitor = Monitor(self, handoff_after) if handoff_after else None
        self._poller = Poller()
        self._conns = {}  # fd -> Connection: those on the loop and those away
        self._listeners = {}  # fd -> listening socket
        self._events = collections.deque()  # polled, not yet processed
        self._ready = collections.deque()  # connections to read without an event
        self._waiting = collections.deque()  # (conn, head) waiting for max_workers
        self._handbacks = collections.deque()  # (conn, fate) from other threads
        self._away = 0  # connections whose request runs off the loop
        self.running = None  # (since, claim) of the request running on the loop
        self.started = 0  # requests started on the loop
        self._sleeping = False
        self._stopping = False
        self._give_up = None  # when stopping: the end of the grace period
        self._finished = threading.Event()
        self._home_waiting = False  # run()'s thread waits to take the loop back
        self._come_home = threading.Event()
        self._head = _Deadlines(head_timeout)
        self._idle = _Deadlines(keep_alive_timeout)
        self._linger = _Deadlines(LINGER_SECONDS)
        self._queues = (self._head, self._idle, self._linger)
        self._wake_r, self._wake_w = socket.socketpair()
        for sock in (self._wake_r, self._wake_w):
            sock.setblocking(False)
        self._poller.watch(self._wake_r.fileno())

    # -- what other parts call ----------------------------------------------------

    def listen(self, sock):
        self._listeners[sock.fileno()] = sock
        self._poller.watch(sock.fileno())

    def add(self, conn):
        """A new connection (loop thread): wait keep_alive_timeout for its first bytes."""
        self._conns[conn.fd] = conn
        self._poller.add(conn.fd)
        self._idle.start(conn)

    def adopt(self, conn):
        """A new connection from another thread (after its TLS handshake)."""
        self._handbacks.append((conn, _ADOPT))
        if self._sleeping:
            self._wake()

    def give_back(self, conn, fate):
        """Another thread is done with ``conn``; ``fate`` says what comes next.

        The loop is woken only when it has something to do at once. A
        connection kept alive waits for its client's next bytes, whose event
        wakes the loop, which takes the hand-back in the same turn; but if
        that event came while this thread held it (``maybe_more``), the loop
        may be asleep already. A connection to close is closed here.
        """
        if fate is CLOSE:
            conn.close()
        self._handbacks.append((conn, fate))
        # The loop sets _sleeping before it looks at _handbacks: either it
        # sees this one, or we see it asleep.
        if self._sleeping and (fate is LINGER or conn.maybe_more or self._stopping):
            self._wake()

    def stop(self):
        """Stop accepting and end once the requests in flight are done (any
        thread, or a signal handler)."""
        self._stopping = True
        self._wake()

    def move_off(self, claim):
        """The monitor's thread: move the loop off the thread that has run the
        request in ``claim`` for too long, unless it has just finished."""
        try:
            conn = claim.pop()
        except IndexError:
            return
        conn.away = True
        self._away += 1
        self._pool.submit(self._take_over, force=True)

    # -- the turns --------------------------------------------------------------------

    def run(self, poll_interval=0.5, grace_period=10.0, until_empty=False):
        """Serve until ``stop()`` (and the requests in flight end, at most
        ``grace_period`` seconds later) or, with ``until_empty``, until no
        connection is left; from whichever threads the loop moves to."""
        self._poll_interval = poll_interval
        self._grace_period = grace_period
        self._until_empty = until_empty
        try:
            while not self._turns():
                # The loop moved to another thread while a request ran here;
                # it comes back at its next turn, and that thread retires.
                self._home_waiting = True
                self._come_home.wait()
                self._come_home.clear()
                if self._finished.is_set():
                    return
        except BaseException:  # Ctrl+C with no signal handler installed
            self.stop()
            self._finished.wait(grace_period)
            raise

    def _take_over(self):
        """In a pool thread: run the loop from where its last thread left it."""
        self._turns(home=False)

    def _turns(self, home=True):
        """Run turns until the loop ends (True) or moves to another thread
        (False); on a thread not its home, only until its home can take it back."""
        conns, listeners, events = self._conns, self._listeners, self._events
        hangup = self._poller.HANGUP
        try:
            while True:
                if self._home_waiting and not home:
                    self._home_waiting = False
                    self._come_home.set()
                    return False
                if not events:
                    if self._ended():
                        return True
                    self._poll()
                while events:
                    fd, mask = events.popleft()
                    conn = conns.get(fd)
                    if conn is None:
                        listener = listeners.get(fd)
                        if listener is not None:
                            self._on_listener(listener)
                        else:
                            self._drain_wake()
                    elif conn.away:
                        conn.maybe_more = True  # read when it comes back
                    else:
                        self._readable(conn, mask & hangup)
                if self._handbacks:
                    self._take_handbacks()
                ready = self._ready
                for _ in range(len(ready)):
                    conn = ready.popleft()
                    if conns.get(conn.fd) is conn and not conn.away:
                        self._readable(conn)
                while self._waiting and self._away < self._max_running:
                    conn, head = self._waiting.popleft()
                    conn.away = False
                    self._run(conn, head)
                self._after_turn()
        except _MovedOff:
            return False
        except BaseException:
            self._end()
            raise

    def _ended(self):
        if self._stopping:
            if self._give_up is None:
                self._give_up = time.monotonic() + self._grace_period
                self._close_idle()
            if self._away == 0 or time.monotonic() > self._give_up:
                self._end()
                return True
        if self._until_empty and not self._conns:
            self._end()
            return True
        return False

    def _end(self):
        self._finished.set()
        self._come_home.set()

    def _poll(self):
        now = time.monotonic()
        earliest = None
        for queue in self._queues:
            first = queue.first()
            if first is not None and (earliest is None or first < earliest):
                earliest = first
        self._earliest = earliest
        timeout = self._poll_interval
        if self._ready or (self._waiting and self._away < self._max_running):
            timeout = 0
        if earliest is not None:
            timeout = min(timeout, earliest - now)
        due = access_log.due(now)
        if due is not None:
            timeout = min(timeout, due)
        self._sleeping = True
        if self._handbacks:
            timeout = 0
        self._events.extend(self._poller.poll(max(timeout, 0)))
        self._sleeping = False

    def _after_turn(self):
        now = time.monotonic()
        if self._earliest is not None and now >= self._earliest:
            self._expire(now)
        due = access_log.due(now)
        if due is not None and due <= 0:
            access_log.flush()
        self._service_actions()

    def close(self):
        """Close every connection the loop holds, and the loop (after run)."""
        for conn in list(self._conns.values()):
            if not conn.away:
                self._close(conn)
        for conn, _ in self._waiting:
            conn.close()
        self._poller.close()
        self._wake_r.close()
        self._wake_w.close()

    # -- one connection ---------------------------------------------------------------

    def _readable(self, conn, hangup=False):
        if conn.linger_left is not None:
            if not conn.discard():
                self._close(conn)
            return
        got = conn.receive()
        if got is None:
            return
        if not got:
            self._close(conn)
            return
        if hangup:
            conn.maybe_more = True  # the EOF behind these bytes
        try:
            head = parse_request(conn.buffer, limits=self._limits)
        except ParseError as e:
            cancel(conn)
            # Sent only if it fits now: the loop never waits on one client.
            self._settle(conn, conn.handler.refuse(conn, e, timeout=0))
            return
        if head is None:
            if conn.deadlines is not self._head:
                self._head.start(conn)  # the head timeout runs from its first byte
            if conn.maybe_more:
                self._ready.append(conn)
            return
        cancel(conn)
        if self._monitor is not None and self._away >= self._max_running:
            conn.away = True  # not read until its turn comes
            self._waiting.append((conn, head))
            return
        self._run(conn, head)

    def _run(self, conn, head):
        """Run the request here. In threaded mode the monitor may move the loop
        to another thread meanwhile: then give the connection back to it."""
        if self._monitor is None:
            self._settle(conn, self._serve(conn, head))
            return
        claim = [conn]
        self.running = (time.monotonic(), claim)
        self.started += 1
        self._monitor.poke()
        fate = CLOSE
        try:
            fate = self._serve(conn, head)
        finally:
            try:
                claim.pop()
            except IndexError:
                # The loop runs on another thread now: hand the connection to
                # it, and touch nothing else of the loop's.
                self.give_back(conn, fate)
                raise _MovedOff from None
            self.running = None
        self._settle(conn, fate)

    def _settle(self, conn, fate):
        """Act on a connection's fate after a request."""
        if self._stopping:
            fate = CLOSE
        if fate is KEEP_ALIVE:
            (self._head if conn.buffer else self._idle).start(conn)
            if conn.maybe_more:
                self._ready.append(conn)
        elif fate is LINGER and conn.start_linger():
            self._linger.start(conn)
            self._ready.append(conn)  # what the client sent after the refusal
        else:
            self._close(conn)

    def _close(self, conn):
        cancel(conn)
        if self._conns.get(conn.fd) is conn:
            del self._conns[conn.fd]
            self._poller.forget(conn.fd)
        conn.close()

    def _expire(self, now):
        for conn in self._head.expired(now):
            conn.handler.head_timed_out()
            self._close(conn)
        for queue in (self._idle, self._linger):
            for conn in queue.expired(now):
                self._close(conn)

    def _close_idle(self):
        """On stop: no more connections, and none of those waiting for a request."""
        for fd in list(self._listeners):
            self._poller.remove(fd)
            del self._listeners[fd]
        while self._waiting:
            conn, _ = self._waiting.popleft()
            conn.away = False
            self._close(conn)
        for conn in list(self._conns.values()):
            if not conn.away:
                self._close(conn)

    # -- hand-backs ------------------------------------------------------------------------

    def _wake(self):
        try:
            self._wake_w.send(b"\0")
        except OSError:
            pass  # full (the loop will wake anyway) or closed

    def _drain_wake(self):
        try:
            self._wake_r.recv(4096)
        except OSError:
            pass

    def _take_handbacks(self):
        handbacks = self._handbacks
        while handbacks:
            conn, fate = handbacks.popleft()
            if fate is _ADOPT:
                if self._stopping:
                    conn.close()
                    continue
                self.add(conn)
                self._ready.append(conn)  # the handshake may have read the request too
                continue
            conn.away = False
            self._away -= 1
            if self._conns.get(conn.fd) is not conn:
                continue
            if fate is CLOSE:  # closed by the thread that gave it back
                del self._conns[conn.fd]
                continue
            self._poller.resume(conn.fd)
            self._settle(conn, fate)
