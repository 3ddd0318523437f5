"""The access log and the clock behind the Date header.

Log lines go through the "werkzeug" logger, set up as Werkzeug sets it up
(``log``), so code that configures or silences it keeps working. When nobody
configured it (the usual case: only the plain stream handler ``log`` or
Werkzeug attached), an access line is written to that handler's stream as-is,
in batches, instead of one write and one LogRecord per request: a burst of
requests costs one write. Whether that is the case is looked up once a second
(``access_log.direct``), not for every line. The styles and escapes of the
line are Werkzeug's, in fastcore's own code (Werkzeug keeps its private).
"""

import importlib.util
import logging
import os
import sys
import threading
import time
from email.utils import formatdate

from werkzeug.urls import uri_to_iri

__all__ = ["clock", "access_log", "emit", "log", "style", "request_text"]

# A logged request line shows a control character (C0, DEL and C1) as \xNN
# and a backslash doubled, so a request cannot write to the terminal.
_CONTROL_CHARS = str.maketrans({
    **{code: f"\\x{code:02x}" for code in (*range(0x20), *range(0x7F, 0xA0))},
    ord("\\"): "\\\\"})

# ANSI SGR codes. A Windows console prints them as text unless colorama
# translates them: there, lines are styled only when it is installed.
_SGR_CODES = {"bold": 1, "red": 31, "green": 32, "yellow": 33, "magenta": 35, "cyan": 36}
_COLORAMA = os.name == "nt" and importlib.util.find_spec("colorama") is not None
_STYLED = os.name != "nt" or _COLORAMA


def style(text, *styles):
    """``text`` in the terminal styles named (keys of _SGR_CODES)."""
    if not _STYLED:
        return text
    return "".join(f"\x1b[{_SGR_CODES[name]}m" for name in styles) + f"{text}\x1b[0m"


class _Clock:
    """Date header and log timestamps, formatted once per second."""

    def __init__(self):
        # The second the strings are for, and the next (time.time()), as
        # floats: a request compares the time with them, and comparing a
        # float with an int costs several times more.
        self.second = -1.0
        self.next_second = 0.0
        self.date_line = ""
        self.log_time = ""

    def tick(self):
        """Now (time.time()), with the formatted strings brought up to date."""
        now = time.time()
        second = int(now)
        if second != self.second:
            self.second = float(second)
            self.next_second = second + 1.0
            self.date_line = f"Date: {formatdate(second, usegmt=True)}\r\n"
            self.log_time = time.strftime("%d/%b/%Y %H:%M:%S", time.localtime(second))
            # The app may have changed the logging configuration.
            access_log.direct = _direct_handler()
        return now


clock = _Clock()
_logger = logging.getLogger("werkzeug")


def log(type, message, *args):
    """Log through the "werkzeug" logger at level ``type`` ("info",
    "warning", ...), set up as Werkzeug sets it up for its own messages: at
    INFO unless a level was set, and with a stream handler on stderr unless
    some handler on the way up would take the record."""
    logger = _logger
    if logger.level == logging.NOTSET:
        logger.setLevel(logging.INFO)
    if not _handled(logger):
        stream = None
        if _COLORAMA:
            import colorama

            stream = colorama.AnsiToWin32(sys.stderr)
        logger.addHandler(logging.StreamHandler(stream))
    getattr(logger, type)(message.rstrip(), *args)


def _handled(logger):
    """Whether a handler of ``logger`` or of a logger it propagates to takes
    records at its effective level."""
    level = logger.getEffectiveLevel()
    while logger is not None:
        if any(handler.level <= level for handler in logger.handlers):
            return True
        if not logger.propagate:
            return False
        logger = logger.parent
    return False


def _direct_handler():
    """The stream handler an INFO record of the "werkzeug" logger would go
    to, and only it, when the record would be written there unchanged (a
    StreamHandler with nothing overridden, no formatter and no filter: the
    one ``log`` or Werkzeug adds); else None (then every line takes the full
    logging path)."""
    logger = _logger
    if logger.disabled or logger.filters or not logger.isEnabledFor(logging.INFO):
        return None
    handlers = logger.handlers
    if len(handlers) != 1:
        return None
    handler = handlers[0]
    kind = type(handler)
    if (not isinstance(handler, logging.StreamHandler) or kind.emit is not _EMIT
            or kind.handle is not _HANDLE or kind.format is not _FORMAT or kind.flush is not _FLUSH
            or handler.filters or handler.formatter or handler.level > logging.INFO
            or handler.terminator != "\n"):
        return None
    if logger.propagate and logger.parent is not None and logger.parent.handlers:
        return None
    return handler


_EMIT, _HANDLE = logging.StreamHandler.emit, logging.Handler.handle
_FORMAT, _FLUSH = logging.Handler.format, logging.StreamHandler.flush


# A pending line waits at most this long, and at most this many wait.
BATCH_SECONDS = 0.05
BATCH_LINES = 256


class _AccessLog:
    """Access lines for a plain stream handler (see _direct_handler), written in batches.

    A line is written at once when none was written in the last
    ``BATCH_SECONDS``; under load lines wait, and the server loop writes them
    ``BATCH_SECONDS`` after the last write, or once ``BATCH_LINES`` wait.
    Anything else logged first flushes what is pending, so lines never come
    out of order. Threads append without a lock (see ``pending``); the lock
    is taken once per batch.
    """

    def __init__(self):
        self.batch_seconds = BATCH_SECONDS  # (for the loop, which writes the batches)
        self.batch_lines = BATCH_LINES
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
        pending = self.pending
        pending.append(text)
        if len(pending) == 1:
            self.first_added(handler)

    def first_added(self, handler):
        """The first line since the last write is pending (for ``handler``):
        written at once, unless the last write was less than BATCH_SECONDS
        ago; then the loop writes it, with those that come meanwhile."""
        self.handler = handler
        if time.monotonic() - self.last_write >= BATCH_SECONDS:
            self.flush()

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
        return style(text, "bold")
    if code == "200":
        return text
    if code == "304":
        return style(text, "cyan")
    if code.startswith("3"):
        return style(text, "green")
    if code == "404":
        return style(text, "yellow")
    if code.startswith("4"):
        return style(text, "bold", "red")
    return style(text, "bold", "magenta")


def emit(type, line, args):
    """Log one line through the "werkzeug" logger (see the module docstring)."""
    handler = _direct_handler() if type == "info" else None
    if handler is None:
        access_log.flush()
        log(type, line, *args)
        return
    access_log.add(handler, (line % args if args else line).rstrip())
