"""Shared fixtures: every parser test runs against both implementations."""

import importlib
import os
import sys
from pathlib import Path

import pytest
from hypothesis import settings

# HYPOTHESIS_PROFILE=thorough runs the property tests a hundred times longer.
settings.register_profile("default", max_examples=300)
settings.register_profile("thorough", max_examples=30000)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

# The benchmarks' peer adapters (Werkzeug's path, httptools, h11) are reused by
# the tests that compare environs; the repository root itself is not put on
# sys.path, so the installed fastcore (with its compiled module) is the one tested.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))

# The pure twin alone: forced (FASTCORE_NO_EXTENSIONS), or an install that
# could not build the extension and said so (test_parser_compiled checks that
# a normal install has it).
PURE_REASON = importlib.import_module("fastcore.parser").PURE_REASON
PURE_ONLY = PURE_REASON is not None
# `make test-sanitized`: the extension runs under AddressSanitizer.
UNDER_ASAN = "asan" in os.environ.get("LD_PRELOAD", "")


# How long a test waits for a server to start, or a reloader to restart it:
# long enough for the slowest honest reloader on a busy 2-vCPU laptop.
RESTART_WAIT = 60


@pytest.fixture(params=["compiled", "pure"])
def impl(request):
    """The module under test: fastcore._parser or fastcore._parser_py."""
    if request.param == "compiled":
        if PURE_ONLY:
            pytest.skip(f"pure-Python parser only: {PURE_REASON}")
        return importlib.import_module("fastcore._parser")
    return importlib.import_module("fastcore._parser_py")


# ---------------------------------------------------------------------------
# Live servers: a test app served by fastcore in a subprocess.

import select  # noqa: E402
import signal  # noqa: E402
import socket  # noqa: E402
import subprocess  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402

import requests  # noqa: E402

SERVE = str(Path(__file__).resolve().parent / "serve.py")


class LiveServer:
    def __init__(self, proc, address, log_path):
        self.proc = proc
        self.address = address
        self.log_path = log_path

    @property
    def port(self):
        return self.address[1]

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def log(self):
        return self.log_path.read_text(errors="replace")

    def wait_log(self, text, count=1, timeout=5):
        """The log, once ``text`` appears in it ``count`` times (lines are
        written after each response is sent, so they may lag a client)."""
        deadline = time.monotonic() + timeout
        while self.log().count(text) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.log()

    def connect(self, timeout=5):
        if isinstance(self.address, str):
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(timeout)
            sock.connect(self.address)
            return sock
        return socket.create_connection(self.address, timeout=timeout)

    def exchange(self, raw, timeout=5):
        """Send ``raw`` on a new connection; everything the server sends back
        until it closes. (A server may refuse and reset while we still send:
        what arrived before that is returned.)"""
        sock = self.connect(timeout)
        try:
            sock.sendall(raw)
        except OSError:
            pass
        with sock:
            return recv_until_closed(sock, timeout)

    def stop(self, sig=signal.SIGTERM, timeout=15):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


def launch(log_path, app, mode="threaded", env=None, **options):
    """serve.py running ``app`` in ``mode`` with ``options``, logging to
    ``log_path``; ``env``: variables to add to its environment."""
    args = [sys.executable, SERVE, app, mode, *(f"{k}={v}" for k, v in options.items())]
    with open(log_path, "w") as log:
        proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=log, text=True,
                                env=None if env is None else {**os.environ, **env})
    ready, _, _ = select.select([proc.stdout], [], [], RESTART_WAIT)
    line = proc.stdout.readline().split() if ready else []
    if len(line) != 2:
        proc.kill()
        raise RuntimeError(f"server did not start: {log_path.read_text()}")
    address = line[1] if line[0] == "UNIX" else ("127.0.0.1", int(line[1]))
    return LiveServer(proc, address, log_path)


@pytest.fixture
def live_server(tmp_path):
    """start(app, mode="threaded", **options) -> LiveServer, stopped after the test."""
    servers = []

    def start(app, mode="threaded", **options):
        server = launch(tmp_path / f"server{len(servers)}.log", app, mode, **options)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


class _Recorded:
    """What http.client.HTTPResponse wants of a socket: a file it may close."""

    def __init__(self, data):
        import io

        class Unclosable(io.BytesIO):
            def close(self):
                pass

        self.fp = Unclosable(data)

    def makefile(self, mode):
        return self.fp


def read_responses(data, methods=()):
    """Parse the HTTP responses in ``data`` (bytes a server sent) with
    http.client: [(status, headers, body)], bodies de-chunked. ``methods``
    lists the request methods in order, where HEAD matters."""
    import http.client

    sock = _Recorded(data)
    responses = []
    methods = list(methods)
    while sock.fp.tell() < len(data):
        method = methods[len(responses)] if len(responses) < len(methods) else "GET"
        response = http.client.HTTPResponse(sock, method=method)
        response.begin()
        if response.status == 100:
            continue
        responses.append((response.status, response.headers, response.read()))
    return responses


def process_stats(pid):
    """A process's RSS (bytes), thread count, open descriptors and CPU
    seconds used, every thread's (Linux)."""
    with open(f"/proc/{pid}/status") as f:
        fields = dict(line.split(":", 1) for line in f)
    with open(f"/proc/{pid}/stat") as f:
        times = f.read().rsplit(")", 1)[1].split()[11:13]  # utime, stime (proc(5))
    return {"rss": int(fields["VmRSS"].split()[0]) * 1024,
            "threads": int(fields["Threads"]),
            "fds": len(os.listdir(f"/proc/{pid}/fd")),
            "cpu": sum(int(t) for t in times) / os.sysconf("SC_CLK_TCK")}


def free_port():
    """A TCP port of 127.0.0.1 that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def recv_until_closed(sock, timeout=5):
    """Everything the server sends until it closes the connection."""
    sock.settimeout(timeout)
    chunks = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            data = sock.recv(65536)
        except socket.timeout:
            break
        if not data:
            break
        chunks.append(data)
    return b"".join(chunks)


class Process:
    """A command whose output (stdout and stderr) is collected by a thread;
    with ``session``, in a session of its own (its group can be signalled)."""

    def __init__(self, args, cwd, env=None, session=False):
        self.proc = subprocess.Popen(args, cwd=cwd, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True,
                                     env={**os.environ, **(env or {})},
                                     start_new_session=session)
        self._lines = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self):
        for line in self.proc.stdout:
            self._lines.append(line)

    @property
    def output(self):
        return "".join(self._lines)

    def wait_for(self, text, timeout=RESTART_WAIT):
        deadline = time.monotonic() + timeout
        while text not in self.output and time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self._reader.join(1)
                break
            time.sleep(0.05)
        assert text in self.output, self.output
        return self.output

    def wait(self, timeout):
        """The exit code, once the process has exited and its output is read."""
        code = self.proc.wait(timeout)
        self._reader.join(5)
        return code

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._reader.join(5)
        return self.proc.returncode


def get_until(url, predicate, timeout=RESTART_WAIT):
    """GET ``url`` until the response satisfies ``predicate`` (a reloader
    restarts the server in between); the last response (None if none came)."""
    deadline = time.monotonic() + timeout
    response = None
    while time.monotonic() < deadline:
        try:
            response = requests.get(url, timeout=5)
            if predicate(response):
                break
        except requests.RequestException:  # refused, reset, or slow while it restarts
            pass
        time.sleep(0.2)
    return response
