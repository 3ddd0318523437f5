"""Moving the loop off a thread that is stuck in an app (threaded mode).

Strategy: in threaded mode the loop runs each complete request on its own
thread, as in single mode, so a request costs no hand-off between threads:
no wake-up, no context switch, no GIL passed back and forth, which cost a
thread-per-request design half its speed here. An app that runs longer than
``after`` seconds (it sleeps, waits on I/O or a slow client, or computes)
would hold up every other connection, so this monitor watches the request the
loop is running. Once it has run that long, the monitor takes the loop from
that thread, which finishes the request as a worker and gives the connection
back, and starts the loop on another thread from the pool. Tokio's
``block_in_place`` and Go's scheduler move their event loops off blocked
threads the same way.

The monitor thread ends once no request has started for ``QUIET`` seconds,
and the next request starts a new one, so an idle server has no thread but
its own and never wakes.
"""

import threading
import time

__all__ = ["Monitor"]


class Monitor:
    QUIET = 1.0

    def __init__(self, loop, after):
        self._loop = loop
        self._after = after
        self._alive = False  # a monitor thread is watching (or about to)
        self._lock = threading.Lock()  # taken only to start or end that thread

    def poke(self):
        """A request started on the loop: make sure a thread watches it."""
        if self._alive:
            return
        with self._lock:
            if not self._alive:
                self._alive = True
                threading.Thread(target=self._watch, daemon=True, name="fastcore-monitor").start()

    def _watch(self):
        loop, after = self._loop, self._after
        seen = loop.started
        quiet_since = time.monotonic()
        while True:
            time.sleep(after / 2)
            now = time.monotonic()
            running = loop.running  # (since, claim) of the request on the loop, or None
            if running is not None and now - running[0] >= after:
                loop.move_off(running[1])
            if loop.started != seen:
                seen = loop.started
                quiet_since = now
            elif now - quiet_since >= self.QUIET and loop.running is None:
                with self._lock:
                    # The loop bumps `started` before it looks at `_alive`.
                    if loop.started == seen:
                        self._alive = False
                        return
