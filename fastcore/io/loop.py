"""The loop: it owns every connection between requests, and runs requests.

Strategy: the loop waits on one poller (see ``poller``) for the listening
sockets and every connection it holds. It accepts in batches, reads what
arrived on each ready connection (never waiting: the sockets are
non-blocking) and parses the head as it grows. A connection whose head is
complete runs its request, and those pipelined behind it, right there on the
loop's thread; then the loop acts on the connection's fate, its next state
(see ``fastcore.cycle``), and goes on. Threaded mode's loop (``handoff``) moves to
another thread when a request runs long; connections come back from other
threads as hand-backs, which wake the loop only when it has something to do
at once. The loop is an object, not a thread: whichever thread runs it owns
its state, including the events it has not processed yet.

Deadlines (a head still arriving, an idle keep-alive connection, a lingering
close, the last request after a stop) live in queues (see ``deadlines``).
"""

import collections
import socket
import threading
import time
from time import monotonic

from fastcore.cycle import CLOSE, KEEP_ALIVE, LINGER, RELEASED, HeadReader
from fastcore.io.connection import LINGER_SECONDS
from fastcore.io.deadlines import Deadlines, cancel
from fastcore.io.poller import Poller

__all__ = ["Loop", "MovedOff"]

_ADOPT = "adopt"  # a hand-back that is a new connection (after its TLS handshake)
# On stop, an idle keep-alive connection is served for this long before it is
# closed: its client may have sent the next request already, and closing on it
# would lose that request.
STOP_IDLE_SECONDS = 0.5
# After a turn that read bytes, the loop polls without sleeping for up to this
# long before it sleeps. On a VM a thread asleep in epoll_wait wakes tens of
# microseconds after its client's next request arrives (the idle vCPU halts),
# which at one keep-alive connection is most of a request's time (the
# benchmarks page has the figures). It polls only while no request runs on
# another thread, which it would slow.
SPIN_SECONDS = 0.0002


class MovedOff(Exception):
    """Raised on a thread the loop has moved off, once its request is done."""


