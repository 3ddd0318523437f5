"""The rules of an HTTP/1.1 connection, without I/O (RFC 9112, RFC 9110).

One owner for the rules, as h11's state machine is one: what the bytes a
connection has buffered are, how a response is framed, and what becomes of
the connection after each request. Nothing here reads or writes a socket.
The loop (``fastcore.io.loop``), threaded mode's loop (``fastcore.io.handoff``),
the request handler and the exchange (``fastcore.wsgi``) and the gunicorn
worker ask, and do the I/O the answer calls for. The parts that touch bytes
are the parser's, compiled, with a pure-Python twin (``fastcore.parser``),
as are the two rules every request meets (``frame_response`` and
``after_response``): this module gathers them and holds the others.

A connection goes round this cycle, one request at a time:

1. **Reading.** ``HeadReader(limits)(buffer)`` answers the head of the next
   request when it is complete at the start of the buffer, None while more
   bytes are needed, or a *refusal*: the ``ParseError`` that says why the
   bytes are not a request, with its HTTP status and a one-line reason.
2. **Refusing.** A refusal is answered with ``refusal()``, which says
   ``Connection: close``; then the connection lingers (``LINGER``): it stops
   sending, drops what the client still sends for a moment, and closes, for
   closing on unread bytes would reset the connection, and a reset can
   destroy the refusal before the client reads it (RFC 9112 section 9.6).
3. **Responding.** ``frame_response()`` takes the request's head and what the
   app gave (status, headers, the body's length if known) and gives the
   framing (``NO_BODY`` for HEAD, 1xx, 204 and 304; ``LENGTH``; ``CHUNKED``;
   ``UNTIL_CLOSE``), the bytes of the response head with the first body
   bytes, and whether the connection may go on after it: the client asked to
   keep it (HTTP/1.1, or HTTP/1.0 with ``Connection: keep-alive``), the
   framing ends the response without ending the connection, the server
   speaks HTTP/1.1, it is not stopping (a client told to reconnect would be
   refused, not queued on a listener about to close), and the request body
   did not fail (what is left of a malformed body cannot be skipped).
   ``sent_whole()`` says, at the end, whether the body sent matched the
   length declared.
4. **After.** ``after_response()`` gives the connection's next state from
   how the response went and what is left of the request body:
   ``KEEP_ALIVE`` (wait for the next request), ``DRAIN`` (read and drop what
   the app left of the body, up to ``DRAIN_LIMIT``, then keep it), ``CLOSE``,
   or ``RELEASED`` (the app took the socket over: a WebSocket).

A request that sent ``Expect: 100-continue`` gets ``CONTINUE`` before the
first read of its body that has to wait for the client, so an app that
answers without reading never invites the body.
"""

from http import HTTPStatus

from fastcore.parser import (
    CHUNKED,
    CLOSE,
    DRAIN,
    DRAIN_LIMIT,
    KEEP_ALIVE,
    LENGTH,
    LINGER,
    NO_BODY,
    RELEASED,
    UNTIL_CLOSE,
    HeadReader,
    RequestHead,
    after_response,
    frame_response,
)

__all__ = ["KEEP_ALIVE", "DRAIN", "CLOSE", "LINGER", "RELEASED", "NO_BODY", "LENGTH", "CHUNKED",
           "UNTIL_CLOSE", "HeadReader", "RequestHead", "frame_response", "refusal",
           "sent_whole", "after_response", "is_event_stream", "CONTINUE", "DRAIN_LIMIT"]

CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"


def refusal(error, date_line, server_line):
    """The response to bytes that are not a valid request (``error``, a
    ParseError): its status, the reason as one line of text, and
    ``Connection: close``. ``date_line`` and ``server_line`` are the Date and
    Server fields, each ending in CRLF."""
    reason = error.reason.encode("latin-1", "replace") + b"\n"
    return (f"HTTP/1.1 {error.status} {HTTPStatus(error.status).phrase}\r\n"
            "Content-Type: text/plain; charset=utf-8\r\n"
            f"Content-Length: {len(reason)}\r\nConnection: close\r\n"
            f"{date_line}{server_line}\r\n").encode("latin-1") + reason


def sent_whole(framing, length, counted):
    """Whether a response whose body is done left the connection at a clean
    boundary: a LENGTH response must have sent exactly the length it
    declared (``counted``: the body bytes the app gave). A longer one was cut
    at the length, a shorter one leaves the client waiting for the rest."""
    return framing != LENGTH or counted == length


def is_event_stream(headers):
    """Whether a response's headers say text/event-stream (Server-Sent
    Events): such a response never ends by itself, so a stop ends it."""
    for name, value in headers:
        if name.lower() == "content-type":
            return value.partition(";")[0].strip().lower() == "text/event-stream"
    return False
