"""The I/O core under concurrency: a slow app, a stream, a full pool, many
keep-alive clients and pipelined bodies, each on a real server in a
subprocess on 127.0.0.1. "+level" runs the same loop on the level-triggered
selector it uses where there is no epoll."""

import json
import signal
import socket
import ssl
import threading
import time

import pytest
import requests

from conftest import process_stats, read_responses, recv_until_closed

MODES = ["threaded", "single", "threaded+level"]


class Client:
    """A keep-alive connection that sends one request and reads its response
    (Content-Length framed), timing each."""

    def __init__(self, server, tls=False):
        self.sock = server.connect(timeout=10)
        if tls:
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
            self.sock = context.wrap_socket(self.sock)
        self.buffer = b""

    def request(self, raw):
        """Send ``raw``; the response's head and (de-chunked) body, and seconds taken."""
        started = time.perf_counter()
        self.sock.sendall(raw)
        while b"\r\n\r\n" not in self.buffer:
            self._more()
        head, _, self.buffer = self.buffer.partition(b"\r\n\r\n")
        if b"\r\ncontent-length: " in head.lower():
            length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
            body = self._take(length)
        else:  # chunked
            body = b""
            while True:
                while b"\r\n" not in self.buffer:
                    self._more()
                size_line, _, self.buffer = self.buffer.partition(b"\r\n")
                size = int(size_line, 16)
                chunk = self._take(size + 2)
                if size == 0:
                    break
                body += chunk[:-2]
        return head, body, time.perf_counter() - started

    def _take(self, count):
        while len(self.buffer) < count:
            self._more()
        data, self.buffer = self.buffer[:count], self.buffer[count:]
        return data

    def _more(self):
        data = self.sock.recv(65536)
        if not data:
            raise ConnectionError("the server closed the connection")
        self.buffer += data

    def close(self):
        self.sock.close()


def get(path):
    return f"GET {path} HTTP/1.1\r\nHost: a\r\n\r\n".encode()


