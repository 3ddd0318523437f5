# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Compiled HTTP/1.1 request parsing: bytes in, values out.

Strategy: ``parse_request`` is a stateless pull call over the caller's buffer
(no copy). It walks C pointers with a 256-entry table of byte classes built
from ``fastcore._grammar``, creates only the strings the result holds (each
decoded once, as latin-1), and checks every limit by position, so an oversized
or malformed request fails as soon as its bytes prove it, before the end
arrives. Framing decisions (Content-Length, Transfer-Encoding, Host) are
recorded in a small struct while the fields are scanned and judged once the
empty line is seen.

``ChunkedDecoder`` is a byte-at-a-time state machine for the chunk framing
(size lines, extensions, CRLFs) that copies chunk data in whole runs, so any
split of the input across ``feed()`` calls gives the same output and errors.

``fastcore._parser_py`` is the pure-Python twin of this module; the two must
agree on every input, and the tests hold them to it.
"""

from cpython.buffer cimport PyObject_GetBuffer, PyBuffer_Release, PyBUF_SIMPLE
from cpython.bytes cimport PyBytes_FromStringAndSize, PyBytes_AS_STRING, PyBytes_GET_SIZE
from cpython.dict cimport PyDict_Copy
from cpython.object cimport PyObject
from cpython.ref cimport Py_INCREF
from cpython.unicode cimport PyUnicode_DATA, PyUnicode_DecodeLatin1
from libc.stdint cimport uint64_t, int64_t
from libc.stdlib cimport malloc, realloc, free
from libc.string cimport memchr, memcmp, memcpy, memset

from fastcore import _grammar
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

COMPILED = True

cdef enum:
    CR = 13
    LF = 10
    SP = 32
    HT = 9

# Bit flags of the byte-class table.
cdef enum:
    C_TCHAR = 1
    C_VALUE = 2
    C_TARGET = 4
    C_HEX = 8
    C_REG_NAME = 16
    C_IP_LITERAL = 32
    C_SCHEME = 64
    C_QDTEXT = 128
    C_QUOTED_PAIR = 256
    C_DIGIT = 512
    C_OWS = 1024

cdef unsigned short CLS[256]

cdef extern from "Python.h":
    PyObject* PyDict_SetDefault(object d, object key, object default) except NULL
    object PyUnicode_New(Py_ssize_t size, Py_UCS4 maxchar)
    bint PyUnicode_IS_ASCII(object o)

cdef extern from "_scan.h":
    Py_ssize_t fc_skip_value(const unsigned char* b, Py_ssize_t p, Py_ssize_t end, Py_ssize_t n,
                             unsigned int* high) noexcept nogil
    str fc_ascii(const unsigned char* s, Py_ssize_t n)
    Py_ssize_t fc_skip_target(const unsigned char* b, Py_ssize_t p, Py_ssize_t end) noexcept nogil
    str fc_latin1(const unsigned char* s, Py_ssize_t n)
    uint64_t fc_name_hash(const unsigned char* s, Py_ssize_t n) noexcept nogil
    const unsigned char* fc_str_latin1(object s, Py_ssize_t* n)


cdef void _fill(bytes members, unsigned short flag):
    cdef unsigned char c
    for c in members:
        CLS[c] |= flag


_fill(_grammar.TCHAR, C_TCHAR)
_fill(_grammar.FIELD_VALUE, C_VALUE)
_fill(_grammar.TARGET, C_TARGET)
_fill(_grammar.HEXDIG, C_HEX)
_fill(_grammar.REG_NAME, C_REG_NAME)
_fill(_grammar.IP_LITERAL, C_IP_LITERAL)
_fill(_grammar.SCHEME, C_SCHEME)
_fill(_grammar.QDTEXT, C_QDTEXT)
_fill(_grammar.QUOTED_PAIR, C_QUOTED_PAIR)
_fill(_grammar.DIGIT, C_DIGIT)
_fill(_grammar.OWS, C_OWS)

cdef str TLS_REASON = _grammar.TLS_REASON
cdef str BARE_LF_REASON = _grammar.BARE_LF_REASON
cdef str BARE_CR_REASON = _grammar.BARE_CR_REASON

cdef str HTTP_1_0 = "HTTP/1.0"
cdef str HTTP_1_1 = "HTTP/1.1"
# Methods that arrive on nearly every request are returned as these shared
# objects rather than decoded anew.
cdef tuple KNOWN_METHODS = ("GET", "POST", "HEAD", "PUT", "DELETE", "OPTIONS", "PATCH")


cdef inline Py_ssize_t _run(const unsigned char* b, Py_ssize_t p, Py_ssize_t end,
                            unsigned short flag) noexcept nogil:
    """Index of the first byte at or after p (below end) outside the class."""
    while p + 4 <= end:
        if not (CLS[b[p]] & flag):
            return p
        if not (CLS[b[p + 1]] & flag):
            return p + 1
        if not (CLS[b[p + 2]] & flag):
            return p + 2
        if not (CLS[b[p + 3]] & flag):
            return p + 3
        p += 4
    while p < end and (CLS[b[p]] & flag):
        p += 1
    return p


cdef inline str _latin1(const unsigned char* b, Py_ssize_t start, Py_ssize_t end):
    return fc_latin1(b + start, end - start)


cdef inline bint _lower_eq(const unsigned char* b, Py_ssize_t start, Py_ssize_t end,
                           const char* lower) noexcept nogil:
    """ASCII case-insensitive comparison of b[start:end] with a lowercase literal."""
    cdef Py_ssize_t i = 0
    while start + i < end:
        if lower[i] == 0 or (b[start + i] | 0x20) != <unsigned char>lower[i]:
            return False
        i += 1
    return lower[i] == 0


cdef inline int _hexval(unsigned char c) noexcept nogil:
    if c <= 57:
        return c - 48
    return (c | 0x20) - 87


cdef class RequestHead:
    """The parsed head of one request. See ``fastcore/_parser.pyi``."""

    cdef readonly str method
    cdef readonly str target
    cdef readonly str path
    cdef readonly str query
    cdef readonly str version
    # Field names and values alternating; the (name, value) pairs of
    # ``headers`` are only built if asked for (build_environ reads this).
    cdef list _flat
    cdef list _pairs
    cdef readonly Py_ssize_t size
    cdef readonly object content_length
    cdef readonly bint chunked
    cdef readonly bint keep_alive
    cdef readonly bint expect_continue

    def __init__(self, method, target, path, query, version, headers, size,
                 content_length, chunked, keep_alive, expect_continue):
        self.method = method
        self.target = target
        self.path = path
        self.query = query
        self.version = version
        self._flat = [item for field in headers for item in field]
        self.size = size
        self.content_length = content_length
        self.chunked = chunked
        self.keep_alive = keep_alive
        self.expect_continue = expect_continue

    @property
    def headers(self):
        cdef list flat = self._flat
        if self._pairs is None:
            self._pairs = [(flat[i], flat[i + 1]) for i in range(0, len(flat), 2)]
        return self._pairs

    def _fields(self):
        return (self.method, self.target, self.path, self.query, self.version,
                self.headers, self.size, self.content_length, self.chunked,
                self.keep_alive, self.expect_continue)

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
# Field names: the same few dozen arrive on every request, so each distinct
# name is decoded once and the str shared from then on (its hash cached too,
# which makes the environ key lookup cheap). The table is fixed in size and
# only fills, never evicts: a client sending random names can only make later
# names miss it, never grow memory.

cdef enum:
    NAME_SLOTS = 512            # a power of two
    NAME_MAX_ENTRIES = 256      # at most half full, so probing always ends
    NAME_MAX_LEN = 64

cdef struct NameSlot:
    uint64_t hash
    Py_ssize_t length
    PyObject* name      # the field name as sent (a str)
    PyObject* key       # its WSGI environ key (a str; "" when dropped)
    int kind            # its FieldKind

cdef NameSlot NAMES[NAME_SLOTS]
cdef int name_count = 0
# The same slots found from the name str's address: build_environ gets each
# cached name's environ key without hashing or comparing text.
cdef NameSlot* BY_ADDRESS[NAME_SLOTS]


cdef inline Py_ssize_t _address_index(PyObject* name) noexcept nogil:
    return <Py_ssize_t>((<size_t>name >> 4) & (NAME_SLOTS - 1))


cdef inline NameSlot* _slot_of(PyObject* name) noexcept nogil:
    """The cache slot whose str is ``name`` itself, or NULL."""
    cdef Py_ssize_t i = _address_index(name)
    while BY_ADDRESS[i] != NULL:
        if BY_ADDRESS[i].name == name:
            return BY_ADDRESS[i]
        i = (i + 1) & (NAME_SLOTS - 1)
    return NULL


cdef NameSlot* _name_slot(const unsigned char* b, Py_ssize_t start, Py_ssize_t end,
                          bint add) except? NULL:
    """The cached name and environ key for these bytes; with ``add``, a valid
    name seen for the first time is added. NULL when it is not there (or too
    long, or the table is full)."""
    global name_count
    cdef Py_ssize_t length = end - start
    cdef uint64_t h
    cdef Py_ssize_t i
    cdef NameSlot* slot
    if length > NAME_MAX_LEN:
        return NULL
    h = fc_name_hash(b + start, length)
    i = <Py_ssize_t>(h & (NAME_SLOTS - 1))
    while True:
        slot = &NAMES[i]
        if slot.name == NULL:
            break
        if (slot.hash == h and slot.length == length
                and memcmp(PyUnicode_DATA(<object>slot.name), b + start, length) == 0):
            return slot
        i = (i + 1) & (NAME_SLOTS - 1)
    if not add or name_count >= NAME_MAX_ENTRIES:
        return NULL
    name = _latin1(b, start, end)
    key = _environ_key(name)
    Py_INCREF(name)
    Py_INCREF(key)
    slot.name = <PyObject*>name
    slot.key = <PyObject*>key
    slot.hash = h
    slot.length = length
    slot.kind = _field_kind(b, start, end)
    name_count += 1
    i = _address_index(slot.name)
    while BY_ADDRESS[i] != NULL:
        i = (i + 1) & (NAME_SLOTS - 1)
    BY_ADDRESS[i] = slot
    return slot


cdef str K_SKIP = ""
cdef str K_CONTENT_TYPE = "CONTENT_TYPE"


cdef str _environ_key(str name):
    """The environ key for a field name. Content-Length is taken from the
    parsed value instead, and a name with "_" is dropped: it would pose as its
    dash-named twin (HTTP_X_USER from X-User)."""
    lowered = name.lower()
    if "_" in name or lowered == "content-length":
        return K_SKIP
    if lowered == "content-type":
        return K_CONTENT_TYPE
    return "HTTP_" + name.upper().replace("-", "_")


# ---------------------------------------------------------------------------
# Field sections (headers and trailers)

cdef struct Framing:
    # What the header fields say about framing and the connection.
    int host_count
    int cl_count
    int64_t content_length
    int te_fields
    int te_chunked
    int te_other
    bint te_last_chunked
    bint conn_close
    bint conn_keep_alive
    bint expect_continue
    Py_ssize_t ct_start     # the first Content-Type value (end < 0: none yet)
    Py_ssize_t ct_end


cdef Py_ssize_t _need(Py_ssize_t end, Py_ssize_t n, str what, Py_ssize_t limit) except -2:
    """A byte at index >= end is needed: more input, or the limit is passed."""
    if end < n:
        raise HeaderFieldsTooLarge(f"{what} section larger than {limit} bytes")
    return -1


cdef int _content_length(const unsigned char* b, Py_ssize_t p, Py_ssize_t end,
                         Framing* fr) except -1:
    """RFC 9110 8.6: Content-Length = 1*DIGIT. A list of identical values
    (from one field or several) is taken as that value, as 8.6 allows; any
    other list is a conflict."""
    cdef Py_ssize_t q
    cdef uint64_t value, digit
    while True:
        q = _run(b, p, end, C_DIGIT)
        if q == p:
            raise BadRequest("invalid Content-Length value")
        value = 0
        while p < q:
            digit = b[p] - 48
            if value > (<uint64_t>0x7FFFFFFFFFFFFFFF - digit) // 10:
                raise BadRequest("Content-Length value too large")
            value = value * 10 + digit
            p += 1
        if fr.cl_count and <int64_t>value != fr.content_length:
            raise BadRequest("conflicting Content-Length values")
        fr.cl_count += 1
        fr.content_length = <int64_t>value
        p = _run(b, p, end, C_OWS)
        if p == end:
            return 0
        if b[p] != b',':
            raise BadRequest("invalid Content-Length value")
        p = _run(b, p + 1, end, C_OWS)


cdef int _transfer_encoding(const unsigned char* b, Py_ssize_t p, Py_ssize_t end,
                            Framing* fr) except -1:
    """RFC 9112 6.1: Transfer-Encoding = #transfer-coding. Empty list elements
    are skipped (RFC 9110 5.6.1); a coding with parameters is refused, since
    chunked takes none and no other coding is supported."""
    cdef Py_ssize_t q
    fr.te_fields += 1
    while p < end:
        q = _run(b, p, end, C_TCHAR)
        if q > p:
            if _lower_eq(b, p, q, "chunked"):
                fr.te_chunked += 1
                fr.te_last_chunked = True
            else:
                fr.te_other += 1
                fr.te_last_chunked = False
        q = _run(b, q, end, C_OWS)
        if q < end and b[q] != b',':
            raise BadRequest("invalid Transfer-Encoding value")
        p = _run(b, q + 1, end, C_OWS) if q < end else end
    return 0


cdef void _connection(const unsigned char* b, Py_ssize_t p, Py_ssize_t end,
                      Framing* fr) noexcept:
    """RFC 9110 7.6.1: Connection = #connection-option; only close and
    keep-alive matter here."""
    cdef Py_ssize_t q
    cdef const unsigned char* comma
    while p < end:
        q = _run(b, p, end, C_TCHAR)
        if _lower_eq(b, p, q, "close"):
            fr.conn_close = True
        elif _lower_eq(b, p, q, "keep-alive"):
            fr.conn_keep_alive = True
        comma = <const unsigned char*>memchr(b + q, b',', end - q)
        if comma == NULL:
            return
        p = _run(b, comma - b + 1, end, C_OWS)


cdef enum FieldKind:
    F_OTHER
    F_HOST
    F_CONTENT_LENGTH
    F_TRANSFER_ENCODING
    F_CONNECTION
    F_EXPECT
    F_CONTENT_TYPE


cdef FieldKind _field_kind(const unsigned char* b, Py_ssize_t ns, Py_ssize_t ne) noexcept:
    """Which of the fields that matter for framing a name is (case-insensitive)."""
    cdef Py_ssize_t length = ne - ns
    if length == 4 and _lower_eq(b, ns, ne, "host"):
        return F_HOST
    if length == 14 and _lower_eq(b, ns, ne, "content-length"):
        return F_CONTENT_LENGTH
    if length == 17 and _lower_eq(b, ns, ne, "transfer-encoding"):
        return F_TRANSFER_ENCODING
    if length == 10 and _lower_eq(b, ns, ne, "connection"):
        return F_CONNECTION
    if length == 6 and _lower_eq(b, ns, ne, "expect"):
        return F_EXPECT
    if length == 12 and _lower_eq(b, ns, ne, "content-type"):
        return F_CONTENT_TYPE
    return F_OTHER


cdef int _note_field(FieldKind kind, const unsigned char* b, Py_ssize_t vs, Py_ssize_t ve,
                     Framing* fr) except -1:
    """Record what a header field means for framing, checking its value."""
    if kind == F_HOST:
        fr.host_count += 1
        if fr.host_count > 1:
            raise BadRequest("more than one Host header field")
        if not _valid_authority(b, vs, ve, False):
            raise BadRequest("invalid Host header field value")
    elif kind == F_CONTENT_LENGTH:
        _content_length(b, vs, ve, fr)
    elif kind == F_TRANSFER_ENCODING:
        _transfer_encoding(b, vs, ve, fr)
    elif kind == F_CONNECTION:
        _connection(b, vs, ve, fr)
    elif kind == F_EXPECT:
        if _lower_eq(b, vs, ve, "100-continue"):
            fr.expect_continue = True
    elif kind == F_CONTENT_TYPE:
        # The app sees one value (CONTENT_TYPE); a proxy in front may have
        # read another one, so differing values are refused (as gunicorn does).
        if fr.ct_end < 0:
            fr.ct_start = vs
            fr.ct_end = ve
        elif (ve - vs != fr.ct_end - fr.ct_start
              or memcmp(b + vs, b + fr.ct_start, ve - vs) != 0):
            raise BadRequest("Content-Type header fields with different values")
    return 0


cdef Py_ssize_t _scan_fields(const unsigned char* b, Py_ssize_t p, Py_ssize_t n,
                             Py_ssize_t limit, Py_ssize_t max_count, list fields,
                             Framing* fr, str what) except -2:
    """Scan field lines from p through the empty line that ends the section,
    appending each name and value to ``fields`` (flat: name, value, ...).

    RFC 9112 5: field-line = field-name ":" OWS field-value OWS, each ended by
    CRLF; the section ends with an empty line. Returns the index after that
    line, or -1 when more bytes are needed. At most ``limit`` bytes from p
    belong to the section. ``fr`` (may be NULL) records framing fields.
    """
    cdef NameSlot* slot
    cdef str name
    cdef FieldKind kind
    cdef unsigned int high
    cdef Py_ssize_t r
    cdef const unsigned char* colon
    cdef Py_ssize_t end = p + limit
    cdef Py_ssize_t q, ns, ne, vs, ve
    cdef Py_ssize_t count = 0
    cdef unsigned char c
    if end > n:
        end = n
    while True:
        if p >= end:
            return _need(end, n, what, limit)
        c = b[p]
        if c == CR:
            if p + 1 >= end:
                return _need(end, n, what, limit)
            if b[p + 1] != LF:
                raise BadRequest(BARE_CR_REASON)
            return p + 2
        if c == LF:
            # A bare LF ends no line here (the choice is explained in _grammar).
            raise BadRequest(BARE_LF_REASON)
        if c == SP or c == HT:
            # RFC 9112 5.2: obs-fold is refused; so is whitespace before the
            # first field (RFC 9112 2.2), which the same test catches.
            raise BadRequest(f"{what} field line starts with whitespace (obsolete line folding)")
        if count >= max_count:
            raise HeaderFieldsTooLarge(f"more than {max_count} {what} fields")
        ns = p
        # A name already in the cache is known to be a valid token: finding
        # its colon and matching its bytes replaces checking every byte.
        colon = <const unsigned char*>memchr(b + p, b':', min(end - p, <Py_ssize_t>NAME_MAX_LEN + 1))
        slot = _name_slot(b, ns, colon - b, False) if colon != NULL else NULL
        if slot != NULL:
            q = colon - b
        else:
            q = _run(b, p, end, C_TCHAR)
            if q >= end:
                return _need(end, n, what, limit)
            c = b[q]
            if c != b':':
                if c == SP or c == HT:
                    raise BadRequest(f"whitespace before ':' in {what} field name")
                if c == CR or c == LF:
                    raise BadRequest(f"{what} field line without ':'")
                raise BadRequest(f"invalid character {byte_name(c)} in {what} field name")
            if q == ns:
                raise BadRequest(f"empty {what} field name")
            slot = _name_slot(b, ns, q, True)
        ne = q
        vs = _run(b, q + 1, end, C_OWS)
        high = 0
        q = fc_skip_value(b, vs, end, n, &high)
        if q < end and (CLS[b[q]] & C_VALUE):
            # The fast path stopped short (no SSE2, or the buffer's last bytes).
            r = _run(b, q, end, C_VALUE)
            while q < r:
                high |= b[q] & 0x80
                q += 1
        if q >= end:
            return _need(end, n, what, limit)
        c = b[q]
        if c == CR:
            if q + 1 >= end:
                return _need(end, n, what, limit)
            if b[q + 1] != LF:
                raise BadRequest(BARE_CR_REASON)
        elif c == LF:
            raise BadRequest(BARE_LF_REASON)
        else:
            raise BadRequest(f"invalid character {byte_name(c)} in {what} field value")
        ve = q
        while ve > vs and (b[ve - 1] == SP or b[ve - 1] == HT):
            ve -= 1
        if slot != NULL:
            name = <str>slot.name
            kind = <FieldKind>slot.kind
        else:
            name = _latin1(b, ns, ne)
            kind = _field_kind(b, ns, ne)
        fields.append(name)
        fields.append(fc_ascii(b + vs, ve - vs) if high == 0 else _latin1(b, vs, ve))
        if fr != NULL and kind != F_OTHER:
            _note_field(kind, b, vs, ve, fr)
        count += 1
        p = q + 2


# ---------------------------------------------------------------------------
# The request line

cdef str _percent_decode(const unsigned char* b, Py_ssize_t start, Py_ssize_t end):
    """PEP 3333 PATH_INFO: %XX escapes decoded to bytes, presented as latin-1.
    A '%' not followed by two hex digits is kept as it is (as Werkzeug and the
    stdlib's unquote do): clients send a raw '%' often enough, and it cannot
    change what the request means."""
    cdef const unsigned char* pct = <const unsigned char*>memchr(b + start, b'%', end - start)
    if pct == NULL:
        return _latin1(b, start, end)
    cdef unsigned char* out = <unsigned char*>malloc(end - start)
    cdef Py_ssize_t o = 0
    cdef Py_ssize_t p = start
    if out == NULL:
        raise MemoryError()
    try:
        while p < end:
            if (b[p] == b'%' and p + 2 < end
                    and (CLS[b[p + 1]] & C_HEX) and (CLS[b[p + 2]] & C_HEX)):
                out[o] = <unsigned char>(_hexval(b[p + 1]) * 16 + _hexval(b[p + 2]))
                p += 3
            else:
                out[o] = b[p]
                p += 1
            o += 1
        return PyUnicode_DecodeLatin1(<const char*>out, o, NULL)
    finally:
        free(out)


cdef inline int _line_need(Py_ssize_t lim, Py_ssize_t n, Py_ssize_t max_line) except -1:
    """A request-line byte at index >= lim is needed: 414 if it is there."""
    if lim < n:
        raise URITooLong(f"request line longer than {max_line} bytes")
    return 0


cdef str M_GET = "GET"
cdef str M_PUT = "PUT"
cdef str M_POST = "POST"
cdef str M_HEAD = "HEAD"
cdef str M_PATCH = "PATCH"
cdef str M_DELETE = "DELETE"
cdef str M_OPTIONS = "OPTIONS"
cdef str M_CONNECT = "CONNECT"


cdef str _method(const unsigned char* b, Py_ssize_t start, Py_ssize_t end):
    """The method as a str; the common ones are shared objects, not decoded anew."""
    cdef const char* s = <const char*>b + start
    cdef Py_ssize_t length = end - start
    if length == 3:
        if memcmp(s, "GET", 3) == 0:
            return M_GET
        if memcmp(s, "PUT", 3) == 0:
            return M_PUT
    elif length == 4:
        if memcmp(s, "POST", 4) == 0:
            return M_POST
        if memcmp(s, "HEAD", 4) == 0:
            return M_HEAD
    elif length == 5 and memcmp(s, "PATCH", 5) == 0:
        return M_PATCH
    elif length == 6 and memcmp(s, "DELETE", 6) == 0:
        return M_DELETE
    elif length == 7:
        if memcmp(s, "OPTIONS", 7) == 0:
            return M_OPTIONS
        if memcmp(s, "CONNECT", 7) == 0:
            return M_CONNECT
    return _latin1(b, start, end)


cdef bint _valid_authority(const unsigned char* b, Py_ssize_t p, Py_ssize_t end,
                           bint need_port) noexcept:
    """RFC 9110 7.2 / RFC 3986 3.2: uri-host [ ":" port ]. Userinfo ("@") is
    refused: RFC 9110 4.2.4 deprecates it and it only serves to mislead."""
    cdef Py_ssize_t q
    if p < end and b[p] == b'[':
        q = _run(b, p + 1, end, C_IP_LITERAL)
        if q >= end or b[q] != b']' or q == p + 1:
            return False
        q += 1
    else:
        q = _run(b, p, end, C_REG_NAME)
    if q == end:
        return not need_port
    if b[q] != b':':
        return False
    return _run(b, q + 1, end, C_DIGIT) == end and (q + 1 < end or not need_port)


cdef inline bint _is_alpha(unsigned char c) noexcept nogil:
    return <unsigned char>((c | 0x20) - 97) < 26


cdef class _LimitValues:
    # The limits as C integers, read once per Limits object in use.
    cdef Py_ssize_t max_request_line
    cdef Py_ssize_t max_header_count
    cdef Py_ssize_t max_header_bytes
    cdef Py_ssize_t max_chunk_ext
    cdef Py_ssize_t max_trailer_bytes


cdef _LimitValues _limit_values(object limits):
    if not isinstance(limits, Limits):
        raise TypeError(f"limits must be a fastcore.parser.Limits, not {type(limits).__name__}")
    cdef _LimitValues v = _LimitValues.__new__(_LimitValues)
    v.max_request_line = limits.max_request_line
    v.max_header_count = limits.max_header_count
    v.max_header_bytes = limits.max_header_bytes
    v.max_chunk_ext = limits.max_chunk_ext
    v.max_trailer_bytes = limits.max_trailer_bytes
    return v


cdef _LimitValues DEFAULT_VALUES = _limit_values(DEFAULT_LIMITS)


def parse_request(data, *, limits=DEFAULT_LIMITS):
    """Parse the request head at the start of ``data``. See ``_parser.pyi``."""
    return _parse_data(data, DEFAULT_VALUES if limits is DEFAULT_LIMITS else _limit_values(limits))


cdef object _parse_data(data, _LimitValues lv):
    cdef Py_buffer view
    if type(data) is bytes:
        return _parse(<const unsigned char*>PyBytes_AS_STRING(data), PyBytes_GET_SIZE(data), lv)
    PyObject_GetBuffer(data, &view, PyBUF_SIMPLE)
    try:
        return _parse(<const unsigned char*>view.buf, view.len, lv)
    finally:
        PyBuffer_Release(&view)


cdef class HeadReader:
    """A server's reading of request heads. See ``_parser.pyi``."""

    cdef _LimitValues _values
    cdef readonly object limits

    def __init__(self, limits=DEFAULT_LIMITS):
        self._values = DEFAULT_VALUES if limits is DEFAULT_LIMITS else _limit_values(limits)
        self.limits = limits

    def __call__(self, data):
        try:
            return _parse_data(data, self._values)
        except ParseError as error:
            return error


cdef object _parse(const unsigned char* b, Py_ssize_t n, _LimitValues lv):
    cdef Py_ssize_t max_line = lv.max_request_line
    cdef Py_ssize_t p = 0
    cdef Py_ssize_t start, lim, end, q, ms, me, ts, te, vs, hs, qm, a, ae, i
    cdef unsigned char c
    cdef const unsigned char* found
    cdef bint http11
    cdef str method, path, query
    cdef Framing fr

    # RFC 9112 2.2: empty lines (CRLF) before the request line are ignored.
    while True:
        if p >= n:
            return None
        c = b[p]
        if c == CR:
            if p + 1 >= n:
                return None
            if b[p + 1] != LF:
                raise BadRequest(BARE_CR_REASON)
            p += 2
            if p > max_line:
                raise BadRequest("too many empty lines before the request line")
        elif c == LF:
            raise BadRequest(BARE_LF_REASON)
        else:
            break
    if c == 0x16:
        # A TLS handshake record starts with content type 22.
        raise BadRequest(TLS_REASON)

    # RFC 9112 3: request-line = method SP request-target SP HTTP-version
    # Every byte before the line's CRLF must lie below lim.
    start = p
    lim = start + max_line
    end = lim if lim < n else n

    ms = p
    q = _run(b, p, end, C_TCHAR)
    if q >= end:
        _line_need(lim, n, max_line)
        return None
    c = b[q]
    if c != SP:
        if c == CR or c == LF:
            raise BadRequest("request line has no request-target")
        raise BadRequest(f"invalid character {byte_name(c)} in method")
    if q == ms:
        raise BadRequest("empty method")
    me = q

    ts = q + 1
    q = _run(b, fc_skip_target(b, ts, end), end, C_TARGET)
    if q >= end:
        _line_need(lim, n, max_line)
        return None
    c = b[q]
    if q == ts and (c == SP or c == CR or c == LF):
        raise BadRequest("empty request-target")
    if c == CR or c == LF:
        raise BadRequest("HTTP/0.9 request (no HTTP version) is not supported")
    te = q
    if c == b'#':
        # A fragment is never part of a request-target, but http.client sends
        # one when given it; it means nothing to the server and is dropped.
        q = _run(b, q + 1, end, C_TARGET)
        if q >= end:
            _line_need(lim, n, max_line)
            return None
        c = b[q]
        if c == CR or c == LF:
            raise BadRequest("HTTP/0.9 request (no HTTP version) is not supported")
    if c != SP:
        raise BadRequest(f"invalid character {byte_name(c)} in request-target")

    # RFC 9112 2.3: HTTP-version = "HTTP" "/" DIGIT "." DIGIT, case-sensitive.
    vs = q + 1
    for i in range(8):
        if vs + i >= end:
            _line_need(lim, n, max_line)
            return None
        c = b[vs + i]
        if i < 5:
            if c != <unsigned char>(b"HTTP/"[i]):
                raise BadRequest("invalid HTTP version")
        elif i == 6:
            if c != b'.':
                raise BadRequest("invalid HTTP version")
        elif not (CLS[c] & C_DIGIT):
            raise BadRequest("invalid HTTP version")
    q = vs + 8
    if q >= n:
        return None
    c = b[q]
    if c == CR:
        if q + 1 >= n:
            return None
        if b[q + 1] != LF:
            raise BadRequest(BARE_CR_REASON)
    elif c == LF:
        raise BadRequest(BARE_LF_REASON)
    else:
        raise BadRequest("invalid HTTP version")
    if b[vs + 5] != b'1':
        raise VersionNotSupported(f"HTTP version {_latin1(b, vs, vs + 8)} is not supported")
    # A higher 1.x minor is answered as HTTP/1.1 (RFC 9110 6.2).
    http11 = b[vs + 7] != b'0'
    hs = q + 2

    # RFC 9112 3.2: the four forms of request-target.
    method = _method(b, ms, me)
    c = b[ts]
    if method is M_CONNECT:
        if not _valid_authority(b, ts, te, True):
            raise BadRequest("CONNECT needs an authority-form request-target (host:port)")
        path = ""
        query = ""
    elif c == b'/':
        found = <const unsigned char*>memchr(b + ts, b'?', te - ts)
        qm = te if found == NULL else found - b
        path = _percent_decode(b, ts, qm)
        query = _latin1(b, qm + 1, te) if qm < te else ""
    elif c == b'*':
        if te - ts != 1:
            raise BadRequest("invalid request-target")
        if method is not M_OPTIONS:
            raise BadRequest("'*' request-target is only allowed with OPTIONS")
        path = "*"
        query = ""
    else:
        # absolute-form: scheme "://" authority [ path ] [ "?" query ]
        q = _run(b, ts, te, C_SCHEME)
        if not _is_alpha(c) or q + 3 > te or b[q] != b':' or b[q + 1] != b'/' or b[q + 2] != b'/':
            raise BadRequest("invalid request-target")
        a = q + 3
        ae = a
        while ae < te and b[ae] != b'/' and b[ae] != b'?':
            ae += 1
        if ae == a or not _valid_authority(b, a, ae, False):
            raise BadRequest("invalid authority in absolute-form request-target")
        found = <const unsigned char*>memchr(b + ae, b'?', te - ae)
        qm = te if found == NULL else found - b
        # RFC 9110 4.2.3: an empty path is "/".
        path = _percent_decode(b, ae, qm) if qm > ae else "/"
        query = _latin1(b, qm + 1, te) if qm < te else ""

    memset(&fr, 0, sizeof(Framing))
    fr.ct_end = -1
    cdef list headers = []
    q = _scan_fields(b, hs, n, lv.max_header_bytes, lv.max_header_count, headers, &fr, "header")
    if q < 0:
        return None

    # RFC 9112 6.1 and 6.3: framing.
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
    # RFC 9112 3.2: an HTTP/1.1 request carries exactly one Host.
    if http11 and fr.host_count == 0:
        raise BadRequest("missing Host header field")

    cdef RequestHead head = RequestHead.__new__(RequestHead)
    head.method = method
    head.target = fc_ascii(b + ts, te - ts)  # scanned above: ASCII only
    head.path = path
    head.query = query
    head.version = HTTP_1_1 if http11 else HTTP_1_0
    head._flat = headers
    head.size = q
    head.content_length = fr.content_length if fr.cl_count else None
    head.chunked = fr.te_fields > 0
    head.keep_alive = (not fr.conn_close) if http11 else (fr.conn_keep_alive and not fr.conn_close)
    # RFC 9110 10.1.1: a 100-continue expectation in HTTP/1.0 is ignored.
    head.expect_continue = fr.expect_continue and http11
    return head


# ---------------------------------------------------------------------------
# The WSGI environ

def build_environ(RequestHead head not None, base=None):
    """A new WSGI environ for ``head``. See ``_parser.pyi``."""
    cdef PyObject* found
    cdef str key, value, target
    cdef list flat = head._flat
    cdef Py_ssize_t i, size
    cdef str name
    cdef NameSlot* slot
    cdef dict env = PyDict_Copy(base) if type(base) is dict else ({} if base is None else dict(base))
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
    for i in range(0, len(flat), 2):
        name = <str>flat[i]
        slot = _slot_of(<PyObject*>name)
        key = <str>slot.key if slot != NULL else _environ_key(name)
        if key is K_SKIP:
            continue
        value = <str>flat[i + 1]
        if key is K_CONTENT_TYPE:
            env[key] = value
            continue
        # One lookup in the common case: the key is new and takes the value
        # (the dict grows); a repeated field finds the earlier value instead.
        size = len(env)
        found = PyDict_SetDefault(env, key, value)
        if len(env) == size:
            env[key] = <str>found + "," + value
    if target[0] != "/" and target != "*" and head.method is not M_CONNECT:
        # absolute-form: its authority is the host (RFC 9112 3.2.2)
        authority = target.partition("://")[2]
        env["HTTP_HOST"] = authority.partition("/")[0].partition("?")[0]
    return env


# ---------------------------------------------------------------------------
# Response heads: start_response's status and headers, checked and encoded
# in one pass. They go out as the app wrote them, so a CR, LF or NUL would
# split or corrupt the response (RFC 9112 section 4, RFC 9110 section 5.5):
# they are held to the byte classes requests are parsed with.

cdef enum ResponseField:
    R_OTHER
    R_CONTENT_LENGTH
    R_HOP_BY_HOP    # RFC 9110 7.6.1 and PEP 3333: the server's to set
    R_DATE
    R_SERVER


cdef ResponseField _response_field(const unsigned char* b, Py_ssize_t n) noexcept nogil:
    if n == 14 and _lower_eq(b, 0, n, "content-length"):
        return R_CONTENT_LENGTH
    if n == 4 and _lower_eq(b, 0, n, "date"):
        return R_DATE
    if n == 6 and _lower_eq(b, 0, n, "server"):
        return R_SERVER
    if (_lower_eq(b, 0, n, "connection") or _lower_eq(b, 0, n, "keep-alive")
            or _lower_eq(b, 0, n, "transfer-encoding") or _lower_eq(b, 0, n, "te")
            or _lower_eq(b, 0, n, "trailer") or _lower_eq(b, 0, n, "trailers")
            or _lower_eq(b, 0, n, "upgrade") or _lower_eq(b, 0, n, "proxy-authenticate")
            or _lower_eq(b, 0, n, "proxy-authorization")):
        return R_HOP_BY_HOP
    return R_OTHER


cdef inline long long _digits(const unsigned char* b, Py_ssize_t n) noexcept nogil:
    cdef long long value = 0
    cdef Py_ssize_t i
    for i in range(n):
        value = value * 10 + (b[i] - 48)
    return value


cdef _bad_status(status):
    raise ValueError(f"invalid status {status!r}: expected three digits, a space and a "
                     "reason phrase without control characters")


def response_head(status, headers):
    """Check and encode a response head. See ``_parser.pyi``."""
    cdef Py_ssize_t sn = 0, nn = 0, vn = 0, total
    cdef const unsigned char* sb
    cdef const unsigned char* nb
    cdef const unsigned char* vb
    cdef ResponseField kind
    cdef bint has_date = False, has_server = False
    cdef char* out
    cdef list items = headers if type(headers) is list else list(headers)
    length = None
    if type(status) is not str:
        _bad_status(status)
    sb = fc_str_latin1(status, &sn)
    if (sb == NULL or sn < 4 or not (CLS[sb[0]] & CLS[sb[1]] & CLS[sb[2]] & C_DIGIT)
            or sb[3] != SP or _run(sb, 4, sn, C_VALUE) != sn):
        _bad_status(status)
    total = 9 + sn + 2  # "HTTP/1.1 " status CRLF
    for item in items:
        if type(item) is not tuple or len(<tuple>item) != 2:
            raise TypeError(f"response header {item!r} is not a (name, value) tuple")
        name, value = <tuple>item
        if type(name) is not str:
            raise TypeError(f"response header name {name!r} is not a str")
        nb = fc_str_latin1(name, &nn)
        if nb == NULL or nn == 0 or _run(nb, 0, nn, C_TCHAR) != nn:
            raise ValueError(f"invalid response header name {name!r}: not a token")
        if type(value) is not str:
            raise TypeError(f"response header {name!r} has a value that is not a str: {value!r}")
        vb = fc_str_latin1(value, &vn)
        if vb == NULL or _run(vb, 0, vn, C_VALUE) != vn:
            raise ValueError(f"invalid value for response header {name!r}: {value!r} "
                             "(a control character, or a character beyond latin-1)")
        kind = _response_field(nb, nn)
        if kind == R_CONTENT_LENGTH:
            length = _digits(vb, vn) if 0 < vn <= 18 and _run(vb, 0, vn, C_DIGIT) == vn else int(value)
        elif kind == R_HOP_BY_HOP:
            raise ValueError(f"hop-by-hop header {name!r} is set by the server, not the app")
        elif kind == R_DATE:
            has_date = True
        elif kind == R_SERVER:
            has_server = True
        total += nn + 2 + vn + 2  # name ": " value CRLF
    head = PyBytes_FromStringAndSize(NULL, total)
    out = PyBytes_AS_STRING(head)
    memcpy(out, b"HTTP/1.1 ", 9)
    memcpy(out + 9, sb, sn)
    memcpy(out + 9 + sn, b"\r\n", 2)
    out += 11 + sn
    for item in items:
        nb = fc_str_latin1((<tuple>item)[0], &nn)
        vb = fc_str_latin1((<tuple>item)[1], &vn)
        memcpy(out, nb, nn)
        memcpy(out + nn, b": ", 2)
        memcpy(out + nn + 2, vb, vn)
        memcpy(out + nn + 2 + vn, b"\r\n", 2)
        out += nn + vn + 4
    code = (sb[0] - 48) * 100 + (sb[1] - 48) * 10 + (sb[2] - 48)
    return head, code, length, has_date, has_server


cdef inline char* _put(char* out, const unsigned char* s, Py_ssize_t n) noexcept nogil:
    memcpy(out, s, n)
    return out + n


# How a response's body is delimited (see frame_response).
NO_BODY = 0  # none may be sent: HEAD, 1xx, 204, 304
LENGTH = 1  # Content-Length
CHUNKED = 2  # Transfer-Encoding: chunked
UNTIL_CLOSE = 3  # the connection's end (an HTTP/1.0 client, a length not known)


def frame_response(RequestHead head not None, tuple response not None, bytes first not None,
                   Py_ssize_t whole, bint speaks_11, bint stopping, body, str date_line not None,
                   str server_line not None):
    """A response's framing and its first bytes on the wire. See ``_parser.pyi``."""
    cdef bytes lines = response[0]
    cdef long code = response[1]
    cdef object declared = response[2]
    cdef Py_ssize_t fn = PyBytes_GET_SIZE(first), ln = PyBytes_GET_SIZE(lines)
    cdef Py_ssize_t length = -1, count = 0, dn = 0, sn = 0, total
    cdef int framing
    cdef bint keep, add_length = False, http10 = head.version == "HTTP/1.0"
    cdef char digits[24]
    cdef Py_ssize_t digits_n = 0, chunk_n = 0
    cdef char chunk[24]
    cdef const unsigned char* d = NULL
    cdef const unsigned char* sv = NULL
    cdef char* out
    if declared is not None:
        length = declared
    if code < 200 or code == 204 or code == 304 or head.method == "HEAD":
        framing = NO_BODY
        add_length = declared is None and whole >= 0 and head.method == "HEAD"
        if add_length:
            length = whole
    elif length >= 0 or whole >= 0:
        framing = LENGTH
        if length < 0:
            length = whole
            add_length = True
    elif speaks_11 and head.version == "HTTP/1.1":
        framing = CHUNKED
    else:
        framing = UNTIL_CLOSE
    keep = (head.keep_alive and framing != UNTIL_CLOSE and speaks_11 and not stopping
            and (body is None or not body.failed))
    if framing == LENGTH:
        count = fn if fn <= length else length
        if fn > length or 0 <= whole < length:
            keep = False  # more than it declared, or a complete body with less
    elif framing != NO_BODY:
        count = fn
    if add_length:
        digits_n = _decimal(digits, length)
    if framing == CHUNKED and fn:
        chunk_n = _hex(chunk, fn)
    if not response[3]:
        d = fc_str_latin1(date_line, &dn)
    if not response[4]:
        sv = fc_str_latin1(server_line, &sn)
    total = ln + 2 + count
    if add_length:
        total += 16 + digits_n + 2  # "Content-Length: " N CRLF
    if framing == CHUNKED:
        total += 28  # "Transfer-Encoding: chunked" CRLF
        if fn:
            total += chunk_n + 4  # size CRLF ... CRLF
    if not keep:
        total += 19  # "Connection: close" CRLF
    elif http10:
        total += 24  # "Connection: keep-alive" CRLF
    total += dn + sn
    data = PyBytes_FromStringAndSize(NULL, total)
    out = PyBytes_AS_STRING(data)
    out = _put(out, <const unsigned char*>PyBytes_AS_STRING(lines), ln)
    if add_length:
        out = _put(out, <const unsigned char*>b"Content-Length: ", 16)
        out = _put(out, <const unsigned char*>digits + 24 - digits_n, digits_n)
        out = _put(out, <const unsigned char*>b"\r\n", 2)
    if framing == CHUNKED:
        out = _put(out, <const unsigned char*>b"Transfer-Encoding: chunked\r\n", 28)
    if not keep:
        out = _put(out, <const unsigned char*>b"Connection: close\r\n", 19)
    elif http10:
        out = _put(out, <const unsigned char*>b"Connection: keep-alive\r\n", 24)
    out = _put(out, d, dn)
    out = _put(out, sv, sn)
    out = _put(out, <const unsigned char*>b"\r\n", 2)
    if framing == CHUNKED and fn:
        out = _put(out, <const unsigned char*>chunk + 24 - chunk_n, chunk_n)
        out = _put(out, <const unsigned char*>b"\r\n", 2)
        out = _put(out, <const unsigned char*>PyBytes_AS_STRING(first), fn)
        _put(out, <const unsigned char*>b"\r\n", 2)
    elif count:
        _put(out, <const unsigned char*>PyBytes_AS_STRING(first), count)
    return data, framing, keep, (None if length < 0 else length), count


# A connection's state after a request (see fastcore.cycle).
KEEP_ALIVE = "keep-alive"
DRAIN = "drain"
CLOSE = "close"
LINGER = "linger"
RELEASED = "released"
# An unread request body up to this size is read and dropped so that the
# connection can serve the next request; a larger one closes it.
DRAIN_LIMIT = 256 * 1024


def after_response(bint keep, bint taken_over, body):
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


cdef Py_ssize_t _decimal(char* digits, Py_ssize_t value) noexcept nogil:
    """Write ``value`` in decimal at the end of ``digits`` (24 bytes): its width."""
    cdef Py_ssize_t n = 0
    while True:
        n += 1
        digits[24 - n] = <char>(48 + value % 10)
        value //= 10
        if not value:
            return n


cdef Py_ssize_t _hex(char* digits, Py_ssize_t value) noexcept nogil:
    """Write ``value`` in lowercase hex at the end of ``digits`` (24 bytes): its width."""
    cdef Py_ssize_t n = 0
    while True:
        n += 1
        digits[24 - n] = b"0123456789abcdef"[value & 15]
        value >>= 4
        if not value:
            return n


def access_line(address, str when, RequestHead head not None, long code, double seconds):
    """A request's access line, or None. See ``_parser.pyi``."""
    cdef Py_ssize_t an = 0, wn = 0, mn = 0, tn = 0, vn = 0, dn = 0
    cdef const unsigned char* a
    cdef const unsigned char* w
    cdef const unsigned char* m
    cdef const unsigned char* t
    cdef const unsigned char* v
    cdef char digits[32]
    cdef char* out
    cdef long long tenths
    if code != 200:
        return None
    t = fc_str_latin1(head.target, &tn)
    if t == NULL or memchr(t, 37, tn) != NULL or memchr(t, 92, tn) != NULL:  # % \\
        return None
    tenths = 0 if seconds <= 0 else (<long long>(seconds * 1e6 + 0.5) + 50) // 100
    if type(address) is not str:
        address = format(address)
    a = fc_str_latin1(address, &an)
    w = fc_str_latin1(when, &wn)
    if a == NULL or w == NULL:  # a character beyond latin-1: the general way
        return (f'{address} - - [{when}] "{head.method} {head.target} {head.version}" 200 - '
                f"{tenths // 10}.{tenths % 10}ms")
    m = fc_str_latin1(head.method, &mn)
    v = fc_str_latin1(head.version, &vn)
    # "<whole>.<tenth>ms", written backwards from the end of digits.
    digits[31] = 115  # s
    digits[30] = 109  # m
    digits[29] = <char>(48 + tenths % 10)
    digits[28] = 46  # .
    dn = 4
    tenths //= 10
    while True:
        dn += 1
        digits[32 - dn] = <char>(48 + tenths % 10)
        tenths //= 10
        if not tenths:
            break
    line = PyUnicode_New(an + 6 + wn + 3 + mn + 1 + tn + 1 + vn + 8 + dn,
                         127 if PyUnicode_IS_ASCII(address) and PyUnicode_IS_ASCII(when) else 255)
    out = <char*>PyUnicode_DATA(line)
    out = _put(out, a, an)
    out = _put(out, <const unsigned char*>b" - - [", 6)
    out = _put(out, w, wn)
    out = _put(out, <const unsigned char*>b'] "', 3)
    out = _put(out, m, mn)
    out[0] = 32  # SP
    out = _put(out + 1, t, tn)
    out[0] = 32
    out = _put(out + 1, v, vn)
    out = _put(out, <const unsigned char*>b'" 200 - ', 8)
    _put(out, <const unsigned char*>digits + 32 - dn, dn)
    return line


# ---------------------------------------------------------------------------
# Chunked request bodies (RFC 9112 7.1)

cdef enum ChunkState:
    S_SIZE          # chunk-size digits
    S_EXT           # chunk-ext, in the sub-state ext_state
    S_SIZE_LF       # the LF ending the size line
    S_DATA          # chunk-data
    S_DATA_CR       # the CRLF after chunk-data
    S_DATA_LF
    S_TRAILER       # trailer-section, buffered until its empty line
    S_DONE

# chunk-ext = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] )
cdef enum ExtState:
    X_BWS_SEMI      # whitespace seen: only more of it, or ";"
    X_BWS_NAME      # after ";": whitespace, then a name
    X_NAME
    X_BWS_EQ        # after name and whitespace: "=" or ";"
    X_BWS_VALUE     # after "=": whitespace, then a token or quoted-string
    X_TOKEN
    X_QUOTED
    X_QPAIR
    X_AFTER_QUOTED


cdef class ChunkedDecoder:
    """Incremental decoder of a chunked request body. See ``_parser.pyi``."""

    cdef int state
    cdef int ext_state
    cdef int digits
    cdef uint64_t size
    cdef Py_ssize_t ext_len
    cdef Py_ssize_t max_chunk_ext
    cdef Py_ssize_t max_trailer_bytes
    cdef Py_ssize_t max_count
    cdef bytearray tbuf
    cdef readonly list trailers
    cdef bytes _unused
    cdef object error
    cdef char* scratch
    cdef Py_ssize_t scratch_cap

    def __init__(self, *, limits=DEFAULT_LIMITS):
        cdef _LimitValues lv = DEFAULT_VALUES if limits is DEFAULT_LIMITS else _limit_values(limits)
        self.max_chunk_ext = lv.max_chunk_ext
        self.max_trailer_bytes = lv.max_trailer_bytes
        self.max_count = lv.max_header_count
        self.state = S_SIZE
        self.trailers = []
        self._unused = b""

    def __dealloc__(self):
        free(self.scratch)

    @property
    def done(self):
        return self.state == S_DONE

    @property
    def unused(self):
        return self._unused

    def feed(self, data):
        """Decode ``data``; return the body bytes it completes."""
        cdef Py_buffer view
        if self.error is not None:
            raise self.error
        if self.state == S_DONE:
            if len(data):
                self._unused += bytes(data)
            return b""
        PyObject_GetBuffer(data, &view, PyBUF_SIMPLE)
        try:
            return self._feed(data, <const unsigned char*>view.buf, view.len)
        except ParseError as exc:
            self.error = exc
            raise
        finally:
            PyBuffer_Release(&view)

    cdef object _feed(self, object data, const unsigned char* b, Py_ssize_t n):
        cdef Py_ssize_t p = 0
        cdef Py_ssize_t take, r
        cdef unsigned char c
        # Output: the first run of chunk data is remembered as a pointer; only
        # when a second run arrives are they copied into the scratch buffer.
        cdef const unsigned char* first = NULL
        cdef Py_ssize_t first_len = 0
        cdef Py_ssize_t out_len = 0
        cdef int runs = 0
        cdef list fields
        while p < n:
            if self.state == S_DATA:
                take = n - p
                if <uint64_t>take > self.size:
                    take = <Py_ssize_t>self.size
                if runs == 0:
                    first = b + p
                    first_len = take
                else:
                    if runs == 1:
                        self._reserve(n)
                        memcpy(self.scratch, first, first_len)
                        out_len = first_len
                    memcpy(self.scratch + out_len, b + p, take)
                    out_len += take
                runs += 1
                p += take
                self.size -= take
                if self.size == 0:
                    self.state = S_DATA_CR
                continue
            if self.state == S_TRAILER:
                p = self._trailers(data, b, p, n)
                continue
            c = b[p]
            p += 1
            if self.state == S_SIZE:
                if CLS[c] & C_HEX:
                    self.digits += 1
                    if self.digits > 16:
                        raise BadRequest("chunk size has more than 16 hex digits")
                    self.size = (self.size << 4) | <uint64_t>_hexval(c)
                elif self.digits == 0:
                    if c == CR or c == LF:
                        raise BadRequest("missing chunk size")
                    raise BadRequest(f"invalid character {byte_name(c)} in chunk size")
                elif c == CR:
                    self.state = S_SIZE_LF
                elif c == b';':
                    self.state = S_EXT
                    self.ext_state = X_BWS_NAME
                    self.ext_len = 1
                elif c == SP or c == HT:
                    self.state = S_EXT
                    self.ext_state = X_BWS_SEMI
                    self.ext_len = 1
                elif c == LF:
                    raise BadRequest(BARE_LF_REASON)
                else:
                    raise BadRequest(f"invalid character {byte_name(c)} in chunk size")
            elif self.state == S_EXT:
                self._ext_byte(c)
            elif self.state == S_SIZE_LF:
                if c != LF:
                    raise BadRequest(BARE_CR_REASON)
                self.state = S_DATA if self.size else S_TRAILER
            elif self.state == S_DATA_CR:
                if c != CR:
                    raise BadRequest("chunk data not followed by CRLF")
                self.state = S_DATA_LF
            elif self.state == S_DATA_LF:
                if c != LF:
                    raise BadRequest("chunk data not followed by CRLF")
                self.state = S_SIZE
                self.digits = 0
                self.size = 0
        if runs == 0:
            return b""
        if runs == 1:
            if type(data) is bytes and first_len == n:
                return data
            return PyBytes_FromStringAndSize(<const char*>first, first_len)
        return PyBytes_FromStringAndSize(self.scratch, out_len)

    cdef int _reserve(self, Py_ssize_t size) except -1:
        cdef char* grown
        if size > self.scratch_cap:
            grown = <char*>realloc(self.scratch, size)
            if grown == NULL:
                raise MemoryError()
            self.scratch = grown
            self.scratch_cap = size
        return 0

    cdef int _ext_byte(self, unsigned char c) except -1:
        cdef int st = self.ext_state
        cdef bint ws = c == SP or c == HT
        cdef bint tchar = (CLS[c] & C_TCHAR) != 0
        if c == CR and (st == X_NAME or st == X_TOKEN or st == X_AFTER_QUOTED):
            self.state = S_SIZE_LF
            return 0
        if c == LF:
            raise BadRequest(BARE_LF_REASON)
        self.ext_len += 1
        if self.ext_len > self.max_chunk_ext:
            raise BadRequest(f"chunk extensions longer than {self.max_chunk_ext} bytes")
        if st == X_BWS_SEMI:
            if c == b';':
                st = X_BWS_NAME
            elif not ws:
                st = -1
        elif st == X_BWS_NAME:
            if tchar:
                st = X_NAME
            elif not ws:
                st = -1
        elif st == X_NAME:
            if ws:
                st = X_BWS_EQ
            elif c == b'=':
                st = X_BWS_VALUE
            elif c == b';':
                st = X_BWS_NAME
            elif not tchar:
                st = -1
        elif st == X_BWS_EQ:
            if c == b'=':
                st = X_BWS_VALUE
            elif c == b';':
                st = X_BWS_NAME
            elif not ws:
                st = -1
        elif st == X_BWS_VALUE:
            if c == b'"':
                st = X_QUOTED
            elif tchar:
                st = X_TOKEN
            elif not ws:
                st = -1
        elif st == X_TOKEN:
            if ws:
                st = X_BWS_SEMI
            elif c == b';':
                st = X_BWS_NAME
            elif not tchar:
                st = -1
        elif st == X_QUOTED:
            if c == b'"':
                st = X_AFTER_QUOTED
            elif c == b'\\':
                st = X_QPAIR
            elif not (CLS[c] & C_QDTEXT):
                st = -1
        elif st == X_QPAIR:
            st = X_QUOTED if CLS[c] & C_QUOTED_PAIR else -1
        elif st == X_AFTER_QUOTED:
            if ws:
                st = X_BWS_SEMI
            elif c == b';':
                st = X_BWS_NAME
            else:
                st = -1
        if st < 0:
            raise BadRequest("invalid chunk extension")
        self.ext_state = st
        return 0

    cdef Py_ssize_t _trailers(self, object data, const unsigned char* b, Py_ssize_t p,
                              Py_ssize_t n) except -1:
        """Scan the trailer section; return how much of the input it took."""
        cdef list fields = []
        cdef Py_ssize_t r, take, limit = self.max_trailer_bytes
        cdef const unsigned char* t
        if self.tbuf is None:
            r = _scan_fields(b, p, n, limit, self.max_count, fields, NULL, "trailer")
            if r < 0:
                self.tbuf = bytearray(data[p:n])
                return n
            self._finish(fields, PyBytes_FromStringAndSize(<const char*>b + r, n - r))
            return n
        take = n - p
        if take > limit + 1 - len(self.tbuf):
            take = limit + 1 - len(self.tbuf)
        self.tbuf.extend(data[p:p + take])
        t = <const unsigned char*><char*>self.tbuf
        r = _scan_fields(t, 0, len(self.tbuf), limit, self.max_count, fields, NULL, "trailer")
        if r < 0:
            return p + take
        self._finish(fields, bytes(self.tbuf[r:]) + bytes(data[p + take:n]))
        return n

    cdef int _finish(self, list fields, bytes unused) except -1:
        self.trailers = [(fields[i], fields[i + 1]) for i in range(0, len(fields), 2)]
        self._unused = unused
        self.tbuf = None
        self.state = S_DONE
        return 0
