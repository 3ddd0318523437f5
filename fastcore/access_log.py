"""The access log and the clock behind the Date header.

Log lines go through the "werkzeug" logger, so code that configures or
silences it keeps working. When nobody configured it (the usual case: only
Werkzeug's own stream handler is attached), an access line is written to that
handler's stream as-is, in batches, instead of one write and one LogRecord per
request: a burst of requests costs one write. Whether that is the case is
looked up once a second (``access_log.direct``), not for every line.
"""

import logging
import threading
import time
from email.utils import formatdate

from werkzeug._internal import _ColorStreamHandler, _log
from werkzeug.serving import WSGIRequestHandler, _ansi_style
from werkzeug.urls import uri_to_iri

__all__ = ["clock", "access_log", "emit", "request_text"]

_CONTROL_CHARS = WSGIRequestHandler._control_char_table


class _Clock:
    """Date header and log timestamps, formatted once per second."""

    def __init__(self):
        # The second the strings are for, and the next (time.time()).
        self.second = -1
        self.next_second = 0
        self.date_line = ""
        self.log_time = ""

    def tick(self):
        """Now (time.time()), with the formatted strings brought up to date."""
        now = time.time()
        second = int(now)
        if second != self.second:
            self.second = second
            self.next_second = second + 1
            self.date_line = f"Date: {formatdate(second, usegmt=True)}\r\n"
            self.log_time = time.strftime("%d/%b/%Y %H:%M:%S", time.localtime(second))
            # The app may have changed the logging configuration.
            access_log.direct = _direct_handler()
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
    (see ``pending``); the lock is taken once per batch.
    """

    BATCH_SECONDS = 0.05
    BATCH_LINES = 256

    def __init__(self):
        # Appended to by any thread (a list append is atomic); the writer takes
        # what is there with one slice and one del, each atomic too.
        self.pending = []
        self.handler = None  # where pending lines go
        # Werkzeug's handler when its lines may be written to it directly (see
        # _direct_handler), as of this second (the clock's tick); else None.
        self.direct = None
        self.last_write = 0.0
        self.lock = threading.Lock()

    def add(self, handler, text):
        """A line for ``handler``, a stream handler nothing else writes to."""
        self.handler = handler
        pending = self.pending
        pending.append(text)
        count = len(pending)
        # The first line since the last write may be written at once.
        if count == 1 and time.monotonic() - self.last_write >= self.BATCH_SECONDS:
            self.flush()
        elif count >= self.BATCH_LINES:
            self.flush()

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
            count = len(pending)
            lines = pending[:count]
            del pending[:count]
            self.last_write = time.monotonic() if now is None else now
            handler = self.handler
            handler.acquire()
            try:
                handler.stream.write("\n".join(lines) + "\n")
                handler.flush()
            finally:
                handler.release()


access_log = _AccessLog()


def request_text(method, target, version, code):
    """The request as Werkzeug's access line shows it: its target decoded,
    control characters escaped, coloured by the status ``code``."""
    if "%" in target or "\\" in target:
        text = f"{method} {uri_to_iri(target)} {version}".translate(_CONTROL_CHARS)
    else:  # an ASCII target (the parser's rule) with nothing to decode or escape
        text = f"{method} {target} {version}"
    if code == 200:
        return text
    code = str(code)
    if code.startswith("1"):
        return _ansi_style(text, "bold")
    if code == "200":
        return text
    if code == "304":
        return _ansi_style(text, "cyan")
    if code.startswith("3"):
        return _ansi_style(text, "green")
    if code == "404":
        return _ansi_style(text, "yellow")
    if code.startswith("4"):
        return _ansi_style(text, "bold", "red")
    return _ansi_style(text, "bold", "magenta")


def emit(type, line, args):
    """Log one line through the "werkzeug" logger (see the module docstring)."""
    handler = _direct_handler() if type == "info" else None
    if handler is None:
        access_log.flush()
        _log(type, line, *args)
        return
    access_log.add(handler, (line % args if args else line).rstrip())
