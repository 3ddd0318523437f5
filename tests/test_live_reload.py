"""Live reload without a browser: the middleware's tag and the responses it
leaves alone (wsgiref.validate on both sides of it), and real servers on
127.0.0.1 with their event streams read from raw sockets. The browser's side
is in test_live_reload_browser.py."""

import gzip
import io
import os
import re
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
from pathlib import Path
from wsgiref.validate import validator

import pytest
import requests
from werkzeug.test import run_wsgi_app

import live_apps
from conftest import Process, free_port, get_until, process_stats, recv_until_closed
from fastcore import make_server
from fastcore.live import inject
from fastcore.live import streams as streams_module
from fastcore.live.inject import LiveReload
from fastcore.live.streams import Streams
from fastcore.live.watch import flask_folders
from live_reload import Site

FASTCORE = [sys.executable, "-m", "fastcore"]
BOOT = "0123abcd4567"
TAG = f'<script src="/__fastcore__/live.js" data-boot="{BOOT}" defer></script>'.encode()


# -- the middleware, at the WSGI level ------------------------------------------------------


def call(app, method="GET", path="/", script_name="", check_app=True, check=True):
    """(status, headers, body) of ``app`` behind live reload, both checked by
    wsgiref.validate (``app`` not, when its own iterable must reach live
    reload: the validator wraps it; neither, for what it refuses outright)."""
    wrapped = LiveReload(validator(app) if check_app and check else app, Streams(BOOT))
    wrapped = validator(wrapped) if check else wrapped
    environ = {"REQUEST_METHOD": method, "PATH_INFO": path, "SCRIPT_NAME": script_name,
               "QUERY_STRING": "",
               "SERVER_NAME": "localhost", "SERVER_PORT": "80", "SERVER_PROTOCOL": "HTTP/1.1",
               "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(),
               "wsgi.errors": sys.stderr, "wsgi.version": (1, 0), "wsgi.multithread": False,
               "wsgi.multiprocess": False, "wsgi.run_once": False}
    app_iter, status, headers = run_wsgi_app(wrapped, environ)
    try:
        body = b"".join(app_iter)
    finally:
        app_iter.close()
    return status, headers, body


class Recorded:
    """An app's response, with a record of whether its iterable was closed."""

    def __init__(self, body, content_type="text/html; charset=utf-8", length=True,
                 status="200 OK", extra=(), kind="list"):
        self.body, self.content_type, self.length = body, content_type, length
        self.status, self.extra, self.kind = status, list(extra), kind
        self.closed = 0

    def headers(self):
        headers = [("Content-Type", self.content_type), *self.extra]
        if self.length:
            headers.append(("Content-Length", str(len(self.body))))
        return headers

    def __call__(self, environ, start_response):
        if self.kind == "generator":  # starts the response when first iterated
            return self._lazily(start_response)
        if self.kind == "write":  # the write() callable, then an empty iterable
            start_response(self.status, self.headers())(self.body)
            return self._closing([])
        start_response(self.status, self.headers())
        return self._closing([self.body[:10], self.body[10:]])

    def _lazily(self, start_response):
        try:
            start_response(self.status, self.headers())
            yield self.body[:10]
            yield self.body[10:]
        finally:
            self.closed += 1

    def _closing(self, chunks):
        recorded = self

        class Closing(list):
            def close(self):
                recorded.closed += 1

        return Closing(chunks)


PAGE = b"<!doctype html>\n<html><body><h1>A page</h1>\n</body></html>\n"


@pytest.mark.parametrize("kind", ["list", "generator", "write"])
def test_the_tag_goes_before_the_last_body_end_tag_and_the_length_is_corrected(kind):
    app = Recorded(PAGE, kind=kind)
    status, headers, body = call(app)
    assert body == PAGE.replace(b"</body>", TAG + b"</body>")
    assert headers["Content-Length"] == str(len(body))
    assert status == "200 OK" and app.closed == 1


@pytest.mark.parametrize("page, expected", [
    (b"<p>no body tag", b"<p>no body tag" + TAG),
    (b"<BODY>x</BODY></HTML>", b"<BODY>x" + TAG + b"</BODY></HTML>"),
    (b"<body>a</body><!-- </body> -->", b"<body>a</body><!-- " + TAG + b"</body> -->"),
    (b"", TAG),
])
def test_where_the_tag_goes(page, expected):
    assert call(Recorded(page))[2] == expected


