"""fastcore's gunicorn worker under a real gunicorn arbiter, in a subprocess on
127.0.0.1 (and a Unix socket), every wait bounded."""

import os
import re
import signal
import socket
import ssl
import subprocess
import sys
import textwrap
import threading
import time

import pytest
import requests

from conftest import RESTART_WAIT, LiveServer, free_port, recv_until_closed
from fastcore.errors import HeaderFieldsTooLarge, URITooLong
from vectors import INVALID

pytest.importorskip("gunicorn")
from gunicorn.config import KNOWN_SETTINGS  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
# Newer gunicorns open a control socket in ~/.gunicorn unless told not to.
NO_CONTROL_SOCKET = (["--no-control-socket"] if any(
    setting.name == "control_socket_disable" for setting in KNOWN_SETTINGS) else [])


class Arbiter(LiveServer):
    """`gunicorn -k fastcore.gunicorn.Worker gunicorn_apps:app` with ``args``."""

    def __init__(self, tmp_path, *args, app="gunicorn_apps:app"):
        port = free_port()
        log_path = tmp_path / "gunicorn.log"
        command = [sys.executable, "-m", "gunicorn", "-k", "fastcore.gunicorn.Worker",
                   "--bind", f"127.0.0.1:{port}", *NO_CONTROL_SOCKET, *args, app]
        with open(log_path, "w") as log:
            proc = subprocess.Popen(command, cwd=HERE, stdout=log, stderr=subprocess.STDOUT)
        super().__init__(proc, ("127.0.0.1", port), log_path)
        self.wait_log("Booting worker")
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.05)
        raise AssertionError(self.log())

    def wait_log(self, text, count=1, timeout=20):
        log = super().wait_log(text, count, timeout)
        assert log.count(text) >= count, f"{text!r} not logged:\n{log}"
        return log

    def get(self, path="/", **kwargs):
        return requests.get(self.url + path, timeout=kwargs.pop("timeout", 10), **kwargs)


@pytest.fixture
def arbiter(tmp_path):
    started = []

    def start(*args, **kwargs):
        server = Arbiter(tmp_path, *args, **kwargs)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop(signal.SIGQUIT)


def _pids(server, count):
    pids = set()
    for _ in range(count):
        pids.add(server.get(headers={"Connection": "close"}).json()["pid"])
    return pids


def test_two_workers_both_serve(arbiter):
    server = arbiter("--workers", "2", "--threads", "4")
    server.wait_log("Booting worker", count=2)
    environ = server.get().json()
    assert environ["SERVER_SOFTWARE"].startswith("gunicorn/")
    assert "fastcore/" in environ["SERVER_SOFTWARE"]
    assert environ["gunicorn.socket"] and environ["wsgi.multiprocess"] is True
    assert environ["wsgi.multithread"] is True
    assert len(_pids(server, 200)) == 2


@pytest.fixture(scope="module")
def shared_arbiter(tmp_path_factory):
    """One arbiter for a table of cases."""
    server = Arbiter(tmp_path_factory.mktemp("shared"), "--threads", "2")
    yield server
    server.stop(signal.SIGQUIT)


# The size limits are gunicorn's here (test_hooks_limits_and_a_unix_socket).
@pytest.mark.parametrize("vector", [v for v in INVALID if v["limits"] is None and v["error"]
                                    not in (URITooLong, HeaderFieldsTooLarge)],
                         ids=lambda v: v["id"])
def test_invalid_requests_are_refused_as_by_the_dev_server(shared_arbiter, vector):
    with socket.create_connection(("127.0.0.1", shared_arbiter.port), timeout=5) as sock:
        try:
            sock.sendall(vector["raw"])
        except OSError:
            pass
        data = recv_until_closed(sock)
    assert data.startswith(b"HTTP/1.1 %d " % vector["error"].status), data
    assert vector["reason"].encode() in data


def _get_in_background(server, path):
    """GET ``path`` from a thread, and wait until the request runs; a
    function that returns its response once it has come."""
    result = {}
    client = threading.Thread(target=lambda: result.update(response=server.get(path, timeout=30)))
    client.start()
    time.sleep(0.5)

    def response():
        client.join(10)
        return result["response"]

    return response


