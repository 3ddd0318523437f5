"""Pure-Python HTTP/1.1 request parsing: the twin of ``fastcore._parser``.

Strategy: the same scan as the compiled module, in the same order, so that the
two return the same results and raise the same errors (class, status and
reason) on every input. Where the compiled module walks a run of one byte
class with a table, this one matches a compiled regular expression of that
class from the same position; everything else is line-for-line the same
decision. Used when the extension is not built, or when
``FASTCORE_NO_EXTENSIONS`` is set.
"""

import re

from fastcore import _grammar
from fastcore._grammar import BARE_CR_REASON, BARE_LF_REASON, TLS_REASON
from fastcore.errors import (
    BadRequest,
    HeaderFieldsTooLarge,
    NotImplementedCoding,
    ParseError,
    URITooLong,
    VersionNotSupported,
    byte_name,
)
from fastcore.limits import DEFAULT_LIMITS, Limits

__all__ = [
    "COMPILED", "RequestHead", "parse_request", "build_environ", "response_head", "access_line",
    "HeadReader", "frame_response", "NO_BODY", "LENGTH", "CHUNKED", "UNTIL_CLOSE",
    "after_response", "KEEP_ALIVE", "DRAIN", "CLOSE", "LINGER", "RELEASED", "DRAIN_LIMIT",
    "ChunkedDecoder",
    "Limits", "DEFAULT_LIMITS", "ParseError", "BadRequest", "URITooLong",
    "HeaderFieldsTooLarge", "NotImplementedCoding", "VersionNotSupported",
]

COMPILED = False

CR, LF, SP, HT = 13, 10, 32, 9


def _run_of(members: bytes):
    """A function giving the end of the run of ``members`` bytes from p, below end."""
    match = re.compile(b"[" + b"".join(re.escape(bytes([c])) for c in members) + b"]*").match

    def run(data, p, end):
        return match(data, p, end).end()

    return run


_tchar = _run_of(_grammar.TCHAR)
_value = _run_of(_grammar.FIELD_VALUE)
_target = _run_of(_grammar.TARGET)
_reg_name = _run_of(_grammar.REG_NAME)
_ip_literal = _run_of(_grammar.IP_LITERAL)
_scheme = _run_of(_grammar.SCHEME)
_digits = _run_of(_grammar.DIGIT)
_ows = _run_of(_grammar.OWS)
_HEX = frozenset(_grammar.HEXDIG)
_TCHAR = frozenset(_grammar.TCHAR)
_QDTEXT = frozenset(_grammar.QDTEXT)
_QUOTED_PAIR = frozenset(_grammar.QUOTED_PAIR)
_PERCENT = re.compile(rb"%([0-9A-Fa-f]{2})")
_MAX_CONTENT_LENGTH = 0x7FFFFFFFFFFFFFFF


class RequestHead:
    """The parsed head of one request. See ``fastcore/_parser.pyi``."""

    __slots__ = ("method", "target", "path", "query", "version", "headers", "size",
                 "content_length", "chunked", "keep_alive", "expect_continue")

    def __init__(self, method, target, path, query, version, headers, size,
                 content_length, chunked, keep_alive, expect_continue):
        self.method = method
        self.target = target
        self.path = path
        self.query = query
        self.version = version
        self.headers = headers
        self.size = size
        self.content_length = content_length
        self.chunked = chunked
        self.keep_alive = keep_alive
        self.expect_continue = expect_continue

    def _fields(self):
        return tuple(getattr(self, name) for name in self.__slots__)

    def __eq__(self, other):
        if not hasattr(other, "_fields") or type(other).__name__ != "RequestHead":
            return NotImplemented
        return self._fields() == other._fields()

    def __repr__(self):
        return (f"RequestHead(method={self.method!r}, target={self.target!r}, "
                f"version={self.version!r}, headers={len(self.headers)}, size={self.size}, "
                f"content_length={self.content_length!r}, chunked={self.chunked}, "
                f"keep_alive={self.keep_alive}, expect_continue={self.expect_continue})")


# ---------------------------------------------------------------------------
# Field sections (headers and trailers)

class _Framing:
    """What the header fields say about framing and the connection."""

    def __init__(self):
        self.host_count = 0
        self.cl_count = 0
        self.content_length = 0
        self.te_fields = 0
        self.te_chunked = 0
        self.te_other = 0
        self.te_last_chunked = False
        self.conn_close = False
        self.conn_keep_alive = False
        self.expect_continue = False
        self.content_type = None


