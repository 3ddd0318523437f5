"""The byte classes of RFC 9110/9112, written down once.

Both parser implementations build their scanners from these sets: the compiled
one turns them into a 256-entry table of bit flags, the pure one into regular
expression character classes. Each set is the ABNF rule quoted above it; where
fastcore accepts more than the rule, the comment says so and why.
"""

_DIGIT = b"0123456789"
_ALPHA = bytes(range(0x41, 0x5B)) + bytes(range(0x61, 0x7B))
_VCHAR = bytes(range(0x21, 0x7F))
_OBS_TEXT = bytes(range(0x80, 0x100))

# RFC 9110 5.6.2
#   token = 1*tchar
#   tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." /
#           "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA
TCHAR = b"!#$%&'*+-.^_`|~" + _DIGIT + _ALPHA

# RFC 9110 5.6.3
#   OWS = *( SP / HTAB )
OWS = b" \t"

# RFC 9110 5.5
#   field-value = *field-content
#   field-content = field-vchar [ 1*( SP / HTAB / field-vchar ) field-vchar ]
#   field-vchar = VCHAR / obs-text
# Bytes 0x80-0xFF (obs-text) are kept and presented as latin-1. NUL, CR, LF and
# the other control bytes (including DEL) are refused: section 5.5 calls CR, LF
# and NUL "invalid and dangerous", and no client sends the others.
FIELD_VALUE = OWS + _VCHAR + _OBS_TEXT

# RFC 9112 3.2 / RFC 3986 3.3-3.4: the characters of a request-target.
# Leniency: RFC 3986 does not allow " < > \ ^ ` { | } raw, but browsers and
# tools send them unencoded and they cannot change the framing, so every VCHAR
# is accepted except "#", which starts a fragment: never part of a
# request-target, but sent by http.client when given one; the parsers drop it.
# Control bytes, SP and DEL end or break the request line and are refused.
# So are bytes 0x80-0xFF: a request-target is ASCII (RFC 9112 3.2 answers an
# invalid one with 400), clients percent-encode the rest, and gunicorn,
# uvicorn, granian, hypercorn and cheroot refuse them too.
TARGET = _VCHAR.replace(b"#", b"")

# RFC 9110 4.2.3 and RFC 3986 3.2.2
#   reg-name = *( unreserved / pct-encoded / sub-delims )
#   unreserved = ALPHA / DIGIT / "-" / "." / "_" / "~"
#   sub-delims = "!" / "$" / "&" / "'" / "(" / ")" / "*" / "+" / "," / ";" / "="
REG_NAME = _ALPHA + _DIGIT + b"-._~" + b"!$&'()*+,;=" + b"%"

# RFC 3986 3.2.2: IP-literal = "[" ( IPv6address / IPvFuture ) "]"; the
# characters allowed between the brackets (the shape is not checked further).
IP_LITERAL = _DIGIT + b"abcdefABCDEF" + b":."

# RFC 3986 3.1: scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )
SCHEME = _ALPHA + _DIGIT + b"+-."

# RFC 9110 5.6.4 (chunk-ext values may be quoted strings, RFC 9112 7.1.1)
#   qdtext = HTAB / SP / %x21 / %x23-5B / %x5D-7E / obs-text
#   quoted-pair = "\" ( HTAB / SP / VCHAR / obs-text )
QDTEXT = b"\t !" + bytes(range(0x23, 0x5C)) + bytes(range(0x5D, 0x7F)) + _OBS_TEXT
QUOTED_PAIR = OWS + _VCHAR + _OBS_TEXT

HEXDIG = _DIGIT + b"abcdefABCDEF"
DIGIT = _DIGIT

# Reasons shared by both implementations, so that the two raise the same text.
TLS_REASON = "looks like TLS (HTTPS) sent to an HTTP port"

# Line endings: RFC 9112 2.2 lets a recipient accept a bare LF as the end of
# the request line and of field lines. fastcore does not, anywhere: a proxy in
# front that reads "a: b\nContent-Length: 5" as one field while the server
# reads two is a request-smuggling path, and every real client sends CRLF. In
# chunk framing RFC 9112 7.1 allows only CRLF anyway.
BARE_LF_REASON = "line ends in LF without CR"
BARE_CR_REASON = "CR not followed by LF"
