"""WebSockets: apps that take their connection over through
``environ["werkzeug.socket"]`` (Flask-Sock, Flask-SocketIO), served by
fastcore in a subprocess on 127.0.0.1, with the libraries' own clients and
with raw bytes."""

import base64
import os
import socket
import subprocess
import sys
import threading
import time

import pytest
import requests
import simple_websocket
import socketio

from conftest import LiveServer, process_stats, read_responses, recv_until_closed

HERE = os.path.dirname(os.path.abspath(__file__))
MODES = ["threaded", "single"]


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launched(args, log_path, port):
    """A server started some other way than serve.py, once it says "Running on"."""
    with open(log_path, "w") as log:
        proc = subprocess.Popen(args, cwd=HERE, stdout=log, stderr=subprocess.STDOUT,
                                env={**os.environ, "PYTHONUNBUFFERED": "1"})
    server = LiveServer(proc, ("127.0.0.1", port), log_path)
    deadline = time.monotonic() + 20
    while "Running on" not in server.log() and time.monotonic() < deadline:
        assert proc.poll() is None, server.log()
        time.sleep(0.05)
    assert "Running on" in server.log(), server.log()
    return server


APP_RUN = """
import fastcore, ws_apps
fastcore.patch_werkzeug()
ws_apps.echo_app.run(port={port}, threaded=True)
"""


@pytest.fixture
def launch(tmp_path):
    """launch(how) -> a server of ws_apps.echo_app: through serve.py in a
    mode, through ``app.run()`` after ``patch_werkzeug()``, or ``fastcore run``."""
    started = []

    def start(how, live_server):
        if how in MODES:
            return live_server("ws_apps.echo_app", how)
        port = _free_port()
        if how == "app.run":
            args = [sys.executable, "-c", APP_RUN.format(port=port)]
        else:
            args = [sys.executable, "-m", "fastcore", "run", "ws_apps:echo_app", "--port",
                    str(port)]
        server = launched(args, tmp_path / "launched.log", port)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def _connect(server, path="/echo"):
    return simple_websocket.Client.connect(f"ws://127.0.0.1:{server.port}{path}")


# -- the socket the app gets ---------------------------------------------------------------

@pytest.mark.parametrize("mode", MODES)
def test_the_app_sees_a_blocking_socket_with_no_timeout(live_server, mode):
    server = live_server("socket_state", mode)
    session = requests.Session()
    # A timeout the app sets without using the socket is undone after it
    # returns: the next request on the connection is served as usual.
    for query in ("", "settimeout", ""):
        state = session.get(f"{server.url}/?{query}", timeout=5).json()
        assert state["rcvtimeo_zero"] and state["sndtimeo_zero"]
        if query:
            assert state["timeout"] == 5.0
        else:
            assert state["timeout"] is None and state["blocking"] is True


# -- the libraries' own clients --------------------------------------------------------

@pytest.mark.parametrize("how", ["threaded", "single", "app.run", "fastcore run"])
def test_echo_of_a_hundred_messages_up_to_one_mebibyte(launch, live_server, how):
    server = launch(how, live_server)
    ws = _connect(server)
    sizes = [round(2 ** (20 * i / 99)) for i in range(100)]  # 1 B ... 1 MiB
    try:
        for i, size in enumerate(sizes):
            message = os.urandom(size) if i % 2 else ("é" * size)[:size]
            ws.send(message)
            assert ws.receive(timeout=10) == message
    finally:
        ws.close()
    log = server.wait_log('"GET /echo HTTP/1.1" 101')
    assert "Traceback" not in log and " 500 " not in log


def _idle_then_used(server, idle):
    ws = _connect(server)
    time.sleep(idle)
    ws.send("still there?")
    assert ws.receive(timeout=5) == "still there?"
    ws.close()


@pytest.mark.parametrize("how", ["threaded", "single", "app.run"])
def test_an_idle_websocket_stays_open(launch, live_server, how):
    """The socket the app gets has no timeout of the server's on it."""
    _idle_then_used(launch(how, live_server), 3)


@pytest.mark.slow
@pytest.mark.parametrize("mode", MODES)
def test_a_websocket_idle_past_every_server_timeout_stays_open(live_server, mode):
    """Longer than the body and keep-alive timeouts (30 s)."""
    _idle_then_used(live_server("ws_apps.echo_app", mode), 35)




def test_twenty_websockets_open_while_gets_are_answered_at_once(live_server):
    server = live_server("ws_apps.echo_app", "threaded")
    sockets = [_connect(server) for _ in range(20)]
    session = requests.Session()
    session.get(server.url, timeout=5)
    slowest = 0.0
    for _ in range(20):
        started = time.monotonic()
        assert session.get(server.url, timeout=5).text == "hello"
        slowest = max(slowest, time.monotonic() - started)
    for i, ws in enumerate(sockets):
        ws.send(f"ws {i}")
        assert ws.receive(timeout=5) == f"ws {i}"
        ws.close()
    # Not held by the open websockets (one held would wait for its 5 s timeout).
    assert slowest < 2.0, f"a GET took {slowest * 1000:.1f} ms with 20 websockets open"


