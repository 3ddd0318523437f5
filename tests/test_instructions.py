"""benchmarks/instructions.py: how it runs servers and reads callgrind's counts."""

import shutil
import socket
import subprocess
import sys
import threading

import pytest

import compare
import instructions


def test_a_module_recipe_runs_the_module_with_the_timing_paths_off(tmp_path):
    argv = instructions.python_argv(compare.SERVERS["fastcore_threaded"][2], "hello", 8123)
    assert argv[0] == "-c" and argv[2:] == ["run", "load_apps:hello", "--port", "8123"]
    # What the -c code does, run for real on a module that reports back.
    (tmp_path / "reporter.py").write_text(
        "import sys, fastcore.io.loop, fastcore.server\n"
        "print(fastcore.io.loop.SPIN_SECONDS, fastcore.server.BaseWSGIServer.handoff_after,"
        " sys.argv[1:], __name__)\n")
    code = argv[1].replace("'fastcore'", "'reporter'")
    out = subprocess.run([sys.executable, "-c", code, "a", "b"], cwd=tmp_path,
                         capture_output=True, text=True, check=True).stdout
    # No busy poll, and no hand-off of a request valgrind slows past 2 ms.
    assert out.split(" ", 2) == ["0", "1.0", "['a', 'b'] __main__\n"]


def test_a_code_recipe_gets_the_busy_poll_off_first():
    argv = instructions.python_argv(compare.SERVERS["werkzeug_single"][2], "hello", 8124)
    assert argv[0] == "-c" and len(argv) == 2
    assert argv[1].startswith(instructions.NO_SPIN) and "8124" in argv[1]
    with pytest.raises(ValueError):
        instructions.python_argv(["serve.py"], "hello", 1)


def test_the_serving_process_is_the_busiest_dump(tmp_path):
    for pid, total in ((100, 7_000), (101, 52_000)):  # an arbiter, its worker
        (tmp_path / f"cg.{pid}.1").write_text(f"events: Ir\nsummary: {total}\ntotals: {total}\n")
    (tmp_path / "cg.100").write_text("summary: 999999\n")  # the dump at exit, not the counted one
    assert instructions.serving_process_count(str(tmp_path)) == 52_000
    with pytest.raises(RuntimeError):
        instructions.serving_process_count(str(tmp_path / "nothing"))


@pytest.mark.parametrize("close", [False, True])
def test_requests_are_sent_in_rounds_and_every_response_read(close):
    """send_requests against a tiny server that counts what it answers."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    answered, connections, done = [], [], threading.Event()

    def serve(conn):
        with conn:
            buffer = b""
            while True:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                buffer += chunk
                while b"\r\n\r\n" in buffer:
                    head, _, buffer = buffer.partition(b"\r\n\r\n")
                    # Each request whole and alone: nothing after its head.
                    answered.append((b"Connection: close" in head, buffer))
                    # The body in two sends: the client must wait for all of it.
                    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab")
                    conn.sendall(b"cde")

    def accept():
        while True:
            try:
                conn, _ = listener.accept()
            except socket.timeout:
                if done.is_set():
                    return
                continue
            connections.append(conn)
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    acceptor = threading.Thread(target=accept, daemon=True)
    acceptor.start()
    instructions.send_requests(listener.getsockname()[1], 10, 3, close=close)
    done.set()
    acceptor.join(5)
    listener.close()
    assert answered == [(close, b"")] * 12  # 10 rounded up to whole rounds of 3
    assert len(connections) == (12 if close else 3)


def test_unknown_server_is_a_usage_error():
    with pytest.raises(SystemExit) as info:
        instructions.parse_args(["--servers", "granian"])
    assert info.value.code == 2


@pytest.mark.skipif(shutil.which("valgrind") is None, reason="valgrind is not installed")
def test_a_real_count_under_callgrind():
    per_request = instructions.count("fastcore_single", "hello", 200, 2, 50)
    # A request is tens of thousands of instructions in Python; an idle
    # loop counted by mistake, or the startup, would be millions.
    assert 10_000 < per_request < 1_000_000