def _need(end, n, what, limit):
    if end < n:
        raise HeaderFieldsTooLarge(f"{what} section larger than {limit} bytes")
    return -1


def _valid_authority(data, p, end, need_port):
    """uri-host [ ":" port ]; userinfo is refused (RFC 9110 4.2.4)."""
    if p < end and data[p] == 0x5B:  # "["
        q = _ip_literal(data, p + 1, end)
        if q >= end or data[q] != 0x5D or q == p + 1:
            return False
        q += 1
    else:
        q = _reg_name(data, p, end)
    if q == end:
        return not need_port
    if data[q] != 0x3A:  # ":"
        return False
    return _digits(data, q + 1, end) == end and (q + 1 < end or not need_port)


def _content_length(data, p, end, fr):
    """1*DIGIT; a list of identical values is that value (RFC 9110 8.6)."""
    while True:
        q = _digits(data, p, end)
        if q == p:
            raise BadRequest("invalid Content-Length value")
        # Compare digit strings before int() so no huge number is ever built.
        digits = data[p:q].lstrip(b"0") or b"0"
        if len(digits) > 19 or int(digits) > _MAX_CONTENT_LENGTH:
            raise BadRequest("Content-Length value too large")
        value = int(digits)
        if fr.cl_count and value != fr.content_length:
            raise BadRequest("conflicting Content-Length values")
        fr.cl_count += 1
        fr.content_length = value
        p = _ows(data, q, end)
        if p == end:
            return
        if data[p] != 0x2C:  # ","
            raise BadRequest("invalid Content-Length value")
        p = _ows(data, p + 1, end)


def _transfer_encoding(data, p, end, fr):
    """#transfer-coding; empty elements skipped, parameters refused."""
    fr.te_fields += 1
    while p < end:
        q = _tchar(data, p, end)
        if q > p:
            if data[p:q].lower() == b"chunked":
                fr.te_chunked += 1
                fr.te_last_chunked = True
            else:
                fr.te_other += 1
                fr.te_last_chunked = False
        q = _ows(data, q, end)
        if q < end and data[q] != 0x2C:
            raise BadRequest("invalid Transfer-Encoding value")
        p = _ows(data, q + 1, end) if q < end else end


def _connection(data, p, end, fr):
    while p < end:
        q = _tchar(data, p, end)
        option = data[p:q].lower()
        if option == b"close":
            fr.conn_close = True
        elif option == b"keep-alive":
            fr.conn_keep_alive = True
        comma = data.find(b",", q, end)
        if comma < 0:
            return
        p = _ows(data, comma + 1, end)


def _note_field(data, ns, ne, vs, ve, fr):
    name = data[ns:ne].lower()
    if name == b"host":
        fr.host_count += 1
        if fr.host_count > 1:
            raise BadRequest("more than one Host header field")
        if not _valid_authority(data, vs, ve, False):
            raise BadRequest("invalid Host header field value")
    elif name == b"content-length":
        _content_length(data, vs, ve, fr)
    elif name == b"transfer-encoding":
        _transfer_encoding(data, vs, ve, fr)
    elif name == b"connection":
        _connection(data, vs, ve, fr)
    elif name == b"expect":
        if data[vs:ve].lower() == b"100-continue":
            fr.expect_continue = True
    elif name == b"content-type":
        if fr.content_type is None:
            fr.content_type = data[vs:ve]
        elif data[vs:ve] != fr.content_type:
            raise BadRequest("Content-Type header fields with different values")


