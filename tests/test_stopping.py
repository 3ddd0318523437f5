"""Stopping (fastcore.stopping), in real processes on 127.0.0.1, signalled
as a terminal's Ctrl+C signals them (the whole process group): endless event
streams end at once, a request in flight finishes, the console says what it
waits for, a second signal or the end of the grace period exits at once, and
no stop prints a traceback, in every mode and under every reloader.

The bounds are "well before the grace period" (10 s), not speeds: a busy
machine must pass. benchmarks/ is where stopping is timed."""

import os
import random
import signal
import socket
import ssl
import sys
import time

import pytest

from conftest import Process, free_port
from reload import session_pids  # benchmarks/reload.py

pytestmark = pytest.mark.skipif(not hasattr(os, "killpg"), reason="signals a process group")

APP = """
import time

def app(environ, start_response):
    path = environ["PATH_INFO"]
    if path == "/events":  # a stream that never ends, quiet for long spells
        start_response("200 OK", [("Content-Type", "text/event-stream"),
                                  ("Cache-Control", "no-cache")])
        def events():
            while True:
                yield b"data: tick\\n\\n"
                time.sleep(float(environ.get("QUERY_STRING") or 60))
        return events()
    if path == "/slow":
        time.sleep(float(environ["QUERY_STRING"]))
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"done " + path.encode()]
"""

# Under the grace period (10 s) and the 30 s a slow request sleeps, and far
# over what a stop takes (about 0.05 s) even on a machine busy with a CPU
# hog on each core and four test processes.
AT_ONCE = 8.0
START_WAIT = 60  # a reloader's child on a loaded machine may take this long to serve

MODES = {
    "threaded": (),
    "single": ("--no-threads",),
    "processes": ("--processes", "4"),
    "tls": ("--cert", "adhoc"),
}
RELOADERS = {
    "fastcore": {},
    "stat": {"FASTCORE_RELOADER": "stat"},
    "watchdog": {"FASTCORE_RELOADER": "watchdog"},
}
# name -> (fastcore run's options, its environment): each mode, and each reloader.
STOP_CASES = {**{name: (options, None) for name, options in MODES.items()},
              **{f"reload-{name}": (("--reload",), env) for name, env in RELOADERS.items()}}


