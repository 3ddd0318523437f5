"""fastcore's public API, used with type annotations.

CI checks this file with `mypy --strict` against the installed package (what
a user's type checker reads: the parser's stubs, the annotated server API and
the py.typed marker), then runs it: it parses a request and serves one.

    python examples/typed_usage.py            # parse, serve one request, stop
    python examples/typed_usage.py --serve    # run_simple with the reloader and debugger
"""

from __future__ import annotations

import http.client
import sys
import threading
from typing import TYPE_CHECKING, Iterable

from fastcore import BaseWSGIServer, make_server, run_simple
from fastcore.parser import COMPILED, Limits, ParseError, RequestHead, build_environ, parse_request

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment


def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
    body = f"{environ['REQUEST_METHOD']} {environ['PATH_INFO']}".encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


def describe(data: bytes, limits: Limits) -> str:
    """What the parser makes of ``data``: the environ's key facts, or why it is refused."""
    try:
        head: RequestHead | None = parse_request(data, limits=limits)
    except ParseError as error:
        return f"refused with {error.status}: {error.reason}"
    if head is None:
        return "incomplete"
    environ = build_environ(head)
    return f"{environ['REQUEST_METHOD']} {environ['PATH_INFO']} host={environ['HTTP_HOST']}"


def serve_once(server: BaseWSGIServer) -> str:
    """Serve one request from http.client, then stop the server."""
    thread = threading.Thread(target=server.serve_forever)
    thread.start()
    try:
        client = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
        client.request("GET", "/typed")
        return client.getresponse().read().decode()
    finally:
        server.shutdown()
        thread.join()


def main() -> None:
    if sys.argv[1:] == ["--serve"]:
        run_simple("127.0.0.1", 5000, app, use_reloader=True, use_debugger=True, threaded=True)
        return
    limits = Limits(max_header_count=50)
    print("compiled parser:", COMPILED)
    print(describe(b"GET /a%20b HTTP/1.1\r\nHost: example.com\r\n\r\n", limits))
    print(describe(b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", limits))
    print(serve_once(make_server("127.0.0.1", 0, app, threaded=True)))


if __name__ == "__main__":
    main()