def _scan_fields(data, p, n, limit, max_count, fields, fr, what):
    """Field lines from p through the empty line; the end index, or -1."""
    end = min(p + limit, n)
    count = 0
    while True:
        if p >= end:
            return _need(end, n, what, limit)
        c = data[p]
        if c == CR:
            if p + 1 >= end:
                return _need(end, n, what, limit)
            if data[p + 1] != LF:
                raise BadRequest(BARE_CR_REASON)
            return p + 2
        if c == LF:
            # A bare LF ends no line here (the choice is explained in _grammar).
            raise BadRequest(BARE_LF_REASON)
        if c == SP or c == HT:
            raise BadRequest(f"{what} field line starts with whitespace (obsolete line folding)")
        if count >= max_count:
            raise HeaderFieldsTooLarge(f"more than {max_count} {what} fields")
        ns = p
        q = _tchar(data, p, end)
        if q >= end:
            return _need(end, n, what, limit)
        c = data[q]
        if c != 0x3A:
            if c == SP or c == HT:
                raise BadRequest(f"whitespace before ':' in {what} field name")
            if c == CR or c == LF:
                raise BadRequest(f"{what} field line without ':'")
            raise BadRequest(f"invalid character {byte_name(c)} in {what} field name")
        if q == ns:
            raise BadRequest(f"empty {what} field name")
        ne = q
        vs = _ows(data, q + 1, end)
        q = _value(data, vs, end)
        if q >= end:
            return _need(end, n, what, limit)
        c = data[q]
        if c == CR:
            if q + 1 >= end:
                return _need(end, n, what, limit)
            if data[q + 1] != LF:
                raise BadRequest(BARE_CR_REASON)
        elif c == LF:
            raise BadRequest(BARE_LF_REASON)
        else:
            raise BadRequest(f"invalid character {byte_name(c)} in {what} field value")
        ve = vs + len(data[vs:q].rstrip(b" \t"))
        fields.append((data[ns:ne].decode("latin-1"), data[vs:ve].decode("latin-1")))
        if fr is not None:
            _note_field(data, ns, ne, vs, ve, fr)
        count += 1
        p = q + 2


# ---------------------------------------------------------------------------
# The request line

def _percent_decode(raw: bytes) -> str:
    """%XX decoded to bytes, shown as latin-1; a stray '%' is kept as is."""
    if b"%" in raw:
        raw = _PERCENT.sub(lambda m: bytes([int(m.group(1), 16)]), raw)
    return raw.decode("latin-1")


def _line_need(lim, n, max_line):
    if lim < n:
        raise URITooLong(f"request line longer than {max_line} bytes")


def _check_limits(limits):
    if not isinstance(limits, Limits):
        raise TypeError(f"limits must be a fastcore.parser.Limits, not {type(limits).__name__}")
    return limits