def test_a_sleeping_app_does_not_delay_other_connections(live_server):
    server = live_server("slow", "threaded")
    sleeper = server.connect(timeout=10)
    others = [Client(server) for _ in range(9)]
    for client in others:  # connected and warmed up before the sleep starts
        client.request(get("/?0"))
    sleeper.sendall(b"GET /?2 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
    time.sleep(0.1)
    latencies = []
    started = time.monotonic()
    while time.monotonic() - started < 1.5:  # well inside the 2 s sleep
        for client in others:
            head, body, seconds = client.request(get("/?0"))
            assert body == b"done"
            latencies.append(seconds)
    [(status, _, body)] = read_responses(recv_until_closed(sleeper, timeout=5))
    assert status == 200 and body == b"done"
    # Each was answered while the sleeper slept (one held behind it would
    # have waited up to 2 s); how quickly is benchmarks/load.py's business.
    assert len(latencies) >= 9 and max(latencies) < 1.0, (len(latencies), max(latencies))


def test_a_stream_keeps_its_thread_without_holding_the_loop(live_server):
    server = live_server("sse", "threaded")
    stream = server.connect(timeout=10)
    stream.sendall(get("/events?25"))  # 25 events, 0.1 s apart: 2.5 s
    first = stream.recv(65536)
    assert b"text/event-stream" in first and b"data: 0" in first
    client = Client(server)
    for _ in range(50):  # meanwhile other requests are answered, not held behind it
        head, body, seconds = client.request(get("/other"))
        assert body == b"ok" and seconds < 1.0
    received = first
    deadline = time.monotonic() + 5
    while b"data: 24" not in received and time.monotonic() < deadline:
        received += stream.recv(65536)
    assert all(f"data: {i}\n\n".encode() in received for i in range(25))
    # The stream ran on a thread of its own: one more than the loop's.
    assert process_stats(server.proc.pid)["threads"] >= 2
    stream.close()
    client.close()


def test_busy_workers_leave_new_connections_accepted_and_waiting(live_server):
    server = live_server("slow", "threaded", max_workers=2)
    busy = [server.connect(timeout=10) for _ in range(2)]
    for sock in busy:
        sock.sendall(get("/?1.5"))
    time.sleep(0.3)  # both requests running: the most max_workers allows
    waiting = [server.connect(timeout=10) for _ in range(20)]
    for sock in waiting:
        sock.sendall(b"GET /?0 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
    sock = waiting[0]
    sock.settimeout(0.5)
    with pytest.raises(socket.timeout):  # accepted, parked, not yet served
        sock.recv(100)
    started = time.monotonic()
    for sock in waiting:
        [(status, _, body)] = read_responses(recv_until_closed(sock, timeout=5))
        assert status == 200 and body == b"done"
    assert time.monotonic() - started < 3
    for sock in busy:
        [(status, _, body)] = read_responses(recv_until_closed(sock, timeout=5))
        assert body == b"done"


def test_requests_pipelined_behind_a_slow_one_are_served_when_the_loop_moves_off(live_server):
    """The loop moves off a thread whose request runs long while another
    connection needs it; that thread then serves the requests buffered
    behind the slow one itself, in order, and gives the connection back."""
    server = live_server("slow", "threaded")
    slow = Client(server)
    slow.sock.sendall(get("/?3") + get("/?0") + get("/?0"))
    time.sleep(0.05)
    other = Client(server)
    head, body, seconds = other.request(get("/?0"))
    # Not held behind the slow one's 3 s:
    assert body == b"done" and seconds < 1.5, "the loop moved off the slow request"
    for _ in range(3):
        head, body, _ = slow.request(b"")  # the pipelined responses, in order
        assert head.startswith(b"HTTP/1.1 200 ") and body == b"done"
    head, body, _ = slow.request(get("/?0"))  # back on the loop, kept alive
    assert head.startswith(b"HTTP/1.1 200 ") and body == b"done"
    other.close()
    slow.close()


def test_after_a_slow_request_the_extra_threads_end(live_server):
    server = live_server("slow", "threaded", worker_idle=0.3)
    pid = server.proc.pid
    assert process_stats(pid)["threads"] == 1
    assert requests.get(server.url + "/?0.5", timeout=5).text == "done"
    deadline = time.monotonic() + 5  # the monitor ends after 1 s without requests
    while process_stats(pid)["threads"] > 1 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert process_stats(pid)["threads"] == 1
    assert requests.get(server.url + "/?0", timeout=5).text == "done"


def _ran_on(client, seconds=0):
    head, body, _ = client.request(get(f"/?{seconds}"))
    assert head.startswith(b"HTTP/1.1 200 ")
    return body.decode().split()[0]  # the thread's name


@pytest.mark.parametrize("mode", ["threaded", "threaded+level"])
def test_after_a_slow_request_requests_start_on_workers_until_they_are_fast_again(
        live_server, mode):
    """An app whose requests wait would get one started per monitor period
    if each began on the loop's thread; after a slow one they start on
    workers, and a run of fast ones brings them back to the loop."""
    server = live_server("thread", mode)
    client = Client(server)
    assert _ran_on(client) == "MainThread"
    # A busy machine can make a fast request look slow, and the requests after
    # it then start on workers too: the slow one is sent once twenty fast ones
    # in a row ran on the loop's thread, a few times at most.
    for _ in range(3):
        _until_twenty_on_the_loop(client)
        slow = _ran_on(client, 0.2)  # the monitor moves the loop off it
        if slow == "MainThread":
            break
    assert slow == "MainThread"
    names = [_ran_on(client) for _ in range(200)]
    assert names[0] == "fastcore-worker"
    _until_twenty_on_the_loop(client)  # fast ones bring requests back to the loop
    client.close()


def _until_twenty_on_the_loop(client):
    """Fast requests until twenty in a row ran on the loop's thread (within
    30 s): the threads they ran on."""
    names = []
    deadline = time.monotonic() + 30
    while names[-20:] != ["MainThread"] * 20 and time.monotonic() < deadline:
        names.append(_ran_on(client))
    assert names[-20:] == ["MainThread"] * 20, "fast requests come back to the loop"
    return names


def _into_hand_off(server, tls=False):
    """A keep-alive client whose requests now start on a worker, which waits
    for the next one itself."""
    client = Client(server, tls)
    client.request(get("/?sleep=0.2"))  # the monitor moves the loop off it
    client.request(get("/?0"))  # handed off; the worker holds the connection
    return client


@pytest.mark.parametrize("mode, tls", [("threaded", False), ("threaded+level", False),
                                       ("threaded", True)])
def test_a_worker_holding_a_connection_serves_what_the_loop_would(live_server, mode, tls):
    server = live_server("echo", mode, **({"ssl_context": "adhoc"} if tls else {}))
    client = _into_hand_off(server, tls)
    # A head in two writes: the worker's look sees the first part only.
    client.sock.sendall(b"GET /split HTTP/1.1\r\nHo")
    time.sleep(0.02)
    head, body, _ = client.request(b"st: a\r\n\r\n")
    assert json.loads(body)["PATH_INFO"] == "/split"
    # A body, and a request pipelined behind it.
    posted = b"x" * 100_000
    head, body, _ = client.request(
        b"POST /post HTTP/1.1\r\nHost: a\r\nContent-Length: %d\r\n\r\n%s" % (
            len(posted), posted) + get("/behind"))
    assert json.loads(body)["body"] == posted.decode()
    head, body, _ = client.request(b"")
    assert json.loads(body)["PATH_INFO"] == "/behind"
    # Longer than the hold: back to the loop, still kept alive.
    time.sleep(0.3)
    head, body, _ = client.request(get("/later"))
    assert json.loads(body)["PATH_INFO"] == "/later"
    # A bad request is refused as the loop refuses it.
    client.sock.sendall(b"GET /bad HTTP/1.1\r\nHost: a\r\nBad Header: x\r\n\r\n")
    [(status, _, _)] = read_responses(recv_until_closed(client.sock, timeout=5))
    assert status == 400
    # A client that leaves while held: the server goes on.
    _into_hand_off(server, tls).close()
    again = Client(server, tls)
    head, body, _ = again.request(get("/again"))
    assert json.loads(body)["PATH_INFO"] == "/again"
    again.close()


def test_a_request_that_waits_for_a_worker_is_not_overtaken(live_server):
    """Past max_workers requests wait in arrival order; a connection given
    back with its next request already sent queues behind them."""
    server = live_server("interval", "threaded", max_workers=1)
    first = Client(server)
    first.sock.sendall(get("/?0.3"))
    time.sleep(0.1)
    others = []
    for _ in range(3):
        others.append(Client(server))
        others[-1].sock.sendall(get("/?0.05"))
        time.sleep(0.02)
    first.sock.sendall(get("/?0.05"))  # sent while its first request runs
    head, body, _ = first.request(b"")
    first_end = float(body.split()[1])
    starts = [float(client.request(b"")[1].split()[0]) for client in others]
    head, body, _ = first.request(b"")
    assert first_end <= starts[0] <= starts[1] <= starts[2] <= float(body.split()[0])
    for client in [first, *others]:
        client.close()


@pytest.mark.parametrize("mode", MODES)
def test_an_idle_server_uses_no_cpu_after_a_burst(live_server, mode):
    """The loop polls busily for a moment after reading requests (see
    loop.SPIN_SECONDS), then sleeps: a server left idle, its keep-alive
    connection open, uses next to no CPU."""
    server = live_server("path", mode)
    session = requests.Session()
    for _ in range(200):
        assert session.get(server.url + "/burst", timeout=5).status_code == 200
    time.sleep(0.2)  # the access log's last batch, the monitor's last look
    before = process_stats(server.proc.pid)["cpu"]
    time.sleep(1.5)
    assert process_stats(server.proc.pid)["cpu"] - before <= 0.05
    session.close()


@pytest.mark.parametrize("mode, tls", [("threaded", False), ("single", False),
                                       ("threaded", True)])
def test_a_closed_connection_leaves_nothing_for_the_garbage_collector(live_server, mode, tls):
    """What a connection made is freed when it closes, not left in a
    reference cycle for the collector (a cost on every connection)."""
    server = live_server("garbage", mode, **({"ssl_context": "adhoc"} if tls else {}))
    client = Client(server, tls)
    assert client.request(get("/start"))[1] == b"[]"
    client.close()
    for close in (b"Connection: close\r\n", b""):
        for _ in range(20):  # closed by the server, then by the client
            client = Client(server, tls)
            head, body, _ = client.request(b"GET /other HTTP/1.1\r\nHost: a\r\n" + close
                                           + b"\r\n")
            assert head.startswith(b"HTTP/1.1 200")
            client.close()
    time.sleep(0.3)  # the server's side of the last ones closes
    client = Client(server, tls)
    assert json.loads(client.request(get("/count"))[1]) == []
    client.close()


@pytest.mark.parametrize("mode", MODES)
def test_ten_keep_alive_clients_a_thousand_requests_each(live_server, mode):
    server = live_server("path", mode)
    done = []
    errors = []

    def client(n):
        connection = Client(server)
        try:
            for i in range(1000):
                head, body, _ = connection.request(get(f"/c{n}/r{i}"))
                if not head.startswith(b"HTTP/1.1 200") or body != f"/c{n}/r{i} 0".encode():
                    errors.append((n, i, head, body))
                    return
            done.append(n)
        finally:
            connection.close()

    threads = [threading.Thread(target=client, args=(n,)) for n in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[:3]
    # Every client got all its answers, in order (how fast is benchmarks/load.py's business).
    assert sorted(done) == list(range(10))


@pytest.mark.parametrize("mode", ["threaded", "single"])
def test_over_tls_a_request_sent_right_behind_a_body_is_served(live_server, mode):
    """What follows a body may sit decrypted in the TLS object, where no
    poller announces it: it is served all the same, and at once."""
    server = live_server("echo", mode, ssl_context="adhoc")
    client = Client(server, tls=True)
    posted = b"x" * 100_000
    client.sock.sendall(b"POST /post HTTP/1.1\r\nHost: a\r\nContent-Length: %d\r\n\r\n%s"
                        % (len(posted), posted) + get("/behind"))
    head, body, _ = client.request(b"")
    assert json.loads(body)["body"] == posted.decode()
    head, body, seconds = client.request(b"")
    assert json.loads(body)["PATH_INFO"] == "/behind" and seconds < 1
    client.close()


@pytest.mark.parametrize("mode, tls", [*((mode, False) for mode in MODES),
                                       ("threaded", True), ("single", True)])
def test_pipelined_bodies_and_keep_alive_reuse(live_server, mode, tls):
    server = live_server("path", mode, **({"ssl_context": "adhoc"} if tls else {}))
    sock = Client(server, tls).sock

    def chunked(path, pieces):
        return (f"POST {path} HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n".encode()
                + b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in pieces) + b"0\r\n\r\n")

    def sized(path, body):
        return f"POST {path} HTTP/1.1\r\nHost: a\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body

    rounds = [
        [sized("/a", b"x" * 10), get("/b"), chunked("/c", [b"yy", b"z" * 300])],
        [chunked("/d", [b"q" * 70000]), sized("/e", b"w" * 100000)],
        [get("/f")],
        [sized("/g", b""), chunked("/h", []), get("/i")],
    ]
    for batch in rounds:
        raw = b"".join(batch)
        # Split at awkward places: inside heads, bodies and chunk framing.
        for start in range(0, len(raw), 7919):
            sock.sendall(raw[start:start + 7919])
            time.sleep(0.002)
        expected = []
        for request in batch:
            path = request.split(b" ")[1].decode()
            if b"chunked" in request:
                size = sum(len(p) for p in [b"yy", b"z" * 300]) if path == "/c" else (
                    70000 if path == "/d" else 0)
            else:
                size = int(request.split(b"Content-Length: ")[1].split(b"\r\n")[0]) \
                    if b"Content-Length" in request else 0
            expected.append(f"{path} {size}".encode())
        got = b""
        while got.count(b"HTTP/1.1 200 OK") < len(batch) or not got.endswith(expected[-1]):
            data = sock.recv(65536)
            assert data, "the server closed a keep-alive connection"
            got += data
        assert [body for _, _, body in read_responses(got)] == expected
    sock.close()


@pytest.mark.parametrize("mode", MODES)
def test_a_stop_loses_no_request_of_a_keep_alive_client(live_server, mode):
    """On SIGTERM a keep-alive connection's next request, which the client
    may already have sent, is answered (then the connection closes), not
    dropped: a client looping on one connection sees no error but refusals
    of new connections once the server has stopped accepting."""
    server = live_server("path", mode)
    errors, answered, stop = [], [], threading.Event()

    def client():
        session = requests.Session()
        while not stop.is_set():
            try:
                answered.append(session.get(server.url + "/loop", timeout=5).status_code)
            except requests.ConnectionError as e:
                if "refused" not in str(e).lower():
                    errors.append(e)
                return

    threads = [threading.Thread(target=client) for _ in range(3)]
    for thread in threads:
        thread.start()
    time.sleep(0.5)
    assert server.stop() == 0
    stop.set()
    for thread in threads:
        thread.join(10)
    assert answered and set(answered) == {200}
    assert not errors, errors


def test_a_stop_answers_connections_queued_while_the_loop_was_busy(live_server):
    """Single mode: a client that connected while an app held the loop sits
    in the listening socket's queue; on stop it is accepted and answered
    before the listener closes, not reset by the close. Its response says
    Connection: close; the busy one's, sent before the listener closed,
    did not (its client would have reconnected to a closing listener), and
    the server closes that connection once it has been idle a moment."""
    server = live_server("slow", "single")
    busy = socket.create_connection(server.address)
    busy.sendall(b"GET /?1 HTTP/1.1\r\nHost: x\r\n\r\n")
    time.sleep(0.2)
    queued = socket.create_connection(server.address)
    queued.sendall(b"GET /?0 HTTP/1.1\r\nHost: x\r\n\r\n")
    server.proc.send_signal(signal.SIGTERM)
    for sock, connection in ((busy, None), (queued, "close")):
        sock.settimeout(10)
        [(status, headers, body)] = read_responses(recv_until_closed(sock))
        assert (status, headers.get("connection"), body) == (200, connection, b"done")
        sock.close()
    assert server.proc.wait(10) == 0


def test_is_unix_tells_the_socket_families_apart():
    from fastcore.io.sockets import ServerSocket, is_unix

    left, right = socket.socketpair(socket.AF_UNIX)
    with left, right, socket.socket() as tcp, socket.socket(socket.AF_INET6) as tcp6:
        accepted = ServerSocket(socket.AF_UNIX, socket.SOCK_STREAM, fileno=left.detach())
        with accepted:
            assert [is_unix(s) for s in (right, accepted, tcp, tcp6)] == [True, True, False, False]