def test_sigterm_lets_the_request_in_flight_finish(arbiter):
    server = arbiter("--graceful-timeout", "10")
    response = _get_in_background(server, "/sleep?2")
    started = time.monotonic()
    assert server.stop(signal.SIGTERM) == 0
    assert time.monotonic() - started < 10
    assert response().status_code == 200


@pytest.mark.parametrize("threads", ["1", "4"])
def test_sigterm_ends_event_streams_at_once_and_finishes_a_request(arbiter, threads):
    """gunicorn's graceful timeout (30 s here) governs the requests in
    flight; a stream, which would never end, does not hold the worker."""
    server = arbiter("--threads", threads, "--graceful-timeout", "30")
    streams = []
    for _ in range(1 if threads == "1" else 3):
        stream = socket.create_connection(("127.0.0.1", server.port), timeout=30)
        stream.sendall(b"GET /events HTTP/1.1\r\nHost: x\r\n\r\n")
        received = b""
        while b"data: tick" not in received:
            received += stream.recv(65536)
        streams.append(stream)
    if threads != "1":  # (one thread: the stream holds it)
        response = _get_in_background(server, "/sleep?2")
    started = time.monotonic()
    assert server.stop(signal.SIGTERM, timeout=30) == 0
    assert time.monotonic() - started < 10  # not the graceful timeout
    for stream in streams:
        stream.settimeout(10)
        while stream.recv(65536):  # the stream ends: EOF, not a hang
            pass
    if threads != "1":
        assert response().status_code == 200
    assert "Traceback" not in server.log()


def test_sighup_reloads_without_refusing_a_request(arbiter):
    server = arbiter("--workers", "2", "--threads", "2")
    server.wait_log("Booting worker", count=2)
    before = _pids(server, 20)
    failures, done, pids = [], threading.Event(), set()

    def client():
        session = requests.Session()
        while not done.is_set():
            try:
                pids.add(session.get(server.url, timeout=10).json()["pid"])
            except requests.RequestException as e:
                failures.append(e)

    thread = threading.Thread(target=client)
    thread.start()
    time.sleep(0.3)
    server.proc.send_signal(signal.SIGHUP)
    server.wait_log("Booting worker", count=4)
    time.sleep(1.5)
    done.set()
    thread.join(15)
    after = _pids(server, 20)
    assert not failures, failures
    assert after and not (after & before), (before, after)


def test_max_requests_replaces_the_worker_and_no_request_fails(arbiter):
    server = arbiter("--max-requests", "50", "--threads", "2")
    session = requests.Session()
    pids, closes = [], []
    for _ in range(120):
        response = session.get(server.url, timeout=10)
        assert response.status_code == 200
        pids.append(response.json()["pid"])
        closes.append(response.headers.get("Connection") == "close")
    assert "Autorestarting worker after current request." in server.log()
    first = pids[0]
    assert pids[:50] == [first] * 50
    assert closes.index(True) == 49  # the 50th says so: the client reconnects
    # The reconnection may be queued before the old worker stops accepting:
    # it then answers it (with Connection: close), and its successor the next.
    assert first not in pids[55:]


def test_a_blocked_thread_does_not_stop_the_heartbeat(arbiter):
    server = arbiter("--threads", "4", "--timeout", "2")
    pid = server.get().json()["pid"]
    blocked = threading.Thread(target=lambda: requests.get(server.url + "/sleep?5", timeout=15))
    blocked.start()
    time.sleep(0.3)
    for _ in range(20):  # served by the other threads meanwhile
        assert server.get().json()["pid"] == pid
        time.sleep(0.2)
    blocked.join(15)
    assert server.get().json()["pid"] == pid
    assert "WORKER TIMEOUT" not in server.log()


