"""Apps for test_gunicorn, served by a real gunicorn arbiter with fastcore's worker."""

import json
import os
import socket
import time


def _events():
    while True:
        yield b"data: tick\n\n"
        time.sleep(60)


def app(environ, start_response):
    """The worker's pid and the environ keys a test looks at; /sleep?S
    sleeps S seconds first (a slow request, or one that blocks its thread);
    /events is an event stream that never ends."""
    if environ["PATH_INFO"] == "/events":
        start_response("200 OK", [("Content-Type", "text/event-stream")])
        return _events()
    if environ["PATH_INFO"] == "/sleep":
        time.sleep(float(environ["QUERY_STRING"] or "2"))
    if environ["PATH_INFO"] == "/fail":
        raise RuntimeError("the app failed on purpose")
    keys = ("wsgi.url_scheme", "wsgi.multiprocess", "wsgi.multithread", "SERVER_SOFTWARE",
            "SERVER_NAME", "SERVER_PORT", "REMOTE_ADDR", "PATH_INFO", "QUERY_STRING")
    payload = {key: environ.get(key) for key in keys}
    payload["pid"] = os.getpid()
    payload["gunicorn.socket"] = "gunicorn.socket" in environ
    sock = environ.get("gunicorn.socket")
    if sock is not None and sock.family != socket.AF_UNIX:
        payload["nodelay"] = bool(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
    body = json.dumps(payload).encode()
    start_response("200 OK", [("Content-Type", "application/json"),
                              ("Content-Length", str(len(body))), ("X-Out", "out-value")])
    return [body]
