"""Threaded mode's loop: it moves off a thread that is stuck in an app.

Strategy: the loop runs each complete request on its own thread, as in
single mode, so a request costs no hand-off between threads: no wake-up, no
context switch, no GIL passed back and forth, which is most of what a
thread-per-request design spends on a small request. An app that runs longer than ``after``
seconds (it sleeps, waits on I/O or a slow client, or computes) would hold up
every other connection, so a monitor thread watches the request the loop is
running, each pipelined request timed on its own. Once one has run that
long and another connection needs the loop (or it has run ``AT_MOST``
seconds), the monitor takes the loop from that thread, which finishes its
connection's buffered requests as a worker and gives the connection back,
and starts the loop on another thread from the pool. When the stuck request
is done, the loop goes back to the thread that called ``run`` at its next
turn, and the other thread retires from the pool. Tokio's
``block_in_place`` and Go's scheduler move their event loops off blocked
threads the same way.

An app whose every request waits (on a database, a service, a sleep) would
get one request started per monitor period that way, about 200 a second. So
once the monitor has moved the loop off, the next requests start on workers
straight away, as in a thread-per-request server; each that ends within
``after`` counts down ``HAND_OFF_NEXT``, each that runs longer sets it back,
and at zero requests run on the loop again. While no request waits for a
worker, the worker that ran a keep-alive connection's request waits for its
next one itself, up to ``HOLD_SECONDS``: a request then costs no wake-up of
the loop, no hand-off and no hand-back, which under load is most of its cost.

Past ``max_workers`` requests running at once, complete requests wait, their
connections accepted and parked. The monitor thread ends once no request has
started for ``QUIET`` seconds, and the next request starts a new one, so an
idle server has no thread but its own and never wakes.
"""

import collections
import threading
import time

from fastcore.cycle import CLOSE, KEEP_ALIVE, RELEASED
from fastcore.io.loop import Loop, MovedOff

__all__ = ["ThreadedLoop"]


class _Monitor:
    QUIET = 1.0
    # A request over the limit keeps the loop while no other connection needs
    # it, up to this many seconds (then timers are due too).
    AT_MOST = 0.05

    def __init__(self, loop, after):
        self._loop = loop
        self._after = after
        self.alive = False  # a monitor thread is watching (or about to)
        self._lock = threading.Lock()  # taken only to start or end that thread

    def poke(self):
        """A request started on the loop and no thread watches (``alive``
        is False): start one."""
        with self._lock:
            if not self.alive:
                self.alive = True
                threading.Thread(target=self._watch, daemon=True, name="fastcore-monitor").start()

    def _watch(self):
        loop, after = self._loop, self._after
        seen = loop.started
        quiet_since = time.monotonic()
        last, ran = None, 0.0
        while True:
            time.sleep(after)
            now = time.monotonic()
            running = loop.running  # the claim of the request on the loop, or None
            if running is not None and running is last:
                # The same request at two looks: it has run at least `after`.
                ran += after
                if ran >= self.AT_MOST or loop.has_work_waiting():
                    loop.hand_off = loop.HAND_OFF_NEXT
                    loop.move_off(running)
            else:
                last, ran = running, 0.0
            if loop.started != seen:
                seen = loop.started
                quiet_since = now
            elif now - quiet_since >= self.QUIET and loop.running is None:
                with self._lock:
                    # The loop bumps `started` before it looks at `alive`.
                    if loop.started == seen:
                        self.alive = False
                        return


