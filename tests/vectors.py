"""The parser's vector tables: one place for what valid and invalid bytes mean.

Each valid vector lists every field of the expected ``RequestHead`` that differs
from ``DEFAULTS``; ``size`` is always the whole vector. Each invalid vector
names the error class and a fragment of the reason. Chunked vectors give the
body bytes after the head, the decoded body, the trailers and the leftover.
"""

from fastcore.errors import (
    BadRequest,
    HeaderFieldsTooLarge,
    NotImplementedCoding,
    URITooLong,
    VersionNotSupported,
)
from fastcore.limits import Limits

HOST = b"Host: example.com\r\n"

DEFAULTS = dict(
    method="GET", target="/", path="/", query="", version="HTTP/1.1",
    headers=[("Host", "example.com")], content_length=None, chunked=False,
    keep_alive=True, expect_continue=False,
)


def ok(id, raw, limits=None, **expected):
    return dict(id=id, raw=raw, limits=limits, expected={**DEFAULTS, **expected})


def bad(id, raw, error, reason, limits=None):
    return dict(id=id, raw=raw, limits=limits, error=error, reason=reason)


def get(target=b"/", version=b"HTTP/1.1", fields=HOST):
    return b"GET " + target + b" " + version + b"\r\n" + fields + b"\r\n"


SMALL = Limits(max_request_line=32, max_header_count=3, max_header_bytes=64,
               max_chunk_ext=8, max_trailer_bytes=24)

