"""WSGI apps the live-server tests run, each wrapped in wsgiref.validate."""

import gc
import io
import json
import threading
import time
from wsgiref.validate import validator


def _json(start_response, payload, status="200 OK"):
    body = json.dumps(payload).encode()
    start_response(status, [("Content-Type", "application/json"),
                            ("Content-Length", str(len(body)))])
    return [body]


@validator
def echo(environ, start_response):
    """The request as JSON: CGI keys, and the body if ?read (or always for
    POST/PUT); ?sleep=S waits S seconds first."""
    if environ["QUERY_STRING"].startswith("sleep="):
        time.sleep(float(environ["QUERY_STRING"][6:]))
    body = b""
    if environ["REQUEST_METHOD"] in ("POST", "PUT") and "noread" not in environ["QUERY_STRING"]:
        body = b"".join(iter(lambda: environ["wsgi.input"].read(65536), b""))
    keys = {k: v for k, v in environ.items() if k.isupper()}
    keys["body"] = body.decode("latin-1")
    keys["input_terminated"] = environ.get("wsgi.input_terminated", False)
    return _json(start_response, keys)


@validator
def hello(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"Hello, World!"]


def _stream(n, delay, line="line {}\n"):
    for i in range(n):
        yield line.format(i).encode()
        time.sleep(delay)


@validator
def stream(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return _stream(5, 0.2)


@validator
def size(environ, start_response):
    """Reads the body in pieces and answers with its length: flat memory for any size."""
    stream = environ["wsgi.input"]
    total = 0
    while True:
        piece = stream.read(65536)
        if not piece:
            break
        total += len(piece)
    return _json(start_response, {"size": total})


def fail_before(environ, start_response):
    raise RuntimeError("boom before headers")


def _fail_midway():
    yield b"first part\n"
    raise RuntimeError("boom after headers")


def fail_after(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return _fail_midway()


@validator
def slow(environ, start_response):
    time.sleep(float(environ["QUERY_STRING"] or "1"))
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"done"]


@validator
def thread(environ, start_response):
    """Sleeps S seconds (?S) and answers with the name and id of the thread it ran on."""
    time.sleep(float(environ["QUERY_STRING"] or "0"))
    current = threading.current_thread()
    body = f"{current.name} {current.ident}".encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


@validator
def interval(environ, start_response):
    """Sleeps S seconds (?S) and answers when it ran: "start end", monotonic."""
    start = time.monotonic()
    time.sleep(float(environ["QUERY_STRING"] or "1"))
    body = f"{start} {time.monotonic()}".encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


class _Closing:
    """An iterable that records close() in a file named by the query string."""

    def __init__(self, path, fail):
        self.path = path
        self.fail = fail

    def __iter__(self):
        yield b"part one\n"
        if self.fail:
            raise RuntimeError("iteration failed")
        yield b"part two\n"

    def close(self):
        with open(self.path, "a") as f:
            f.write("closed\n")


def closing(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return _Closing(environ["QUERY_STRING"], fail=environ["PATH_INFO"] == "/fail")


class _Unreadable(io.FileIO):
    """A file that can only be sent with os.sendfile: read() fails."""

    def read(self, *args):
        raise OSError("read() called: the server iterated instead of sendfile")


def sendfile(environ, start_response):
    # Not validated: the validator would wrap the FileWrapper and hide it.
    f = _Unreadable(__file__, "rb")
    start_response("200 OK", [("Content-Type", "text/plain")])
    return environ["wsgi.file_wrapper"](f)


@validator
def write_callable(environ, start_response):
    """The legacy write() callable, then an iterable for the rest."""
    write = start_response("200 OK", [("Content-Type", "text/plain")])
    write(b"written ")
    return [b"and returned"]


def exc_info(environ, start_response):
    """An error page chosen after a first start_response, as PEP 3333 allows."""
    start_response("200 OK", [("Content-Type", "text/plain")])
    try:
        raise ValueError("changed my mind")
    except ValueError:
        import sys
        start_response("503 Service Unavailable", [("Content-Type", "text/plain")], sys.exc_info())
    return [b"try later"]


def hop_by_hop(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain"), ("Connection", "close")])
    return [b"never sent"]


@validator
def own_server_header(environ, start_response):
    headers = [(f"X-H{i}", str(i)) for i in range(20)] + [("Server", "mine"), ("Content-Type", "text/plain")]
    start_response("200 OK", headers)
    return [b"ok"]


from fastcore import WSGIRequestHandler  # noqa: E402
from fastcore.errors import BadRequest  # noqa: E402


class CustomHandler(WSGIRequestHandler):
    """Overrides the hooks Werkzeug users override."""

    protocol_version = "HTTP/1.0"

    def make_environ(self):
        environ = super().make_environ()
        if environ["PATH_INFO"] == "/refused":
            raise BadRequest("refused by make_environ")
        environ["CUSTOM_KEY"] = "from make_environ"
        return environ

    def address_string(self):
        return "custom-address"

    def log_request(self, code="-", size="-"):
        self.log("info", "custom log %s %s", self.path, code)


class _CloseFails:
    def __iter__(self):
        yield b"complete body"

    def close(self):
        raise RuntimeError("boom in close")


def _str_chunks():
    yield "a str, not bytes"


def _raise_in_iteration():
    yield b"first part\n"
    raise RuntimeError("boom in iteration")


def fault(environ, start_response):
    """Misbehaves the way PATH_INFO names (not validated: the validator would
    catch these faults itself, and the server's own handling is under test)."""
    path = environ["PATH_INFO"]
    headers = [("Content-Type", "text/plain")]
    if path == "/raise-in-call":
        raise RuntimeError("boom in __call__")
    if path == "/no-start-response":
        return [b"body without a status"]
    if path == "/start-response-twice":
        start_response("200 OK", headers)
        start_response("200 OK", headers)
        return [b"never sent"]
    start_response("200 OK", headers)
    if path == "/raise-in-iteration":
        return _raise_in_iteration()
    if path == "/raise-in-close":
        return _CloseFails()
    if path == "/str-list":
        return ["a str, not bytes"]
    if path == "/str-chunks":
        return _str_chunks()
    return [b"fine"]


def flask_upload():
    """A Flask app that reads the whole body; serve it as "flask_upload()"."""
    from flask import Flask, request

    app = Flask(__name__)

    @app.post("/")
    def upload():
        return {"size": len(request.get_data())}

    return app


def _pieces(count, size):
    piece = b"b" * size
    for _ in range(count):
        yield piece


@validator
def big(environ, start_response):
    """1 MiB in 64 KiB pieces, chunked: a response a client can walk away from."""
    start_response("200 OK", [("Content-Type", "application/octet-stream")])
    return _pieces(16, 65536)


def plain(environ, start_response):
    """Hello world without the validator's per-request checks: the soak's app,
    where the server's own allocations are what is measured."""
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "13")])
    return [b"Hello, World!"]