class ThreadedLoop(Loop):
    """The loop of threaded mode (see the module docstring).

    :param pool: the WorkerPool whose threads the loop moves to.
    :param after: seconds a request may run on the loop's thread.
    :param max_workers: the most requests running at once.
    """

    # Requests started on workers after a slow one, and how long such a
    # worker waits for its connection's next request (see the module docstring).
    HAND_OFF_NEXT = 64
    HOLD_SECONDS = 0.1

    def __init__(self, *, pool, after, max_workers, **options):
        super().__init__(**options)
        self._pool = pool
        self._after = after
        self.hand_off = 0  # start requests on workers while above 0
        self._monitor = _Monitor(self, after)
        self._max_running = max_workers
        self._waiting = collections.deque()  # (conn, head) waiting for a free worker
        self.running = None  # the claim ([conn]) of the request running on the loop
        self.started = 0  # requests started on the loop
        self._home_waiting = False  # run()'s thread waits to take the loop back
        self._come_home = threading.Event()

    def _run_turns(self):
        try:
            while not self._turns():
                # The loop left while a request ran here; it comes back at its
                # next turn once that request is done.
                self._home_waiting = True
                self._come_home.wait()
                self._come_home.clear()
                if self._finished.is_set():
                    return
        except BaseException:  # Ctrl+C with no signal handler installed
            self.stop()
            self._finished.wait(self._grace_period)
            raise

    def _take_over(self):
        """In a pool thread: run the loop from where its last thread left it."""
        self._turns(home=False)

    def _leave(self):
        if self._home_waiting:
            self._home_waiting = False
            self._come_home.set()
            return True
        return False

    def _end(self):
        super()._end()
        self._come_home.set()

    def has_work_waiting(self):
        """Whether other connections need the loop (the monitor's thread)."""
        return bool(self._events or self._ready or self._handbacks) or self._poller.has_events()

    def move_off(self, claim):
        """The monitor's thread: move the loop off the thread that has run the
        request in ``claim`` for too long, unless it has just finished. No
        thread runs the loop until the next one starts."""
        try:
            conn = claim.pop()
        except IndexError:
            return
        self.running = None
        conn.away = True
        self._away += 1
        self._poller.pause(conn.fd)
        self._pool.submit(self._take_over, force=True)

    def taken_over(self, sock):
        """The app will hold its thread for the connection's life: the loop
        moves off that thread at once, and the connection no longer counts
        against ``max_workers``."""
        super().taken_over(sock)
        claim = self.running
        try:
            if claim and claim[0].sock is sock:
                self.move_off(claim)
        except IndexError:
            pass  # the monitor moved the loop off meanwhile

    def _run(self, conn, head):
        # Slots are freed only as hand-backs are taken, and those waiting get
        # them first (_take_handbacks): a request that finds one free is not
        # overtaking another.
        if self._away and self._away - len(self._held) >= self._max_running:
            conn.away = True  # not read until its turn comes
            self._poller.pause(conn.fd)
            self._waiting.append((conn, head))
            return
        if self.hand_off > 0:
            conn.away = True
            self._away += 1
            self._poller.pause(conn.fd)
            # Forced: the count of requests running is bounded above, and
            # the pool's threads include those holding taken-over sockets.
            self._pool.submit(self._serve_away, conn, head, force=True)
            return
        monitor = self._monitor
        while True:
            claim = [conn]
            self.running = claim
            self.started += 1
            if not monitor.alive:
                monitor.poke()
            runner = self._runner  # (read, then called: a method lookup of it is slower)
            fate = CLOSE
            try:
                fate = runner().run(conn, head)
            finally:
                # Also when a stop's StreamEnded came out of it: the monitor must
                # not move a loop that is ending.
                try:
                    claim.pop()
                except IndexError:  # the monitor moved the loop off meanwhile
                    self._moved_off(conn, fate)
                self.running = None
            if fate is not KEEP_ALIVE or not conn.buffer:
                break
            read = self._read
            head = read(conn.buffer)  # each pipelined request is timed on its own
            if head is None:
                break
        self._settle(conn, fate)

    def _serve_away(self, conn, head):
        """In a worker: run a request the loop handed off, and those buffered
        behind it, and the next ones while they come soon; then give the
        connection back."""
        held = False
        while True:
            started = time.monotonic()
            fate = self._runner().run(conn, head)
            if fate is KEEP_ALIVE and conn.buffer:
                fate = self._serve_buffered(conn)
            if fate is RELEASED:  # a socket taken over ran long, but is no slow request
                break
            if time.monotonic() - started >= self._after:
                self.hand_off = self.HAND_OFF_NEXT
            elif self.hand_off > 0:
                self.hand_off -= 1  # threads may race here: the count need not be exact
            if fate is not KEEP_ALIVE or self.hand_off <= 0 or self._waiting or self._stopping:
                break
            if not held:
                held = True
                self._poller.mute(conn.fd)
            head, fate = self._next_head(conn)
            if head is None:
                break
        if held and fate is not RELEASED:  # a released socket may be closed, its fd reused
            self._poller.unmute(conn.fd)
            conn.maybe_more = True  # bytes may have come since the last look
        self.give_back(conn, fate)

    def _next_head(self, conn):
        """In a worker holding ``conn``: (the head of its next request, None)
        if one comes within HOLD_SECONDS, else (None, its fate)."""
        if not conn.wait_readable(self.HOLD_SECONDS):
            return None, KEEP_ALIVE
        got = conn.receive()
        if got == 0:
            return None, CLOSE
        # A head (or a refusal) runs here; None: the rest is the loop's to read.
        return self._read(conn.buffer), KEEP_ALIVE

    def _moved_off(self, conn, fate):
        """On a thread the loop has left: finish this connection's buffered
        requests, hand it to the loop, and touch nothing else of the loop's."""
        if fate is KEEP_ALIVE and conn.buffer:
            fate = self._serve_buffered(conn)
        self.give_back(conn, fate)
        raise MovedOff

    def _start_waiting(self):
        while self._waiting and self._away - len(self._held) < self._max_running:
            conn, head = self._waiting.popleft()
            conn.away = False
            self._poller.resume(conn.fd)
            self._run(conn, head)

    def _has_work(self):
        return bool(self._ready) or bool(self._waiting
                                         and self._away - len(self._held) < self._max_running)