def parse_request(data, *, limits=DEFAULT_LIMITS):
    """Parse the request head at the start of ``data``. See ``_parser.pyi``."""
    limits = _check_limits(limits)
    if not isinstance(data, bytes):
        data = bytes(memoryview(data))
    n = len(data)
    max_line = limits.max_request_line
    p = 0
    while True:
        if p >= n:
            return None
        c = data[p]
        if c == CR:
            if p + 1 >= n:
                return None
            if data[p + 1] != LF:
                raise BadRequest(BARE_CR_REASON)
            p += 2
            if p > max_line:
                raise BadRequest("too many empty lines before the request line")
        elif c == LF:
            raise BadRequest(BARE_LF_REASON)
        else:
            break
    if c == 0x16:
        raise BadRequest(TLS_REASON)

    start = p
    lim = start + max_line
    end = min(lim, n)

    ms = p
    q = _tchar(data, p, end)
    if q >= end:
        return _line_need(lim, n, max_line)
    c = data[q]
    if c != SP:
        if c == CR or c == LF:
            raise BadRequest("request line has no request-target")
        raise BadRequest(f"invalid character {byte_name(c)} in method")
    if q == ms:
        raise BadRequest("empty method")
    me = q

    ts = q + 1
    q = _target(data, ts, end)
    if q >= end:
        return _line_need(lim, n, max_line)
    c = data[q]
    if q == ts and c in (SP, CR, LF):
        raise BadRequest("empty request-target")
    if c == CR or c == LF:
        raise BadRequest("HTTP/0.9 request (no HTTP version) is not supported")
    te = q
    if c == 0x23:  # "#": a fragment, dropped (see the compiled parser)
        q = _target(data, q + 1, end)
        if q >= end:
            return _line_need(lim, n, max_line)
        c = data[q]
        if c == CR or c == LF:
            raise BadRequest("HTTP/0.9 request (no HTTP version) is not supported")
    if c != SP:
        raise BadRequest(f"invalid character {byte_name(c)} in request-target")

    vs = q + 1
    for i in range(8):
        if vs + i >= end:
            return _line_need(lim, n, max_line)
        c = data[vs + i]
        if i < 5:
            ok = c == b"HTTP/"[i]
        elif i == 6:
            ok = c == 0x2E
        else:
            ok = 0x30 <= c <= 0x39
        if not ok:
            raise BadRequest("invalid HTTP version")
    q = vs + 8
    if q >= n:
        return None
    c = data[q]
    if c == CR:
        if q + 1 >= n:
            return None
        if data[q + 1] != LF:
            raise BadRequest(BARE_CR_REASON)
    elif c == LF:
        raise BadRequest(BARE_LF_REASON)
    else:
        raise BadRequest("invalid HTTP version")
    if data[vs + 5] != 0x31:
        raise VersionNotSupported(f"HTTP version {data[vs:vs + 8].decode('latin-1')} is not supported")
    http11 = data[vs + 7] != 0x30
    hs = q + 2

    method = data[ms:me].decode("latin-1")
    c = data[ts]
    if method == "CONNECT":
        if not _valid_authority(data, ts, te, True):
            raise BadRequest("CONNECT needs an authority-form request-target (host:port)")
        path = query = ""
    elif c == 0x2F:  # "/"
        qm = data.find(b"?", ts, te)
        qm = te if qm < 0 else qm
        path = _percent_decode(data[ts:qm])
        query = data[qm + 1:te].decode("latin-1")
    elif c == 0x2A:  # "*"
        if te - ts != 1:
            raise BadRequest("invalid request-target")
        if method != "OPTIONS":
            raise BadRequest("'*' request-target is only allowed with OPTIONS")
        path, query = "*", ""
    else:
        q = _scheme(data, ts, te)
        if not (0x41 <= (c & ~0x20) <= 0x5A) or data[q:q + 3] != b"://":
            raise BadRequest("invalid request-target")
        a = q + 3
        ae = a
        while ae < te and data[ae] not in (0x2F, 0x3F):
            ae += 1
        if ae == a or not _valid_authority(data, a, ae, False):
            raise BadRequest("invalid authority in absolute-form request-target")
        qm = data.find(b"?", ae, te)
        qm = te if qm < 0 else qm
        path = _percent_decode(data[ae:qm]) if qm > ae else "/"
        query = data[qm + 1:te].decode("latin-1")

    fr = _Framing()
    headers = []
    q = _scan_fields(data, hs, n, limits.max_header_bytes, limits.max_header_count,
                     headers, fr, "header")
    if q < 0:
        return None

    if fr.te_fields:
        if not http11:
            raise BadRequest("Transfer-Encoding in an HTTP/1.0 request")
        if fr.cl_count:
            raise BadRequest("both Transfer-Encoding and Content-Length")
        if fr.te_chunked > 1:
            raise BadRequest("chunked transfer coding applied more than once")
        if not fr.te_last_chunked:
            raise BadRequest("chunked is not the final transfer coding")
        if fr.te_other:
            raise NotImplementedCoding("transfer coding other than chunked")
    if http11 and fr.host_count == 0:
        raise BadRequest("missing Host header field")

    return RequestHead(
        method,
        data[ts:te].decode("latin-1"),
        path,
        query,
        "HTTP/1.1" if http11 else "HTTP/1.0",
        headers,
        q,
        fr.content_length if fr.cl_count else None,
        fr.te_fields > 0,
        (not fr.conn_close) if http11 else (fr.conn_keep_alive and not fr.conn_close),
        fr.expect_continue and http11,
    )


# ---------------------------------------------------------------------------
# The WSGI environ

_SKIP = ""
_KEYS = {}
_KEYS_MAX = 1024


def _environ_key(name):
    key = _KEYS.get(name)
    if key is None:
        lowered = name.lower()
        if "_" in name or lowered == "content-length":
            key = _SKIP
        elif lowered == "content-type":
            key = "CONTENT_TYPE"
        else:
            key = "HTTP_" + name.upper().replace("-", "_")
        if len(_KEYS) < _KEYS_MAX:
            _KEYS[name] = key
    return key


class HeadReader:
    """A server's reading of request heads. See ``_parser.pyi``."""

    def __init__(self, limits=DEFAULT_LIMITS):
        self.limits = _check_limits(limits)

    def __call__(self, data):
        try:
            return parse_request(data, limits=self.limits)
        except ParseError as error:
            return error


