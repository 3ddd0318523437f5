"""gunicorn's access log lines, as its Logger writes them, at less cost per request.

gunicorn's ``Logger.access`` builds every atom for every request (one per
environ key and header, a strftime, a Basic-auth decode) and sends the line
through ``logging``, which writes and flushes it alone. Here only the atoms
``access_log_format`` names are computed, the timestamp once a second, and
when the access logger is gunicorn's own plain stream or file handler, lines
are written in batches like the dev server's (``access_log``). Anything else
(a ``logger_class`` of the user's, syslog, filters, extra handlers) gets
gunicorn's own ``access()``, with the request and response objects it reads
(``GunicornRequest``, ``GunicornResponse``, also what the hooks get); the
lines built here read the exchange directly.
"""

import datetime
import logging
import os
import re
import time

from gunicorn.glogging import Logger, SafeAtoms

from fastcore.wsgi.access_log import access_log

__all__ = ["AccessLog", "GunicornRequest", "GunicornResponse"]

_KEY = re.compile(r"%\(([^)]*)\)")


class AccessLog:
    """Writes gunicorn's access line for a request (see the module docstring)."""

    def __init__(self, logger):
        self._logger = logger
        self._line, self._escaped_line, self._quotes = _compile(logger.cfg.access_log_format)
        self._pid = f"<{os.getpid()}>"
        self._second = None
        self._now = ""  # the %(t)s of this second
        self._handler = None  # where this second's lines go, or None: through logger.access
        kind = type(logger)
        # gunicorn's own Logger (or a subclass that changes none of this):
        # its lines can be built here.
        self._own = (kind.access is Logger.access and kind.atoms is Logger.atoms
                     and kind.atoms_wrapper_class is SafeAtoms)

    def write(self, code, exchange, environ, seconds, scheme):
        """The line of ``Logger.access(resp, req, environ, request_time)`` for
        the response to ``exchange`` (an ``Exchange``, its status ``code``),
        which took ``seconds``; ``scheme`` is the request's."""
        second = int(time.time())
        if second != self._second:
            self._next_second(second)
        handler = self._handler
        if handler is None:
            self._logger.access(GunicornResponse.of(exchange, code),
                                GunicornRequest(exchange.head, scheme), environ,
                                datetime.timedelta(seconds=seconds))
            return
        line = self._line(self, code, exchange, environ, seconds)
        if line.count('"') != self._quotes:  # a value holds a quote (rare): escape it
            line = self._escaped_line(self, code, exchange, environ, seconds)
        access_log.add(handler, line)

    def _next_second(self, second):
        """Once a second: the timestamp, and whether lines can still be
        written here (the app may have changed the logging setup)."""
        self._second = second
        self._now = time.strftime("[%d/%b/%Y:%H:%M:%S %z]", time.localtime(second))
        self._handler = _direct_handler(self._logger.access_log) if self._own else None


class GunicornRequest:
    """What gunicorn's hooks and access log read of a request."""

    __slots__ = ("_head", "scheme")

    def __init__(self, head, scheme):
        self._head = head
        self.scheme = scheme

    method = property(lambda self: self._head.method)
    uri = property(lambda self: self._head.target)
    path = property(lambda self: self._head.path)
    query = property(lambda self: self._head.query)
    version = property(lambda self: (1, 1) if self._head.version == "HTTP/1.1" else (1, 0))

    @property
    def headers(self):
        """(NAME, value) pairs, names in upper case as gunicorn gives them."""
        return [(name.upper(), value) for name, value in self._head.headers]


class GunicornResponse:
    """What gunicorn's post_request hook and access log read of a response."""

    __slots__ = ("status", "status_code", "sent", "headers")

    def __init__(self, status, sent, headers):
        self.status = status
        self.status_code = int(status[:3])
        self.sent = sent
        self.headers = headers

    @classmethod
    def of(cls, exchange, code):
        """The response to ``exchange``, whose status code was ``code`` (a
        taken-over connection's 101, or the 500 of a failed app)."""
        status = exchange.status
        if not status or status[:3] != str(code):
            status = f"{code} {'Switching Protocols' if code == 101 else ''}".rstrip()
        return cls(status, exchange.sent, exchange.headers or [])


