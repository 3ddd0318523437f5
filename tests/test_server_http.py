"""HTTP/1.1 behaviour of the live server: real sockets on 127.0.0.1, real clients."""

import http.client
import json
import os
import re
import shutil
import socket
import subprocess
import threading
import time

import pytest
import requests

from conftest import UNDER_ASAN, process_stats, read_responses, recv_until_closed

MODES = ["threaded", "single"]


def _echo(conn, method="GET", path="/", body=None, headers=None):
    conn.request(method, path, body=body, headers=headers or {})
    response = conn.getresponse()
    return response, json.loads(response.read())


@pytest.mark.parametrize("mode", MODES)
def test_keep_alive_reuses_the_connection(live_server, mode):
    server = live_server("echo", mode)
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    ports = set()
    for i in range(5):
        response, environ = _echo(conn, path=f"/n/{i}?q={i}")
        assert response.status == 200
        assert response.getheader("Connection") is None
        assert environ["PATH_INFO"] == f"/n/{i}" and environ["QUERY_STRING"] == f"q={i}"
        ports.add(environ["REMOTE_PORT"])
    assert len(ports) == 1, "every request should arrive on the same connection"
    assert isinstance(environ["REMOTE_PORT"], str)
    assert environ["SERVER_PROTOCOL"] == "HTTP/1.1"
    assert response.getheader("Date") and response.getheader("Server").startswith("fastcore/")
    conn.close()
    assert server.wait_log('"GET /n/', 5).count('"GET /n/') == 5


@pytest.mark.parametrize("mode", MODES)
def test_pipelined_requests_are_answered_in_order(live_server, mode):
    server = live_server("echo", mode)
    responses = read_responses(server.exchange(
        b"GET /one HTTP/1.1\r\nHost: a\r\n\r\n"
        b"POST /two HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc"
        b"GET /three HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"))
    bodies = [json.loads(body) for _, _, body in responses]
    assert [b["PATH_INFO"] for b in bodies] == ["/one", "/two", "/three"]
    assert bodies[1]["body"] == "abc"
    assert responses[2][1]["Connection"] == "close"


@pytest.mark.parametrize("mode", MODES)
def test_chunked_response_when_length_unknown(live_server, mode):
    server = live_server("stream", mode)
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    conn.request("GET", "/")
    response = conn.getresponse()
    assert response.getheader("Transfer-Encoding") == "chunked"
    started = time.monotonic()
    first = response.read1(100)
    assert first == b"line 0\n"
    # Alone (read1 would return the next lines too), and before the rest,
    # which takes 0.8 s more.
    assert time.monotonic() - started < 0.6, "the first chunk must be sent at once"
    assert response.read() == b"".join(f"line {i}\n".encode() for i in range(1, 5))
    conn.request("GET", "/")  # the connection goes on after the last chunk
    assert conn.getresponse().read().count(b"line") == 5


@pytest.mark.parametrize("mode", MODES)
def test_request_bodies(live_server, mode):
    server = live_server("echo", mode)
    response = requests.post(server.url + "/cl", data=b"x" * 100_000, timeout=10)
    assert response.json()["body"] == "x" * 100_000
    assert response.json()["CONTENT_LENGTH"] == "100000"
    chunks = (bytes([65 + i]) * 1000 for i in range(10))
    response = requests.post(server.url + "/chunked", data=chunks, timeout=10)
    echoed = response.json()
    assert echoed["body"] == "".join(chr(65 + i) * 1000 for i in range(10))
    assert echoed["input_terminated"] is True
    assert "CONTENT_LENGTH" not in echoed


