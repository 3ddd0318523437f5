"""The comparison script's own behaviour (structure, not speed)."""

import json
import os
import socket
import time

import pytest

import compare


def test_a_wrong_environ_is_reported_not_timed(monkeypatch, capsys):
    def broken():
        right = compare.peers.fastcore_environ(__import__("fastcore.parser", fromlist=["x"]))

        def environ(raw):
            env = right(raw)
            env["PATH_INFO"] = "/wrong"
            return env
        return environ

    monkeypatch.setattr(compare, "PARSERS", {"werkzeug": compare.PARSERS["werkzeug"],
                                             "broken": ("fastcore.parser", broken)})
    monkeypatch.setattr(compare, "REQUESTS", {"small_get": compare.corpus.SMALL_GET})
    monkeypatch.setattr(compare, "CHUNK_SIZES", ())
    args = compare.parse_args(["--quick", "--only", "parser"])
    results = []
    compare.run_parser_section(args, compare.Progress([1.0, 1.0]), results)
    broken_row = next(r for r in results if r["impl"] == "broken")
    assert "seconds" not in broken_row
    assert broken_row["error"] == "environ differs from Werkzeug's: PATH_INFO"
    werkzeug_row = next(r for r in results if r["impl"] == "werkzeug")
    assert werkzeug_row["seconds"] > 0


def test_missing_peers_are_skipped_with_a_line(monkeypatch, capsys):
    monkeypatch.setitem(compare.SERVERS, "nowhere", ("no_such_server_pkg", "no-such-server",
                                                     "unused"))
    monkeypatch.setitem(compare.PARSERS, "ghost", ("no_such_parser_pkg", lambda: None))
    args = compare.parse_args(["--quick", "--servers", "nowhere,fastcore_threaded"])
    assert args.servers == ["fastcore_threaded"]
    monkeypatch.setattr(compare, "REQUESTS", {})
    monkeypatch.setattr(compare, "CHUNK_SIZES", ())
    compare.run_parser_section(args, compare.Progress([1.0]), [])
    out = capsys.readouterr().out
    assert "nowhere: not installed, skipped (pip install no-such-server)" in out
    assert "ghost: not installed, skipped (pip install no_such_parser_pkg)" in out


def test_unknown_server_is_a_usage_error():
    with pytest.raises(SystemExit) as info:
        compare.parse_args(["--servers", "nginx"])
    assert info.value.code == 2


def test_quick_run_writes_json_and_png(tmp_path, monkeypatch):
    pytest.importorskip("matplotlib")
    monkeypatch.setattr(compare, "REQUESTS", {"small_get": compare.corpus.SMALL_GET})
    out_json, out_png = tmp_path / "run.json", tmp_path / "run.png"
    report = compare.main(["--quick", "--servers", "fastcore_threaded", "--duration", "0.5",
                           "--warmup", "0.2", "--load-client", "python",
                           "--json", str(out_json), "--png", str(out_png)])
    data = json.loads(out_json.read_text())
    assert data["machine"]["cores"] >= 1 and data["machine"]["python"]
    assert data["load_client"] == "python"
    sections = {r["section"] for r in data["results"]}
    assert sections == {"parser", "chunked", "server"}
    server_rows = [r for r in data["results"] if r["section"] == "server"]
    assert server_rows and all(r["runs"] and r["rps"] > 0 for r in server_rows)
    assert all(r["runs"][0]["bad_responses"] == 0 for r in server_rows)
    assert out_png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert report["results"] == data["results"]


@pytest.mark.skipif(not compare.perf_available(), reason="perf cannot read the tracepoints here")
def test_system_calls_are_counted_for_a_running_process():
    import subprocess
    import sys

    busy = subprocess.Popen([sys.executable, "-c",
                             "import os, time\nend = time.time() + 3\n"
                             "while time.time() < end: os.getpid(); os.stat('/')"])
    try:
        time.sleep(0.3)
        counts = compare.count_events(busy.pid, 0.5)
    finally:
        busy.kill()
        busy.wait()
    assert counts["syscalls"] > 1000  # os.stat is a system call every loop
    assert set(counts) == {"syscalls", "futex", "context_switches"}


