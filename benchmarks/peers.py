"""Raw request bytes -> WSGI environ, the way each peer does it.

Every adapter returns the environ a server built on that parser would hand to
the app, from the same per-server ``BASE`` keys, so the results can be checked
equal (``request_keys``) before anything is timed. Used by the benchmarks and
by the tests that hold fastcore's ``build_environ`` to Werkzeug's.
"""

import io
import sys
from urllib.parse import unquote_to_bytes

# Chunked bodies are fed as a socket would hand them over: 64 KiB reads.
READ = 65536

BASE = {
    "wsgi.version": (1, 0),
    "wsgi.url_scheme": "http",
    "wsgi.errors": sys.stderr,
    "wsgi.multithread": True,
    "wsgi.multiprocess": False,
    "wsgi.run_once": False,
    "SERVER_SOFTWARE": "bench",
    "SERVER_NAME": "127.0.0.1",
    "SERVER_PORT": "5000",
    "REMOTE_ADDR": "127.0.0.1",
    "REMOTE_PORT": "50000",
}

# The environ keys that come from the request bytes (the rest is per server).
_REQUEST_KEYS = frozenset({
    "REQUEST_METHOD", "SCRIPT_NAME", "PATH_INFO", "QUERY_STRING", "SERVER_PROTOCOL",
    "REQUEST_URI", "RAW_URI", "CONTENT_TYPE", "CONTENT_LENGTH",
})


def request_keys(environ):
    """The part of an environ that depends on the request bytes."""
    return {k: v for k, v in environ.items() if k in _REQUEST_KEYS or k.startswith("HTTP_")}


def fastcore_environ(impl):
    """fastcore: parse_request then build_environ, from either twin."""
    parse, build = impl.parse_request, impl.build_environ

    def environ(raw):
        return build(parse(raw), BASE)

    return environ


class _WerkzeugServer:
    # The attributes WSGIRequestHandler.make_environ reads from its server.
    ssl_context = None
    server_address = ("127.0.0.1", 5000)
    multithread = True
    multiprocess = False
    passthrough_errors = False


def werkzeug_environ():
    """Werkzeug's dev server path: http.server's parse_request (request line and
    http.client.parse_headers) then WSGIRequestHandler.make_environ."""
    from werkzeug.serving import WSGIRequestHandler

    server = _WerkzeugServer()

    def environ(raw):
        handler = WSGIRequestHandler.__new__(WSGIRequestHandler)
        handler.server = server
        handler.client_address = ("127.0.0.1", 50000)
        handler.connection = None
        handler.rfile = io.BytesIO(raw)
        handler.wfile = io.BytesIO()
        handler.raw_requestline = handler.rfile.readline(65537)
        if not handler.parse_request():
            raise ValueError("Werkzeug refused the request")
        return handler.make_environ()

    return environ


def _environ_from(method, target, path, query, version, fields):
    """The environ of a parsed head given as bytes (what httptools and h11 hand
    back), with Werkzeug's rules: "_" names dropped, repeats joined with ","."""
    env = dict(BASE)
    env["REQUEST_METHOD"] = method.decode("latin-1")
    env["SCRIPT_NAME"] = ""
    env["PATH_INFO"] = unquote_to_bytes(path).decode("latin-1")
    env["QUERY_STRING"] = query.decode("latin-1")
    env["SERVER_PROTOCOL"] = "HTTP/" + version
    env["REQUEST_URI"] = env["RAW_URI"] = target.decode("latin-1")
    for name, value in fields:
        name = name.decode("latin-1")
        if "_" in name:
            continue
        key = name.upper().replace("-", "_")
        value = value.decode("latin-1")
        if key not in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            key = "HTTP_" + key
            if key in env:
                value = env[key] + "," + value
        env[key] = value
    return env


def httptools_environ():
    """httptools with one reused parser whose callbacks gather the head, then
    the same environ built from it (what an httptools-based WSGI server does)."""
    import httptools

    class Protocol:
        def __init__(self):
            self.url = b""
            self.headers = []
            self.complete = False

        def on_url(self, url):
            self.url += url

        def on_header(self, name, value):
            self.headers.append((name, value))

        def on_headers_complete(self):
            self.complete = True

    proto = Protocol()
    parser = httptools.HttpRequestParser(proto)

    def environ(raw):
        proto.url = b""
        proto.headers = []
        proto.complete = False
        parser.feed_data(raw)
        url = httptools.parse_url(proto.url)
        return _environ_from(parser.get_method(), proto.url, url.path, url.query or b"",
                             parser.get_http_version(), proto.headers)

    return environ


def h11_environ():
    """h11: a server-side connection per request, its Request event, the same environ."""
    import h11

    def environ(raw):
        conn = h11.Connection(h11.SERVER)
        conn.receive_data(raw)
        event = conn.next_event()
        if not isinstance(event, h11.Request):
            raise ValueError(f"h11 gave {event!r}")
        path, _, query = event.target.partition(b"?")
        return _environ_from(event.method, event.target, path, query,
                             event.http_version.decode("latin-1"), event.headers.raw_items())

    return environ


# ---------------------------------------------------------------------------
# Chunked request bodies: raw chunked bytes -> the decoded body.

def fastcore_decode(module):
    def decode(raw):
        decoder = module.ChunkedDecoder()
        out = [decoder.feed(raw[i:i + READ]) for i in range(0, len(raw), READ)]
        assert decoder.done
        return b"".join(out)
    return decode


def werkzeug_decode(raw):
    from werkzeug.serving import DechunkedInput
    stream = DechunkedInput(io.BufferedReader(io.BytesIO(raw), READ))
    out = []
    while True:
        piece = stream.read(READ)
        if not piece:
            return b"".join(out)
        out.append(piece)


def httptools_decode(raw):
    import httptools

    class Protocol:
        def __init__(self):
            self.out = []

        def on_body(self, body):
            self.out.append(body)

    proto = Protocol()
    parser = httptools.HttpRequestParser(proto)
    parser.feed_data(b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n")
    for i in range(0, len(raw), READ):
        parser.feed_data(raw[i:i + READ])
    return b"".join(proto.out)