def test_with_one_thread_a_blocked_app_gets_the_worker_replaced(arbiter):
    server = arbiter("--threads", "1", "--timeout", "2")
    pid = server.get().json()["pid"]
    with pytest.raises(requests.RequestException):
        requests.get(server.url + "/sleep?10", timeout=15)
    server.wait_log("WORKER TIMEOUT")
    server.wait_log("Booting worker", count=2)
    assert server.get().json()["pid"] != pid


def test_access_log_format(arbiter):
    server = arbiter("--access-logfile", "-", "--access-logformat",
                     "%(h)s|%(r)s|%(s)s|%(b)s|%(m)s|%(U)s|%(q)s|%({x-in}i)s|%({x-out}o)s|%(p)s")
    body = server.get("/p?q=1", headers={"X-In": "in-value"}).content
    log = server.wait_log("|GET /p?q=1 HTTP/1.1|")
    line = next(line for line in log.splitlines() if "|GET /p?q=1 HTTP/1.1|" in line)
    pid = server.get().json()["pid"]
    assert line == (f"127.0.0.1|GET /p?q=1 HTTP/1.1|200|{len(body)}|GET|/p|q=1|in-value|"
                    f"out-value|<{pid}>")


def test_a_logger_class_of_the_users_gets_gunicorns_access_call(arbiter, tmp_path):
    """A logger_class that overrides access() is called as gunicorn calls
    it, with the response, the request and how long it took."""
    lines = tmp_path / "access.txt"
    config = tmp_path / "conf.py"
    config.write_text(textwrap.dedent(f"""
        from gunicorn.glogging import Logger

        class Recording(Logger):
            def access(self, resp, req, environ, request_time):
                with open({str(lines)!r}, "a") as f:
                    f.write(f"{{resp.status}}|{{resp.sent}}|{{req.method}}|{{req.path}}|"
                            f"{{req.query}}|{{req.scheme}}|{{dict(req.headers)['X-IN']}}|"
                            f"{{request_time.total_seconds() < 5}}\\n")

        logger_class = Recording
        accesslog = "-"
    """))
    server = arbiter("--config", str(config))
    body = server.get("/logged?x=1", headers={"X-In": "v", "X-Forwarded-Proto": "https"}).content
    # The line whole: the file exists from its open(), before the write.
    deadline = time.monotonic() + RESTART_WAIT
    while time.monotonic() < deadline and not (lines.exists()
                                               and lines.read_text().endswith("\n")):
        time.sleep(0.02)
    assert lines.read_text() == f"200 OK|{len(body)}|GET|/logged|x=1|https|v|True\n"


def test_app_errors_go_to_gunicorns_error_log(arbiter):
    server = arbiter()
    assert server.get("/fail").status_code == 500
    log = server.wait_log("RuntimeError: the app failed on purpose")
    assert "[ERROR]" in log


def test_every_tcp_bind_answers_without_nagle(arbiter):
    """Several binds: each is served, and its connections have TCP_NODELAY
    (a response's last bytes are not held back waiting for an ACK)."""
    second = free_port()
    server = arbiter("--bind", f"127.0.0.1:{second}")
    first = server.get().json()
    other = requests.get(f"http://127.0.0.1:{second}/", timeout=10).json()
    assert (first["SERVER_PORT"], other["SERVER_PORT"]) == (str(server.port), str(second))
    assert first["nodelay"] and other["nodelay"]