class Loop:
    """See the module docstring.

    :param runner: what runs requests (the handler's, see
        ``WSGIRequestHandler.runner``): ``runner().run(conn, head)`` runs
        one request of a connection whose head the cycle read (a
        RequestHead, or the ParseError that refuses the bytes) and returns
        the connection's next state (``fastcore.cycle``), raising nothing
        but what ``passthrough_errors`` lets out.
    :param on_listener: called with a listening socket that has connections
        to accept (the server accepts them and ``add``s or ``adopt``s them).
    :param on_stop: called once the listening sockets have closed, on stop.
    :param service_actions: called once per turn (None: nothing to call).
    :param max_connections: the most connections open at once (None: no
        limit); at it, the loop stops watching the listening sockets.
    :param log: lines written in batches (the access log): the loop writes
        the ``pending`` ones (``flush``) ``batch_seconds`` after the
        ``last_write``, waking for it, or once ``batch_lines`` wait.
    """

    def __init__(self, *, limits, head_timeout, keep_alive_timeout, runner, on_listener,
                 on_stop, service_actions, log, max_connections=None):
        self._read = HeadReader(limits)
        self._runner = runner
        self._log = log
        self._on_listener = on_listener
        self._on_stop = on_stop
        self._service_actions = service_actions
        self._max_connections = max_connections
        self._accepting = True  # the listening sockets are watched
        self._poller = Poller()
        # Called before a connection closes, when the poller needs it (an
        # epoll forgets a closed socket by itself).
        self._unregister = self._poller.forget if self._poller.FORGETS else None
        self._conns = {}  # fd -> Connection: those on the loop and those away
        self._listeners = {}  # fd -> listening socket
        self._events = collections.deque()  # polled, not yet processed
        self._ready = collections.deque()  # connections to read without an event
        self._handbacks = collections.deque()  # (conn, fate) from other threads
        self._waiting = ()  # requests that wait for a free worker (threaded mode: see handoff)
        self._away = 0  # connections whose request runs off the loop
        self._held = set()  # sockets an app has taken over, until its request ends
        self._sleeping = False
        self._spin = False  # bytes were read since the loop last slept
        self._stopping = False
        self._give_up = None  # when stopping: the end of the grace period
        self._finished = threading.Event()
        self._head = Deadlines(head_timeout)
        self._idle = Deadlines(keep_alive_timeout)
        self._linger = Deadlines(LINGER_SECONDS)
        self._closing = Deadlines(STOP_IDLE_SECONDS)
        # The queues' dicts, whose fronts the loop reads before it sleeps.
        self._dues = (self._head.due, self._idle.due, self._linger.due, self._closing.due)
        self._earliest = None  # the earliest deadline when the loop last polled

    # -- what other parts call ----------------------------------------------------

    def listen(self, sock):
        self._listeners[sock.fileno()] = sock
        self._poller.watch(sock.fileno())

    def add(self, conn):
        """A new connection (loop thread): wait keep_alive_timeout for its first bytes."""
        self._conns[conn.fd] = conn
        self._poller.add(conn.fd)
        (self._closing if self._stopping else self._idle).start(conn)
        if self._max_connections is not None and len(self._conns) >= self._max_connections:
            self._watch_listeners(False)

    def full(self):
        """Whether the loop holds as many connections as it may."""
        return not self._accepting

    def _watch_listeners(self, on):
        if on == self._accepting or (on and self._stopping):
            return
        self._accepting = on
        for fd in self._listeners:
            if on:
                self._poller.watch(fd)
            else:
                self._poller.remove(fd)

    def _forgot(self):
        """A connection left while not accepting: accept again if the limit
        stopped it (and not a stop)."""
        if self._max_connections is not None and len(self._conns) < self._max_connections:
            self._watch_listeners(True)

    def adopt(self, conn):
        """A new connection from another thread (after its TLS handshake)."""
        self._handbacks.append((conn, _ADOPT))
        if self._sleeping:
            self._poller.wake()

    def give_back(self, conn, fate):
        """Another thread is done with ``conn``; ``fate`` says what comes next.

        The loop is woken only when it has something to do at once. A
        connection kept alive waits for its client's next bytes, whose event
        wakes the loop, which takes the hand-back in the same turn; but if
        that event came while this thread held it (``maybe_more``), the loop
        may be asleep already; and a request waiting for a worker can start
        now. A connection to close is closed here.
        """
        if fate is CLOSE:
            conn.close()
        self._handbacks.append((conn, fate))
        # The loop sets _sleeping before it looks at _handbacks: either it
        # sees this one, or we see it asleep.
        if self._sleeping and (fate is LINGER or conn.maybe_more or self._stopping
                               or self._waiting):
            self._poller.wake()

    def taken_over(self, sock):
        """An app took a connection's socket over (in the thread running it):
        stop watching the fd, which the app may close and the kernel reuse."""
        self._held.add(sock)
        self._poller.remove(sock.fileno())

    def stop(self):
        """Stop accepting and end once the requests in flight are done (any
        thread, or a signal handler). Taken-over connections (WebSockets)
        and event streams never end by themselves: they are shut down, so
        their apps see the client go and return, and the loop does not wait
        for them. One the app keeps past its call (``outlives_request``:
        live reload's streams) is the app's to end."""
        self._stopping = True
        self._poller.wake()
        socks = [sock for sock in list(self._held) if not sock.outlives_request]
        # An event stream never ends by itself: its client is cut off now
        # (an EventSource reconnects), and its app's next write fails.
        socks += [conn.sock for conn in list(self._conns.values()) if conn.stream is not None]
        for sock in socks:
            try:
                socket.socket.shutdown(sock, socket.SHUT_RDWR)
            except OSError:
                pass  # the app has closed it already

    def in_flight(self):
        """The request lines of the requests running now, event streams and
        taken-over connections aside (a stop does not wait for those)."""
        held = self._held
        return [conn.handler.requestline for conn in list(self._conns.values())
                if conn.stream is None and conn.sock not in held
                and conn.handler.command is not None]

    def streams(self):
        """How many event streams are open (their apps' threads are not waited for)."""
        return sum(conn.stream is not None for conn in list(self._conns.values()))

    def streaming_in(self, ident):
        """Whether the thread ``ident`` is serving an event stream."""
        return any(conn.stream == ident for conn in list(self._conns.values()))

    # -- the turns --------------------------------------------------------------------

    def run(self, poll_interval=0.5, grace_period=10.0, until_empty=False):
        """Serve until ``stop()`` (and the requests in flight end, at most
        ``grace_period`` seconds later) or, with ``until_empty``, until no
        connection is left."""
        self._poll_interval = poll_interval
        self._grace_period = grace_period
        self._until_empty = until_empty
        self._run_turns()

    def _run_turns(self):
        self._turns()

    def _turns(self, home=True):
        """Run turns until the loop ends (True) or leaves this thread (False)."""
        conns, listeners, events = self._conns, self._listeners, self._events
        hangup = self._poller.HANGUP
        try:
            while True:
                if not home and self._leave():
                    return False
                if not events:
                    if (self._stopping or self._until_empty) and self._ended():
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
                            self._poller.drain_wake()
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
                if self._waiting:
                    self._start_waiting()
                self._after_turn()
        except MovedOff:
            return False
        except BaseException:
            self._end()
            raise

    def _ended(self):
        if self._stopping:
            if self._give_up is None:
                self._give_up = time.monotonic() + self._grace_period
                self._wind_down()
            # Done when only taken-over connections and event streams are
            # left (stop() shut them down).
            if (len(self._conns) <= len(self._held) + self.streams()
                    or time.monotonic() > self._give_up):
                self._end()
                return True
        if self._until_empty and not self._conns:
            self._end()
            return True
        return False

    def _end(self):
        self._finished.set()

    def _leave(self):
        """Whether to leave this thread, which is not the loop's home."""
        return False


    def _start_waiting(self):
        """Start requests that waited for a free worker."""

    def _has_work(self):
        """Whether the loop has work without polling for events."""
        return bool(self._ready)

    def _poll(self):
        now = monotonic()
        earliest = None
        for due in self._dues:
            if due:
                for first in due.values():  # the queue's earliest (see deadlines)
                    if earliest is None or first < earliest:
                        earliest = first
                    break
        self._earliest = earliest
        timeout = 0 if self._has_work() else self._poll_interval
        if earliest is not None and earliest - now < timeout:
            timeout = earliest - now
        log = self._log
        if log.pending:  # the batch is due then
            due = log.last_write + log.batch_seconds - now
            if due < timeout:
                timeout = due
        if self._spin and timeout > 0 and not self._away and SPIN_SECONDS > 0:
            self._spin = False
            self._events.extend(self._poller.poll_busily(min(timeout, SPIN_SECONDS),
                                                         self._handbacks))
            if self._events or self._handbacks:
                return
        self._sleeping = True
        if self._handbacks or timeout < 0:
            timeout = 0
        self._events.extend(self._poller.poll(timeout))
        self._sleeping = False

    def _after_turn(self):
        now = monotonic()
        if self._earliest is not None and now >= self._earliest:
            self._expire(now)
        log = self._log
        if log.pending and (now - log.last_write >= log.batch_seconds
                            or len(log.pending) >= log.batch_lines):
            log.flush(now)  # the batch is due, or long
        if self._service_actions is not None:
            self._service_actions()

    def close(self):
        """Close every connection the loop holds, and the loop (after run);
        not one an app keeps past its call (``outlives_request``)."""
        for conn in list(self._conns.values()):
            if not conn.away and not conn.sock.outlives_request:
                self._close(conn)
        self._poller.close()

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
        self._spin = True
        if hangup:
            conn.maybe_more = True  # the EOF behind these bytes
        read = self._read  # (read, then called: a method lookup of it is slower)
        head = read(conn.buffer)
        if head is None:
            if conn.deadlines is not self._head:
                self._head.start(conn)  # the head timeout runs from its first byte
            if conn.maybe_more:
                self._ready.append(conn)
            return
        # Its deadline stays until the request is settled, which starts the
        # next: expiry passes over a connection whose request runs (away).
        self._run(conn, head)

    def _run(self, conn, head):
        """Run the request here, and those buffered behind it (pipelining)."""
        runner = self._runner
        fate = runner().run(conn, head)
        if fate is KEEP_ALIVE and conn.buffer:
            fate = self._serve_buffered(conn)
        self._settle(conn, fate)

    def _serve_buffered(self, conn):
        """Run the requests complete in ``conn``'s buffer, one after another
        (pipelining), while it goes on; its next state."""
        fate = KEEP_ALIVE
        read, runner = self._read, self._runner
        while fate is KEEP_ALIVE and conn.buffer:
            head = read(conn.buffer)
            if head is None:
                break  # part of the next head: the loop waits for the rest
            fate = runner().run(conn, head)
        return fate

    def _settle(self, conn, fate):
        """Act on a connection's next state after a request."""
        if fate is KEEP_ALIVE:
            # On stop, a response that said keep-alive (sent before the
            # listeners closed) gives its client a last request.
            if conn.buffer:
                self._head.start(conn)
            elif self._stopping:
                self._closing.start(conn)
            elif conn.deadlines is self._idle:  # idle before this request
                conn.since = monotonic()  # its keep-alive deadline restarts (see deadlines)
            else:
                self._idle.start(conn)
            if conn.maybe_more:
                self._ready.append(conn)
        elif fate is RELEASED:
            self._release(conn)
        elif fate is LINGER and conn.start_linger():
            self._linger.start(conn)
            self._ready.append(conn)  # what the client sent after the refusal
        else:
            self._close(conn)

    def _release(self, conn):
        """The app took the connection over: forget it, touching nothing."""
        cancel(conn)
        self._held.discard(conn.sock)
        if self._conns.get(conn.fd) is conn:
            del self._conns[conn.fd]
            if not self._accepting:
                self._forgot()

    def _close(self, conn):
        cancel(conn)
        if self._conns.get(conn.fd) is conn:
            del self._conns[conn.fd]
            unregister = self._unregister
            if unregister is not None:
                unregister(conn.fd)
            if not self._accepting:
                self._forgot()
        conn.close()

    def _expire(self, now):
        for conn in self._head.expired(now):
            if not conn.away:
                conn.handler.head_timed_out()
                self._close(conn)
        for queue in (self._idle, self._linger, self._closing):
            for conn in queue.expired(now):
                if not conn.away:
                    self._close(conn)

    def _wind_down(self):
        """On stop: accept no more connections, serve the requests already
        under way, and give idle ones STOP_IDLE_SECONDS for a last request.
        The listening sockets close, so new clients are refused rather than
        queued and then reset; those already queued are accepted first, as
        closing would reset them. Only then do responses say Connection:
        close, so that a client told to reconnect is refused."""
        if self._accepting:
            for sock in list(self._listeners.values()):
                self._on_listener(sock)
        self._watch_listeners(False)
        for sock in self._listeners.values():
            sock.close()  # a gunicorn worker's is a duplicate: the arbiter's stays open
        self._listeners.clear()
        for conn in list(self._idle.due):
            self._closing.start(conn)
        self._on_stop()

    # -- hand-backs ------------------------------------------------------------------------

    def _take_handbacks(self):
        handbacks = self._handbacks
        while handbacks:
            conn, fate = handbacks.popleft()
            if fate is _ADOPT:
                self.add(conn)
                self._ready.append(conn)  # the handshake may have read the request too
                continue
            conn.away = False
            self._away -= 1
            if fate is RELEASED:
                self._release(conn)
                continue
            if self._conns.get(conn.fd) is not conn:
                continue
            if fate is CLOSE:  # closed by the thread that gave it back
                del self._conns[conn.fd]
                if not self._accepting:
                    self._forgot()
                continue
            self._poller.resume(conn.fd)
            self._settle(conn, fate)
        if self._waiting:  # before the connections these made ready: first come, first served
            self._start_waiting()