def test_repeats_go_round_every_server(monkeypatch):
    """Repeats are taken in rounds (a, b, a, b), so a drifting machine moves
    every server's median alike; a server that fails is not started again."""
    started, stopped = [], []

    class Proc:
        def __init__(self, name):
            self.name, self.pid = name, 0

    def start_server(server, app, port):
        if server == "fastcore_single":
            raise RuntimeError("fastcore_single exited with 1")
        started.append(server)
        return Proc(server)

    def load(port, app, connections, keep_alive, duration):
        return {"rps": 1000.0 * len(started), "p50_ms": 0.1, "p99_ms": 0.2}

    monkeypatch.setattr(compare, "start_server", start_server)
    monkeypatch.setattr(compare, "stop_process", lambda proc: stopped.append(proc.name))
    monkeypatch.setattr(compare, "run_python_client", load)
    monkeypatch.setattr(compare, "peak_rss_kib", lambda pid: 1024)
    monkeypatch.setattr(compare, "perf_available", lambda: False)
    clock = iter(range(100))  # each look: user and system 1 s more than at the last
    monkeypatch.setattr(compare, "cpu_seconds", lambda pid: (next(clock),) * 2)
    args = compare.parse_args(["--quick", "--only", "server", "--apps", "hello", "--repeats", "2",
                               "--servers", "fastcore_threaded,fastcore_single,werkzeug_threaded",
                               "--load-client", "python"])
    results = []
    matrix = compare.server_matrix(args)
    compare.run_server_section(args, compare.Progress([1.0] * 6), results, matrix, set())
    assert started == ["fastcore_threaded", "werkzeug_threaded"] * 2
    assert stopped == started
    by_server = {entry["server"]: entry for entry in results}
    assert [run["rps"] for run in by_server["fastcore_threaded"]["runs"]] == [1000.0, 3000.0]
    assert by_server["fastcore_threaded"]["rps"] == 2000.0
    # 2 s of CPU (1 user, 1 system) over the first run's 1000 req/s × duration.
    first = by_server["fastcore_threaded"]["runs"][0]
    assert first["cpu_us"] == 2 / (1000.0 * args.duration) * 1e6 == 2 * first["user_us"]
    assert by_server["fastcore_single"]["error"] == "RuntimeError: fastcore_single exited with 1"
    assert by_server["fastcore_single"]["runs"] == []


@pytest.mark.skipif(not hasattr(__import__("select"), "epoll"), reason="floor.py uses epoll")
def test_the_floor_probe_serves_keep_alive_requests():
    port = compare.free_port()
    proc = compare.start_server("floor", "hello", port)
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            request = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"
            sock.sendall(request * 2)
            data = b""
            while data.count(b"Hello, World!") < 2:
                data += sock.recv(65536)
        assert data.startswith(b"HTTP/1.1 200 OK\r\n") and b"Content-Length: 13\r\n" in data
    finally:
        compare.stop_process(proc)


def test_each_workload_has_its_loads_and_its_peers_settings():
    args = compare.parse_args(["--only", "server", "--apps", "hello,echo_10k,sleep_10ms",
                               "--servers", "fastcore_threaded,gunicorn_gthread100"])
    matrix = compare.server_matrix(args)
    assert [(s, a, load) for s, a, load in matrix if s == "fastcore_threaded"] == [
        ("fastcore_threaded", "hello", load) for load in compare.APP_LOADS["hello"]] + [
        ("fastcore_threaded", "echo_10k", "keepalive_c10"),
        ("fastcore_threaded", "sleep_10ms", "keepalive_c100"),
        ("fastcore_threaded", "sleep_10ms", "keepalive_c512")]
    # The peer with more threads runs the waiting app only (gunicorn: the test extra has it).
    assert [(a, load) for s, a, load in matrix if s == "gunicorn_gthread100"] == [
        ("sleep_10ms", "keepalive_c100"), ("sleep_10ms", "keepalive_c512")]