def test_held_websockets_do_not_count_against_max_workers(live_server):
    server = live_server("ws_apps.echo_app", "threaded", max_workers=2)
    sockets = [_connect(server) for _ in range(4)]
    assert requests.get(server.url, timeout=5).text == "hello"
    for ws in sockets:
        ws.send("x")
        assert ws.receive(timeout=5) == "x"
        ws.close()


@pytest.mark.parametrize("mode", ["threaded", "threaded+level"])
def test_a_websocket_on_a_connection_a_worker_holds(live_server, mode):
    """After a slow request, a keep-alive connection's requests run on a
    worker that waits for the next one; an upgrade then takes the socket
    from that worker, and the server forgets it as it does on the loop."""
    server = live_server("ws_apps.echo_app", mode)
    sock = server.connect(timeout=10)
    for path in ("/slow", "/", "/"):  # the slow one starts the hand-off
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: a\r\n\r\n".encode())
        [(status, _, _)] = read_responses(_read_response(sock))
        assert status == 200
    sock.sendall(b"GET /echo HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n"
                 b"Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
                 b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n")
    head = b""
    while b"\r\n\r\n" not in head:
        head += sock.recv(1)
    assert head.startswith(b"HTTP/1.1 101 ")
    mask = b"\x01\x02\x03\x04"
    sock.sendall(b"\x81\x82" + mask + bytes(c ^ mask[i % 4] for i, c in enumerate(b"hi")))
    assert sock.recv(100) == b"\x81\x02hi"
    sock.close()
    for _ in range(5):
        with requests.get(server.url, timeout=5, headers={"Connection": "close"}) as response:
            assert response.text == "hello"
    assert "Error in a worker thread" not in server.log()


def _read_response(sock):
    """One Content-Length framed response from ``sock``."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
    while len(body) < length:
        body += sock.recv(65536)
    return data


@pytest.mark.parametrize("mode", [*MODES, "threaded+level"])
def test_a_new_connection_after_each_websocket_is_answered(live_server, mode):
    """The fd a websocket library closes is at once reused by the next accept:
    no stale registration of it may refuse the new connection."""
    server = live_server("ws_apps.echo_app", mode)
    assert requests.get(server.url, timeout=5).text == "hello"
    baseline = process_stats(server.proc.pid)["fds"]
    for i in range(20):
        ws = _connect(server)
        ws.send("x")
        assert ws.receive(timeout=5) == "x"
        if i % 2:
            ws.send("bye")  # the server closes
            with pytest.raises(simple_websocket.ConnectionClosed):
                ws.receive(timeout=5)
        else:
            ws.close()
        with requests.get(server.url, timeout=5, headers={"Connection": "close"}) as response:
            assert response.text == "hello", f"GET after websocket {i}"
    deadline = time.monotonic() + 5
    while process_stats(server.proc.pid)["fds"] > baseline and time.monotonic() < deadline:
        time.sleep(0.05)
    assert process_stats(server.proc.pid)["fds"] <= baseline
    log = server.wait_log('"GET /echo HTTP/1.1" 101', count=20)
    assert "Traceback" not in log and "Errno 9" not in log


def test_single_mode_warns_that_a_websocket_holds_the_server(live_server):
    server = live_server("ws_apps.echo_app", "single")
    ws = _connect(server)
    ws.close()
    assert "in single mode it holds the server" in server.wait_log("single mode")


# -- raw bytes ---------------------------------------------------------------------------

def _frame(opcode, payload):
    """A masked client frame (RFC 6455 5.2), payload under 126 bytes."""
    mask = os.urandom(4)
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return bytes([0x80 | opcode, 0x80 | len(payload)]) + mask + masked


def _frames(data):
    """Server frames (unmasked) in ``data``: [(opcode, payload)], and what
    follows the last whole frame."""
    frames = []
    while len(data) >= 2:
        length, at = data[1] & 0x7F, 2
        if length == 126:
            length, at = int.from_bytes(data[2:4], "big"), 4
        elif length == 127:
            length, at = int.from_bytes(data[2:10], "big"), 10
        if len(data) < at + length:
            break
        frames.append((data[0] & 0x0F, data[at:at + length]))
        data = data[at + length:]
    return frames, data


def _handshake(server):
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
    key = base64.b64encode(os.urandom(16))
    sock.sendall(b"GET /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                 b"Connection: Upgrade\r\nSec-WebSocket-Key: " + key + b"\r\n"
                 b"Sec-WebSocket-Version: 13\r\n\r\n")
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        assert chunk, data
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 101 ")
    return sock, rest


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("closer", ["client", "server"])
def test_nothing_follows_the_close_frame(live_server, mode, closer):
    """Werkzeug writes "HTTP/1.1 200 OK" onto the upgraded socket after the
    route returns; fastcore writes nothing once the app took it over."""
    server = live_server("ws_apps.echo_app", mode)
    sock, rest = _handshake(server)
    with sock:
        sock.sendall(_frame(0x1, b"hi"))
        if closer == "client":
            sock.sendall(_frame(0x8, (1000).to_bytes(2, "big") + b"done"))
        else:
            sock.sendall(_frame(0x1, b"bye"))
        data = rest + recv_until_closed(sock)
        frames, after = _frames(data)
        if closer == "server":
            sock.sendall(_frame(0x8, (1000).to_bytes(2, "big")))
    assert frames[0] == (0x1, b"hi")
    assert frames[-1][0] == 0x8, frames
    assert after == b"", f"bytes after the close frame: {after!r}"
    log = server.wait_log('"GET /echo HTTP/1.1" 101')
    assert "Traceback" not in log and "Errno 9" not in log


@pytest.mark.parametrize("mode", MODES)
def test_the_connection_ends_when_the_app_returns(live_server, mode):
    """Flask-Sock sends a close frame and returns: a client that never
    answers it holds neither the socket nor a thread of the server's."""
    server = live_server("ws_apps.echo_app", mode)
    warm, _ = _handshake(server)  # the server's threads and fds for one websocket, ended
    warm.sendall(_frame(0x8, (1000).to_bytes(2, "big")))
    recv_until_closed(warm)
    warm.close()
    time.sleep(0.3)
    before = process_stats(server.proc.pid)
    sock, rest = _handshake(server)
    with sock:
        sock.sendall(_frame(0x1, b"bye"))
        started = time.monotonic()
        data = rest + recv_until_closed(sock, timeout=10)
        took = time.monotonic() - started
    frames, after = _frames(data)
    assert frames[-1][0] == 0x8 and after == b""
    assert took < 3, f"the server held the connection {took:.1f} s"
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        now = process_stats(server.proc.pid)
        if now["fds"] <= before["fds"] and now["threads"] <= before["threads"]:
            break
        time.sleep(0.05)
    assert now["fds"] <= before["fds"] and now["threads"] <= before["threads"], (before, now)


def test_an_upgrade_request_the_app_answers_normally_is_ordinary(live_server):
    server = live_server("ws_apps.echo_app", "threaded")
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        for _ in range(2):  # kept alive: the server still owns the connection
            # (curl --http2 sends this; Werkzeug's routing answers a websocket
            # upgrade to a plain route with 400.)
            sock.sendall(b"GET / HTTP/1.1\r\nHost: a\r\nUpgrade: h2c\r\n"
                         b"Connection: Upgrade, HTTP2-Settings\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n")
            data = sock.recv(65536)
            assert data.startswith(b"HTTP/1.1 200 ") and data.endswith(b"hello")


# -- Flask-SocketIO -----------------------------------------------------------------------

SOCKETIO_RUN = """
import fastcore, ws_apps
fastcore.patch_werkzeug()
ws_apps.socketio.run(ws_apps.socketio_app, port={port}, allow_unsafe_werkzeug=True)
"""


@pytest.mark.parametrize("transport", ["websocket", "polling"])
def test_flask_socketio_acknowledged_events(tmp_path, transport):
    port = _free_port()
    server = launched([sys.executable, "-c", SOCKETIO_RUN.format(port=port)],
                      tmp_path / "socketio.log", port)
    client = socketio.Client()
    try:
        client.connect(server.url, transports=[transport], wait_timeout=10)
        assert client.transport() == transport
        for batch in range(2):
            for i in range(50):
                assert client.call("echo", {"n": i, "batch": batch}, timeout=5) == {
                    "n": i, "batch": batch}
            if batch == 0:
                time.sleep(3)
    finally:
        client.disconnect()
        server.stop()
    log = server.log()
    assert " 500 " not in log and "Traceback" not in log
    if transport == "websocket":
        assert "GET /socket.io/?transport=websocket" in log and '" 101 ' in log


@pytest.mark.parametrize("mode", MODES)
def test_stop_ends_open_websockets(live_server, mode):
    """SIGTERM stops the server even while websockets are open: they are shut
    down, so their libraries end them, and the process exits 0."""
    server = live_server("ws_apps.echo_app", mode)
    sockets = [_connect(server) for _ in range(3 if mode == "threaded" else 1)]
    closed = threading.Event()

    def wait_closed(ws):
        try:
            ws.receive(timeout=10)
        except simple_websocket.ConnectionClosed:
            closed.set()

    watcher = threading.Thread(target=wait_closed, args=(sockets[0],))
    watcher.start()
    started = time.monotonic()
    assert server.stop() == 0
    assert time.monotonic() - started < 5
    watcher.join(5)
    assert closed.is_set()
