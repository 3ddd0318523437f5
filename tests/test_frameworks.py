"""Every framework gets the whole request body: Django, Flask/Werkzeug, Bottle,
Falcon, WebOb and a plain WSGI app read uploads their own way (framework_apps)
from fastcore in threaded, single and gunicorn-worker modes, threaded with the
pure-Python parser, and for a subset over TLS and in child processes
(processes=4); Flask-SocketIO's polling transport carries 64 KiB events.

Each case sends a payload of a given size, in one write, in random small
writes with pauses, or with the head and body in separate writes; framed by
Content-Length or, where the framework reads such a body, chunked. The view
answers with the sha256 and length of what it saw, which must be what was
sent, and the next request on the same keep-alive connection must be served.
"""

import hashlib
import http.client
import json
import random
import signal
import socket
import ssl
import time

import pytest

from conftest import launch

pytest.importorskip("django")
pytest.importorskip("bottle")
pytest.importorskip("falcon")
pytest.importorskip("webob")
pytest.importorskip("socketio")

MiB = 1 << 20
SIZES = [0, 1, 65535, 65536, 65537, MiB, 16 * MiB]
SEGMENTATIONS = ["whole", "trickle", "split"]

# framework -> {route: (how the payload is encoded, framings the framework reads)}.
# Django, Falcon and Bottle do not read a chunked body (Django and Falcon read
# CONTENT_LENGTH bytes, none without it; Bottle decodes chunked framing
# itself, which the server has already removed), under any server.
BOTH = ("length", "chunked")
LENGTH = ("length",)
ROUTES = {
    "plain": {"raw": ("raw", BOTH), "lines": ("raw", BOTH), "iter": ("raw", BOTH),
              "readinto": ("raw", BOTH), "readlines": ("raw", BOTH), "read1": ("raw", BOTH)},
    "django": {"raw": ("raw", LENGTH), "form": ("form", LENGTH), "files": ("multipart", LENGTH)},
    "flask": {"raw": ("raw", BOTH), "form": ("form", BOTH), "files": ("multipart", BOTH),
              "stream": ("raw", BOTH)},
    "bottle": {"raw": ("raw", LENGTH), "form": ("form", LENGTH), "files": ("multipart", LENGTH)},
    "falcon": {"raw": ("raw", LENGTH), "media": ("json", LENGTH)},
    "webob": {"raw": ("raw", BOTH), "form": ("form", BOTH), "files": ("multipart", BOTH)},
}
_ALNUM = bytes(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"[i % 62]
               for i in range(256))
BOUNDARY = "----fastcore-matrix-7MA4YWxkTrZu0gW"


def payload(size, encoding):
    """``size`` bytes to send: any bytes for a raw body, letters and digits
    where they go into a form or JSON (so they need no escaping)."""
    data = random.Random(size).randbytes(size)
    return data if encoding == "raw" else data.translate(_ALNUM)


def encode(data, encoding):
    """The request body carrying ``data``, and its Content-Type."""
    if encoding == "raw":
        return data, "application/octet-stream"
    if encoding == "form":
        return b"f=" + data, "application/x-www-form-urlencoded"
    if encoding == "json":
        return b'{"f": "' + data + b'"}', "application/json"
    body = (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"upload\"; "
            f"filename=\"upload.bin\"\r\nContent-Type: application/octet-stream\r\n\r\n"
            ).encode() + data + f"\r\n--{BOUNDARY}--\r\n".encode()
    return body, f"multipart/form-data; boundary={BOUNDARY}"


def chunked(body, rng):
    """``body`` in chunks of random sizes, then the last chunk."""
    out = []
    at = 0
    while at < len(body):
        size = rng.randint(1, 70000)
        out.append(b"%x\r\n%s\r\n" % (len(body[at:at + size]), body[at:at + size]))
        at += size
    out.append(b"0\r\n\r\n")
    return b"".join(out)