def _responses(sock, count):
    """``count`` Content-Length framed responses: [(status line, body)]."""
    data, responses = b"", []
    while len(responses) < count:
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            assert chunk, "the server closed the connection"
            data += chunk
        head, _, data = data.partition(b"\r\n\r\n")
        length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
        while len(data) < length:
            data += sock.recv(65536)
        responses.append((head.split(b"\r\n")[0], data[:length]))
        data = data[length:]
    return responses


@pytest.mark.parametrize("app, size", [
    ("hello", 13), ("big", 65536), ("upload", 7), ("get_1k", 1024), ("get_10k", 10240),
    ("echo_1k", 1024), ("echo_10k", 10240), ("echo_100k", 102400), ("static_50k", 51200),
    ("file_wrapper_50k", 51200), ("flask_hello", 13), ("flask_json", None), ("sleep_10ms", 13)])
def test_each_app_answers_the_request_compare_sends(app, size):
    if app.startswith("flask_") and not compare.installed("flask"):
        pytest.skip("Flask is not installed")
    port = compare.free_port()
    proc = compare.start_server("fastcore_single", app, port)
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(compare.request_bytes(app, keep_alive=True) * 2)
            responses = _responses(sock, 2)
    finally:
        compare.stop_process(proc)
    for status, body in responses:
        assert status == b"HTTP/1.1 200 OK"
        if size is not None:
            assert len(body) == size
        if app.startswith("echo_"):
            assert body == b"e" * size, "the body sent back whole"
    if app == "flask_json":
        assert json.loads(responses[0][1])["message"] == "Hello, World!"


@pytest.mark.parametrize("server", ["django_runserver", "fastcore_runserver"])
def test_the_django_project_answers_on_both_runservers(server):
    pytest.importorskip("django")
    port = compare.free_port()
    proc = compare.start_server(server, "django_view", port)
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(compare.request_bytes("django_view", keep_alive=True))
            (status, body), = _responses(sock, 1)
            assert status == b"HTTP/1.1 200 OK" and body == b"Hello, World!"
            sock.sendall(compare.request_bytes("django_static", keep_alive=True))
            (status, body), = _responses(sock, 1)
    finally:
        compare.stop_process(proc)
    css = os.path.join(compare.HERE, "django_site", "static", "site.css")
    assert status == b"HTTP/1.1 200 OK"
    with open(css, "rb") as f:
        assert body == f.read()


def test_the_django_pages_run_on_the_runservers_only():
    args = compare.parse_args(["--only", "server", "--apps", "hello,django_view,django_static",
                               "--servers", "fastcore_threaded,django_runserver,fastcore_runserver"])
    matrix = {(server, app) for server, app, _ in compare.server_matrix(args)}
    assert {app for server, app in matrix if server == "fastcore_threaded"} == {"hello"}
    for server in ("django_runserver", "fastcore_runserver"):
        assert {app for s, app in matrix if s == server} == {"django_view", "django_static"}


def test_the_floor_probe_gets_only_the_loads_it_can_serve():
    args = compare.parse_args(["--only", "server", "--servers", "floor,fastcore_threaded"])
    matrix = compare.server_matrix(args)
    floor = [(app, load) for server, app, load in matrix if server == "floor"]
    assert floor == [("hello", "keepalive_c1"), ("hello", "keepalive_c10"),
                     ("hello", "keepalive_c50")]
    assert ("fastcore_threaded", "hello", "close_c10") in matrix


@pytest.mark.skipif(not os.path.exists("/proc/self/stat"), reason="needs Linux's /proc")
def test_cpu_seconds_reads_this_process():
    """Its CPU time grows with work done; a process that is gone reads None."""
    before = compare.cpu_seconds(os.getpid())
    deadline = time.process_time() + 0.2
    while time.process_time() < deadline:
        pass
    after = compare.cpu_seconds(os.getpid())
    assert sum(after) - sum(before) >= 0.15  # in ticks of 10 ms
    assert compare.cpu_seconds(2**22 + 1) is None  # above Linux's pid_max
