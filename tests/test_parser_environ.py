"""build_environ against Werkzeug's make_environ, and its own rules."""

import pytest
from hypothesis import given, settings

from peers import BASE, fastcore_environ, request_keys, werkzeug_environ
from strategies import requests

SAME_AS_WERKZEUG = [
    b"GET / HTTP/1.1\r\nHost: localhost:5000\r\n\r\n",
    b"GET /static/app.js?v=1.2&x=%20 HTTP/1.1\r\nHost: a\r\nUser-Agent: Mozilla/5.0 (X11)\r\n"
    b"Accept: */*\r\nAccept-Encoding: gzip, deflate\r\nCookie: a=1; b=2\r\n\r\n",
    b"POST /form HTTP/1.1\r\nHost: a\r\nContent-Type: application/x-www-form-urlencoded\r\n"
    b"Content-Length: 7\r\n\r\na=1&b=2",
    b"GET /a%20b/%E2%82%AC?q=%E2%82%AC HTTP/1.1\r\nHost: a\r\n\r\n",
    b"GET http://example.org:8080/p?x=1 HTTP/1.1\r\nHost: ignored\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: a\r\nX-Multi: a\r\nX-Other: z\r\nx-multi: b\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: a\r\nX-User: real\r\nX_User: spoofed\r\n\r\n",
    b"GET / HTTP/1.0\r\n\r\n",
    b"PUT /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n",
    b"OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n",
]


@pytest.fixture(scope="module")
def werkzeug():
    return werkzeug_environ()


@pytest.mark.parametrize("raw", SAME_AS_WERKZEUG)
def test_same_request_keys_as_werkzeug(impl, werkzeug, raw):
    ours = fastcore_environ(impl)(raw)
    theirs = werkzeug(raw)
    assert request_keys(ours) == request_keys(theirs)
    assert all(type(v) is str for v in request_keys(ours).values())


@settings(max_examples=200, deadline=None)
@given(request=requests(ascii_only=True, utf8_path=True))
def test_generated_requests_match_werkzeug(request):
    from fastcore import _parser_py, parser
    theirs = request_keys(werkzeug_environ()(request.raw))
    for impl in {parser, _parser_py}:
        assert request_keys(fastcore_environ(impl)(request.raw)) == theirs


def test_empty_first_segment_is_kept(impl, werkzeug):
    """http.server collapses a leading "//" (its open-redirect guard), so Werkzeug
    hands the app "/x"; the path the client sent is "//x", and that is what
    PATH_INFO, REQUEST_URI and RAW_URI carry here."""
    raw = b"GET //x/y HTTP/1.1\r\nHost: a\r\n\r\n"
    env = fastcore_environ(impl)(raw)
    assert env["PATH_INFO"] == env["REQUEST_URI"] == env["RAW_URI"] == "//x/y"
    assert werkzeug(raw)["PATH_INFO"] == "/x/y"


def test_escaped_bytes_that_are_not_utf8_are_kept(impl, werkzeug):
    """PEP 3333: PATH_INFO holds the decoded bytes as latin-1. Werkzeug decodes
    as UTF-8 and turns invalid bytes into U+FFFD, losing them."""
    raw = b"GET /%80%FF HTTP/1.1\r\nHost: a\r\n\r\n"
    assert fastcore_environ(impl)(raw)["PATH_INFO"] == "/\x80\xff"
    assert werkzeug(raw)["PATH_INFO"] != "/\x80\xff"


def test_base_is_copied_not_changed(impl):
    base = dict(BASE)
    env = impl.build_environ(impl.parse_request(b"GET / HTTP/1.0\r\n\r\n"), base)
    assert base == BASE
    assert env["wsgi.url_scheme"] == "http" and env["REMOTE_PORT"] == "50000"
    assert impl.build_environ(impl.parse_request(b"GET / HTTP/1.0\r\n\r\n"))["PATH_INFO"] == "/"


def test_underscore_names_dropped_and_repeats_joined(impl):
    head = impl.parse_request(b"GET / HTTP/1.1\r\nHost: a\r\nX_Forwarded_For: evil\r\n"
                              b"Accept: a\r\nACCEPT: b\r\nContent-Type: t1\r\n\r\n")
    env = impl.build_environ(head)
    assert "HTTP_X_FORWARDED_FOR" not in env
    assert env["HTTP_ACCEPT"] == "a,b"
    assert env["CONTENT_TYPE"] == "t1" and "HTTP_CONTENT_TYPE" not in env


def test_content_length_is_the_parsed_value(impl):
    head = impl.parse_request(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 005\r\n"
                              b"Content-Length: 5\r\n\r\n")
    env = impl.build_environ(head)
    assert env["CONTENT_LENGTH"] == "5" and "HTTP_CONTENT_LENGTH" not in env
    assert "CONTENT_LENGTH" not in impl.build_environ(impl.parse_request(b"GET / HTTP/1.0\r\n\r\n"))


def test_latin1_native_strings(impl):
    head = impl.parse_request(b"GET /%C3%A9%FF?q=%E9 HTTP/1.1\r\nHost: a\r\nX-V: caf\xe9\r\n\r\n")
    env = impl.build_environ(head)
    assert env["PATH_INFO"] == "/\xc3\xa9\xff"
    assert env["PATH_INFO"].encode("latin-1").decode("utf-8", "replace").startswith("/é")
    assert env["QUERY_STRING"] == "q=%E9"
    assert env["HTTP_X_V"] == "caf\xe9"


def test_absolute_form_sets_host(impl):
    head = impl.parse_request(b"GET https://[::1]:8443?x HTTP/1.1\r\nHost: other\r\n\r\n")
    env = impl.build_environ(head)
    assert env["HTTP_HOST"] == "[::1]:8443"
    assert env["PATH_INFO"] == "/" and env["QUERY_STRING"] == "x"


def test_build_environ_with_a_mapping_base(impl):
    from types import MappingProxyType
    env = impl.build_environ(impl.parse_request(b"GET / HTTP/1.0\r\n\r\n"), MappingProxyType(BASE))
    assert env["SERVER_NAME"] == "127.0.0.1"


def test_environ_is_accepted_by_wsgiref_validate(impl):
    import io
    from wsgiref.validate import validator

    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [environ["PATH_INFO"].encode("latin-1")]

    head = impl.parse_request(b"GET /x?y HTTP/1.1\r\nHost: a\r\nAccept: */*\r\n\r\n")
    env = impl.build_environ(head, {**BASE, "wsgi.input": io.BytesIO(b"")})
    body = validator(app)(env, lambda status, headers, exc_info=None: None)
    assert list(body) == [b"/x"]
    body.close()