def send(sock, head, body, segmentation, rng):
    if segmentation == "whole":
        sock.sendall(head + body)
    elif segmentation == "split":
        sock.sendall(head)
        time.sleep(0.02)
        sock.sendall(body)
    else:  # random writes of 1-1400 bytes, a short pause every 64 of them
        data = memoryview(head + body)
        writes = 0
        while data:
            size = rng.randint(1, 1400)
            sock.sendall(data[:size])
            data = data[size:]
            writes += 1
            if writes % 64 == 0:
                time.sleep(0.0005)


def read_response(sock, method="POST"):
    response = http.client.HTTPResponse(sock, method=method)
    response.begin()
    return response.status, response.read()


def post(sock, path, data, encoding, framing, segmentation):
    """POST ``data`` encoded as ``encoding``; the digest the view answers."""
    rng = random.Random(len(data))
    body, content_type = encode(data, encoding)
    if framing == "chunked":
        body = chunked(body, rng)
        length_line = "Transfer-Encoding: chunked"
    else:
        length_line = f"Content-Length: {len(body)}"
    head = (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {content_type}\r\n"
            f"{length_line}\r\n\r\n").encode()
    send(sock, head, body, segmentation, rng)
    status, answer = read_response(sock)
    assert status == 200, answer[:2000]
    return answer


def expected(data):
    return {"sha256": hashlib.sha256(data).hexdigest(), "length": len(data)}


