"""Faults on either side of the server: apps that break the WSGI contract, and
request bodies that are malformed or over ``max_content_length``. Each gets
its status (or a cut connection once the response has started), one clear log
line, and the server goes on serving."""

import socket

import pytest
import requests

from conftest import read_responses, recv_until_closed

MODES = ["threaded", "single"]

# path -> (expected status, or None for "headers went out, then the connection
# was cut"; text the log must show)
FAULTS = {
    "/raise-in-call": (500, "RuntimeError: boom in __call__"),
    "/raise-in-iteration": (None, "RuntimeError: boom in iteration"),
    "/raise-in-close": (200, "RuntimeError: boom in close"),
    "/str-list": (500, "TypeError"),
    "/str-chunks": (500, "TypeError: the application yielded str, not bytes"),
    "/start-response-twice": (500, "start_response() called again without exc_info"),
    "/no-start-response": (500, "the application returned without calling start_response()"),
}


@pytest.mark.parametrize("mode", MODES)
def test_app_faults_answer_and_the_server_goes_on(live_server, mode):
    server = live_server("fault", mode)
    for path, (status, logged) in FAULTS.items():
        data = server.exchange(f"GET {path} HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n".encode())
        if status is None:
            assert b"200 OK" in data and b"first part" in data, path
            assert not data.endswith(b"0\r\n\r\n"), "a cut stream must not look complete"
        else:
            [(got, _, body)] = read_responses(data)
            assert got == status, (path, data)
            if status == 500:
                assert b"Internal Server Error" in body
                assert b"boom" not in body and b"Traceback" not in body  # no details to the client
        assert logged in server.wait_log(logged), path
        assert requests.get(server.url + "/fine", timeout=5).text == "fine"


# -- max_content_length ------------------------------------------------------

LIMIT = 1000


@pytest.mark.parametrize("mode", MODES)
def test_content_length_over_the_limit_is_413_before_the_app_and_100_continue(live_server, mode):
    server = live_server("echo", mode, max_content_length=LIMIT)
    data = server.exchange(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1001\r\n"
                           b"Expect: 100-continue\r\n\r\n")
    assert data.startswith(b"HTTP/1.1 413 "), data
    assert b"100 Continue" not in data and b"Connection: close" in data
    assert b"request body of 1001 bytes is larger than the limit of 1000 bytes" in data
    assert '" 413 -' in server.wait_log('" 413 -')


@pytest.mark.parametrize("mode", MODES)
def test_a_client_that_sends_the_refused_body_still_reads_the_413(live_server, mode):
    # The server stops sending and drops the body it refused (lingering close):
    # closing on unread bytes would reset the connection under the response.
    server = live_server("echo", mode, max_content_length=LIMIT)
    response = requests.post(server.url, data=b"x" * (2 << 20), timeout=10)
    assert response.status_code == 413
    assert requests.post(server.url, data=b"y" * LIMIT, timeout=5).json()["body"] == "y" * LIMIT


@pytest.mark.parametrize("mode", MODES)
def test_chunked_body_over_the_limit_is_413_and_closes(live_server, mode):
    server = live_server("size", mode, max_content_length=LIMIT)
    data = server.exchange(b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                           + b"200\r\n" + b"z" * 0x200 + b"\r\n" + b"200\r\n" + b"z" * 0x200
                           + b"\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n")
    [(status, headers, body)] = read_responses(data)
    assert status == 413 and headers["Connection"] == "close"
    assert body == b"chunked request body larger than the limit of 1000 bytes\n"
    # Exactly the limit passes, on both framings.
    assert requests.post(server.url, data=iter([b"a" * 600, b"b" * 400]), timeout=5).json() == {"size": LIMIT}
    assert requests.post(server.url, data=b"c" * LIMIT, timeout=5).json() == {"size": LIMIT}


def test_a_flask_app_answers_the_chunked_413_itself(live_server):
    # wsgi.input raises Werkzeug's RequestEntityTooLarge, which Flask renders.
    server = live_server("flask_upload()", "threaded", max_content_length=LIMIT)
    too_big = requests.post(server.url, data=iter([b"a" * 800, b"b" * 800]), timeout=5)
    assert too_big.status_code == 413 and "Request Entity Too Large" in too_big.text
    assert too_big.headers["Connection"] == "close"
    assert requests.post(server.url, data=iter([b"a" * 500]), timeout=5).json() == {"size": 500}


@pytest.mark.parametrize("mode", MODES)
def test_malformed_chunked_body_is_400_not_an_app_error(live_server, mode):
    server = live_server("size", mode)
    data = server.exchange(b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                           b"5\r\nhello\r\nzz\r\n")
    [(status, headers, body)] = read_responses(data)
    assert status == 400 and headers["Connection"] == "close"
    assert b"chunk size" in body
    log = server.wait_log('" 400 -')
    assert "Traceback" not in log


def test_no_limit_by_default(live_server):
    server = live_server("size", "single")
    assert requests.post(server.url, data=b"x" * (3 << 20), timeout=10).json() == {"size": 3 << 20}


def test_refusal_is_not_reset_by_a_client_still_sending(live_server):
    # A bad head followed by a stream of bytes: the refusal arrives whole.
    server = live_server("hello", "single")
    sock = server.connect()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 16)
    sock.sendall(b"GET / HTTP/1.1\r\nHost: a\r\nBad Name: x\r\n\r\n" + b"q" * (1 << 20))
    data = recv_until_closed(sock)
    assert data.startswith(b"HTTP/1.1 400 Bad Request\r\n") and data.endswith(b"\n")
