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
        self._format = logger.cfg.access_log_format
        keys = list(dict.fromkeys(_KEY.findall(self._format)))
        # Each key as the format writes it, and as the atoms are named
        # (gunicorn matches {header}i, {header}o and {variable}e in any case).
        self._keys = [(key, key.lower() if key[:1] == "{" else key) for key in keys]
        self._headers_in = [k.lower() for k in keys if k[:1] == "{" and k.endswith("}i")]
        self._headers_out = [k.lower() for k in keys if k[:1] == "{" and k.endswith("}o")]
        self._environ_keys = [k.lower() for k in keys if k[:1] == "{" and k.endswith("}e")]
        self._simple = [(key, _ATOMS[key]) for key in keys if key in _ATOMS]
        self._pid = f"<{os.getpid()}>"
        self._second = None
        self._now = ""
        kind = type(logger)
        # gunicorn's own Logger (or a subclass that changes none of this):
        # its lines can be built here.
        self._own = (kind.access is Logger.access and kind.atoms is Logger.atoms
                     and kind.atoms_wrapper_class is SafeAtoms)

    def write(self, resp, req, environ, request_time):
        """``Logger.access(resp, req, environ, request_time)``, the same line."""
        logger = self._logger
        handler = _direct_handler(logger.access_log) if self._own else None
        if handler is None:
            logger.access(resp, req, environ, request_time)
            return
        # What gunicorn's SafeAtoms does, for the format's keys only: "-" for
        # a missing atom, quotes escaped in strings.
        atoms = self.atoms(resp, req, environ, request_time)
        values = {}
        for key, name in self._keys:
            value = atoms.get(name, "-")
            values[key] = value.replace('"', '\\"') if isinstance(value, str) else value
        access_log.add(handler, self._format % values)

    def atoms(self, resp, req, environ, request_time):
        """The atoms the format uses, as gunicorn's ``Logger.atoms`` computes them."""
        atoms = {key: compute(self, resp, environ, request_time)
                 for key, compute in self._simple}
        if self._headers_in:
            headers = {f"{{{name.lower()}}}i": value for name, value in req.headers}
            atoms.update((key, headers[key]) for key in self._headers_in if key in headers)
        if self._headers_out:
            headers = {f"{{{name.lower()}}}o": value for name, value in resp.headers}
            atoms.update((key, headers[key]) for key in self._headers_out if key in headers)
        for key in self._environ_keys:
            name = key[1:-2]
            for environ_key, value in environ.items():
                if environ_key.lower() == name:
                    atoms[key] = value
        return atoms

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


# Each atom of gunicorn's access_log_format: (AccessLog, resp, environ, request_time) -> value.
_ATOMS = {
    "h": lambda log, resp, environ, took: environ.get("REMOTE_ADDR", "-"),
    "l": lambda log, resp, environ, took: "-",
    "u": lambda log, resp, environ, took: log._logger._get_user(environ) or "-",
    "t": lambda log, resp, environ, took: log._timestamp(),
    "r": lambda log, resp, environ, took: (f"{environ['REQUEST_METHOD']} {environ['RAW_URI']} "
                                           f"{environ['SERVER_PROTOCOL']}"),
    "s": lambda log, resp, environ, took: _status(resp),
    "m": lambda log, resp, environ, took: environ.get("REQUEST_METHOD"),
    "U": lambda log, resp, environ, took: environ.get("PATH_INFO"),
    "q": lambda log, resp, environ, took: environ.get("QUERY_STRING"),
    "H": lambda log, resp, environ, took: environ.get("SERVER_PROTOCOL"),
    "b": lambda log, resp, environ, took: _sent(resp),
    "B": lambda log, resp, environ, took: getattr(resp, "sent", None),
    "f": lambda log, resp, environ, took: environ.get("HTTP_REFERER", "-"),
    "a": lambda log, resp, environ, took: environ.get("HTTP_USER_AGENT", "-"),
    "T": lambda log, resp, environ, took: took.seconds,
    "D": lambda log, resp, environ, took: took.seconds * 1000000 + took.microseconds,
    "M": lambda log, resp, environ, took: took.seconds * 1000 + int(took.microseconds / 1000),
    "L": lambda log, resp, environ, took: "%d.%06d" % (took.seconds, took.microseconds),
    "p": lambda log, resp, environ, took: log._pid,
}


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