def build_environ(head, base=None):
    """A new WSGI environ for ``head``. See ``_parser.pyi``."""
    env = {} if base is None else dict(base)
    env["REQUEST_METHOD"] = head.method
    env["SCRIPT_NAME"] = ""
    env["PATH_INFO"] = head.path
    env["QUERY_STRING"] = head.query
    env["SERVER_PROTOCOL"] = head.version
    target = head.target
    env["REQUEST_URI"] = target
    env["RAW_URI"] = target
    if head.content_length is not None:
        env["CONTENT_LENGTH"] = str(head.content_length)
    for name, value in head.headers:
        key = _environ_key(name)
        if key == _SKIP:
            continue
        if key != "CONTENT_TYPE" and key in env:
            value = env[key] + "," + value
        env[key] = value
    if target[0] != "/" and target != "*" and head.method != "CONNECT":
        authority = target.partition("://")[2]
        env["HTTP_HOST"] = authority.partition("/")[0].partition("?")[0]
    return env


# ---------------------------------------------------------------------------
# Response heads: start_response's status and headers, checked and encoded

def _class(members):
    return "[" + "".join(re.escape(chr(c)) for c in members) + "]"


# RFC 9112 4: status-line = HTTP-version SP status-code SP [ reason-phrase ],
# reason-phrase = 1*( HTAB / SP / VCHAR / obs-text ), the field-value bytes.
_STATUS = re.compile("[0-9]{3} " + _class(_grammar.FIELD_VALUE) + "*")
_TOKEN = re.compile(_class(_grammar.TCHAR) + "+")
_VALUE = re.compile(_class(_grammar.FIELD_VALUE) + "*")
_HOP_BY_HOP = frozenset({"connection", "keep-alive", "transfer-encoding", "te", "trailer",
                         "trailers", "upgrade", "proxy-authenticate", "proxy-authorization"})


def response_head(status, headers):
    """Check and encode a response head. See ``_parser.pyi``."""
    items = headers if type(headers) is list else list(headers)
    length = None
    has_date = has_server = False
    if type(status) is not str or not _STATUS.fullmatch(status):
        raise ValueError(f"invalid status {status!r}: expected three digits, a space and a "
                         "reason phrase without control characters")
    lines = [f"HTTP/1.1 {status}\r\n"]
    for item in items:
        if type(item) is not tuple or len(item) != 2:
            raise TypeError(f"response header {item!r} is not a (name, value) tuple")
        name, value = item
        if type(name) is not str:
            raise TypeError(f"response header name {name!r} is not a str")
        if not _TOKEN.fullmatch(name):
            raise ValueError(f"invalid response header name {name!r}: not a token")
        if type(value) is not str:
            raise TypeError(f"response header {name!r} has a value that is not a str: {value!r}")
        if not _VALUE.fullmatch(value):
            raise ValueError(f"invalid value for response header {name!r}: {value!r} "
                             "(a control character, or a character beyond latin-1)")
        lowered = name.lower()
        if lowered == "content-length":
            length = int(value)
        elif lowered in _HOP_BY_HOP:
            raise ValueError(f"hop-by-hop header {name!r} is set by the server, not the app")
        elif lowered == "date":
            has_date = True
        elif lowered == "server":
            has_server = True
        lines.append(f"{name}: {value}\r\n")
    return "".join(lines).encode("latin-1"), int(status[:3]), length, has_date, has_server


def access_line(address, when, head, code, seconds):
    """A request's access line, or None. See ``_parser.pyi``."""
    if type(head) is not RequestHead:
        raise TypeError(f"head must be a RequestHead, not {type(head).__name__}")
    target = head.target
    if code != 200 or "%" in target or "\\" in target:
        return None
    tenths = 0 if seconds <= 0 else (int(seconds * 1e6 + 0.5) + 50) // 100
    return (f'{address} - - [{when}] "{head.method} {target} {head.version}" 200 - '
            f"{tenths // 10}.{tenths % 10}ms")


# How a response's body is delimited (see frame_response).
NO_BODY = 0  # none may be sent: HEAD, 1xx, 204, 304
LENGTH = 1  # Content-Length
CHUNKED = 2  # Transfer-Encoding: chunked
UNTIL_CLOSE = 3  # the connection's end (an HTTP/1.0 client, a length not known)


