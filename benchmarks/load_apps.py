"""The apps the end-to-end load benchmark serves: the same bytes from each server."""

import os
import tempfile
import time

from werkzeug.middleware.shared_data import SharedDataMiddleware
from werkzeug.wsgi import FileWrapper

BODY = b"Hello, World!"


def hello(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(BODY)))])
    return [BODY]


def _flask_app(answer):
    """A Flask app whose one route returns ``answer`` (None without Flask)."""
    try:
        from flask import Flask
    except ImportError:
        return None
    app = Flask(__name__)
    app.add_url_rule("/", "index", lambda: answer)
    return app


flask_hello = _flask_app("Hello, World!")


BIG = b"x" * 65536


def big(environ, start_response):
    """A 64 KiB response."""
    start_response("200 OK", [("Content-Type", "application/octet-stream"),
                              ("Content-Length", str(len(BIG)))])
    return [BIG]


def upload(environ, start_response):
    """Reads the request body (the benchmark sends 1 MiB chunked) and answers with its size."""
    stream = environ["wsgi.input"]
    size = 0
    while True:
        piece = stream.read(65536)
        if not piece:
            break
        size += len(piece)
    body = str(size).encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


# The workloads users run (granian's and gunicorn's own benchmarks measure
# these shapes): small and mid-size GETs, POSTs echoed back, a 50 KB file
# served two ways, a Flask JSON endpoint and an app that waits on I/O.

def _fixed(body):
    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "application/octet-stream"),
                                  ("Content-Length", str(len(body)))])
        return [body]
    return app


get_1k = _fixed(b"k" * 1024)
get_10k = _fixed(b"k" * 10240)


def echo(environ, start_response):
    """The request body, read whole (Content-Length framed) and sent back."""
    stream, left, parts = environ["wsgi.input"], int(environ.get("CONTENT_LENGTH") or 0), []
    while left > 0:  # a read may return less than asked (Werkzeug's does)
        piece = stream.read(left)
        if not piece:
            break
        parts.append(piece)
        left -= len(piece)
    body = b"".join(parts)
    start_response("200 OK", [("Content-Type", "application/octet-stream"),
                              ("Content-Length", str(len(body)))])
    return [body]


echo_1k = echo_10k = echo_100k = echo

STATIC_DIR = os.path.join(tempfile.gettempdir(), "fastcore-bench-static")
STATIC_FILE = os.path.join(STATIC_DIR, "file50k.bin")
STATIC_PATH = "/static/file50k.bin"  # what static_50k serves STATIC_FILE as


def _static_file():
    os.makedirs(STATIC_DIR, exist_ok=True)
    if not os.path.exists(STATIC_FILE) or os.path.getsize(STATIC_FILE) != 51200:
        with open(STATIC_FILE + ".part", "wb") as f:
            f.write(b"s" * 51200)
        os.replace(STATIC_FILE + ".part", STATIC_FILE)


_static_file()


def _not_found(environ, start_response):
    start_response("404 Not Found", [("Content-Length", "0")])
    return []


# The file through Werkzeug's SharedDataMiddleware, which `--static` installs.
static_50k = SharedDataMiddleware(_not_found, {"/static": STATIC_DIR})


def file_wrapper_50k(environ, start_response):
    """The file through the server's wsgi.file_wrapper (sendfile where it can)."""
    start_response("200 OK", [("Content-Type", "application/octet-stream"),
                              ("Content-Length", "51200")])
    wrapper = environ.get("wsgi.file_wrapper", FileWrapper)
    return wrapper(open(STATIC_FILE, "rb"))


# Flask turns the dict into a JSON response on every request.
flask_json = _flask_app({"message": "Hello, World!", "items": list(range(10))})


def sleep_10ms(environ, start_response):
    """Waits 10 ms (a database, another service) and answers."""
    time.sleep(0.01)
    return hello(environ, start_response)
