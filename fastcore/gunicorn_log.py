"""gunicorn's access log lines, as its Logger writes them, at less cost per request.

gunicorn's ``Logger.access`` builds every atom for every request (one per
environ key and header, a strftime, a Basic-auth decode) and sends the line
through ``logging``, which writes and flushes it alone. Here only the atoms
``access_log_format`` names are computed, the timestamp once a second, and
when the access logger is gunicorn's own plain stream or file handler, lines
are written in batches like the dev server's (``access_log``). Anything else
(a ``logger_class`` of the user's, syslog, filters, extra handlers) gets
gunicorn's own ``access()``.
"""

import datetime
import logging
import os
import re
import time

from gunicorn.glogging import Logger, SafeAtoms

from fastcore.access_log import access_log

__all__ = ["AccessLog"]

_KEY = re.compile(r"%\(([^)]*)\)")


class AccessLog:
    """Writes gunicorn's access line for a request (see the module docstring)."""

    def __init__(self, logger):
        self._logger = logger
        fmt = logger.cfg.access_log_format
        # One getter per key, in the format's order, and the format with each
        # "%(key)" made positional: a tuple of values fills it.
        self._getters = [_getter(key) for key in _KEY.findall(fmt)]
        self._positional = _KEY.sub("%", fmt)
        self._pid = f"<{os.getpid()}>"
        self._second = None
        self._now = ""
        kind = type(logger)
        # gunicorn's own Logger (or a subclass that changes none of this):
        # its lines can be built here.
        self._own = (kind.access is Logger.access and kind.atoms is Logger.atoms
                     and kind.atoms_wrapper_class is SafeAtoms)

    def write(self, resp, req, environ, seconds):
        """``Logger.access(resp, req, environ, request_time)`` for a request
        that took ``seconds``: the same line."""
        logger = self._logger
        handler = _direct_handler(logger.access_log) if self._own else None
        if handler is None:
            logger.access(resp, req, environ, datetime.timedelta(seconds=seconds))
            return
        values = [get(self, resp, req, environ, seconds) for get in self._getters]
        # As gunicorn's SafeAtoms: quotes escaped in strings.
        access_log.add(handler, self._positional % tuple(
            [value.replace('"', '\\"') if type(value) is str else value for value in values]))

    def _timestamp(self):
        second = int(time.time())
        if second != self._second:
            self._second = second
            self._now = time.strftime("[%d/%b/%Y:%H:%M:%S %z]", time.localtime(second))
        return self._now


def _status(resp):
    status = resp.status
    return status.split(None, 1)[0] if isinstance(status, str) else status


def _sent(resp):
    sent = getattr(resp, "sent", None)
    return sent is not None and str(sent) or "-"


def _took(seconds):
    return datetime.timedelta(seconds=seconds)


def _last(pairs, name):
    """The value of the last (name, value) pair named ``name`` in any case, or "-"."""
    found = "-"
    for key, value in pairs:
        if key.lower() == name:
            found = value
    return found


# Each atom of gunicorn's access_log_format, as its Logger.atoms computes it:
# (AccessLog, resp, req, environ, seconds) -> value.
_ATOMS = {
    "h": lambda log, resp, req, environ, s: environ.get("REMOTE_ADDR", "-"),
    "l": lambda log, resp, req, environ, s: "-",
    "u": lambda log, resp, req, environ, s: log._logger._get_user(environ) or "-",
    "t": lambda log, resp, req, environ, s: log._timestamp(),
    "r": lambda log, resp, req, environ, s: (f"{environ['REQUEST_METHOD']} {environ['RAW_URI']} "
                                             f"{environ['SERVER_PROTOCOL']}"),
    "s": lambda log, resp, req, environ, s: _status(resp),
    "m": lambda log, resp, req, environ, s: environ.get("REQUEST_METHOD"),
    "U": lambda log, resp, req, environ, s: environ.get("PATH_INFO"),
    "q": lambda log, resp, req, environ, s: environ.get("QUERY_STRING"),
    "H": lambda log, resp, req, environ, s: environ.get("SERVER_PROTOCOL"),
    "b": lambda log, resp, req, environ, s: _sent(resp),
    "B": lambda log, resp, req, environ, s: getattr(resp, "sent", None),
    "f": lambda log, resp, req, environ, s: environ.get("HTTP_REFERER", "-"),
    "a": lambda log, resp, req, environ, s: environ.get("HTTP_USER_AGENT", "-"),
    "T": lambda log, resp, req, environ, s: _took(s).seconds,
    "D": lambda log, resp, req, environ, s: _took(s).seconds * 1000000 + _took(s).microseconds,
    "M": lambda log, resp, req, environ, s: (_took(s).seconds * 1000
                                             + int(_took(s).microseconds / 1000)),
    "L": lambda log, resp, req, environ, s: "%d.%06d" % (_took(s).seconds, _took(s).microseconds),
    "p": lambda log, resp, req, environ, s: log._pid,
}


def _getter(key):
    """The getter of one "%(key)" of the format ("-" for an unknown one)."""
    if key in _ATOMS:
        return _ATOMS[key]
    name, kind = key[1:-2].lower(), key[-2:]
    if key[:1] == "{" and kind == "}i":
        return lambda log, resp, req, environ, s: _last(req.headers, name)
    if key[:1] == "{" and kind == "}o":
        return lambda log, resp, req, environ, s: _last(resp.headers, name)
    if key[:1] == "{" and kind == "}e":
        return lambda log, resp, req, environ, s: _last(environ.items(), name)
    return lambda log, resp, req, environ, s: "-"


def _direct_handler(logger):
    """gunicorn's own handler when it is the only place an access line goes
    and writes it as-is, else None."""
    if logger.disabled or logger.filters or not logger.isEnabledFor(logging.INFO):
        return None
    if len(logger.handlers) != 1 or (logger.propagate and logger.parent.handlers):
        return None
    handler = logger.handlers[0]
    if type(handler) not in (logging.StreamHandler, logging.FileHandler) or handler.filters:
        return None
    formatter = handler.formatter
    if formatter is None or formatter._fmt != Logger.access_fmt or handler.level > logging.INFO:
        return None
    return handler