def _took(seconds):
    return datetime.timedelta(seconds=seconds)


def _last(pairs, name):
    """The value of the last (name, value) pair named ``name`` in any case, or "-"."""
    found = "-"
    for key, value in pairs:
        if key.lower() == name:
            found = value
    return found


def _quoted(value):
    """As gunicorn's SafeAtoms: quotes escaped in strings."""
    return value.replace('"', '\\"') if type(value) is str else value


# Each atom of gunicorn's access_log_format, as its Logger.atoms computes it:
# an expression over (log: AccessLog, code: the status code, x: the
# Exchange, environ, s: seconds taken),
# and what its value is, for SafeAtoms' escaping of quotes in strings: STR (a
# string, maybe with quotes), ANY (a string or not) or None (never a quote).
STR, ANY = "str", "any"
_ATOMS = {
    "h": ('environ.get("REMOTE_ADDR", "-")', STR),
    "l": ('"-"', None),
    "u": ('("-" if "HTTP_AUTHORIZATION" not in environ else '
          'log._logger._get_user(environ) or "-")', STR),
    "t": ("log._now", None),
    "r": ('f"{environ[\'REQUEST_METHOD\']} {environ[\'RAW_URI\']} {environ[\'SERVER_PROTOCOL\']}"',
          STR),
    "s": ("code", None),
    "m": ('environ.get("REQUEST_METHOD")', ANY),
    "U": ('environ.get("PATH_INFO")', ANY),
    "q": ('environ.get("QUERY_STRING")', ANY),
    "H": ('environ.get("SERVER_PROTOCOL")', ANY),
    "b": ("x.sent", None),
    "B": ("x.sent", None),
    "f": ('environ.get("HTTP_REFERER", "-")', STR),
    "a": ('environ.get("HTTP_USER_AGENT", "-")', STR),
    "T": ("_took(s).seconds", None),
    "D": ("(_took(s).seconds * 1000000 + _took(s).microseconds)", None),
    "M": ("(_took(s).seconds * 1000 + int(_took(s).microseconds / 1000))", None),
    "L": ('"%d.%06d" % (_took(s).seconds, _took(s).microseconds)', None),
    "p": ("log._pid", None),
}


def _atom(key):
    """The expression of one "%(key)" of the format, and its kind."""
    if key in _ATOMS:
        return _ATOMS[key]
    name, kind = key[1:-2].lower(), key[-2:]
    if key[:1] == "{" and kind == "}i":
        return f"_last(x.head.headers, {name!r})", STR
    if key[:1] == "{" and kind == "}o":
        return f"_last(x.headers or (), {name!r})", STR
    if key[:1] == "{" and kind == "}e":
        return f"_last(environ.items(), {name!r})", ANY
    return '"-"', None


def _compile(fmt):
    """For an access_log_format: the function (log, code, exchange, environ,
    seconds) -> the line, one %-formatting of a tuple that computes only the
    atoms the format names, each "%(key)" made positional; the same with
    quotes in string values escaped; and how many quotes a line holds when no
    value has one."""
    template = _KEY.sub("%", fmt)
    values = escaped = ""
    for key in _KEY.findall(fmt):
        expression, kind = _atom(key)
        values += f"{expression}, "
        if kind is STR:
            expression += """.replace('"', '\\\\"')"""
        elif kind is ANY:
            expression = f"_quoted({expression})"
        escaped += f"{expression}, "
    names = {"_took": _took, "_last": _last, "_quoted": _quoted}
    line, escaped_line = (eval(f"lambda log, code, x, environ, s: {template!r} % ({atoms})", names)
                          for atoms in (values, escaped))
    return line, escaped_line, template.count('"')


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
