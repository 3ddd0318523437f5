"""What an application may put in a response head: start_response's checks.

The status line and header fields go out as the app wrote them, so a CR, LF
or NUL in them would split or corrupt the response (RFC 9112 section 4,
RFC 9110 section 5.5). They are checked against the byte classes the request
parser uses (``_grammar``). A status or name found valid is remembered, so the
few an app uses cost a set lookup; a value costs two str tests unless it holds
a tab or a byte above 0x7E.
"""

import re

from fastcore import _grammar

__all__ = ["check_status", "check_header"]


def _class(members):
    return "[" + "".join(re.escape(chr(c)) for c in members) + "]"


# RFC 9112 4: status-line = HTTP-version SP status-code SP [ reason-phrase ],
# reason-phrase = 1*( HTAB / SP / VCHAR / obs-text ), the field-value bytes.
_STATUS = re.compile("[0-9]{3} " + _class(_grammar.FIELD_VALUE) + "*")
_TOKEN = re.compile(_class(_grammar.TCHAR) + "+")
_VALUE = re.compile(_class(_grammar.FIELD_VALUE) + "*")
_REMEMBERED = 512  # at most this many statuses and names each

_good_statuses = set()
_good_names = set()


def check_status(status):
    """Raise ValueError unless ``status`` is like '200 OK'."""
    if status in _good_statuses:
        return
    if type(status) is not str or not _STATUS.fullmatch(status):
        raise ValueError(f"invalid status {status!r}: expected three digits, a space and a "
                         "reason phrase without control characters")
    if len(_good_statuses) < _REMEMBERED:
        _good_statuses.add(status)


def check_header(name, value):
    """Raise TypeError or ValueError unless ``name`` is a token and ``value``
    a field value (no control character but tab), both native strings."""
    if name not in _good_names:
        if type(name) is not str:
            raise TypeError(f"response header name {name!r} is not a str")
        if not _TOKEN.fullmatch(name):
            raise ValueError(f"invalid response header name {name!r}: not a token")
        if len(_good_names) < _REMEMBERED:
            _good_names.add(name)
    if type(value) is not str:
        raise TypeError(f"response header {name!r} has a value that is not a str: {value!r}")
    if not (value.isascii() and value.isprintable()) and not _VALUE.fullmatch(value):
        raise ValueError(f"invalid value for response header {name!r}: {value!r} "
                         "(a control character, or a character beyond latin-1)")
