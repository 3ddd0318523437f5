"""response_head: start_response's status and headers, checked and encoded (both twins)."""

import importlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conftest import PURE_ONLY

ENCODED = [
    ("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "13")],
     (b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n", 200, 13,
      False, False)),
    ("404 Not Found", [], (b"HTTP/1.1 404 Not Found\r\n", 404, None, False, False)),
    ("204 ", [("date", "x"), ("SERVER", "y")],
     (b"HTTP/1.1 204 \r\ndate: x\r\nSERVER: y\r\n", 204, None, True, True)),
    # Tab and obs-text in a value go out as latin-1; a reason may hold them too.
    ("299 \xe9t\xe9", [("X-Tab", "a\tb\xe9")],
     (b"HTTP/1.1 299 \xe9t\xe9\r\nX-Tab: a\tb\xe9\r\n", 299, None, False, False)),
    ("200 OK", (("content-LENGTH", " 7 "),), (b"HTTP/1.1 200 OK\r\ncontent-LENGTH:  7 \r\n",
                                               200, 7, False, False)),
    ("200 OK", [("X-Empty", "")], (b"HTTP/1.1 200 OK\r\nX-Empty: \r\n", 200, None, False, False)),
]

REFUSED = [
    ("200 OK\r\nX-Injected: 1", [], ValueError, "invalid status '200 OK\\r\\nX-Injected: 1'"),
    ("200", [], ValueError, "invalid status '200'"),
    ("20x OK", [], ValueError, "invalid status"),
    ("200OK", [], ValueError, "invalid status"),
    (b"200 OK", [], ValueError, "invalid status b'200 OK'"),
    ("200 \u20ac", [], ValueError, "invalid status"),
    ("200 OK", [["X", "1"]], TypeError, "response header ['X', '1'] is not a (name, value) tuple"),
    ("200 OK", [("X", "1", "2")], TypeError, "is not a (name, value) tuple"),
    ("200 OK", [(b"X", "1")], TypeError, "response header name b'X' is not a str"),
    ("200 OK", [("X Bad", "1")], ValueError, "invalid response header name 'X Bad': not a token"),
    ("200 OK", [("", "1")], ValueError, "invalid response header name '': not a token"),
    ("200 OK", [("X-\xe9", "1")], ValueError, "not a token"),
    ("200 OK", [("X-Value", 1)], TypeError, "response header 'X-Value' has a value that is not "
                                            "a str: 1"),
    ("200 OK", [("X-Value", "a\x00b")], ValueError, "invalid value for response header "
                                                    "'X-Value'"),
    ("200 OK", [("X-Value", "a\r\nX-Injected: 1")], ValueError, "invalid value"),
    ("200 OK", [("X-Value", "\u20ac")], ValueError, "invalid value"),
    ("200 OK", [("X-Value", "a\x7fb")], ValueError, "invalid value"),
    ("200 OK", [("Content-Length", "ten")], ValueError, "invalid literal for int()"),
]


@pytest.mark.parametrize("status, headers, expected", ENCODED)
def test_encoded(impl, status, headers, expected):
    assert impl.response_head(status, headers) == expected


@pytest.mark.parametrize("status, headers, error, message", REFUSED)
def test_refused(impl, status, headers, error, message):
    with pytest.raises(error) as raised:
        impl.response_head(status, headers)
    assert message in str(raised.value)


@pytest.mark.parametrize("name", ["Connection", "keep-alive", "Proxy-Authenticate",
                                  "proxy-authorization", "TE", "Trailer", "trailers",
                                  "Transfer-Encoding", "Upgrade"])
def test_hop_by_hop_headers_are_the_servers(impl, name):
    with pytest.raises(ValueError) as raised:
        impl.response_head("200 OK", [("Content-Type", "text/plain"), (name, "x")])
    assert f"hop-by-hop header {name!r} is set by the server, not the app" == str(raised.value)


@pytest.mark.parametrize("name", ["Connections", "Keep-Alive-X", "Tee", "Trailer2", "Upgraded",
                                  "Content-Length2", "Dates", "Servers"])
def test_names_that_only_start_like_special_ones_are_ordinary(impl, name):
    assert impl.response_head("200 OK", [(name, "x")])[2:] == (None, False, False)


def test_headers_from_a_generator(impl):
    head = impl.response_head("200 OK", (pair for pair in [("A", "1"), ("B", "2")]))
    assert head[0] == b"HTTP/1.1 200 OK\r\nA: 1\r\nB: 2\r\n"


_text = st.text(st.characters(max_codepoint=0x2FF), max_size=12)


@pytest.mark.skipif(PURE_ONLY, reason="the compiled module is not built")
@given(status=st.one_of(_text, st.from_regex(r"\A[0-9]{3} [ -~]{0,8}\Z")),
       headers=st.lists(st.tuples(st.one_of(_text, st.sampled_from(
           ["Content-Length", "date", "Server", "X-A", "Connection"])), _text), max_size=4))
def test_both_twins_agree(status, headers):
    """The same result, or the same error class and message, for any input."""
    results = []
    for name in ("fastcore._parser", "fastcore._parser_py"):
        try:
            results.append(importlib.import_module(name).response_head(status, headers))
        except (TypeError, ValueError) as e:
            results.append((type(e), str(e)))
    assert results[0] == results[1]


# access_line: the access line of a request that shows as sent.

def _head(impl, raw=b"GET /a?b=1 HTTP/1.1\r\nHost: a\r\n\r\n"):
    return impl.parse_request(raw)


@pytest.mark.parametrize("seconds, shown", [(0.0, "0.0"), (0.0000494, "0.0"), (0.00005, "0.1"),
                                            (0.0012345, "1.2"), (0.00125, "1.3"),
                                            (2.5, "2500.0"), (-1.0, "0.0")])
def test_access_line(impl, seconds, shown):
    line = impl.access_line("127.0.0.1", "05/Dec/2026 00:00:00", _head(impl), 200, seconds)
    assert line == f'127.0.0.1 - - [05/Dec/2026 00:00:00] "GET /a?b=1 HTTP/1.1" 200 - {shown}ms'


@pytest.mark.parametrize("target, code", [(b"/a%20b", 200), (b"/a\\b", 200), (b"/", 404),
                                          (b"/", 304), (b"/", 500)])
def test_access_line_leaves_what_werkzeug_decodes_or_colours(impl, target, code):
    head = _head(impl, b"GET " + target + b" HTTP/1.1\r\nHost: a\r\n\r\n")
    assert impl.access_line("::1", "now", head, code, 0.001) is None


def test_access_line_takes_any_address(impl):
    assert impl.access_line(None, "t", _head(impl), 200, 0.0).startswith("None - - [t] ")


@pytest.mark.parametrize("address", ["fe80::1%eth0", "caf\xe9", "\u20ac-host", 7])
def test_access_line_with_any_text_for_the_address(impl, address):
    line = impl.access_line(address, "t", _head(impl), 200, 123.45678)
    assert line == f'{address} - - [t] "GET /a?b=1 HTTP/1.1" 200 - 123456.8ms'