def frame_response(head, response, first, whole, speaks_11, stopping, body, date_line,
                   server_line):
    """A response's framing and its first bytes on the wire. See ``_parser.pyi``."""
    if type(head) is not RequestHead:
        raise TypeError(f"head must be a RequestHead, not {type(head).__name__}")
    lines, code, declared, has_date, has_server = response
    length = -1 if declared is None else declared
    add_length = False
    if code < 200 or code == 204 or code == 304 or head.method == "HEAD":
        framing = NO_BODY
        add_length = declared is None and whole >= 0 and head.method == "HEAD"
        if add_length:
            length = whole
    elif length >= 0 or whole >= 0:
        framing = LENGTH
        if length < 0:
            length, add_length = whole, True
    elif speaks_11 and head.version == "HTTP/1.1":
        framing = CHUNKED
    else:
        framing = UNTIL_CLOSE
    keep = bool(head.keep_alive and framing != UNTIL_CLOSE and speaks_11 and not stopping
                and (body is None or not body.failed))
    framed = b""
    if framing == LENGTH:
        framed = first[:length]
        if len(first) > length or 0 <= whole < length:
            keep = False  # more than it declared, or a complete body with less
    elif framing == CHUNKED and first:
        framed = b"%x\r\n%s\r\n" % (len(first), first)
    elif framing == UNTIL_CLOSE:
        framed = first
    extra = f"Content-Length: {length}\r\n" if add_length else ""
    if framing == CHUNKED:
        extra += "Transfer-Encoding: chunked\r\n"
    if not keep:
        extra += "Connection: close\r\n"
    elif head.version == "HTTP/1.0":
        extra += "Connection: keep-alive\r\n"
    extra += ("" if has_date else date_line) + ("" if has_server else server_line) + "\r\n"
    sent = len(first) if framing == CHUNKED or framing == UNTIL_CLOSE else len(framed)
    return (lines + extra.encode("latin-1") + framed, framing, keep,
            None if length < 0 else length, sent)


# A connection's state after a request (see fastcore.cycle).
KEEP_ALIVE = "keep-alive"
DRAIN = "drain"
CLOSE = "close"
LINGER = "linger"
RELEASED = "released"
# An unread request body up to this size is read and dropped so that the
# connection can serve the next request; a larger one closes it.
DRAIN_LIMIT = 256 * 1024


def after_response(keep, taken_over, body):
    """A connection's next state once a response is done. See ``_parser.pyi``."""
    if taken_over:
        return RELEASED
    if not keep:
        return CLOSE
    if body is None or body.finished:
        return KEEP_ALIVE
    if body.failed or (body.remaining or 0) > DRAIN_LIMIT:
        return CLOSE
    return DRAIN


# ---------------------------------------------------------------------------
# Chunked request bodies (RFC 9112 7.1)

(S_SIZE, S_EXT, S_SIZE_LF, S_DATA, S_DATA_CR, S_DATA_LF, S_TRAILER, S_DONE) = range(8)
(X_BWS_SEMI, X_BWS_NAME, X_NAME, X_BWS_EQ, X_BWS_VALUE, X_TOKEN, X_QUOTED, X_QPAIR,
 X_AFTER_QUOTED) = range(9)


def _next_ext_state(st, c):
    """chunk-ext = *( BWS ";" BWS name [ BWS "=" BWS value ] ); -1 if invalid."""
    ws = c == SP or c == HT
    tchar = c in _TCHAR
    if st == X_BWS_SEMI:
        return X_BWS_NAME if c == 0x3B else st if ws else -1
    if st == X_BWS_NAME:
        return X_NAME if tchar else st if ws else -1
    if st == X_NAME:
        if ws:
            return X_BWS_EQ
        if c == 0x3D:
            return X_BWS_VALUE
        if c == 0x3B:
            return X_BWS_NAME
        return st if tchar else -1
    if st == X_BWS_EQ:
        if c == 0x3D:
            return X_BWS_VALUE
        if c == 0x3B:
            return X_BWS_NAME
        return st if ws else -1
    if st == X_BWS_VALUE:
        if c == 0x22:
            return X_QUOTED
        return X_TOKEN if tchar else st if ws else -1
    if st == X_TOKEN:
        if ws:
            return X_BWS_SEMI
        if c == 0x3B:
            return X_BWS_NAME
        return st if tchar else -1
    if st == X_QUOTED:
        if c == 0x22:
            return X_AFTER_QUOTED
        if c == 0x5C:
            return X_QPAIR
        return st if c in _QDTEXT else -1
    if st == X_QPAIR:
        return X_QUOTED if c in _QUOTED_PAIR else -1
    # X_AFTER_QUOTED
    if ws:
        return X_BWS_SEMI
    return X_BWS_NAME if c == 0x3B else -1


