"""Live reload's middleware: the reserved path's two resources, and the script
tag in each HTML page.

Strategy: a response is held back only when it is HTML that can take the tag:
``text/html``, not content-coded, with a body (not a HEAD, 1xx, 204 or 304),
and of known length (a ``Content-Length`` of at most ``MAX_PAGE`` bytes, or
a list or tuple of chunks). The rest go out as the app made them: the same
status, headers and iterable, so a file wrapper still reaches sendfile. A held
page is read whole, the tag put before its last ``</body>`` (at the end when
it has none), and ``Content-Length`` set to the new length.
"""

import html
from importlib.resources import files
from urllib.parse import quote

__all__ = ["LiveReload", "PREFIX"]

PREFIX = "/__fastcore__/"
# Larger pages are not held in memory to take the tag.
MAX_PAGE = 8 * 1024 * 1024
_SCRIPT = files("fastcore.live").joinpath("live.js").read_bytes()
_NO_BODY = (204, 304)


class LiveReload:
    """WSGI middleware: serves ``PREFIX`` + ``live.js`` and ``events`` (the
    event ``streams``), and puts the script's tag in ``app``'s HTML pages."""

    def __init__(self, app, streams):
        self.app = app
        self.streams = streams

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path.startswith(PREFIX):
            return self._reserved(path[len(PREFIX):], environ, start_response)
        if environ.get("REQUEST_METHOD") == "HEAD":
            return self.app(environ, start_response)
        response = _Response(start_response)
        app_iter = self.app(environ, response.start)
        if response.status is None:  # a generator app: it starts when iterated
            return response.lazy(app_iter, self._tag(environ))
        if not response.holds(app_iter):
            response.pass_on()
            return app_iter
        return [response.inject(app_iter, self._tag(environ))]

    def _tag(self, environ):
        root = quote(environ.get("SCRIPT_NAME", "").encode("latin-1"))
        return (f'<script src="{html.escape(root)}{PREFIX}live.js" '
                f'data-boot="{self.streams.boot}" defer></script>').encode()

    def _reserved(self, name, environ, start_response):
        if name == "events":
            return self.streams.open(environ, start_response)
        if name == "live.js":
            start_response("200 OK", [("Content-Type", "text/javascript; charset=utf-8"),
                                      ("Content-Length", str(len(_SCRIPT))),
                                      ("Cache-Control", "no-cache")])
            return [] if environ.get("REQUEST_METHOD") == "HEAD" else [_SCRIPT]
        body = f"{PREFIX}{name} is not one of live reload's resources\n".encode()
        start_response("404 Not Found", [("Content-Type", "text/plain; charset=utf-8"),
                                         ("Content-Length", str(len(body)))])
        return [body]


class _Response:
    """One response on its way through: what the app passed to
    ``start_response`` and ``write``, until it is passed on or held."""

    def __init__(self, start_response):
        self._start_response = start_response
        self._write = None  # the server's write(), once the head is passed on
        self.status = self.headers = None
        self.written = []  # what the app wrote before the head was passed on

    def start(self, status, headers, exc_info=None):
        if exc_info is not None and self._write is not None:
            return self._start_response(status, headers, exc_info)  # raises: sent
        self.status, self.headers = status, headers
        return self.write

    def write(self, data):
        if self._write is None:
            self.written.append(data)
        else:
            self._write(data)

    def pass_on(self):
        """Pass the head to the server as the app gave it, then what it wrote."""
        self._write = self._start_response(self.status, self.headers)
        for data in self.written:
            self._write(data)
        self.written = []

    def _length(self):
        """The page's Content-Length (-1 without one) if the tag can go in it,
        else None."""
        code = self.status[:3]
        if not code.isdigit() or int(code) < 200 or int(code) in _NO_BODY:
            return None
        html_page, length = False, -1
        for name, value in self.headers:
            name = name.lower()
            if name == "content-type":
                html_page = value.split(";", 1)[0].strip().lower() == "text/html"
            elif name == "content-encoding":
                if value.strip().lower() != "identity":
                    return None
            elif name == "content-length":
                length = int(value) if value.strip().isdigit() else MAX_PAGE + 1
        return length if html_page and length <= MAX_PAGE else None

    def holds(self, app_iter):
        """Whether the tag goes in this response."""
        length = self._length()
        return length is not None and (length >= 0 or isinstance(app_iter, (list, tuple)))

    def inject(self, app_iter, tag):
        """The page with the tag in it; the head, corrected, passed on."""
        try:
            body = b"".join([*self.written, *app_iter])
        finally:
            _close(app_iter)
        end = body.lower().rfind(b"</body>")
        body = body + tag if end < 0 else body[:end] + tag + body[end:]
        self.headers = [(n, v) for n, v in self.headers if n.lower() != "content-length"]
        self.headers.append(("Content-Length", str(len(body))))
        self.written = []
        self.pass_on()
        return body

    def lazy(self, app_iter, tag):
        """A generator app's response: its first chunk starts it, then as above."""
        iterator = iter(app_iter)
        try:
            first = [next(iterator)]
        except StopIteration:
            first = []
        except BaseException:
            _close(app_iter)
            raise
        rest = _Chain(first, iterator, app_iter)
        if self.status is None:  # it never started: the server answers that
            return rest
        length = self._length()
        if length is not None and length >= 0:
            return [self.inject(rest, tag)]
        self.pass_on()
        return rest


class _Chain:
    """The chunks already taken from an app's iterable, then the rest of it,
    closed as the app's own would be."""

    def __init__(self, first, iterator, app_iter):
        self._first, self._iterator, self._app_iter = first, iterator, app_iter

    def __iter__(self):
        yield from self._first
        yield from self._iterator

    def close(self):
        _close(self._app_iter)


def _close(app_iter):
    close = getattr(app_iter, "close", None)
    if close is not None:
        close()