def test_a_list_without_content_length_gets_the_tag_and_a_length():
    status, headers, body = call(Recorded(PAGE, length=False), check_app=False)
    assert body == PAGE.replace(b"</body>", TAG + b"</body>")
    assert headers["Content-Length"] == str(len(body))


def test_the_tag_names_the_script_under_the_apps_script_root():
    body = call(Recorded(PAGE), script_name="/my app")[2]
    assert b'<script src="/my%20app/__fastcore__/live.js" data-boot=' in body


@pytest.mark.parametrize("app, method", [
    (Recorded(b'{"a": 1}', content_type="application/json"), "GET"),
    (Recorded(PAGE, content_type="text/htmlx"), "GET"),
    (Recorded(gzip.compress(PAGE), extra=[("Content-Encoding", "gzip")]), "GET"),
    (Recorded(PAGE, kind="generator", length=False), "GET"),  # a stream of unknown length
    (Recorded(b"", status="304 Not Modified", length=False), "GET"),
    (Recorded(b"", status="204 No Content", length=False), "GET"),
    (Recorded(PAGE), "HEAD"),
], ids=["json", "not-html", "gzip", "stream", "304", "204", "head"])
def test_responses_that_are_not_an_html_page_of_known_length_pass_untouched(app, method):
    # wsgiref.validate refuses a Content-Type on a 304 or 204 (which a framework may send)
    status, headers, body = call(app, method=method, check=app.status[:3] not in ("304", "204"))
    assert status == app.status
    assert list(headers.items()) == app.headers()
    assert body == app.body  # (for HEAD, the server drops it)
    assert app.closed == 1


def test_a_page_larger_than_the_limit_passes_untouched(monkeypatch):
    monkeypatch.setattr(inject, "MAX_PAGE", len(PAGE) - 1)
    assert call(Recorded(PAGE))[2] == PAGE


def test_an_untouched_response_is_the_apps_own_iterable():
    sent = Recorded(b"{}", content_type="application/json")
    held = []

    def app(environ, start_response):
        held.append(sent(environ, start_response))
        return held[-1]

    middleware = LiveReload(app, Streams(BOOT))
    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/"}
    assert middleware(environ, lambda status, headers, exc_info=None: None) is held[0]


def test_an_error_page_replacing_a_held_one_gets_the_tag():
    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])
        try:
            raise ValueError("late")
        except ValueError:
            start_response("500 Internal Server Error", [("Content-Type", "text/html")],
                           sys.exc_info())
        return [b"<body>failed</body>"]

    status, headers, body = call(app, check_app=False)
    assert status == "500 Internal Server Error"
    assert body == b"<body>failed" + TAG + b"</body>"


def test_the_reserved_path_serves_the_script_and_nothing_else():
    app = Recorded(PAGE)
    status, headers, body = call(app, path="/__fastcore__/live.js")
    assert status == "200 OK" and headers["Content-Type"].startswith("text/javascript")
    assert b"new EventSource" in body and headers["Content-Length"] == str(len(body))
    assert call(app, method="HEAD", path="/__fastcore__/live.js")[2] == b""
    status, _, body = call(app, path="/__fastcore__/other")
    assert status == "404 Not Found" and b"/__fastcore__/other" in body
    assert app.closed == 0  # the app never saw them


# -- real servers ------------------------------------------------------------------------


