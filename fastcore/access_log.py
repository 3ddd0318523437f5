"""The access log and the clock behind the Date header.

Log lines go through the "werkzeug" logger, so code that configures or
silences it keeps working. When nobody configured it (the usual case: only
Werkzeug's own stream handler is attached), an access line is written to that
handler's stream as-is, in batches, instead of one write and one LogRecord per
request: a burst of requests costs one write.
"""

import collections
import logging
import threading
import time
from email.utils import formatdate

from werkzeug._internal import _ColorStreamHandler, _log

__all__ = ["clock", "access_log", "emit"]


class _Clock:
    """Date header and log timestamps, formatted once per second."""

    def __init__(self):
        self._second = None
        self.date_line = ""
        self.log_time = ""

    def tick(self):
        """Now (time.time()), with the formatted strings brought up to date."""
        now = time.time()
        second = int(now)
        if second != self._second:
            self._second = second
            self.date_line = f"Date: {formatdate(second, usegmt=True)}\r\n"
            self.log_time = time.strftime("%d/%b/%Y %H:%M:%S", time.localtime(second))
        return now


clock = _Clock()
_logger = logging.getLogger("werkzeug")


def _direct_handler():
    """Werkzeug's own stream handler when it is the only place an INFO record
    of the "werkzeug" logger would go, else None (then every line takes the
    full logging path)."""
    logger = _logger
    if logger.disabled or logger.filters or not logger.isEnabledFor(logging.INFO):
        return None
    handlers = logger.handlers
    if len(handlers) != 1:
        return None
    handler = handlers[0]
    if (type(handler) is not _ColorStreamHandler or handler.filters or handler.formatter
            or handler.level > logging.INFO):
        return None
    if logger.propagate and logger.parent is not None and logger.parent.handlers:
        return None
    return handler


class _AccessLog:
    """Access lines for Werkzeug's own handler, written in batches.

    A line is written at once when none was written in the last
    ``BATCH_SECONDS``; under load lines wait, and the server loop writes them
    (``due()`` tells it when). Anything else logged first flushes what is
    pending, so lines never come out of order. Threads append without a lock
    (a deque append is atomic); the lock is taken once per batch.
    """

    BATCH_SECONDS = 0.05
    BATCH_LINES = 256

    def __init__(self):
        self.pending = collections.deque()
        self.handler = None
        self.last_write = 0.0
        self.lock = threading.Lock()

    def add(self, handler, text):
        self.handler = handler
        self.pending.append(text)
        now = time.monotonic()
        if now - self.last_write >= self.BATCH_SECONDS or len(self.pending) >= self.BATCH_LINES:
            self.flush(now)

    def due(self, now):
        """Seconds until pending lines should be written (0: now), or None;
        ``now`` is time.monotonic()."""
        if not self.pending:
            return None
        return max(0.0, self.last_write + self.BATCH_SECONDS - now)

    def flush(self, now=None):
        with self.lock:
            pending = self.pending
            if not pending:
                return
            lines = [pending.popleft() for _ in range(len(pending))]
            self.last_write = time.monotonic() if now is None else now
            handler = self.handler
            handler.acquire()
            try:
                handler.stream.write("\n".join(lines) + "\n")
                handler.flush()
            finally:
                handler.release()


access_log = _AccessLog()


def emit(type, line, args):
    """Log one line through the "werkzeug" logger (see the module docstring)."""
    handler = _direct_handler() if type == "info" else None
    if handler is None:
        access_log.flush()
        _log(type, line, *args)
        return
    access_log.add(handler, (line % args if args else line).rstrip())
