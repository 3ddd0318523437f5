"""Hypothesis strategies: valid requests with what they should parse to."""

from dataclasses import dataclass
from urllib.parse import quote_from_bytes

from hypothesis import strategies as st

TCHAR = "!#$%&'*+-.^`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
# Field names that would change framing or fail validation are left to the
# tables (vectors.py): Content-Type among them, which repeated with
# different values is refused.
_SPECIAL = {"host", "content-length", "transfer-encoding", "connection", "expect",
            "content-type"}
PATH_CHARS = "abcXYZ019-._~!$&'()*+,;=:@/"
VCHAR = "".join(chr(c) for c in range(0x21, 0x7F))
OBS_TEXT = "".join(chr(c) for c in range(0x80, 0x100))


@dataclass
class GeneratedRequest:
    raw: bytes
    method: str
    target: str
    path: str
    query: str
    version: str
    headers: list
    content_length: object


def _value(ascii_only):
    chars = VCHAR if ascii_only else VCHAR + OBS_TEXT
    word = st.text(chars, min_size=1, max_size=12)
    return st.lists(word, max_size=4).map(" ".join)


@st.composite
def requests(draw, ascii_only=False, utf8_path=False):
    """A valid request head. ascii_only keeps values to what h11 and the
    stdlib accept (obs-text is valid HTTP but h11 refuses it); utf8_path keeps
    the decoded path valid UTF-8 with no empty segment, the only paths that
    Werkzeug passes through unchanged (it replaces bad UTF-8 with U+FFFD and
    collapses a leading "//")."""
    method = draw(st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD"])
                  | st.text(TCHAR, min_size=1, max_size=10).filter(lambda m: m != "CONNECT"))
    if utf8_path:
        segment = st.text(st.characters(blacklist_characters="/", blacklist_categories=["Cs"]),
                          min_size=1, max_size=6).map(lambda t: t.encode("utf-8"))
    else:
        segment = st.binary(min_size=1, max_size=6)
    segments = draw(st.lists(segment, max_size=4))
    path = "/" + "/".join(s.decode("latin-1") for s in segments)
    encoded_path = "/" + "/".join(quote_from_bytes(s, safe=PATH_CHARS) for s in segments)
    query = draw(st.none() | st.text(PATH_CHARS + "?%=&", max_size=16))
    target = encoded_path + ("" if query is None else "?" + query)
    version = draw(st.sampled_from(["HTTP/1.0", "HTTP/1.1"]))
    names = st.text(TCHAR, min_size=1, max_size=16).filter(lambda n: n.lower() not in _SPECIAL)
    headers = draw(st.lists(st.tuples(names, _value(ascii_only)), max_size=12))
    host = draw(st.sampled_from(["example.com", "localhost:5000", "[::1]:8080", "127.0.0.1"]))
    headers.insert(draw(st.integers(0, len(headers))), ("Host", host))
    content_length = draw(st.none() | st.integers(0, 10**12))
    if content_length is not None:
        headers.append(("Content-Length", str(content_length)))
    raw = f"{method} {target} {version}\r\n".encode("latin-1")
    raw += b"".join(f"{n}: {v}\r\n".encode("latin-1") for n, v in headers) + b"\r\n"
    return GeneratedRequest(raw, method, target, path, query or "", version, headers, content_length)


@st.composite
def chunked_bodies(draw):
    """(encoded chunked body, decoded body) with random sizes and extensions."""
    chunks = draw(st.lists(st.binary(min_size=1, max_size=300), max_size=8))
    ext = st.sampled_from(["", ";a", ";a=b", ' ; n = "q\\"x"', ";x;y=1"])
    raw = b""
    for chunk in chunks:
        size = draw(st.sampled_from(["{:x}", "{:X}", "{:04x}"])).format(len(chunk))
        raw += (size + draw(ext)).encode() + b"\r\n" + chunk + b"\r\n"
    raw += b"0" + draw(ext).encode() + b"\r\n"
    raw += draw(st.sampled_from([b"", b"X-Checksum: abc\r\n"])) + b"\r\n"
    return raw, b"".join(chunks)