class EventStream:
    """live reload's event stream, read from a raw socket."""

    def __init__(self, port, tls=False):
        sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        if tls:
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
            sock = context.wrap_socket(sock)
        sock.sendall(b"GET /__fastcore__/events HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                     b"Accept: text/event-stream\r\n\r\n")
        self.sock = sock
        self.buffer = b""
        self.head = self._until(b"\r\n\r\n", 10).decode("latin-1")

    def _until(self, marker, timeout):
        deadline = time.monotonic() + timeout
        while marker not in self.buffer:
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            data = self.sock.recv(65536)
            if not data:
                raise EOFError(f"closed; had {self.buffer!r}")
            self.buffer += data
        part, _, self.buffer = self.buffer.partition(marker)
        return part

    def next_event(self, timeout=5):
        """(name, data) of the next event (the retry field alone is none)."""
        while True:
            fields = dict(line.split(": ", 1) for line in
                          self._until(b"\n\n", timeout).decode().splitlines())
            if "event" in fields:
                return fields["event"], fields["data"]

    def closed(self, timeout=5):
        """Whether the server ends the stream within ``timeout`` seconds."""
        try:
            self.sock.settimeout(timeout)
            return self.sock.recv(65536) == b""
        except (socket.timeout, ConnectionResetError):
            return False

    def close(self):
        self.sock.close()


def boot_of(page):
    return re.search(r'data-boot="([0-9a-f]+)"', page).group(1)


def fetch(port, request):
    """The server's whole answer to ``request`` (raw), its Date masked."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        raw = recv_until_closed(sock, timeout=10)
    return re.sub(rb"\r\nDate: [^\r]*", b"\r\nDate: -", raw)


def request(method, path):
    return f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode()


@pytest.fixture
def serve(tmp_path):
    started = []

    def start(*args, cwd=tmp_path, env=None, ready="Live reload: on"):
        port = free_port()
        process = Process([*FASTCORE, *args, "--port", str(port)], cwd=cwd, env=env)
        started.append(process)
        process.wait_for(ready)
        # Answered: the server serves, and the reloader's watches are set (it
        # sets them before it starts the server's thread).
        scheme = "https" if "--cert" in args else "http"
        requests.get(f"{scheme}://127.0.0.1:{port}/", timeout=10, verify=False)
        return process, port

    yield start
    for process in started:
        process.stop()


TESTS = str(Path(__file__).resolve().parent)


def test_without_the_switch_responses_are_byte_identical_to_a_server_without_the_feature(serve):
    plain = make_server("127.0.0.1", 0, live_apps.app, threaded=True)
    threading.Thread(target=plain.serve_forever, daemon=True).start()
    try:
        _, off = serve("run", "live_apps:app", cwd=TESTS, ready="Press CTRL+C")
        for method, path in [("GET", "/page"), ("GET", "/data"), ("GET", "/file"),
                             ("GET", "/stream"), ("HEAD", "/page"), ("GET", "/gzip"),
                             ("GET", "/__fastcore__/live.js"), ("GET", "/__fastcore__/events")]:
            answer = fetch(off, request(method, path))
            assert answer == fetch(plain.server_port, request(method, path)), path
            assert answer.startswith(b"HTTP/1.1 "), answer
        assert b"the app's own 404 for /__fastcore__/live.js" in fetch(
            off, request("GET", "/__fastcore__/live.js"))
    finally:
        plain.shutdown()
        plain.server_close()


def test_with_it_only_html_pages_change_and_their_length_is_right(serve):
    _, off = serve("run", "live_apps:app", cwd=TESTS, ready="Press CTRL+C")
    _, on = serve("run", "live_apps:app", "--live-reload", cwd=TESTS)
    for method, path in [("GET", "/data"), ("GET", "/file"), ("GET", "/stream"),
                         ("HEAD", "/page"), ("GET", "/gzip")]:
        assert fetch(on, request(method, path)) == fetch(off, request(method, path)), path
    page = requests.get(f"http://127.0.0.1:{on}/page", timeout=5)
    tag = (f'<script src="/__fastcore__/live.js" data-boot="{boot_of(page.text)}" '
           'defer></script>').encode()
    assert page.content == live_apps.PAGE.replace(b"</body>", tag + b"</body>")
    assert page.headers["Content-Length"] == str(len(page.content))
    script = requests.get(f"http://127.0.0.1:{on}/__fastcore__/live.js", timeout=5)
    assert script.headers["Content-Type"] == "text/javascript; charset=utf-8"


@pytest.fixture
def site(tmp_path):
    return Site(str(tmp_path))


def test_the_stream_says_hello_then_each_change_and_a_new_process(serve, site):
    server, port = serve("run", "app.py", "--live-reload", cwd=site.root)
    page = requests.get(f"http://127.0.0.1:{port}/", timeout=5).text
    stream = EventStream(port)
    assert stream.head.startswith("HTTP/1.1 200 OK\r\n")
    assert "Content-Type: text/event-stream" in stream.head
    assert stream.next_event() == ("hello", boot_of(page))

    site.save_template("Template two")
    assert stream.next_event() == ("reload", '["index.html"]')
    assert "Template two" in requests.get(f"http://127.0.0.1:{port}/", timeout=5).text
    site.save_style("rgb(1, 2, 3)")
    assert stream.next_event() == ("css", '["/static/site.css"]')
    site.write("shop_static/shop.css", "h1 { color: green }")
    assert stream.next_event() == ("css", '["/shop/static/shop.css"]')
    site.write("shop_templates/shop.html", "<body><h1>Shop two</h1></body>")
    assert stream.next_event() == ("reload", '["shop.html"]')
    assert "Shop two" in requests.get(f"http://127.0.0.1:{port}/shop/", timeout=5).text
    site.write("static/notes.swp", "an editor's file")  # nothing to announce
    site.write("static/app.js", "// a script")
    assert stream.next_event() == ("reload", '["/static/app.js"]')
    server.wait_for("Live reload: static/app.js changed: reloading the page")

    site.save_view("view two")  # the reloader replaces the process: the stream ends
    assert stream.next_event(timeout=10) == ("bye", "")  # the tab reconnects at once
    assert stream.closed(timeout=10)
    stream.close()
    response = get_until(f"http://127.0.0.1:{port}/", lambda r: "view two" in r.text)
    again = EventStream(port)
    assert again.next_event() == ("hello", boot_of(response.text))
    assert boot_of(response.text) != boot_of(page)
    again.close()


def test_flask_serves_saved_templates_without_turning_on_its_debug_mode(serve, site):
    site.write("app.py", site_app_with_debug_probe(site))
    _, port = serve("run", "app.py", "--live-reload", cwd=site.root)
    assert requests.get(f"http://127.0.0.1:{port}/debug", timeout=5).text.startswith("debug False<")
    requests.get(f"http://127.0.0.1:{port}/", timeout=5)  # the template is cached now
    site.save_template("Saved later")
    assert "Saved later" in get_until(f"http://127.0.0.1:{port}/",
                                      lambda r: "Saved later" in r.text).text


def site_app_with_debug_probe(site):
    with open(f"{site.root}/app.py") as f:
        return f.read() + '\n\n@app.route("/debug")\ndef debug():\n    return f"debug {app.debug}"\n'


def test_a_load_error_shows_on_the_page_and_the_next_save_recovers(serve, site):
    _, port = serve("run", "app.py", "--live-reload", cwd=site.root)
    url = f"http://127.0.0.1:{port}/"
    site.write("app.py", "def broken(:\n")
    page = get_until(url, lambda r: r.status_code == 500)
    assert page.headers["Content-Type"] == "text/html; charset=utf-8"
    assert "SyntaxError" in page.text and "data-boot=" in page.text
    site.save_view("fixed")
    assert get_until(url, lambda r: "fixed" in r.text).status_code == 200


def test_an_idle_tab_costs_no_cpu(serve, site):
    server, port = serve("run", "app.py", "--live-reload", cwd=site.root)
    stream = EventStream(port)
    stream.next_event()

    def cpu():  # the supervisor's, the zygote's and the serving child's
        return sum(process_stats(pid)["cpu"] for pid in _tree(server.proc.pid))

    # The start-up's last work (the zygote imports the app's dependencies
    # once the child has served) may come late on a busy machine, and fall
    # in a window; a cost of being idle would fall in every one.
    for _ in range(4):
        before = cpu()
        time.sleep(5.0)
        used = cpu() - before
        if used <= 0.05:
            break
    assert used <= 0.05, f"{used:.3f} s of CPU in 5 s with one tab open"
    stream.close()


def _tree(pid):
    """``pid`` and its descendants (Linux)."""
    pids = [pid]
    for task in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{task}/children") as f:
            for child in f.read().split():
                pids += _tree(int(child))
    return pids


def test_sigterm_with_three_tabs_open_exits_within_a_second(serve, site):
    server, port = serve("run", "app.py", "--live-reload", cwd=site.root)
    streams = [EventStream(port) for _ in range(3)]
    for stream in streams:
        assert stream.next_event()[0] == "hello"
    started = time.monotonic()
    server.proc.send_signal(signal.SIGTERM)
    assert server.proc.wait(30) == 0
    assert time.monotonic() - started < 5  # at once: not after the grace period (10 s)
    assert all(stream.next_event(timeout=5) == ("bye", "") for stream in streams)
    assert all(stream.closed(timeout=5) for stream in streams)


def test_without_threads_open_streams_do_not_hold_the_server(serve, site):
    server, port = serve("run", "app.py", "--live-reload", "--no-threads", cwd=site.root)
    streams = [EventStream(port) for _ in range(2)]
    for stream in streams:
        assert stream.next_event()[0] == "hello"
    started = time.monotonic()
    assert requests.get(f"http://127.0.0.1:{port}/data", timeout=5).json() == {"numbers": [1, 2, 3]}
    assert time.monotonic() - started < 1.0
    site.save_template("Template two")
    assert [stream.next_event()[0] for stream in streams] == ["reload", "reload"]
    assert "holds the server until it ends" not in server.output


def test_over_tls_with_an_adhoc_certificate(serve, site):
    _, port = serve("run", "app.py", "--live-reload", "--cert", "adhoc", cwd=site.root)
    page = requests.get(f"https://127.0.0.1:{port}/", timeout=5, verify=False).text
    stream = EventStream(port, tls=True)
    assert stream.next_event() == ("hello", boot_of(page))
    site.save_style("rgb(9, 9, 9)")
    assert stream.next_event() == ("css", '["/static/site.css"]')
    stream.close()


def test_flasks_command_line_takes_the_switch_and_more_folders(serve, site, tmp_path):
    extra = tmp_path / "content"
    extra.mkdir()
    server, port = serve("flask", "--app", "app", "run", "--live-reload",
                         "--live-reload-dir", str(extra), cwd=site.root)
    page = requests.get(f"http://127.0.0.1:{port}/", timeout=5)
    assert page.headers["Server"].startswith("fastcore/") and "data-boot=" in page.text
    stream = EventStream(port)
    assert stream.next_event() == ("hello", boot_of(page.text))
    (extra / "posts").mkdir()
    (extra / "posts" / "first.md").write_text("# first")
    assert stream.next_event() == ("reload", '["posts/first.md"]')
    stream.close()


def test_run_simple_takes_live_reload_and_static_files(serve, site, tmp_path):
    assets = tmp_path / "assets"
    assets.mkdir()
    (assets / "theme.css").write_text("p { color: red }")
    script = tmp_path / "serve_it.py"
    script.write_text(
        f"import sys\nsys.path.insert(0, {TESTS!r})\n"
        "from fastcore import run_simple\nimport live_apps\n"
        "run_simple('127.0.0.1', int(sys.argv[1]), live_apps.app, live_reload=True,\n"
        f"           static_files={{'/assets': {str(assets)!r}}})\n")
    port = free_port()
    process = Process([sys.executable, str(script), str(port)], cwd=tmp_path)
    try:
        process.wait_for("Live reload: on")
        page = get_until(f"http://127.0.0.1:{port}/page", lambda r: r.status_code == 200)
        stream = EventStream(port)
        assert stream.next_event() == ("hello", boot_of(page.text))
        (assets / "theme.css").write_text("p { color: blue }")
        assert stream.next_event() == ("css", '["/assets/theme.css"]')
        stream.close()
    finally:
        assert process.stop() == 0


@pytest.mark.parametrize("args, message", [
    (["--live-reload", "--processes", "2"], "live reload holds each tab's event stream"),
    (["--live-reload", "--no-reload"], "--live-reload restarts the server when code changes"),
    (["--live-reload-dir", "x"], "--live-reload-dir needs --live-reload"),
])
def test_what_cannot_run_is_refused_in_one_line(args, message):
    result = subprocess.run([*FASTCORE, "run", *args], capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    # `fastcore run`'s usage, then the error in one line
    assert result.stderr.startswith("usage: fastcore run ")
    assert result.stderr.splitlines()[-1].startswith(f"fastcore run: error: {message}")


def test_without_watchdog_the_switch_says_what_to_install(tmp_path):
    (tmp_path / "sitecustomize.py").write_text("import sys\nsys.modules['watchdog'] = None\n")
    result = subprocess.run([*FASTCORE, "run", "--live-reload"], capture_output=True, text=True,
                            timeout=30, env={**os.environ, "PYTHONPATH": str(tmp_path)})
    assert result.returncode == 2
    assert "pip install 'fastcore-wsgi[live]'" in result.stderr


def test_with_the_debugger_and_static_folders(serve, site, tmp_path):
    assets = tmp_path / "assets"
    assets.mkdir()
    (assets / "extra.css").write_text("p { color: red }")
    (assets / "page.html").write_text("<html><body>static page</body></html>")
    _, port = serve("run", "app.py", "--live-reload", "--debug", "--static",
                    f"/assets={assets}", cwd=site.root)
    url = f"http://127.0.0.1:{port}/"
    stream = EventStream(port)
    assert stream.next_event()[0] == "hello"
    (assets / "extra.css").write_text("p { color: blue }")
    assert stream.next_event() == ("css", '["/assets/extra.css"]')
    assert requests.get(url + "assets/extra.css", timeout=5).text == "p { color: blue }"
    static_page = requests.get(url + "assets/page.html", timeout=5)  # a file wrapper, held
    assert static_page.text.startswith("<html><body>static page<script src=")
    assert static_page.headers["Content-Length"] == str(len(static_page.content))
    stream.close()
    site.write("app.py", "def broken(:\n")
    page = get_until(url, lambda r: r.status_code == 500)
    assert "__debugger__" in page.text and "SyntaxError" in page.text
    assert page.text.count("data-boot=") == 1
    assert page.headers["Content-Length"] == str(len(page.content))


def test_streams_past_the_limit_are_refused_and_close_ends_every_stream(monkeypatch):
    monkeypatch.setattr(streams_module, "MAX_STREAMS", 2)
    streams = Streams(BOOT)
    server = make_server("127.0.0.1", 0, LiveReload(live_apps.app, streams), threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        held = [EventStream(server.server_port) for _ in range(2)]
        assert [stream.next_event() for stream in held] == [("hello", BOOT)] * 2
        refused = fetch(server.server_port, request("GET", "/__fastcore__/events"))
        assert refused.startswith(b"HTTP/1.1 503 ")
        assert refused.endswith(b"2 live reload streams are open already\n")
        streams.send("reload", '["x.html"]')
        assert [stream.next_event() for stream in held] == [("reload", '["x.html"]')] * 2
        assert streams.count == 2
        held[0].close()  # a tab goes away: its stream is dropped
        deadline = time.monotonic() + 5
        while streams.count != 1 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert streams.count == 1
        streams.close()
        assert held[1].closed(timeout=1)
    finally:
        server.shutdown()
        server.server_close()


def test_the_folders_of_a_flask_app_its_blueprints_and_its_loaders(tmp_path):
    from flask import Blueprint, Flask
    from jinja2 import ChoiceLoader, FileSystemLoader, PrefixLoader

    for name in ("templates", "static", "more", "prefixed", "bp_templates", "bp_static"):
        (tmp_path / name).mkdir()
    app = Flask("site", root_path=str(tmp_path))
    app.jinja_loader = ChoiceLoader([
        FileSystemLoader(str(tmp_path / "templates")),
        PrefixLoader({"p": FileSystemLoader(str(tmp_path / "prefixed"))}),
        FileSystemLoader([str(tmp_path / "more")])])
    admin = Blueprint("admin", "site", root_path=str(tmp_path), url_prefix="/admin",
                      template_folder="bp_templates", static_folder="bp_static")
    app.register_blueprint(admin)
    found = {(os.path.relpath(f.path, tmp_path), f.url) for f in flask_folders(app)}
    assert found == {("templates", None), ("prefixed", None), ("more", None),
                     ("bp_templates", None), ("static", "/static/"),
                     ("bp_static", "/admin/bp_static/")}