VALID = [
    ok("simple", get()),
    ok("http10-no-host", b"GET / HTTP/1.0\r\n\r\n", version="HTTP/1.0", headers=[],
       keep_alive=False),
    ok("http10-keep-alive", b"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n",
       version="HTTP/1.0", headers=[("Connection", "Keep-Alive")], keep_alive=True),
    ok("http11-close", get(fields=HOST + b"Connection: close\r\n"),
       headers=[("Host", "example.com"), ("Connection", "close")], keep_alive=False),
    ok("connection-list", get(fields=HOST + b"Connection: Upgrade, CLOSE\r\n"),
       headers=[("Host", "example.com"), ("Connection", "Upgrade, CLOSE")], keep_alive=False),
    ok("higher-minor-is-1.1", get(version=b"HTTP/1.7"), version="HTTP/1.1"),
    ok("leading-empty-lines", b"\r\n\r\n" + get()),
    ok("query", get(b"/search?q=a+b&x=%20"), target="/search?q=a+b&x=%20", path="/search",
       query="q=a+b&x=%20"),
    ok("query-with-question-marks", get(b"/t?foo=bar?baz"), target="/t?foo=bar?baz", path="/t",
       query="foo=bar?baz"),
    ok("empty-query", get(b"/p?"), target="/p?", path="/p", query=""),
    # A fragment is dropped from the target (http.client sends one when given it).
    ok("fragment-dropped", get(b"/x?a=1#frag"), target="/x?a=1", path="/x", query="a=1"),
    ok("fragment-after-path", get(b"/a%20b#f/?"), target="/a%20b", path="/a b"),
    ok("fragment-empty", get(b"/p#"), target="/p", path="/p"),
    ok("fragment-absolute-form", get(b"http://example.com/p?q#f"),
       target="http://example.com/p?q", path="/p", query="q"),
    ok("content-type-repeated-same", get(fields=HOST + b"Content-Type: text/plain\r\n"
                                         b"Content-Type:  text/plain \r\n"),
       headers=[("Host", "example.com"), ("Content-Type", "text/plain"),
                ("Content-Type", "text/plain")]),
    ok("percent-decoded-path", get(b"/a%20b/%E2%82%AC"), target="/a%20b/%E2%82%AC",
       path="/a b/\xe2\x82\xac"),
    ok("percent-slash-decoded", get(b"/a%2Fb"), target="/a%2Fb", path="/a/b"),
    ok("stray-percent-kept", get(b"/100%/x%2"), target="/100%/x%2", path="/100%/x%2"),
    ok("double-slash-kept", get(b"//x/y"), target="//x/y", path="//x/y"),
    ok("utf8-target-percent-encoded", get(b"/caf%C3%A9"), target="/caf%C3%A9", path="/caf\xc3\xa9"),
    ok("lenient-target-chars", get(b"/a|b{c}^`"), target="/a|b{c}^`", path="/a|b{c}^`"),
    ok("absolute-form", get(b"http://example.org:8080/p/q?x=1"),
       target="http://example.org:8080/p/q?x=1", path="/p/q", query="x=1"),
    ok("absolute-form-empty-path", get(b"HTTPS://example.org"), target="HTTPS://example.org",
       path="/"),
    ok("absolute-form-query-only", get(b"http://h?x"), target="http://h?x", path="/", query="x"),
    ok("asterisk-options", b"OPTIONS * HTTP/1.1\r\n" + HOST + b"\r\n", method="OPTIONS",
       target="*", path="*"),
    ok("connect-authority", b"CONNECT example.com:443 HTTP/1.1\r\n" + HOST + b"\r\n",
       method="CONNECT", target="example.com:443", path=""),
    ok("any-token-method", b"M-SEARCH! / HTTP/1.1\r\n" + HOST + b"\r\n", method="M-SEARCH!"),
    ok("ows-trimmed", get(fields=HOST + b"X-A:  \t v  a \t \r\n"),
       headers=[("Host", "example.com"), ("X-A", "v  a")]),
    ok("empty-value", get(fields=HOST + b"Cookie:\r\n"),
       headers=[("Host", "example.com"), ("Cookie", "")]),
    ok("whitespace-only-value", get(fields=HOST + b"Foo: \t \t \r\n"),
       headers=[("Host", "example.com"), ("Foo", "")]),
    ok("obs-text-value", get(fields=HOST + b"X-B: \xa0caf\xe9\xff\r\n"),
       headers=[("Host", "example.com"), ("X-B", "\xa0caf\xe9\xff")]),
    ok("colon-in-value", get(fields=HOST + b"X:Y: v\r\n"),
       headers=[("Host", "example.com"), ("X", "Y: v")]),
    ok("token-chars-in-name", get(fields=HOST + b"!#$%&'*+-.^_`|~09azAZ: v\r\n"),
       headers=[("Host", "example.com"), ("!#$%&'*+-.^_`|~09azAZ", "v")]),
    ok("host-ipv6-port", get(fields=b"Host: [::1]:8080\r\n"), headers=[("Host", "[::1]:8080")]),
    ok("host-empty", get(fields=b"Host:\r\n"), headers=[("Host", "")]),
    ok("host-empty-port", get(fields=b"Host: a:\r\n"), headers=[("Host", "a:")]),
    ok("content-length", b"POST /u HTTP/1.1\r\n" + HOST + b"Content-Length: 5\r\n\r\n",
       method="POST", target="/u", path="/u",
       headers=[("Host", "example.com"), ("Content-Length", "5")], content_length=5),
    ok("content-length-leading-zeros", b"POST / HTTP/1.1\r\n" + HOST + b"content-length: 007\r\n\r\n",
       method="POST", headers=[("Host", "example.com"), ("content-length", "007")],
       content_length=7),
    ok("content-length-max", b"POST / HTTP/1.1\r\n" + HOST +
       b"Content-Length: 9223372036854775807\r\n\r\n", method="POST",
       headers=[("Host", "example.com"), ("Content-Length", "9223372036854775807")],
       content_length=9223372036854775807),
    ok("content-length-repeated-same", b"POST / HTTP/1.1\r\n" + HOST +
       b"Content-Length: 5\r\nContent-Length: 5\r\n\r\n", method="POST",
       headers=[("Host", "example.com"), ("Content-Length", "5"), ("Content-Length", "5")],
       content_length=5),
    ok("content-length-list-same", b"POST / HTTP/1.1\r\n" + HOST + b"Content-Length: 5 , 5\r\n\r\n",
       method="POST", headers=[("Host", "example.com"), ("Content-Length", "5 , 5")],
       content_length=5),
    ok("chunked", b"POST / HTTP/1.1\r\n" + HOST + b"Transfer-Encoding: chunked\r\n\r\n",
       method="POST", headers=[("Host", "example.com"), ("Transfer-Encoding", "chunked")],
       chunked=True),
    ok("chunked-case-and-ows", b"POST / HTTP/1.1\r\n" + HOST +
       b"Transfer-Encoding:\t, Chunked ,\r\n\r\n", method="POST",
       headers=[("Host", "example.com"), ("Transfer-Encoding", ", Chunked ,")], chunked=True),
    ok("expect-continue", b"PUT / HTTP/1.1\r\n" + HOST +
       b"Expect: 100-Continue\r\nContent-Length: 1\r\n\r\n", method="PUT",
       headers=[("Host", "example.com"), ("Expect", "100-Continue"), ("Content-Length", "1")],
       content_length=1, expect_continue=True),
    ok("expect-continue-ignored-in-1.0", b"PUT / HTTP/1.0\r\nExpect: 100-continue\r\n\r\n",
       method="PUT", version="HTTP/1.0", headers=[("Expect", "100-continue")],
       keep_alive=False),
    ok("repeated-fields-kept-in-order", get(fields=HOST + b"X-M: a\r\nX-O: z\r\nX-M: b\r\n"),
       headers=[("Host", "example.com"), ("X-M", "a"), ("X-O", "z"), ("X-M", "b")]),
    ok("line-at-limit", b"GET /" + b"a" * 18 + b" HTTP/1.1\r\nHost: h\r\n\r\n", limits=SMALL,
       target="/" + "a" * 18, path="/" + "a" * 18, headers=[("Host", "h")]),
    ok("header-count-at-limit", b"GET / HTTP/1.1\r\nHost: h\r\nA: 1\r\nB: 2\r\n\r\n", limits=SMALL,
       headers=[("Host", "h"), ("A", "1"), ("B", "2")]),
    ok("header-bytes-at-limit", b"GET / HTTP/1.1\r\nHost: h\r\nA: " + b"v" * 48 + b"\r\n\r\n",
       limits=SMALL, headers=[("Host", "h"), ("A", "v" * 48)]),
]

