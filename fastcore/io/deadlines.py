"""The loop's timers: a queue of connections per duration, in deadline order.

Every connection in one queue waits out the same duration (the head timeout,
the keep-alive timeout or the lingering close), set as "now + duration", so
insertion order is deadline order: what expired is at the front, and setting
or cancelling a deadline is one dict operation. A connection is in at most
one queue (``conn.deadlines``).
"""

import time

__all__ = ["Deadlines", "cancel"]


class Deadlines:
    def __init__(self, seconds):
        self.seconds = seconds
        self.due = {}  # Connection -> deadline (time.monotonic)

    def start(self, conn):
        queue = conn.deadlines
        if queue is not None:
            del queue.due[conn]
        self.due[conn] = time.monotonic() + self.seconds
        conn.deadlines = self

    def expired(self, now):
        """Take out and return the connections whose deadline has passed."""
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