class ChunkedDecoder:
    """Incremental decoder of a chunked request body. See ``_parser.pyi``."""

    def __init__(self, *, limits=DEFAULT_LIMITS):
        limits = _check_limits(limits)
        self._max_chunk_ext = limits.max_chunk_ext
        self._max_trailer_bytes = limits.max_trailer_bytes
        self._max_count = limits.max_header_count
        self._state = S_SIZE
        self._ext_state = 0
        self._digits = 0
        self._size = 0
        self._ext_len = 0
        self._tbuf = None
        self._error = None
        self.trailers = []
        self.unused = b""

    @property
    def done(self):
        return self._state == S_DONE

    def feed(self, data):
        """Decode ``data``; return the body bytes it completes."""
        if self._error is not None:
            raise self._error
        data = bytes(data)
        if self._state == S_DONE:
            self.unused += data
            return b""
        try:
            return self._feed(data)
        except ParseError as exc:
            self._error = exc
            raise

    def _feed(self, data):
        out = []
        p = 0
        n = len(data)
        while p < n:
            state = self._state
            if state == S_DATA:
                take = min(n - p, self._size)
                out.append(data[p:p + take])
                p += take
                self._size -= take
                if self._size == 0:
                    self._state = S_DATA_CR
                continue
            if state == S_TRAILER:
                p = self._trailers(data, p, n)
                continue
            c = data[p]
            p += 1
            if state == S_SIZE:
                if c in _HEX:
                    self._digits += 1
                    if self._digits > 16:
                        raise BadRequest("chunk size has more than 16 hex digits")
                    self._size = (self._size << 4) | int(chr(c), 16)
                elif self._digits == 0:
                    if c == CR or c == LF:
                        raise BadRequest("missing chunk size")
                    raise BadRequest(f"invalid character {byte_name(c)} in chunk size")
                elif c == CR:
                    self._state = S_SIZE_LF
                elif c == 0x3B:
                    self._state, self._ext_state, self._ext_len = S_EXT, X_BWS_NAME, 1
                elif c == SP or c == HT:
                    self._state, self._ext_state, self._ext_len = S_EXT, X_BWS_SEMI, 1
                elif c == LF:
                    raise BadRequest(BARE_LF_REASON)
                else:
                    raise BadRequest(f"invalid character {byte_name(c)} in chunk size")
            elif state == S_EXT:
                self._ext_byte(c)
            elif state == S_SIZE_LF:
                if c != LF:
                    raise BadRequest(BARE_CR_REASON)
                self._state = S_DATA if self._size else S_TRAILER
            elif state == S_DATA_CR:
                if c != CR:
                    raise BadRequest("chunk data not followed by CRLF")
                self._state = S_DATA_LF
            elif state == S_DATA_LF:
                if c != LF:
                    raise BadRequest("chunk data not followed by CRLF")
                self._state, self._digits, self._size = S_SIZE, 0, 0
        return b"".join(out)

    def _ext_byte(self, c):
        st = self._ext_state
        if c == CR and st in (X_NAME, X_TOKEN, X_AFTER_QUOTED):
            self._state = S_SIZE_LF
            return
        if c == LF:
            raise BadRequest(BARE_LF_REASON)
        self._ext_len += 1
        if self._ext_len > self._max_chunk_ext:
            raise BadRequest(f"chunk extensions longer than {self._max_chunk_ext} bytes")
        st = _next_ext_state(st, c)
        if st < 0:
            raise BadRequest("invalid chunk extension")
        self._ext_state = st

    def _trailers(self, data, p, n):
        fields = []
        limit = self._max_trailer_bytes
        if self._tbuf is None:
            r = _scan_fields(data, p, n, limit, self._max_count, fields, None, "trailer")
            if r < 0:
                self._tbuf = bytearray(data[p:n])
                return n
            self._finish(fields, data[r:n])
            return n
        take = min(n - p, limit + 1 - len(self._tbuf))
        self._tbuf += data[p:p + take]
        buf = bytes(self._tbuf)
        r = _scan_fields(buf, 0, len(buf), limit, self._max_count, fields, None, "trailer")
        if r < 0:
            return p + take
        self._finish(fields, buf[r:] + data[p + take:n])
        return n

    def _finish(self, fields, unused):
        self.trailers = fields
        self.unused = unused
        self._tbuf = None
        self._state = S_DONE