@pytest.mark.parametrize("mode", MODES)
def test_unread_body_is_drained_before_the_next_request(live_server, mode):
    server = live_server("echo", mode)
    data = server.exchange(b"POST /?noread HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\n{}GET /x HT"
                           b"GET /next HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
    assert data.count(b"HTTP/1.1 200 OK") == 2
    assert b'"PATH_INFO": "/next"' in data
    assert b"400" not in data.split(b"\r\n")[0]


@pytest.mark.parametrize("mode", MODES)
def test_large_chunked_upload_read_in_pieces(live_server, mode):
    server = live_server("size", mode)
    piece = b"z" * (1024 * 1024)
    requests.post(server.url, data=(piece for _ in range(4)), timeout=10)  # warm up
    before = process_stats(server.proc.pid)["rss"]
    total = 100 * 1024 * 1024
    response = requests.post(server.url, data=(piece for _ in range(total // len(piece))),
                             timeout=60)
    assert response.json() == {"size": total}
    if UNDER_ASAN:
        return  # ASan's quarantine keeps freed memory resident: RSS says nothing there
    growth = process_stats(server.proc.pid)["rss"] - before
    assert growth < 32 << 20, f"server RSS grew by {growth >> 10} KiB for a 100 MB upload"




@pytest.mark.parametrize("mode", MODES)
def test_expect_100_continue_sent_once_when_the_app_reads(live_server, mode):
    server = live_server("echo", mode)
    sock = server.connect()
    sock.sendall(b"POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n")
    assert sock.recv(1024) == b"HTTP/1.1 100 Continue\r\n\r\n"
    sock.sendall(b"hello")
    data = recv_until_closed(sock, timeout=1)
    assert data.startswith(b"HTTP/1.1 200 OK") and b'"body": "hello"' in data
    assert b"100 Continue" not in data


@pytest.mark.parametrize("mode", MODES)
def test_no_100_continue_when_the_app_does_not_read(live_server, mode):
    server = live_server("hello", mode)
    sock = server.connect()
    sock.sendall(b"POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n")
    sock.settimeout(5)
    data = sock.recv(65536)
    assert data.startswith(b"HTTP/1.1 200 OK"), data
    assert b"100 Continue" not in data


@pytest.mark.parametrize("mode", MODES)
def test_bad_requests_get_their_status_and_the_server_goes_on(live_server, mode):
    server = live_server("echo", mode)
    cases = [
        (b"GET / HTTP/1.1\r\nHost: a\r\nFoo : bar\r\n\r\n", b"400", b"whitespace before ':'"),
        (b"GET / HTTP/2.0\r\nHost: a\r\n\r\n", b"505", b"not supported"),
        (b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", b"501", b"chunked"),
        (b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\n", b"414", b"longer than"),
        (b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03", b"400", b"looks like TLS"),
        (b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd"
         b"GET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n", b"400", b"conflicting"),
    ]
    for raw, status, reason in cases:
        data = server.exchange(raw)
        status_line, _, rest = data.partition(b"\r\n")
        assert status_line.split()[1] == status, data
        assert b"Connection: close" in rest and reason in rest
        assert b"smuggled" not in data
    response = requests.get(server.url + "/still-alive", timeout=5)
    assert response.json()["PATH_INFO"] == "/still-alive"
    assert "whitespace before ':'" in server.wait_log("whitespace before ':'")


@pytest.mark.parametrize("mode", MODES)
def test_app_error_before_headers_is_a_500(live_server, mode):
    server = live_server("fail_before", mode)
    response = requests.get(server.url, timeout=5)
    assert response.status_code == 500
    assert "Internal Server Error" in response.text
    assert "RuntimeError: boom before headers" in server.wait_log("boom before headers")
    assert requests.get(server.url, timeout=5).status_code == 500  # still serving


@pytest.mark.parametrize("mode", MODES)
def test_app_error_after_headers_truncates(live_server, mode):
    server = live_server("fail_after", mode)
    data = server.exchange(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
    assert b"Transfer-Encoding: chunked" in data and b"first part" in data
    assert not data.endswith(b"0\r\n\r\n"), "a failed stream must not look complete"
    assert "boom after headers" in server.wait_log("boom after headers")


@pytest.mark.parametrize("mode", MODES)
def test_close_is_called_also_on_failure_and_disconnect(live_server, mode, tmp_path):
    server = live_server("closing", mode)
    marker = tmp_path / "closed.txt"
    requests.get(f"{server.url}/ok?{marker}", timeout=5)
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        requests.get(f"{server.url}/fail?{marker}", timeout=5)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and marker.read_text().count("closed") < 2:
        time.sleep(0.05)
    assert marker.read_text().count("closed") == 2


@pytest.mark.parametrize("mode", MODES)
def test_client_disconnect_mid_response_leaves_no_traceback(live_server, mode):
    server = live_server("stream", mode)
    for _ in range(3):
        sock = server.connect()
        sock.sendall(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
        sock.recv(100)
        sock.close()
    time.sleep(1.5)
    assert requests.get(server.url, timeout=5).text.count("line") == 5
    assert "Traceback" not in server.log()


@pytest.mark.parametrize("mode", MODES)
def test_idle_connection_does_not_block_others(live_server, mode):
    server = live_server("hello", mode)
    idle = server.connect()  # a browser's preconnect: connects, sends nothing
    partial = server.connect()
    partial.sendall(b"GET / HTTP/1.1\r\nHo")  # a head that stalls
    started = time.monotonic()
    for _ in range(3):
        assert requests.get(server.url, timeout=5).text == "Hello, World!"
    assert time.monotonic() - started < 1.0
    idle.close()
    partial.close()


def test_single_mode_runs_one_request_at_a_time(live_server):
    server = live_server("slow", "single")
    results = []

    def call():
        started = time.monotonic()
        requests.get(server.url + "/?0.5", timeout=10)
        results.append(time.monotonic() - started)

    threads = [threading.Thread(target=call) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert max(results) >= 0.95, "the second request should wait for the first"


def test_threaded_mode_runs_requests_concurrently(live_server):
    server = live_server("slow", "threaded")
    started = time.monotonic()
    threads = [threading.Thread(target=requests.get, args=(server.url + "/?0.5",),
                                kwargs={"timeout": 10}) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert time.monotonic() - started < 1.5


@pytest.mark.parametrize("mode", MODES)
def test_silent_partial_head_is_closed_and_logged(live_server, mode):
    server = live_server("hello", mode, head_timeout=1, keep_alive_timeout=30)
    sock = server.connect(timeout=5)
    sock.sendall(b"GET / HTTP/1.1\r\nHost: a\r\n")  # and then nothing
    assert recv_until_closed(sock, timeout=5) == b""
    assert "request head not complete after 1" in server.wait_log("request head not complete")


def test_partial_heads_take_no_thread(live_server):
    # Threaded mode gives a connection a thread only once its head is whole,
    # so clients that trickle heads (slowloris) cannot pile up threads.
    server = live_server("hello", "threaded")
    socks = [server.connect() for _ in range(50)]
    for sock in socks:
        sock.sendall(b"GET / HTTP/1.1\r\nHo")
    time.sleep(0.3)
    assert process_stats(server.proc.pid)["threads"] == 1
    for sock in socks:
        sock.sendall(b"st: a\r\nConnection: close\r\n\r\n")
    for sock in socks:
        assert recv_until_closed(sock).startswith(b"HTTP/1.1 200 OK")


def test_listen_backlog_holds_a_burst_of_connections():
    # Connections wait in the kernel's queue until the loop accepts them; a
    # full queue drops new clients' SYNs and each stalls a second (Werkzeug's
    # queue holds 128).
    from fastcore.server import make_server

    server = make_server("127.0.0.1", 0, lambda environ, start_response: [], threaded=True)
    socks = []
    try:
        for _ in range(600):  # nobody accepts: the loop is not running
            socks.append(socket.create_connection(("127.0.0.1", server.port), timeout=0.5))
    finally:
        for sock in socks:
            sock.close()
        server.server_close()
    assert len(socks) == 600


@pytest.mark.parametrize("mode", MODES)
def test_slow_head_is_closed_after_head_timeout(live_server, mode):
    server = live_server("hello", mode, head_timeout=1, keep_alive_timeout=30)
    sock = server.connect(timeout=10)
    started = time.monotonic()
    sock.sendall(b"GET / HTTP/1.1\r\n")
    closed = False
    while time.monotonic() - started < 6:
        try:
            sock.sendall(b"X")
            time.sleep(0.2)
            sock.settimeout(0.01)
            if sock.recv(1024) == b"":
                closed = True
                break
        except socket.timeout:
            continue
        except OSError:
            closed = True
            break
    assert closed, "a trickling head must be cut off"
    assert time.monotonic() - started < 4


@pytest.mark.parametrize("mode", MODES)
def test_idle_keep_alive_is_closed_after_its_timeout(live_server, mode):
    server = live_server("hello", mode, keep_alive_timeout=0.5)
    sock = server.connect()
    sock.sendall(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
    started = time.monotonic()
    [(status, _, body)] = read_responses(recv_until_closed(sock, timeout=4))
    assert status == 200 and body == b"Hello, World!"
    assert time.monotonic() - started < 3, "the idle connection should have been closed"


def test_unix_socket(live_server, tmp_path):
    path = tmp_path / "fastcore.sock"
    server = live_server("echo", "threaded", host=f"unix://{path}")
    data = server.exchange(b"GET /unix HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
    assert b'"PATH_INFO": "/unix"' in data and b'"REMOTE_ADDR": "<local>"' in data
    assert b'"SERVER_PORT": "0"' in data  # PEP 3333: never empty


def test_fragment_is_dropped_from_the_environ(live_server):
    server = live_server("echo", "threaded")
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    conn.request("GET", "/x?a=1#frag")  # http.client sends the fragment as given
    response = conn.getresponse()
    environ = json.loads(response.read())
    assert response.status == 200
    assert (environ["PATH_INFO"], environ["QUERY_STRING"], environ["REQUEST_URI"]) == (
        "/x", "a=1", "/x?a=1")


def test_content_type_repeated(live_server):
    server = live_server("echo", "threaded")
    head = b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\nConnection: close\r\n"
    same = server.exchange(head + b"Content-Type: text/plain\r\nContent-Type: text/plain\r\n\r\n")
    assert same.startswith(b"HTTP/1.1 200") and b'"CONTENT_TYPE": "text/plain"' in same
    differ = server.exchange(head + b"Content-Type: text/plain\r\nContent-Type: text/html\r\n\r\n")
    assert differ.startswith(b"HTTP/1.1 400") and b"different values" in differ


@pytest.mark.parametrize("query, logged", [
    ("status", "invalid status '200 OK\\r\\nX-Injected: 1'"),
    ("nul", "invalid value for response header 'X-Value'"),
    ("name", "invalid response header name 'X Bad': not a token"),
])
def test_invalid_response_head_is_a_500_and_never_sent(live_server, query, logged):
    server = live_server("bad_response", "threaded")
    data = server.exchange(f"GET /?{query} HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"
                           .encode())
    assert data.startswith(b"HTTP/1.1 500 ")
    assert b"X-Injected" not in data and b"\x00" not in data and b"X Bad" not in data
    assert logged in server.wait_log(logged)


def test_tab_and_latin1_in_a_response_value_are_sent(live_server):
    server = live_server("bad_response", "threaded")
    data = server.exchange(b"GET /?tab HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
    assert data.startswith(b"HTTP/1.1 200 ") and b"X-Tab: a\tb\xe9\r\n" in data


@pytest.mark.parametrize("mode", MODES)
def test_file_wrapper_is_sent_whole(live_server, mode):
    server = live_server("sendfile", mode)
    response = requests.get(server.url, timeout=5)
    with open(os.path.join(os.path.dirname(__file__), "server_apps.py"), "rb") as f:
        expected = f.read()
    assert response.content == expected
    assert response.headers["Content-Length"] == str(len(expected))
    # HEAD: the length the GET has, and no body (the next response follows at once).
    data = server.exchange(b"HEAD / HTTP/1.1\r\nHost: a\r\n\r\n"
                           b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
    head_response, get_response = read_responses(data, methods=["HEAD", "GET"])
    assert head_response[1]["Content-Length"] == str(len(expected)) and head_response[2] == b""
    assert get_response[2] == expected


@pytest.mark.parametrize("mode", MODES)
def test_sigterm_lets_the_request_in_flight_finish(live_server, mode):
    server = live_server("slow", mode)
    result = {}

    def call():
        result["text"] = requests.get(server.url + "/?1", timeout=10).text

    thread = threading.Thread(target=call)
    thread.start()
    time.sleep(0.3)
    assert server.stop() == 0
    thread.join()
    assert result["text"] == "done"


@pytest.mark.parametrize("mode", MODES)
def test_write_callable_and_exc_info(live_server, mode):
    server = live_server("write_callable", mode)
    assert requests.get(server.url, timeout=5).text == "written and returned"
    server = live_server("exc_info", mode)
    response = requests.get(server.url, timeout=5)
    assert response.status_code == 503 and response.text == "try later"


@pytest.mark.parametrize("mode", MODES)
def test_hop_by_hop_header_from_the_app_is_refused(live_server, mode):
    server = live_server("hop_by_hop", mode)
    response = requests.get(server.url, timeout=5)
    assert response.status_code == 500
    assert "hop-by-hop header 'Connection'" in server.wait_log("hop-by-hop")


def test_forking_mode_serves_and_keeps_alive(live_server):
    server = live_server("echo", "forking")
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    for _ in range(3):
        response, environ = _echo(conn)
        assert response.status == 200 and environ["SERVER_PROTOCOL"] == "HTTP/1.1"
    conn.close()
    other = requests.post(server.url + "/p", data=b"abc", timeout=5).json()
    assert other["body"] == "abc"


def test_forking_mode_runs_at_most_processes_children_at_once(live_server):
    """serve.py forks with processes=4: eight slow requests at once run four
    at a time (Werkzeug's processes=N does the same); the rest wait."""
    server = live_server("interval", "forking")
    intervals = []

    def one():
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
            sock.sendall(b"GET /?0.4 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
            body = recv_until_closed(sock, 10).split(b"\r\n\r\n", 1)[1]
        intervals.append(tuple(map(float, body.split())))

    threads = [threading.Thread(target=one) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(intervals) == 8
    most = max(sum(1 for s, e in intervals if s <= start < e) for start, _ in intervals)
    assert most == 4, sorted(intervals)


def test_localhost_serves_both_loopbacks(live_server):
    if not socket.has_ipv6:
        pytest.skip("no IPv6")
    try:
        socket.socket(socket.AF_INET6).bind(("::1", 0))
    except OSError:
        pytest.skip("no IPv6 loopback")
    server = live_server("echo", "threaded", host="localhost")
    for family, address in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")):
        with socket.socket(family) as sock:
            sock.settimeout(5)
            sock.connect((address, server.port))
            sock.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            [(status, _, body)] = read_responses(recv_until_closed(sock))
        assert status == 200 and json.loads(body)["REMOTE_ADDR"] == address


@pytest.mark.skipif(not shutil.which("curl"), reason="curl not installed")
def test_curl(live_server):
    server = live_server("echo", "threaded")
    # Without the sanitizer runtime `make test-sanitized` preloads: curl hangs under it.
    env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}
    out = subprocess.run(["curl", "-s", "-i", "--data-binary", "hello curl",
                          "-H", "Expect: 100-continue", f"{server.url}/c?x=1",
                          f"{server.url}/again"],
                         capture_output=True, text=True, timeout=20, env=env).stdout
    assert out.count("HTTP/1.1 200 OK") == 2
    assert '"body": "hello curl"' in out and '"PATH_INFO": "/again"' in out


@pytest.mark.parametrize("mode", MODES)
def test_no_fd_or_thread_leak_after_churn(live_server, mode):
    server = live_server("hello", mode, worker_idle=0.5)
    pid = server.proc.pid
    requests.get(server.url, timeout=5)
    time.sleep(0.3)
    fds_before = process_stats(pid)["fds"]
    for i in range(200):
        sock = server.connect()
        if i % 3 == 0:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
            sock.recv(100)
        elif i % 3 == 1:
            sock.sendall(b"GET / HTTP/1.1\r\nHo")
        sock.close()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        now = process_stats(pid)
        fds, threads = now["fds"], now["threads"]
        if fds <= fds_before and threads <= 2:
            break
        time.sleep(0.1)
    assert fds <= fds_before, f"{fds - fds_before} descriptors leaked"
    assert threads <= 2, f"{threads} threads left"


@pytest.mark.parametrize("mode", MODES)
def test_stalled_body_read_is_dropped_after_body_timeout(live_server, mode):
    server = live_server("size", mode, body_timeout=1)
    sock = server.connect(timeout=10)
    started = time.monotonic()
    sock.sendall(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\nonly this")
    data = recv_until_closed(sock, timeout=8)
    assert b"200 OK" not in data
    assert time.monotonic() - started < 6
    assert requests.get(server.url, timeout=5).json() == {"size": 0}


def test_app_headers_are_not_doubled(live_server):
    server = live_server("own_server_header", "single")
    [(status, headers, body)] = read_responses(
        server.exchange(b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"))
    assert status == 200 and body == b"ok"
    assert headers.get_all("Server") == ["mine"]
    assert len(headers.get_all("Date")) == 1 and headers["X-H19"] == "19"


def test_log_line_escapes_control_characters(live_server):
    server = live_server("hello", "single")
    sock = server.connect()
    # The log shows a target decoded (as Werkzeug's does): a C1 control
    # character, percent-encoded, must still not reach a terminal raw.
    sock.sendall(b"GET /a%C2%85b HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
    recv_until_closed(sock)
    log = server.wait_log("GET /a")
    assert "\x85" not in log and "/a\\x85b" in log, log


@pytest.mark.parametrize("mode", MODES)
def test_a_target_byte_over_0x7f_is_refused_with_its_reason(live_server, mode):
    server = live_server("hello", mode)
    data = server.exchange(b"PUT //\xf9/b HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n")
    assert data.startswith(b"HTTP/1.1 400 Bad Request\r\n")
    assert data.endswith(b"\r\n\r\ninvalid character 0xF9 in request-target\n")
    log = server.wait_log("0xF9")
    assert "bad request: invalid character 0xF9 in request-target" in log and '" 400 -' in log


@pytest.mark.parametrize("mode", MODES)
def test_handler_subclass_hooks(live_server, mode):
    server = live_server("echo", mode, handler="CustomHandler")
    sock = server.connect()
    sock.sendall(b"GET /hooked HTTP/1.1\r\nHost: a\r\n\r\n")
    [(status, headers, body)] = read_responses(recv_until_closed(sock))
    assert json.loads(body)["CUSTOM_KEY"] == "from make_environ"
    assert headers["Connection"] == "close", "protocol_version HTTP/1.0 means no keep-alive"
    assert "custom-address - - [" in server.wait_log("custom log /hooked 200")


def test_access_lines_written_directly_read_as_the_hooks_write_them(live_server):
    """With no logging hook overridden, an Exchange writes the access line
    itself; a handler that overrides log() (changing nothing) gets its lines
    through the hooks. The two must read the same, but for the time taken."""
    targets = ["/plain", "/caf%C3%A9%0A?404", "/back\\slash?304", "/?500", "/?101", "/?302"]
    lines = []
    for handler in (None, "PassThroughLogHandler"):
        server = live_server("status", "threaded", **({"handler": handler} if handler else {}))
        sock = server.connect()
        for target in targets:
            sock.sendall(f"GET {target} HTTP/1.1\r\nHost: a\r\n\r\n".encode())
        sock.sendall(b"GET /last HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        recv_until_closed(sock)
        log = server.wait_log("/last")
        lines.append([re.sub(r"\[[^]]*\]|[0-9.]+ms$", "", line) for line in log.splitlines()
                      if " HTTP/1.1" in line and " - - [" in line])
    assert len(lines[0]) == len(targets) + 1
    assert lines[0] == lines[1]
    assert "GET /caf\xe9%0A?404 HTTP/1.1" in lines[0][1], "decoded as Werkzeug decodes for its log"
    assert "GET /back\\\\slash?304 HTTP/1.1" in lines[0][2], "a backslash escaped"


@pytest.mark.parametrize("mode", MODES)
def test_make_environ_can_refuse_a_request(live_server, mode):
    """A make_environ that raises a ParseError (BadRequest) gets the request
    answered with its status and reason, before the app runs."""
    server = live_server("echo", mode, handler="CustomHandler")
    sock = server.connect()
    sock.sendall(b"GET /refused HTTP/1.1\r\nHost: a\r\n\r\n")
    [(status, headers, body)] = read_responses(recv_until_closed(sock))
    assert status == 400 and b"refused by make_environ" in body
    assert headers["Connection"] == "close"
    assert "refused by make_environ" in server.wait_log("refused by make_environ")
    sock = server.connect()
    sock.sendall(b"GET /after HTTP/1.1\r\nHost: a\r\n\r\n")
    [(status, _, body)] = read_responses(recv_until_closed(sock))
    assert status == 200 and json.loads(body)["CUSTOM_KEY"] == "from make_environ"
