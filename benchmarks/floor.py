"""A measuring stick, not a server: the least a Python server on fastcore's
parser could do per request.

One thread, epoll (level-triggered), non-blocking sockets. For each readable
connection: one recv, parse_request, build_environ, the app, the response head
joined in one string, one send, and an access line collected and written once
per loop turn. Keep-alive only, no timeouts, no framing rules for bodies, no
PEP 3333 checks: what it leaves out is what a real server must add, so the
gap between it and fastcore is the price of those (and of what is left to cut).

    python floor.py PORT APP   (APP: a name in load_apps.py; Linux only)
"""

import select
import socket
import sys
import time

import load_apps
from fastcore.parser import build_environ, parse_request


def serve(port, app):
    listener = socket.create_server(("127.0.0.1", port), backlog=1024)
    listener.setblocking(False)
    poller = select.epoll()
    poller.register(listener.fileno(), select.EPOLLIN)
    connections = {}  # fd -> [socket, bytes read and not yet parsed, base environ]
    base = {"wsgi.version": (1, 0), "wsgi.url_scheme": "http", "wsgi.errors": sys.stderr,
            "wsgi.multithread": False, "wsgi.multiprocess": False, "wsgi.run_once": False,
            "SERVER_NAME": "127.0.0.1", "SERVER_PORT": str(port)}
    lines = []
    date, date_second = b"", None
    while True:
        for fd, _ in poller.poll():
            if fd == listener.fileno():
                _accept(listener, poller, connections, base)
                continue
            state = connections[fd]
            sock = state[0]
            try:
                data = sock.recv(65536)
            except BlockingIOError:
                continue
            except OSError:
                data = b""
            if not data:
                poller.unregister(fd)
                sock.close()
                del connections[fd]
                continue
            buffer = state[1] + data
            while True:
                head = parse_request(buffer)
                if head is None:
                    break
                buffer = buffer[head.size:]
                second = int(time.time())
                if second != date_second:
                    date_second = second
                    date = time.strftime("Date: %a, %d %b %Y %H:%M:%S GMT\r\n",
                                         time.gmtime(second)).encode()
                response = []

                def start_response(status, headers, exc_info=None):
                    response[:] = [status, headers]

                body = b"".join(app(build_environ(head, state[2]), start_response))
                status, headers = response
                head_text = "".join([f"HTTP/1.1 {status}\r\n",
                                     *[f"{name}: {value}\r\n" for name, value in headers]])
                sock.send(head_text.encode("latin-1") + date + b"Server: floor\r\n\r\n" + body)
                lines.append(f'127.0.0.1 - - "{head.method} {head.target} {head.version}" '
                             f"{status[:3]} -\n")
            state[1] = buffer
        if lines:
            sys.stderr.write("".join(lines))
            lines.clear()


def _accept(listener, poller, connections, base):
    while True:
        try:
            sock, address = listener.accept()
        except BlockingIOError:
            return
        sock.setblocking(False)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        connections[sock.fileno()] = [sock, b"", dict(base, REMOTE_ADDR=address[0],
                                                       REMOTE_PORT=str(address[1]))]
        poller.register(sock.fileno(), select.EPOLLIN)


if __name__ == "__main__":
    serve(int(sys.argv[1]), getattr(load_apps, sys.argv[2]))