class Server:
    """``fastcore run app:app`` in a session of its own in ``folder``."""

    def __init__(self, folder, *options, env=None):
        (folder / "app.py").write_text(APP)
        self.port = free_port()
        self.tls = "--cert" in options
        self.process = Process([sys.executable, "-m", "fastcore", "run", "app:app",
                                "--port", str(self.port), *options],
                               cwd=folder, session=True,
                               env={"PYTHONUNBUFFERED": "1", **(env or {})})
        self.clients = []

    @property
    def output(self):
        return self.process.output

    def connect(self):
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=START_WAIT)
        if self.tls:
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
            sock = context.wrap_socket(sock)
        self.clients.append(sock)
        return sock

    def ready(self):
        """Wait until the server answers (a reloader's child may take a while)."""
        deadline = time.monotonic() + START_WAIT
        while True:
            try:
                assert self.get("/").endswith(b"done /")
                return
            except (OSError, AssertionError):
                if time.monotonic() > deadline or self.process.proc.poll() is not None:
                    raise AssertionError(self.output)
                time.sleep(0.1)

    def send(self, target, close=False):
        sock = self.connect()
        extra = "Connection: close\r\n" if close else ""
        sock.sendall(f"GET {target} HTTP/1.1\r\nHost: x\r\n{extra}\r\n".encode())
        return sock

    def get(self, target):
        return read_to_end(self.send(target, close=True), START_WAIT)

    def open_stream(self):
        """An event stream whose first event has arrived."""
        sock = self.send("/events")
        data = b""
        while b"data: tick" not in data:
            chunk = sock.recv(65536)
            assert chunk, data
            data += chunk
        assert b"text/event-stream" in data
        return sock

    def ctrl_c(self):
        os.killpg(self.process.proc.pid, signal.SIGINT)  # as a terminal's Ctrl+C does

    def wait_exit(self, bound):
        """The exit code, and the seconds it took."""
        started = time.monotonic()
        code = self.process.wait(bound)
        return code, time.monotonic() - started

    def assert_nothing_left(self, bound):
        """Every process of the server's session has ended (within ``bound`` s)."""
        sid = self.process.proc.pid
        deadline = time.monotonic() + bound
        while session_pids(sid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert session_pids(sid) == []

    def close(self):
        for sock in self.clients:
            sock.close()
        sid = self.process.proc.pid
        self.process.stop()
        for pid in session_pids(sid):
            os.kill(pid, signal.SIGKILL)


@pytest.fixture
def server(tmp_path):
    started = []

    def start(*options, env=None):
        made = Server(tmp_path, *options, env=env)
        started.append(made)
        made.ready()
        return made

    yield start
    for made in started:
        made.close()


def read_to_end(sock, bound):
    """What ``sock`` receives until the server closes it (a TLS peer that
    closes without close_notify, as a cut stream does, ends it too)."""
    sock.settimeout(bound)
    data = b""
    while True:
        try:
            chunk = sock.recv(65536)
        except (ssl.SSLEOFError, ConnectionResetError):
            return data
        if not chunk:
            return data
        data += chunk


@pytest.mark.parametrize("mode", MODES)
def test_ctrl_c_ends_three_endless_streams_at_once(server, mode):
    running = server(*MODES[mode])
    streams = [running.open_stream() for _ in range(3 if mode != "single" else 1)]
    running.ctrl_c()
    code, took = running.wait_exit(AT_ONCE)
    assert code == 0, running.output
    assert took < AT_ONCE
    for sock in streams:
        read_to_end(sock, AT_ONCE)  # the client sees the stream end (EOF, not a hang)
    assert "Traceback" not in running.output


@pytest.mark.parametrize("mode", MODES)
def test_a_request_in_flight_finishes_and_the_console_says_so(server, mode):
    running = server(*MODES[mode])
    if mode != "single":  # (single mode runs one request at a time)
        running.open_stream()
    slow = running.send("/slow?2")
    time.sleep(0.5)  # the request has started
    running.ctrl_c()
    response = read_to_end(slow, 30)
    assert response.startswith(b"HTTP/1.1 200 OK\r\n")
    assert response.endswith(b"done /slow")
    assert running.wait_exit(30)[0] == 0
    output = running.output
    assert ("Stopping: waiting up to 10 s for 1 request in flight (GET /slow?2 HTTP/1.1); "
            "press CTRL+C again to stop at once") in output
    assert "Traceback" not in output


@pytest.mark.parametrize("mode", ["threaded", "single", "processes", "reload-fastcore",
                                  "reload-stat"])
def test_a_second_ctrl_c_exits_at_once(server, mode):
    options, env = STOP_CASES[mode]
    running = server(*options, env=env)
    slow = running.send("/slow?30")
    time.sleep(0.5)
    running.ctrl_c()
    running.process.wait_for("press CTRL+C again", timeout=30)
    running.ctrl_c()
    code, took = running.wait_exit(AT_ONCE)
    assert code == 1
    assert took < AT_ONCE
    assert "Stopped at once: a second signal" in running.output
    assert not read_to_end(slow, AT_ONCE).endswith(b"done /slow")  # cut
    running.assert_nothing_left(AT_ONCE)  # no child left serving
    assert "Traceback" not in running.output


@pytest.mark.parametrize("mode", ["threaded", "single"])
def test_the_grace_period_caps_the_wait(live_server, mode):
    """A request that outlasts the grace period is cut, and the server
    exits 0 (tests/serve.py: make_server's grace_period)."""
    running = live_server("slow", mode=mode, grace_period=1)
    sock = running.connect(timeout=30)
    sock.sendall(b"GET /?30 HTTP/1.1\r\nHost: x\r\n\r\n")
    time.sleep(0.5)
    started = time.monotonic()
    assert running.stop(signal.SIGTERM, timeout=30) == 0
    assert time.monotonic() - started < 10  # not the 30 s the request wanted
    assert "the grace period of 1 s is over (1 request cut)" in running.log()


# (Werkzeug's watchdog reloader takes seconds to start a child, tens on a
# busy machine: the twenty-stop loop below covers it.)
@pytest.mark.parametrize("reloader", ["fastcore", "stat"])
def test_ctrl_c_under_a_reloader_ends_streams_and_finishes_a_request(server, reloader):
    running = server("--reload", env=RELOADERS[reloader])
    streams = [running.open_stream() for _ in range(3)]
    slow = running.send("/slow?2")
    time.sleep(0.5)
    running.ctrl_c()
    for sock in streams:
        read_to_end(sock, AT_ONCE)
    assert read_to_end(slow, 30).endswith(b"done /slow")
    assert running.wait_exit(30)[0] == 0
    running.assert_nothing_left(30)
    assert "Traceback" not in running.output


@pytest.mark.slow
@pytest.mark.parametrize("mode", STOP_CASES)
def test_twenty_ctrl_c_never_print_a_traceback(server, mode):
    """Ctrl+C at a random moment: idle, a request in flight, a stream open."""
    options, env = STOP_CASES[mode]
    rng = random.Random(mode)
    for round in range(20):
        running = server(*options, env=env)
        moment = rng.choice(["idle", "request", "stream"])
        if moment == "request":
            running.send("/slow?0.3")
        elif moment == "stream":
            running.open_stream()
        time.sleep(rng.uniform(0, 0.2))
        running.ctrl_c()
        code, _ = running.wait_exit(30)
        assert (code, "Traceback" not in running.output) == (0, True), (round, moment,
                                                                         running.output)
        running.close()