@validator
def sse(environ, start_response):
    """/events: server-sent events, ?COUNT of them, one every 0.1 s; else "ok"."""
    if environ["PATH_INFO"] != "/events":
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2")])
        return [b"ok"]
    start_response("200 OK", [("Content-Type", "text/event-stream"), ("Cache-Control", "no-cache")])
    return _stream(int(environ["QUERY_STRING"] or "20"), 0.1, "data: {}\n\n")


@validator
def path(environ, start_response):
    """The path, and the length of the body it read, as text: a light app for many requests."""
    size = sum(map(len, iter(lambda: environ["wsgi.input"].read(65536), b"")))
    body = f"{environ['PATH_INFO']} {size}".encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


def garbage(environ, start_response):
    """/start: collect, then stop the garbage collector and keep what it
    would free; /count: the names of the types it found unreachable since
    (objects freed only by the collector, in reference cycles), then as
    before; any other path: an empty list."""
    path = environ["PATH_INFO"]
    if path == "/start":
        gc.collect()
        gc.disable()
        gc.set_debug(gc.DEBUG_SAVEALL)
    if path != "/count":
        return _json(start_response, [])
    gc.collect()
    found = sorted({type(thing).__name__ for thing in gc.garbage})
    gc.set_debug(0)
    gc.garbage.clear()
    gc.enable()
    return _json(start_response, found)


def bad_response(environ, start_response):
    """A response head the server must refuse to send (response splitting,
    a NUL in a value, a name that is not a token), chosen by the query."""
    status, headers = "200 OK", [("Content-Type", "text/plain")]
    query = environ["QUERY_STRING"]
    if query == "status":
        status = "200 OK\r\nX-Injected: 1"
    elif query == "nul":
        headers.append(("X-Value", "a\x00b"))
    elif query == "name":
        headers.append(("X Bad", "1"))
    elif query == "tab":
        headers.append(("X-Tab", "a\tb\xe9"))  # tab and obs-text are allowed
    start_response(status, headers)
    return [b"body"]


@validator
def socket_state(environ, start_response):
    """What the app sees of werkzeug.socket: its timeout, blocking mode and
    the kernel's send/receive timeouts (struct timeval, all zero = none)."""
    import socket

    sock = environ["werkzeug.socket"]
    if "settimeout" in environ["QUERY_STRING"]:
        sock.settimeout(5)  # not a takeover: the server undoes it afterwards
    zero = bytes(16)
    state = {"timeout": sock.gettimeout(), "blocking": sock.getblocking(),
             "rcvtimeo_zero": sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, 16) == zero,
             "sndtimeo_zero": sock.getsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, 16) == zero}
    return _json(start_response, state)


class PassThroughLogHandler(WSGIRequestHandler):
    """Overrides log() without changing what it writes: its access lines take
    the hooks' path, not the one an Exchange writes directly."""

    def log(self, type, message, *args):
        super().log(type, message, *args)


def status(environ, start_response):
    """An empty response with the status code the query names (200 without one)."""
    start_response(f"{environ['QUERY_STRING'] or '200'} Some Reason", [("Content-Length", "0")])
    return []
