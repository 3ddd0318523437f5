"""The loop's timers: a queue of connections per duration, in deadline order.

Every connection in one queue waits out the same duration (the head timeout,
the keep-alive timeout or the lingering close), set as "now + duration", so
insertion order is deadline order: what expired is at the front, and setting
or cancelling a deadline is one dict operation. A connection is in at most
one queue (``conn.deadlines``).

A connection already in a queue restarts its deadline by setting
``conn.since`` (time.monotonic()), without moving in the queue: a keep-alive
connection does that after each request, in place of a dict operation and a
call. Its place then tells an earlier deadline than its own, so ``expired``
moves such a connection to the back with its own deadline instead of
taking it out.
"""

import time

__all__ = ["Deadlines", "cancel"]


class Deadlines:
    def __init__(self, seconds):
        self.seconds = seconds
        self.due = {}  # Connection -> the deadline it was queued with (time.monotonic)

    def start(self, conn):
        queue = conn.deadlines
        if queue is not None:
            del queue.due[conn]
        conn.since = now = time.monotonic()
        self.due[conn] = now + self.seconds
        conn.deadlines = self

    def expired(self, now):
        """Take out and return the connections whose deadline has passed."""
        gone = []
        later = []
        seconds = self.seconds
        for conn, deadline in self.due.items():
            if deadline > now:
                break
            (later if conn.since + seconds > now else gone).append(conn)
        due = self.due
        for conn in later:  # restarted since it was queued: to the back
            del due[conn]
            due[conn] = conn.since + seconds
        for conn in gone:
            cancel(conn)
        return gone


def cancel(conn):
    if conn.deadlines is not None:
        del conn.deadlines.due[conn]
        conn.deadlines = None
