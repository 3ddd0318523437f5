"""A plain WSGI app with one response of each kind live reload must tell apart,
for tests/test_live_reload.py (served by `fastcore run live_apps:app`)."""

import gzip
import os

PAGE = b"<!doctype html>\n<html><body><h1>A page</h1></body></html>\n"
HERE = os.path.dirname(os.path.abspath(__file__))


def _send(start_response, body, content_type, *extra):
    start_response("200 OK", [("Content-Type", content_type),
                              ("Content-Length", str(len(body))), *extra])
    return [body]


def _stream():
    for n in range(3):
        yield f"<p>chunk {n}</p>\n".encode()


def app(environ, start_response):
    path = environ["PATH_INFO"]
    if path == "/page":
        return _send(start_response, PAGE, "text/html; charset=utf-8")
    if path == "/data":
        return _send(start_response, b'{"numbers": [1, 2, 3]}', "application/json")
    if path == "/gzip":
        return _send(start_response, gzip.compress(PAGE, mtime=0), "text/html",
                     ("Content-Encoding", "gzip"))
    if path == "/file":
        f = open(os.path.join(HERE, "live_apps.py"), "rb")
        start_response("200 OK", [("Content-Type", "text/x-python"),
                                  ("Content-Length", str(os.fstat(f.fileno()).st_size))])
        return environ["wsgi.file_wrapper"](f)
    if path == "/stream":  # HTML of unknown length: sent chunked, as it comes
        start_response("200 OK", [("Content-Type", "text/html")])
        return _stream()
    body = f"the app's own 404 for {path}\n".encode()
    start_response("404 Not Found", [("Content-Type", "text/plain"),
                                     ("Content-Length", str(len(body)))])
    return [body]