def test_hooks_limits_and_a_unix_socket(arbiter, tmp_path):
    hooks = tmp_path / "hooks.txt"
    config = tmp_path / "conf.py"
    config.write_text(textwrap.dedent(f"""
        limit_request_line = 100
        keepalive = 5

        def pre_request(worker, req):
            with open({str(hooks)!r}, "a") as f:
                f.write(f"pre {{req.method}} {{req.path}} {{req.scheme}}\\n")

        def post_request(worker, req, environ, resp):
            with open({str(hooks)!r}, "a") as f:
                f.write(f"post {{req.path}} {{resp.status}} {{environ['PATH_INFO']}} "
                        f"{{req.scheme}}\\n")
    """))
    unix = tmp_path / "g.sock"
    server = arbiter("--config", str(config), "--bind", f"unix:{unix}")
    assert server.get("/hooked").status_code == 200
    # Contradictory scheme headers are refused before any hook sees the request.
    assert server.get("/no", headers={"X-Forwarded-Proto": "https",
                                      "X-Forwarded-Ssl": "off"}).status_code == 400
    assert server.get("/proxied", headers={"X-Forwarded-Proto": "https"}).status_code == 200
    deadline = time.monotonic() + 5  # post_request runs once the response is sent
    while hooks.read_text().count("\n") < 4 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert hooks.read_text().splitlines() == [
        "pre GET /hooked http", "post /hooked 200 OK /hooked http",
        "pre GET /proxied https", "post /proxied 200 OK /proxied https"]
    assert server.get("/" + "a" * 200).status_code == 414
    with socket.socket(socket.AF_UNIX) as sock:
        sock.settimeout(5)
        sock.connect(str(unix))
        sock.sendall(b"GET /unix HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        data = recv_until_closed(sock)
    assert data.startswith(b"HTTP/1.1 200 ") and b'"PATH_INFO": "/unix"' in data


def test_scheme_headers_from_trusted_proxies_only(arbiter):
    server = arbiter("--forwarded-allow-ips", "127.0.0.1")
    assert server.get().json()["wsgi.url_scheme"] == "http"
    https = server.get(headers={"X-Forwarded-Proto": "https"}).json()
    assert https["wsgi.url_scheme"] == "https" and https["REMOTE_ADDR"] == "127.0.0.1"
    both = server.get(headers={"X-Forwarded-Proto": "https", "X-Forwarded-Ssl": "off"})
    assert both.status_code == 400
    untrusted = arbiter("--forwarded-allow-ips", "10.0.0.1")  # (networks: gunicorn 24 on)
    assert untrusted.get(headers={"X-Forwarded-Proto": "https"}).json()["wsgi.url_scheme"] == "http"


def test_tls_with_a_certificate_made_here(arbiter, tmp_path):
    from werkzeug.serving import make_ssl_devcert

    cert, key = make_ssl_devcert(str(tmp_path / "dev"), host="127.0.0.1")
    server = arbiter("--certfile", cert, "--keyfile", key)
    context = ssl.create_default_context(cafile=cert)
    context.check_hostname = False
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as raw:
        with context.wrap_socket(raw) as tls:
            tls.sendall(b"GET /tls HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
            data = recv_until_closed(tls)
    assert data.startswith(b"HTTP/1.1 200 ") and b'"wsgi.url_scheme": "https"' in data


def test_worker_connections_bounds_open_connections(arbiter):
    server = arbiter("--threads", "2", "--worker-connections", "2", "--keep-alive", "30")
    idle = [socket.create_connection(("127.0.0.1", server.port), timeout=5) for _ in range(2)]
    for sock in idle:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
        assert sock.recv(65536).startswith(b"HTTP/1.1 200 ")
    waiting = socket.create_connection(("127.0.0.1", server.port), timeout=5)
    waiting.sendall(b"GET /third HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
    waiting.settimeout(1)
    with pytest.raises(socket.timeout):
        waiting.recv(65536)  # not accepted while two are open
    idle[0].close()
    waiting.settimeout(5)
    assert recv_until_closed(waiting).startswith(b"HTTP/1.1 200 ")
    for sock in (idle[1], waiting):
        sock.close()


def test_a_websocket_through_the_worker(arbiter):
    import simple_websocket

    server = arbiter("--threads", "4", app="ws_apps:echo_app")
    ws = simple_websocket.Client.connect(f"ws://127.0.0.1:{server.port}/echo")
    for message in ("one", "x" * 100000):
        ws.send(message)
        assert ws.receive(timeout=5) == message
    ws.close()
    assert server.get().text == "hello"


def test_sigquit_exits_at_once(arbiter):
    server = arbiter("--graceful-timeout", "30")
    cut = threading.Thread(target=lambda: pytest.raises(
        requests.RequestException, requests.get, server.url + "/sleep?10", timeout=15))
    cut.start()
    time.sleep(0.5)
    started = time.monotonic()
    server.stop(signal.SIGQUIT)
    assert time.monotonic() - started < 5
    cut.join(15)


def test_sigusr1_reopens_the_access_log(arbiter, tmp_path):
    access = tmp_path / "access.log"
    server = arbiter("--access-logfile", str(access))
    server.get("/before")
    deadline = time.monotonic() + 5
    while "/before" not in access.read_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    access.rename(tmp_path / "access.log.1")  # as logrotate does
    server.proc.send_signal(signal.SIGUSR1)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        server.get("/after")
        if access.exists() and "/after" in access.read_text():
            break
        time.sleep(0.2)
    assert "/after" in access.read_text()
    assert "/before" in (tmp_path / "access.log.1").read_text()


def test_sendfile_setting(arbiter):
    """server_apps.sendfile's file fails read(): only os.sendfile can send it."""
    with open(os.path.join(HERE, "server_apps.py"), "rb") as f:
        expected = f.read()
    assert arbiter(app="server_apps:sendfile").get().content == expected
    server = arbiter("--no-sendfile", app="server_apps:sendfile")
    assert server.get().status_code == 500
    assert "read() called: the server iterated instead of sendfile" in server.wait_log("read()")


@pytest.mark.parametrize("access_format", [
    None,  # gunicorn's default: '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s"'
    '%(h)s|%(r)s|%(s)s|%(b)s|%(B)s|%(m)s|%(U)s|%(q)s|%(H)s|%(p)s|%(missing)s|%(T)s %(D)s %(M)s %(L)s',
    '%(u)s %({X-In}i)s %({x-in}i)s %({content-type}o)s %({path_info}e)s %({nothere}i)s',
    "a line that names no atom",
    "%({it's}i)s %({a\\b}i)s",  # header names written into the compiled line's source
])
def test_access_lines_are_gunicorns_own(tmp_path, access_format):
    """AccessLog writes, for the same request, the line gunicorn's Logger writes."""
    import base64
    import datetime
    import types

    from gunicorn.config import Config
    from gunicorn.glogging import Logger

    from fastcore.wsgi.access_log import access_log
    from fastcore.gunicorn.log import AccessLog, GunicornRequest, GunicornResponse
    from fastcore.parser import build_environ, parse_request

    path = tmp_path / "access.log"
    cfg = Config()
    cfg.set("accesslog", str(path))
    if access_format:
        cfg.set("access_log_format", access_format)
    logger = Logger(cfg)
    user = base64.b64encode(b"alice:secret")
    head = parse_request(b'GET /p?q=1 HTTP/1.1\r\nHost: a\r\nX-In: "quoted"\r\n'
                         b"User-Agent: ua/\"1\"\r\nAuthorization: Basic " + user + b"\r\n\r\n")
    environ = build_environ(head, {"REMOTE_ADDR": "127.0.0.1"})
    exchange = types.SimpleNamespace(head=head, status="404 Not Found", sent=5,
                                     headers=[("Content-Type", "text/plain")])
    took = datetime.timedelta(microseconds=1234)
    ours = AccessLog(logger)
    ours.write(404, exchange, environ, took.total_seconds(), "http")
    access_log.flush()
    logger.access(GunicornResponse("404 Not Found", 5, [("Content-Type", "text/plain")]),
                  GunicornRequest(head, "http"), environ, took)
    ours_line, gunicorn_line = path.read_text().splitlines()
    # The same line, but for the time each was written: a loaded machine may
    # stamp the two a second apart (seen twice in CI, never alone).
    stamp = re.compile(r"\[\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}\]")
    assert stamp.sub("[TIME]", ours_line) == stamp.sub("[TIME]", gunicorn_line)
    times = [stamp.search(line) for line in (ours_line, gunicorn_line)]
    assert (times[0] is None) == (times[1] is None)
    if times[0] is not None:
        ours_time, gunicorn_time = (datetime.datetime.strptime(found.group(), "[%d/%b/%Y:%H:%M:%S %z]")
                                    for found in times)
        assert 0 <= (gunicorn_time - ours_time).total_seconds() <= 1