INVALID = [
    bad("tls-hello", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", BadRequest, "looks like TLS"),
    bad("empty-method", b" / HTTP/1.1\r\n" + HOST + b"\r\n", BadRequest, "empty method"),
    bad("tab-in-method", b"G\tT / HTTP/1.1\r\n", BadRequest, "invalid character 0x09 in method"),
    bad("colon-method", b":GET / HTTP/1.1\r\n", BadRequest, "invalid character ':' in method"),
    bad("non-ascii-method", b"G\xc9T / HTTP/1.1\r\n", BadRequest, "invalid character 0xC9 in method"),
    bad("nul-method", b"GE\x00T / HTTP/1.1\r\n", BadRequest, "invalid character 0x00 in method"),
    bad("method-only", b"GET\r\n\r\n", BadRequest, "no request-target"),
    bad("double-space", b"GET  / HTTP/1.1\r\n", BadRequest, "empty request-target"),
    bad("empty-target", b"GET  HTTP/1.1\r\n", BadRequest, "empty request-target"),
    bad("tab-separator", b"GET\t/\tHTTP/1.1\r\n", BadRequest, "invalid character 0x09 in method"),
    bad("space-in-target", b"GET /foo bar/ HTTP/1.1\r\n" + HOST + b"\r\n", BadRequest,
        "invalid HTTP version"),
    bad("two-spaces-before-version", b"GET / 1HTTP/1.1\r\n", BadRequest, "invalid HTTP version"),
    bad("nul-in-target", b"GET /\x00 HTTP/1.1\r\n", BadRequest, "0x00 in request-target"),
    bad("del-in-target", b"GET /\x7f HTTP/1.1\r\n", BadRequest, "0x7F in request-target"),
    bad("ctl-in-target", b"GET /a\x01b HTTP/1.1\r\n", BadRequest, "0x01 in request-target"),
    bad("tab-in-target", b"GET /a\tb HTTP/1.1\r\n", BadRequest, "0x09 in request-target"),
    # RFC 9112 3.2: a request-target is ASCII; bytes over 0x7F are refused
    # wherever they stand (the compiled scanner checks 16 bytes at a time).
    bad("utf8-in-target", get(b"/caf\xc3\xa9"), BadRequest, "0xC3 in request-target"),
    bad("high-byte-after-slashes", b"PUT //\xf9/b HTTP/1.1\r\n" + HOST + b"\r\n", BadRequest,
        "0xF9 in request-target"),
    bad("high-byte-past-16", get(b"/" + b"a" * 20 + b"\x80"), BadRequest, "0x80 in request-target"),
    bad("high-byte-in-query", get(b"/a?q=\xe9"), BadRequest, "0xE9 in request-target"),
    bad("high-byte-in-fragment", get(b"/a#\xff"), BadRequest, "0xFF in request-target"),
    bad("high-byte-absolute-form", get(b"http://h/\xe9"), BadRequest, "0xE9 in request-target"),
    bad("fragment-then-space", b"GET /a#b c HTTP/1.1\r\n" + HOST + b"\r\n", BadRequest,
        "invalid HTTP version"),
    bad("fragment-with-ctl", b"GET /a#b\x01 HTTP/1.1\r\n", BadRequest, "0x01 in request-target"),
    bad("fragment-second-hash", b"GET /a#b#c HTTP/1.1\r\n", BadRequest, "'#' in request-target"),
    bad("fragment-http09", b"GET /a#b\r\n" + HOST + b"\r\n", BadRequest, "HTTP/0.9"),
    bad("fragment-only", b"GET #b HTTP/1.1\r\n" + HOST + b"\r\n", BadRequest,
        "invalid request-target"),
    bad("http09", b"GET /x\r\n" + HOST + b"\r\n", BadRequest, "HTTP/0.9"),
    bad("version-2", get(version=b"HTTP/2.0"), VersionNotSupported, "HTTP/2.0 is not supported"),
    bad("version-0.9-explicit", get(version=b"HTTP/0.9"), VersionNotSupported, "HTTP/0.9"),
    bad("version-lowercase", get(version=b"http/1.1"), BadRequest, "invalid HTTP version"),
    bad("version-no-minor", get(version=b"HTTP/1"), BadRequest, "invalid HTTP version"),
    bad("version-plus", get(version=b"HTTP/+1.1"), BadRequest, "invalid HTTP version"),
    bad("version-trailing-x", get(version=b"HTTP/1.1x"), BadRequest, "invalid HTTP version"),
    bad("version-two-digit-major", get(version=b"HTTP/11.1"), BadRequest, "invalid HTTP version"),
    bad("version-unicode-digit", get(version="HTTP/1.\u0661".encode()), BadRequest,
        "invalid HTTP version"),
    bad("version-trailing-space", get(version=b"HTTP/1.1 "), BadRequest, "invalid HTTP version"),
    bad("rtsp", get(version=b"RTSP/1.0"), BadRequest, "invalid HTTP version"),
    bad("bare-lf-request-line", b"GET / HTTP/1.1\nHost: a\n\n", BadRequest, "LF without CR"),
    bad("bare-lf-field", b"GET / HTTP/1.1\r\nHost: a\nX: 1\r\n\r\n", BadRequest, "LF without CR"),
    bad("bare-lf-before-request", b"\nGET / HTTP/1.1\r\n", BadRequest, "LF without CR"),
    bad("bare-lf-end-of-head", b"GET / HTTP/1.1\r\nHost: a\r\n\n", BadRequest, "LF without CR"),
    bad("bare-cr-request-line", b"GET / HTTP/1.1\rHost: a\r\n\r\n", BadRequest, "CR not followed"),
    bad("bare-cr-value", get(fields=HOST + b"Foo: 1\rBar: 2\r\n"), BadRequest, "CR not followed"),
    bad("bare-cr-end-of-head", b"GET / HTTP/1.1\r\nHost: a\r\n\rZGET", BadRequest,
        "CR not followed"),
    bad("cr-in-name", get(fields=HOST + b"Content\rLength: 3\r\n"), BadRequest, "without ':'"),
    bad("bare-cr-leading", b"\rGET / HTTP/1.1\r\n", BadRequest, "CR not followed"),
    bad("space-before-colon", get(fields=HOST + b"Foo : b\r\n"), BadRequest,
        "whitespace before ':' in header field name"),
    bad("tab-before-colon", get(fields=HOST + b"Foo\t: b\r\n"), BadRequest, "whitespace before ':'"),
    bad("empty-name", get(fields=HOST + b": b\r\n"), BadRequest, "empty header field name"),
    bad("no-colon", get(fields=HOST + b"Foo\r\n"), BadRequest, "without ':'"),
    bad("obs-fold", get(fields=HOST + b"Foo: a\r\n  b\r\n"), BadRequest, "obsolete line folding"),
    bad("whitespace-before-first-field", b"GET / HTTP/1.1\r\n X: 1\r\n" + HOST + b"\r\n",
        BadRequest, "starts with whitespace"),
    bad("nul-in-value", get(fields=HOST + b"X-A: abc\x00\r\n"), BadRequest,
        "0x00 in header field value"),
    bad("del-in-value", get(fields=HOST + b"X-A: a\x7fb\r\n"), BadRequest, "0x7F in header field value"),
    bad("esc-in-value", get(fields=HOST + b"X-A: a\x1bb\r\n"), BadRequest, "0x1B"),
    bad("nul-in-name", get(fields=HOST + b"a\x00b: c\r\n"), BadRequest, "0x00 in header field name"),
    bad("del-in-name", get(fields=HOST + b"a\x7fb: c\r\n"), BadRequest, "0x7F in header field name"),
    bad("nbsp-in-name", get(fields=HOST + b"a\xa0b: c\r\n"), BadRequest, "0xA0 in header field name"),
    bad("missing-host", get(fields=b"Accept: */*\r\n"), BadRequest, "missing Host"),
    bad("double-host", get(fields=HOST + HOST), BadRequest, "more than one Host"),
    bad("content-type-differs", get(fields=HOST + b"Content-Type: text/plain\r\n"
                                    b"content-type: application/json\r\n"), BadRequest,
        "Content-Type header fields with different values"),
    bad("content-type-differs-in-case", get(fields=HOST + b"Content-Type: text/plain\r\n"
                                            b"Content-Type: Text/Plain\r\n"), BadRequest,
        "Content-Type header fields with different values"),
    bad("host-space", get(fields=b"Host: exa mple.com\r\n"), BadRequest, "invalid Host"),
    bad("host-userinfo", get(fields=b"Host: user@example.com\r\n"), BadRequest, "invalid Host"),
    bad("host-bad-port", get(fields=b"Host: a:8x\r\n"), BadRequest, "invalid Host"),
    bad("host-unclosed-ipv6", get(fields=b"Host: [::1\r\n"), BadRequest, "invalid Host"),
    bad("host-nbsp", get(fields=b"Host: a\xa0b\r\n"), BadRequest, "invalid Host"),
    bad("cl-plus", get(fields=HOST + b"Content-Length: +5\r\n"), BadRequest, "invalid Content-Length"),
    bad("cl-minus", get(fields=HOST + b"Content-Length: -5\r\n"), BadRequest, "invalid Content-Length"),
    bad("cl-inner-space", get(fields=HOST + b"Content-Length: 4 2\r\n"), BadRequest,
        "invalid Content-Length"),
    bad("cl-underscore", get(fields=HOST + b"Content-Length: 1_0\r\n"), BadRequest,
        "invalid Content-Length"),
    bad("cl-hex", get(fields=HOST + b"Content-Length: 0x5\r\n"), BadRequest, "invalid Content-Length"),
    bad("cl-empty", get(fields=HOST + b"Content-Length:\r\n"), BadRequest, "invalid Content-Length"),
    bad("cl-nbsp", get(fields=HOST + b"Content-Length: 5\xa0\r\n"), BadRequest,
        "invalid Content-Length"),
    bad("cl-vt", get(fields=HOST + b"Content-Length:\x0b5\r\n"), BadRequest,
        "0x0B in header field value"),
    bad("cl-arabic-digit", get(fields=HOST + "Content-Length: \u0665\r\n".encode()), BadRequest,
        "invalid Content-Length"),
    bad("cl-fullwidth-digit", get(fields=HOST + "Content-Length: \uff15\r\n".encode()), BadRequest,
        "invalid Content-Length"),
    bad("cl-overflow", get(fields=HOST + b"Content-Length: 9223372036854775808\r\n"), BadRequest,
        "too large"),
    bad("cl-huge", get(fields=HOST + b"Content-Length: " + b"9" * 40 + b"\r\n"), BadRequest,
        "too large"),
    bad("cl-conflict", get(fields=HOST + b"Content-Length: 0\r\nContent-Length: 5\r\n"), BadRequest,
        "conflicting Content-Length"),
    bad("cl-list-conflict", get(fields=HOST + b"Content-Length: 5, 6\r\n"), BadRequest,
        "conflicting Content-Length"),
    bad("cl-list-empty-element", get(fields=HOST + b"Content-Length: 5,,5\r\n"), BadRequest,
        "invalid Content-Length"),
    bad("te-and-cl", b"POST / HTTP/1.1\r\n" + HOST +
        b"Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", BadRequest,
        "both Transfer-Encoding and Content-Length"),
    bad("te-gzip", b"POST / HTTP/1.1\r\n" + HOST + b"Transfer-Encoding: gzip\r\n\r\n", BadRequest,
        "chunked is not the final"),
    bad("te-chunked-then-gzip", b"POST / HTTP/1.1\r\n" + HOST +
        b"Transfer-Encoding: chunked, gzip\r\n\r\n", BadRequest, "chunked is not the final"),
    bad("te-chunked-twice", b"POST / HTTP/1.1\r\n" + HOST +
        b"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", BadRequest,
        "more than once"),
    bad("te-gzip-chunked", b"POST / HTTP/1.1\r\n" + HOST +
        b"Transfer-Encoding: gzip, chunked\r\n\r\n", NotImplementedCoding, "other than chunked"),
    bad("te-identity", b"POST / HTTP/1.1\r\n" + HOST + b"Transfer-Encoding: identity\r\n\r\n",
        BadRequest, "chunked is not the final"),
    bad("te-chunkedchunked", b"POST / HTTP/1.1\r\n" + HOST +
        b"Transfer-Encoding: chunkedchunked\r\n\r\n", BadRequest, "chunked is not the final"),
    bad("te-empty", b"POST / HTTP/1.1\r\n" + HOST + b"Transfer-Encoding:\r\n\r\n", BadRequest,
        "chunked is not the final"),
    bad("te-param", b"POST / HTTP/1.1\r\n" + HOST + b"Transfer-Encoding: chunked;q=1\r\n\r\n",
        BadRequest, "invalid Transfer-Encoding"),
    bad("te-nbsp", b"POST / HTTP/1.1\r\n" + HOST + b"Transfer-Encoding: \xa0chunked\r\n\r\n",
        BadRequest, "invalid Transfer-Encoding"),
    bad("te-http10", b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", BadRequest,
        "HTTP/1.0"),
    bad("asterisk-with-get", get(b"*"), BadRequest, "only allowed with OPTIONS"),
    bad("asterisk-with-more", b"OPTIONS *x HTTP/1.1\r\n" + HOST + b"\r\n", BadRequest,
        "invalid request-target"),
    bad("authority-form-without-connect", get(b"example.com:80"), BadRequest,
        "invalid request-target"),
    bad("connect-origin-form", b"CONNECT / HTTP/1.1\r\n" + HOST + b"\r\n", BadRequest, "CONNECT"),
    bad("connect-no-port", b"CONNECT example.com HTTP/1.1\r\n" + HOST + b"\r\n", BadRequest,
        "CONNECT"),
    bad("relative-target", get(b"a/b"), BadRequest, "invalid request-target"),
    bad("absolute-form-no-authority", get(b"http:///x"), BadRequest, "invalid authority"),
    bad("absolute-form-userinfo", get(b"http://u@h/x"), BadRequest, "invalid authority"),
    bad("scheme-digit-first", get(b"1http://h/"), BadRequest, "invalid request-target"),
    bad("line-over-limit", b"GET /" + b"a" * 19 + b" HTTP/1.1\r\nHost: h\r\n\r\n", URITooLong,
        "longer than 32 bytes", limits=SMALL),
    bad("line-over-limit-default", b"GET /" + b"a" * 9000, URITooLong, "longer than 8190"),
    bad("many-empty-lines", b"\r\n" * 17 + b"GET", BadRequest, "too many empty lines",
        limits=SMALL),
    bad("too-many-fields", b"GET / HTTP/1.1\r\nHost: h\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n",
        HeaderFieldsTooLarge, "more than 3 header fields", limits=SMALL),
    bad("header-bytes-over-limit", b"GET / HTTP/1.1\r\nHost: h\r\nA: " + b"v" * 49 + b"\r\n\r\n",
        HeaderFieldsTooLarge, "larger than 64 bytes", limits=SMALL),
    bad("header-bytes-default", b"GET / HTTP/1.1\r\n" + HOST + b"X: " + b"v" * 70000,
        HeaderFieldsTooLarge, "larger than 65536"),
]

# Every byte that RFC 9110 5.6.2 lists as a delimiter, inside a field name.
for _d in b'"(),/;<=>?@[\\]{}':
    INVALID.append(bad(f"delimiter-{_d:02x}-in-name", get(fields=HOST + b"X" + bytes([_d]) + b"Y: v\r\n"),
                       BadRequest, "in header field name"))

# ---------------------------------------------------------------------------
# Chunked bodies: (body bytes after the head, decoded, trailers, unused)

def chunk_ok(id, raw, body, trailers=(), unused=b"", limits=None):
    return dict(id=id, raw=raw, body=body, trailers=list(trailers), unused=unused, limits=limits)


CHUNKED_VALID = [
    chunk_ok("one-chunk", b"5\r\nhello\r\n0\r\n\r\n", b"hello"),
    chunk_ok("two-chunks-and-next-request", b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\nGET / HTTP/1.1\r\n",
             b"hello world", unused=b"GET / HTTP/1.1\r\n"),
    chunk_ok("empty-body", b"0\r\n\r\n", b""),
    chunk_ok("many-zeros-last-chunk", b"3\r\nabc\r\n000\r\n\r\n", b"abc"),
    chunk_ok("hex-cases", b"a\r\n0123456789\r\nB\r\nABCDEFGHIJK\r\n0\r\n\r\n",
             b"0123456789ABCDEFGHIJK"),
    chunk_ok("leading-zeros-16-digits", b"0000000000000003\r\nabc\r\n0\r\n\r\n", b"abc"),
    chunk_ok("extensions", b"5;a=b;c;d=\"x;y\\\"z\"\r\nhello\r\n0;last\r\n\r\n", b"hello"),
    chunk_ok("extension-bws", b"5 ; a = b ;c\r\nhello\r\n0\r\n\r\n", b"hello"),
    chunk_ok("extension-at-limit", b"1;abcdefg\r\nx\r\n0\r\n\r\n", b"x", limits=SMALL),
    chunk_ok("trailers", b"5\r\nhello\r\n0\r\nX-Sum: 1\r\nVary: *\r\n\r\nnext",
             b"hello", trailers=[("X-Sum", "1"), ("Vary", "*")], unused=b"next"),
    chunk_ok("binary-data", b"4\r\n\r\n\x00\xff\r\n0\r\n\r\n", b"\r\n\x00\xff"),
]


def chunk_bad(id, raw, error, reason, limits=None):
    return dict(id=id, raw=raw, error=error, reason=reason, limits=limits)


CHUNKED_INVALID = [
    chunk_bad("0x-prefix", b"0x5\r\nhello\r\n0\r\n\r\n", BadRequest, "'x' in chunk size"),
    chunk_bad("plus", b"+5\r\nhello\r\n", BadRequest, "'+' in chunk size"),
    chunk_bad("minus", b"-5\r\nhello\r\n", BadRequest, "'-' in chunk size"),
    chunk_bad("leading-space", b" 5\r\nhello\r\n", BadRequest, "0x20 in chunk size"),
    chunk_bad("empty-size", b"\r\nhello\r\n0\r\n\r\n", BadRequest, "missing chunk size"),
    chunk_bad("inner-space", b"1 0\r\n", BadRequest, "invalid chunk extension"),
    chunk_bad("trailing-space", b"5 \r\nhello\r\n", BadRequest, "invalid chunk extension"),
    chunk_bad("unicode-digit", "\u0665\r\nhello\r\n".encode(), BadRequest, "in chunk size"),
    chunk_bad("nul-after-size", b"10\x00\r\n", BadRequest, "0x00 in chunk size"),
    chunk_bad("seventeen-digits", b"10000000000000005\r\nhello\r\n", BadRequest, "16 hex digits"),
    chunk_bad("huge", b"9" * 80, BadRequest, "16 hex digits"),
    chunk_bad("bare-lf-size", b"5\nhello\r\n", BadRequest, "LF without CR"),
    chunk_bad("bare-lf-after-space", b"3 \n  \r\nfoo\r\n", BadRequest, "LF without CR"),
    chunk_bad("bare-cr-size", b"5\rhello\r\n", BadRequest, "CR not followed"),
    chunk_bad("data-too-long", b"5\r\nhelloXX\r\n0\r\n\r\n", BadRequest, "not followed by CRLF"),
    chunk_bad("data-bare-lf", b"5\r\nhello\n0\r\n\r\n", BadRequest, "not followed by CRLF"),
    chunk_bad("data-cr-then-other", b"3\r\nxxx\r_1a\r\n", BadRequest, "not followed by CRLF"),
    chunk_bad("missing-last-chunk", b"3\r\nfoo\r\n\r\n", BadRequest, "missing chunk size"),
    chunk_bad("empty-extension", b"2;\r\naa\r\n0\r\n\r\n", BadRequest, "invalid chunk extension"),
    chunk_bad("extension-cr", b"5;\ra=b\r\nhello\r\n", BadRequest, "invalid chunk extension"),
    chunk_bad("extension-lf", b"5;a\nb\r\nhello\r\n", BadRequest, "LF without CR"),
    chunk_bad("extension-unbalanced-quote", b"5;a=\"abc\r\nhello\r\n", BadRequest,
              "invalid chunk extension"),
    chunk_bad("extension-nul", b"5;a=\x00\r\nhello\r\n", BadRequest, "invalid chunk extension"),
    chunk_bad("extension-empty-value", b"5;a=\r\nhello\r\n", BadRequest, "invalid chunk extension"),
    chunk_bad("extension-over-limit", b"1;abcdefgh\r\nx\r\n", BadRequest,
              "longer than 8 bytes", limits=SMALL),
    chunk_bad("trailer-space-colon", b"5\r\nhello\r\n0\r\nX-T : 1\r\n\r\n", BadRequest,
              "whitespace before ':' in trailer field name"),
    chunk_bad("trailer-obs-fold", b"0\r\nX-T: 1\r\n 2\r\n\r\n", BadRequest, "obsolete line folding"),
    chunk_bad("trailer-nul", b"0\r\nX-T: \x00\r\n\r\n", BadRequest, "trailer field value"),
    chunk_bad("trailer-bare-lf", b"0\r\nX-T: 1\n\r\n", BadRequest, "LF without CR"),
    chunk_bad("trailer-over-limit", b"0\r\nX-T: " + b"v" * 30 + b"\r\n\r\n", HeaderFieldsTooLarge,
              "trailer section larger than 24 bytes", limits=SMALL),
    chunk_bad("trailer-too-many", b"0\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n", HeaderFieldsTooLarge,
              "more than 3 trailer fields", limits=Limits(max_header_count=3)),
]