def check_exchange(server, framework, route, size, segmentation, framing):
    encoding = ROUTES[framework][route][0]
    data = payload(size, encoding)
    with server.connect_client() as sock:
        answer = post(sock, f"/{framework}/{route}", data, encoding, framing, segmentation)
        assert json.loads(answer) == expected(data)
        # The connection is at a clean request boundary: the next request is served.
        sock.sendall(b"GET /plain/ping HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        assert read_response(sock, "GET") == (200, b"pong")


class MatrixServer:
    """A LiveServer (or gunicorn arbiter) serving framework_apps, and how to
    open a client connection to it (TLS when it serves TLS)."""

    def __init__(self, server, tls=False):
        self.server = server
        self.tls = tls

    def connect_client(self):
        sock = socket.create_connection(("127.0.0.1", self.server.port), timeout=30)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if not self.tls:
            return sock
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context.wrap_socket(sock)

    def stop(self):
        self.server.stop(signal.SIGQUIT if self.server.proc.args[1:3] == ["-m", "gunicorn"]
                         else signal.SIGTERM)


@pytest.fixture(scope="module")
def servers(tmp_path_factory):
    """mode -> MatrixServer, each started on first use and stopped at the end."""
    started = {}
    logs = tmp_path_factory.mktemp("frameworks")

    def get(mode):
        if mode not in started:
            if mode == "gunicorn":
                pytest.importorskip("gunicorn")
                from test_gunicorn import Arbiter

                server = MatrixServer(Arbiter(logs, "--threads", "4", app="framework_apps:app()"))
            elif mode == "threaded+tls":
                server = MatrixServer(launch(logs / f"{mode}.log", "framework_apps.app()",
                                             "threaded", ssl_context="adhoc"), tls=True)
            elif mode == "threaded+pure":  # the pure-Python parser decodes chunked bodies
                server = MatrixServer(launch(logs / f"{mode}.log", "framework_apps.app()",
                                             "threaded", env={"FASTCORE_NO_EXTENSIONS": "1"}))
            else:
                server = MatrixServer(launch(logs / f"{mode}.log", "framework_apps.app()", mode))
            started[mode] = server
        return started[mode]

    yield get
    for server in started.values():  # all of them, before a failed check ends the loop
        server.stop()
    for server in started.values():
        log = server.server.log()
        assert "Traceback" not in log, log


def _cases(sizes, segmentations):
    """Every framework × read method × framing × size × segmentation. The
    default run takes a cut: every size of every read method, each with one
    segmentation, in turn (so each read method meets each segmentation); the
    rest are marked ``matrix`` (``pytest -m matrix``, a CI stage of its own)."""
    turn = 0
    for framework, routes in ROUTES.items():
        for route, (_, framings) in routes.items():
            for framing in framings:
                for size in sizes:
                    chosen = segmentations[turn % len(segmentations)]
                    turn += 1
                    for segmentation in segmentations:
                        marks = () if segmentation == chosen else (pytest.mark.matrix,)
                        yield pytest.param(framework, route, framing, size, segmentation,
                                           marks=marks,
                                           id=f"{framework}-{route}-{framing}-{size}-{segmentation}")


CASES = list(_cases(SIZES, SEGMENTATIONS))


@pytest.mark.parametrize("mode", ["threaded", "single", "gunicorn", "threaded+pure"])
@pytest.mark.parametrize("framework, route, framing, size, segmentation", CASES)
def test_the_view_sees_every_byte(servers, mode, framework, route, framing, size, segmentation):
    check_exchange(servers(mode), framework, route, size, segmentation, framing)


@pytest.mark.parametrize("mode", ["threaded+tls", "forking"])
@pytest.mark.parametrize("framework, route, framing, size, segmentation",
                         list(_cases([1, 65537, MiB], SEGMENTATIONS)))
def test_the_view_sees_every_byte_over_tls_and_in_child_processes(
        servers, mode, framework, route, framing, size, segmentation):
    check_exchange(servers(mode), framework, route, size, segmentation, framing)


@pytest.mark.parametrize("framework", ["plain", "django", "falcon", "webob"])
def test_a_body_in_two_segments_reaches_a_single_read_whole(servers, framework):
    """The report that started this: 100,000 bytes, the head and 30,000 of
    them in one segment and the rest 50 ms later; one read(100000) (Django's
    request.body) returned the first 30,000."""
    data = payload(100000, "raw")
    head = (f"POST /{framework}/raw HTTP/1.1\r\nHost: a\r\n"
            f"Content-Length: {len(data)}\r\n\r\n").encode()
    with servers("threaded").connect_client() as sock:
        sock.sendall(head + data[:30000])
        time.sleep(0.05)
        sock.sendall(data[30000:])
        status, answer = read_response(sock)
    assert status == 200 and json.loads(answer) == expected(data)


# -- Engine.IO's polling transport, as Flask-SocketIO uses it ------------------------------

@pytest.mark.parametrize("mode", ["threaded", "gunicorn"])
def test_socketio_polling_carries_64_kib_events(servers, mode):
    """Engine.IO makes one read(CONTENT_LENGTH) of each polling POST: a short
    read cut the base64 payload and the event was lost."""
    import socketio

    server = servers(mode)
    client = socketio.Client()
    client.connect(f"http://127.0.0.1:{server.server.port}", transports=["polling"],
                   wait_timeout=10)
    try:
        for i in range(20):
            data = random.Random(i).randbytes(65536)
            assert client.call("digest", data, timeout=10) == expected(data)
    finally:
        client.disconnect()


def test_an_engineio_post_sent_in_two_segments_is_read_whole(servers):
    """The polling POST itself, its body in two TCP segments."""
    server = servers("threaded")
    with server.connect_client() as sock:
        sock.sendall(b"GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: a\r\n\r\n")
        status, opened = read_response(sock, "GET")
        assert status == 200, opened
        sid = json.loads(opened[1:])["sid"]
        # The Socket.IO connect packet ("40"), then an event with ack id 1:
        # 42 1 ["digest", "<64 KiB>"].
        event = b'421["digest","' + b"x" * 65536 + b'"]'
        for packet in (b"40", event):
            head = (f"POST /socket.io/?EIO=4&transport=polling&sid={sid} HTTP/1.1\r\n"
                    f"Host: a\r\nContent-Type: text/plain;charset=UTF-8\r\n"
                    f"Content-Length: {len(packet)}\r\n\r\n").encode()
            sock.sendall(head + packet[:30000])
            time.sleep(0.05)
            sock.sendall(packet[30000:])
            assert read_response(sock) == (200, b"OK")
        acks = b""
        deadline = time.monotonic() + 10
        while b"431" not in acks and time.monotonic() < deadline:
            sock.sendall(f"GET /socket.io/?EIO=4&transport=polling&sid={sid} HTTP/1.1\r\n"
                         f"Host: a\r\n\r\n".encode())
            acks += read_response(sock, "GET")[1]
    assert hashlib.sha256(b"x" * 65536).hexdigest().encode() in acks, acks[:500]

