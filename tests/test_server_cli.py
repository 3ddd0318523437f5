"""The command line, Flask's one-line switch, the reloader and TLS, each in a real
subprocess on an ephemeral port of 127.0.0.1."""

import html
import importlib.metadata
import os
import socket
import ssl
import subprocess
import sys
import textwrap
import threading
import time

import pytest
import requests

from conftest import (RESTART_WAIT, Process, free_port, get_until, read_responses,
                      recv_until_closed)


@pytest.fixture
def run(tmp_path):
    started = []

    def start(*args, env=None):
        process = Process(list(args), cwd=tmp_path, env=env)
        started.append(process)
        return process

    yield start
    for process in started:
        process.stop()


FASTCORE = [sys.executable, "-m", "fastcore"]


def test_cli_serves_the_demo_app(run):
    port = free_port()
    server = run(*FASTCORE, "run", "--port", str(port))
    server.wait_for(f"Running on http://127.0.0.1:{port}")
    page = requests.get(f"http://127.0.0.1:{port}/hello?x=1", timeout=5)
    assert page.status_code == 200 and "fastcore is running" in page.text
    upload = requests.post(f"http://127.0.0.1:{port}/upload",
                           files={"file": ("notes.txt", b"x" * 1234)}, timeout=5)
    assert "notes.txt" in upload.text and "1234 bytes" in upload.text
    stream = requests.get(f"http://127.0.0.1:{port}/stream", stream=True, timeout=10)
    assert stream.headers["Transfer-Encoding"] == "chunked"
    assert next(stream.iter_lines()).startswith(b"chunk 1 of 10")
    stream.close()
    assert server.stop() == 0


@pytest.mark.parametrize("spec, message", [
    ("no_such_module:app", "module not found: no_such_module"),
    ("json:missing", "json has no attribute 'missing'"),
    ("json:__doc__", "is not callable"),
    ("missing_file.py", "file not found: missing_file.py"),
    ("json", "json has no 'app', 'application', 'create_app' or 'make_app'"),
])
def test_cli_app_errors_are_one_line_and_exit_2(tmp_path, spec, message):
    result = subprocess.run([*FASTCORE, "run", spec], cwd=tmp_path, capture_output=True,
                            text=True, timeout=30)
    assert result.returncode == 2
    assert result.stderr.startswith("fastcore: error: ") and message in result.stderr
    assert result.stderr.count("\n") == 1
    assert "Traceback" not in result.stderr


def test_cli_loads_a_file_and_a_factory(run, tmp_path):
    (tmp_path / "mysite.py").write_text(textwrap.dedent("""
        def make(greeting="hi"):
            def app(environ, start_response):
                start_response("200 OK", [("Content-Type", "text/plain")])
                return [greeting.encode()]
            return app
        app = make("from file")
    """))
    port = free_port()
    server = run(*FASTCORE, "run", "mysite.py", "--port", str(port), "--no-threads")
    server.wait_for("Running on")
    assert requests.get(f"http://127.0.0.1:{port}/", timeout=5).text == "from file"
    server.stop()
    port = free_port()
    server = run(*FASTCORE, "run", "mysite:make('hello')", "--port", str(port))
    server.wait_for("Running on")
    assert requests.get(f"http://127.0.0.1:{port}/", timeout=5).text == "hello"


FLASK_APP = """
from flask import Flask, request
app = Flask(__name__)

@app.route("/")
def index():
    return "VERSION " + request.environ.get("SERVER_SOFTWARE", "")
"""


def test_patch_werkzeug_makes_app_run_use_fastcore(run, tmp_path):
    port = free_port()
    (tmp_path / "flaskapp.py").write_text(FLASK_APP.replace("VERSION", "one") + textwrap.dedent(f"""
        if __name__ == "__main__":
            import fastcore
            fastcore.patch_werkzeug()
            app.run(port={port})
    """))
    server = run(sys.executable, "flaskapp.py")
    server.wait_for(f"Running on http://127.0.0.1:{port}")
    text = requests.get(f"http://127.0.0.1:{port}/", timeout=5).text
    assert text.startswith("one fastcore/")


def test_fastcore_flask_run_with_reload(run, tmp_path):
    app_file = tmp_path / "flaskapp.py"
    app_file.write_text(FLASK_APP.replace("VERSION", "one"))
    port = free_port()
    server = run(*FASTCORE, "flask", "--app", "flaskapp", "run", "--port", str(port), "--reload",
                 env={"PYTHONDONTWRITEBYTECODE": "1"})
    server.wait_for("Restarting with")
    server.wait_for(f"Running on http://127.0.0.1:{port}")
    assert requests.get(f"http://127.0.0.1:{port}/", timeout=5).text.startswith("one fastcore/")
    time.sleep(1.2)
    app_file.write_text(FLASK_APP.replace("VERSION", "two"))
    server.wait_for("Detected change", timeout=RESTART_WAIT)
    response = get_until(f"http://127.0.0.1:{port}/", lambda r: r.text.startswith("two"))
    assert response.text.startswith("two fastcore/")
    assert server.stop() == 0


def test_adhoc_tls_and_a_silent_client_blocks_no_one(run):
    port = free_port()
    server = run(*FASTCORE, "run", "--port", str(port), "--cert", "adhoc", "--no-threads")
    server.wait_for(f"Running on https://127.0.0.1:{port}")
    silent = socket.create_connection(("127.0.0.1", port))  # connects, never says hello
    started = time.monotonic()
    response = requests.get(f"https://127.0.0.1:{port}/tls", verify=False, timeout=5)
    assert response.status_code == 200 and "fastcore is running" in response.text
    assert time.monotonic() - started < 2
    silent.close()


def test_a_tls_port_probe_is_not_a_failed_handshake(run):
    port = free_port()
    server = run(*FASTCORE, "run", "--port", str(port), "--cert", "adhoc")
    server.wait_for("Running on https://")
    for _ in range(3):
        socket.create_connection(("127.0.0.1", port), timeout=5).close()  # connect, close
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(b"\x16\x03\x01\x00\x05hello")  # a broken ClientHello: that one is logged
    assert requests.get(f"https://127.0.0.1:{port}/", verify=False, timeout=5).status_code == 200
    output = server.wait_for("GET / HTTP/1.1")
    assert output.count("TLS handshake with 127.0.0.1 failed") == 1, output


def test_a_websocket_over_tls(run, tmp_path):
    import simple_websocket

    (tmp_path / "wsapp.py").write_text(textwrap.dedent("""
        from flask import Flask
        from flask_sock import Sock

        app = Flask(__name__)

        @Sock(app).route("/echo")
        def echo(ws):
            while True:
                ws.send(ws.receive())
    """))
    port = free_port()
    server = run(*FASTCORE, "run", "wsapp:app", "--port", str(port), "--cert", "adhoc")
    server.wait_for("Running on https://")
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    ws = simple_websocket.Client.connect(f"wss://127.0.0.1:{port}/echo", ssl_context=context)
    for message in ("over TLS", "x" * 100000):
        ws.send(message)
        assert ws.receive(timeout=5) == message
    ws.close()
    output = server.wait_for('" 101 ')
    assert "Traceback" not in output


def test_plain_http_on_the_tls_port_is_refused(run):
    port = free_port()
    server = run(*FASTCORE, "run", "--port", str(port), "--cert", "adhoc")
    server.wait_for("Running on https://")
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    sock.sendall(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
    try:
        assert b"200 OK" not in recv_until_closed(sock)
    except ConnectionResetError:
        pass  # refused by reset: as good as a close
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with context.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=5)) as tls:
        tls.sendall(b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        [(status, _, _)] = read_responses(recv_until_closed(tls))
    assert status == 200


def fastcore_run(tmp_path, *args):
    return subprocess.run([*FASTCORE, "run", *args], cwd=tmp_path, capture_output=True,
                          text=True, timeout=60)


def make_certificate(folder, name):
    """A self-signed certificate and its key, in PEM files ``name``.pem and ``name``.key."""
    from werkzeug.serving import make_ssl_devcert

    return make_ssl_devcert(str(folder / name), host="localhost")


def one_line_error(result, text):
    """``fastcore run`` failed to start with exactly one line, and exit 2."""
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == f"fastcore: error: {text}\n"


def test_port_in_use_is_one_line_and_exit_2(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = fastcore_run(tmp_path, "--port", str(port))
    one_line_error(result, f"port {port} is in use by another program: stop that program, "
                           "or choose another port")


def test_run_simple_with_the_port_in_use_prints_one_line_and_exits_1(tmp_path):
    """Werkzeug's exit code; its message was several lines."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run([sys.executable, "-c", f"""
from fastcore import run_simple
run_simple("127.0.0.1", {port}, lambda environ, start_response: [])
"""], capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert result.stderr == (f"port {port} is in use by another program: stop that program, "
                             "or choose another port\n")


def test_a_host_that_cannot_be_resolved_is_one_line(tmp_path):
    result = fastcore_run(tmp_path, "--host", "no-such-host.invalid")
    assert result.returncode == 2
    assert result.stderr.startswith("fastcore: error: cannot resolve the host "
                                    "'no-such-host.invalid': ")
    assert result.stderr.count("\n") == 1


def test_a_unix_socket_path_that_cannot_be_bound_is_one_line(tmp_path):
    path = tmp_path / "missing-folder" / "app.sock"
    result = fastcore_run(tmp_path, "--host", f"unix://{path}")
    one_line_error(result, f"cannot listen on unix://{path}: No such file or directory")


def test_a_missing_certificate_or_key_is_one_line(tmp_path):
    cert, key = make_certificate(tmp_path, "good")
    one_line_error(fastcore_run(tmp_path, "--cert", "nope.pem", "--key", key),
                   "the TLS certificate file nope.pem does not exist")
    one_line_error(fastcore_run(tmp_path, "--cert", cert, "--key", "nope.key"),
                   "the TLS key file nope.key does not exist")


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_an_unreadable_key_is_one_line(tmp_path):
    cert, key = make_certificate(tmp_path, "good")
    os.chmod(key, 0)
    one_line_error(fastcore_run(tmp_path, "--cert", cert, "--key", key),
                   f"the TLS key file {key} cannot be read (permission denied)")


def test_a_key_that_does_not_match_the_certificate_is_one_line(tmp_path):
    cert, _ = make_certificate(tmp_path, "one")
    _, other_key = make_certificate(tmp_path, "two")
    result = fastcore_run(tmp_path, "--cert", cert, "--key", other_key)
    assert result.returncode == 2
    assert result.stderr.startswith(f"fastcore: error: cannot use the TLS certificate {cert} "
                                    f"with the key {other_key}: ")
    assert "KEY_VALUES_MISMATCH" in result.stderr
    assert result.stderr.count("\n") == 1


@pytest.mark.parametrize("args, message", [
    (["--cert", "some.pem"], "--cert FILE needs --key FILE"),
    (["--processes", "2", "--live-reload"], "live reload holds each tab's event stream"),
])
def test_a_misused_option_shows_run_s_usage(tmp_path, args, message):
    result = fastcore_run(tmp_path, *args)
    assert result.returncode == 2
    assert result.stderr.startswith("usage: fastcore run ")
    assert f"fastcore run: error: {message}" in result.stderr


def test_run_simple_rejects_a_non_int_port():
    from fastcore import run_simple

    with pytest.raises(TypeError, match="port must be an integer"):
        run_simple("127.0.0.1", "5000", lambda e, s: [])


def test_debugger_shows_its_pin_and_catches_errors(run, tmp_path):
    (tmp_path / "broken.py").write_text(textwrap.dedent("""
        def app(environ, start_response):
            raise ZeroDivisionError("debug me")
    """))
    port = free_port()
    server = run(*FASTCORE, "run", "broken:app", "--port", str(port), "--debug")
    server.wait_for("Debugger PIN")
    assert "Restarting with" in server.output  # --debug turns on the reloader too
    response = requests.get(f"http://127.0.0.1:{port}/", timeout=10)
    assert response.status_code == 500
    assert "ZeroDivisionError" in response.text and "Werkzeug Debugger" in response.text
    assert server.stop() == 0


def test_debug_shows_the_debugger_for_a_flask_view_that_raises(run, tmp_path):
    """Flask answers its own exceptions with a plain 500 unless app.debug is
    set; --debug sets it, as `flask run --debug` does."""
    (tmp_path / "flaskbroken.py").write_text(textwrap.dedent("""
        from flask import Flask

        app = Flask(__name__)

        @app.route("/")
        def index():
            raise ZeroDivisionError("debug me")
    """))
    port = free_port()
    server = run(*FASTCORE, "run", "flaskbroken:app", "--port", str(port), "--debug")
    server.wait_for("Debugger PIN")
    response = requests.get(f"http://127.0.0.1:{port}/", timeout=10)
    assert response.status_code == 500
    assert "ZeroDivisionError: debug me" in response.text and "Werkzeug Debugger" in response.text


def test_cli_static_files(run, tmp_path):
    (tmp_path / "public").mkdir()
    (tmp_path / "public" / "hello.txt").write_text("static hello")
    port = free_port()
    server = run(*FASTCORE, "run", "--port", str(port), "--static", "/files=public")
    server.wait_for("Running on")
    assert requests.get(f"http://127.0.0.1:{port}/files/hello.txt", timeout=5).text == "static hello"
    assert "fastcore is running" in requests.get(f"http://127.0.0.1:{port}/", timeout=5).text


def test_cli_max_content_length(run):
    port = free_port()
    server = run(*FASTCORE, "run", "--port", str(port), "--max-content-length", "2K")
    server.wait_for("Running on")
    url = f"http://127.0.0.1:{port}/upload"
    too_big = requests.post(url, files={"file": ("big.txt", b"x" * 3000)}, timeout=5)
    assert too_big.status_code == 413 and "larger than the limit of 2048 bytes" in too_big.text
    fits = requests.post(url, files={"file": ("small.txt", b"x" * 1000)}, timeout=5)
    assert fits.status_code == 200 and "1000 bytes" in fits.text


SLEEPER = textwrap.dedent("""
    import time

    def app(environ, start_response):
        time.sleep(0.4)
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "5")])
        return [b"slept"]
""")


def _three_at_once(port):
    """Seconds until all of three concurrent requests to the sleeper are answered."""
    started = time.monotonic()
    threads = [threading.Thread(target=requests.get, args=(f"http://127.0.0.1:{port}/",),
                                kwargs={"timeout": 10}) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.monotonic() - started


def test_max_workers_bounds_the_requests_running_at_once(run, tmp_path):
    (tmp_path / "sleeper.py").write_text(SLEEPER)
    one, many = free_port(), free_port()
    run(*FASTCORE, "run", "sleeper:app", "--port", str(one), "--max-workers", "1").wait_for(
        "Running on")
    run(*FASTCORE, "run", "sleeper:app", "--port", str(many)).wait_for("Running on")
    assert _three_at_once(one) >= 1.1  # one after another: 3 x 0.4 s
    assert _three_at_once(many) < 1.0  # side by side (100 by default)


@pytest.mark.parametrize("argv, message", [
    (["--max-workers", "0"], "expected a whole number of at least 1"),
    (["--max-workers", "two"], "expected a whole number of at least 1"),
    (["--max-workers", "4", "--no-threads"], "--max-workers sets the threads of threaded mode"),
])
def test_max_workers_refuses_a_count_it_cannot_use(tmp_path, argv, message):
    result = subprocess.run([*FASTCORE, "run", *argv], cwd=tmp_path, capture_output=True,
                            text=True, timeout=30)
    assert result.returncode == 2 and message in result.stderr


@pytest.mark.parametrize("value, size", [("1048576", 1 << 20), ("512K", 512 << 10),
                                         ("10m", 10 << 20), ("1G", 1 << 30)])
def test_size_option_values(value, size):
    from fastcore.cli import build_parser

    args = build_parser().parse_args(["run", "--max-content-length", value])
    assert args.max_content_length == size


@pytest.mark.parametrize("value", ["", "K", "1.5M", "-1", "10T"])
def test_size_option_refuses_what_is_not_a_size(value, capsys):
    from fastcore.cli import build_parser

    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args(["run", "--max-content-length", value])
    assert exit_info.value.code == 2
    assert "expected a size like" in capsys.readouterr().err


def test_version_names_fastcore_werkzeug_python_and_the_parser(tmp_path):
    from fastcore import __version__
    from fastcore.parser import COMPILED

    for command in (FASTCORE, [os.path.join(os.path.dirname(sys.executable), "fastcore")]):
        result = subprocess.run([*command, "--version"], capture_output=True, text=True,
                                timeout=30, cwd=tmp_path)  # not the checkout's fastcore/
        assert result.returncode == 0
        lines = result.stdout.splitlines()
        assert lines[0].startswith(f"fastcore {__version__} (parser: ")
        assert ("compiled" in lines[0]) == COMPILED
        assert lines[1] == f"Werkzeug {importlib.metadata.version('werkzeug')}"
        assert lines[2].startswith(f"Python {sys.version.split()[0]}")


def test_the_banner_says_when_the_parser_is_the_pure_one(run, tmp_path):
    port = free_port()
    server = run(*FASTCORE, "run", "--port", str(port), env={"FASTCORE_NO_EXTENSIONS": "1"})
    output = server.wait_for("Press CTRL+C")
    assert "Parser: pure Python, several times slower (FASTCORE_NO_EXTENSIONS is set)" in output
    result = subprocess.run([*FASTCORE, "--version"], capture_output=True, text=True, timeout=30,
                            cwd=tmp_path, env={**os.environ, "FASTCORE_NO_EXTENSIONS": "1"})
    assert "(parser: pure Python (FASTCORE_NO_EXTENSIONS is set))" in result.stdout


# -- what a new user runs into ------------------------------------------------------------

APP_FILES = {
    "typo.py": "def app(environ, start_response)\n    return []\n",
    "needs_dep.py": "import no_such_dependency\n",
    "fails.py": "x = 1\nraise RuntimeError('config missing')\n",
    "factories.py": textwrap.dedent("""
        def make(greeting):
            def app(environ, start_response):
                start_response("200 OK", [("Content-Type", "text/plain")])
                return [greeting.encode()]
            return app
        def not_an_app():
            return 42
        def three(a, b, c):
            return []
    """),
}


@pytest.mark.parametrize("spec, message", [
    ("typo.py", "importing typo.py failed: SyntaxError: "),  # the message varies by Python
    ("typo", "importing typo failed: SyntaxError: "),
    ("needs_dep", "importing needs_dep failed: ModuleNotFoundError: No module named "
                  "'no_such_dependency' ("),
    ("fails.py", "importing fails.py failed: RuntimeError: config missing ("),
    ("factories:make(1, 2)", "calling make(1, 2) failed: TypeError: "),
    ("factories:not_an_app", "factories:not_an_app() returned int, not a WSGI app"),
    ("factories:three", "factories:three is neither a WSGI app (environ, start_response) nor a "
                        "factory that takes no arguments"),
])
def test_an_app_that_cannot_be_loaded_is_one_line_with_its_cause(tmp_path, spec, message):
    for name, text in APP_FILES.items():
        (tmp_path / name).write_text(text)
    result = subprocess.run([*FASTCORE, "run", spec], cwd=tmp_path, capture_output=True,
                            text=True, timeout=30)
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("fastcore: error: " + message), result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    if "SyntaxError" in message:
        assert "typo.py, line 1)" in result.stderr


@pytest.mark.parametrize("spec", ["factory_app:create_app", "factory_app"])
def test_a_factory_named_without_parentheses_is_called(run, tmp_path, spec):
    (tmp_path / "factory_app.py").write_text(textwrap.dedent("""
        from flask import Flask

        def create_app():
            app = Flask(__name__)
            app.add_url_rule("/", "index", lambda: "made by create_app")
            return app
    """))
    port = free_port()
    server = run(*FASTCORE, "run", spec, "--port", str(port))
    server.wait_for("Running on")
    assert requests.get(f"http://127.0.0.1:{port}/", timeout=5).text == "made by create_app"


@pytest.mark.parametrize("flag", ["--debug", "--reload"])
def test_a_save_that_breaks_the_app_keeps_the_server_running(run, tmp_path, flag):
    """As under `flask run --debug`: the error is shown (the debugger's page
    with --debug, a 500 with --reload) and the next save serves again."""
    app_file = tmp_path / "edited.py"
    good = textwrap.dedent("""
        def app(environ, start_response):
            start_response("200 OK", [("Content-Type", "text/plain")])
            return [b"VERSION"]
    """)
    app_file.write_text(good.replace("VERSION", "one"))
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    server = run(*FASTCORE, "run", "edited.py", "--port", str(port), flag,
                 env={"PYTHONDONTWRITEBYTECODE": "1"})
    server.wait_for("Running on")
    assert requests.get(url, timeout=5).text == "one"
    time.sleep(1.2)  # the stat reloader compares modification times to the second
    app_file.write_text("def app(environ, start_response)\n    return []\n")
    broken = get_until(url, lambda r: r.status_code == 500)
    assert broken.status_code == 500
    if flag == "--debug":
        assert "SyntaxError" in broken.text and "Werkzeug Debugger" in broken.text
    assert server.proc.poll() is None
    assert "importing edited.py failed: SyntaxError" in server.output
    time.sleep(1.2)
    app_file.write_text(good.replace("VERSION", "two"))
    assert get_until(url, lambda r: r.text == "two").text == "two"
    assert server.stop() == 0


# The package hidden from the command: an import of it fails, as where it is
# not installed.
WITHOUT = "import sys; sys.modules[{name!r}] = None; from fastcore.cli import main; sys.exit(main())"


def test_cert_adhoc_without_cryptography_says_what_to_install(tmp_path):
    result = subprocess.run([sys.executable, "-c", WITHOUT.format(name="cryptography"),
                             "run", "--cert", "adhoc"], cwd=tmp_path, capture_output=True,
                            text=True, timeout=30)
    assert result.returncode == 2
    assert result.stderr == ("fastcore: error: --cert adhoc makes its certificate with the "
                             "'cryptography' package: pip install cryptography\n")


def test_fastcore_flask_without_flask_says_what_to_install(tmp_path):
    result = subprocess.run([sys.executable, "-c", WITHOUT.format(name="flask"), "flask", "run"],
                            cwd=tmp_path, capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "pip install flask" in result.stderr


def test_run_simple_with_the_debugger_leaves_the_app_alone(run, tmp_path):
    """Werkzeug's run_simple never touches the app; only the CLI's --debug
    puts a Flask app in debug mode."""
    port = free_port()
    (tmp_path / "debugflag.py").write_text(textwrap.dedent(f"""
        from flask import Flask, current_app
        app = Flask(__name__)
        app.add_url_rule("/", "index", lambda: f"debug={{current_app.debug}}")
        if __name__ == "__main__":
            from fastcore import run_simple
            run_simple("127.0.0.1", {port}, app, use_debugger=True)
    """))
    server = run(sys.executable, "debugflag.py")
    server.wait_for("Running on")
    assert requests.get(f"http://127.0.0.1:{port}/", timeout=5).text == "debug=False"
    server.stop()
    port = free_port()
    server = run(*FASTCORE, "run", "debugflag:app", "--port", str(port), "--debug")
    server.wait_for("Running on")
    assert get_until(f"http://127.0.0.1:{port}/", lambda r: r.ok).text == "debug=True"


def test_what_load_app_takes_for_an_app_and_for_a_factory(tmp_path, monkeypatch):
    from fastcore.cli import load_app

    (tmp_path / "kinds.py").write_text(textwrap.dedent("""
        from werkzeug.wrappers import Request, Response

        @Request.application
        def decorated(request):  # an app: the decorator takes (*args)
            return Response("decorated")

        def create_app(config=None, debug=False):  # a factory by its name
            return decorated

        def plain(environ, start_response):
            return []

        def make_plain():
            return plain
    """))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.chdir(tmp_path)
    import kinds

    assert load_app("kinds:decorated") is kinds.decorated
    assert load_app("kinds:create_app") is kinds.decorated
    assert load_app("kinds:plain") is kinds.plain
    assert load_app("kinds:make_plain") is kinds.plain


def test_without_werkzeug_debug_debug_serves_traceback_pages_with_the_reloader(run, tmp_path):
    """--debug where werkzeug.debug cannot be imported (its future in Werkzeug
    is under discussion): one line says so, the reloader still runs, and an
    error answers a 500 page that shows its traceback."""
    (tmp_path / "broken.py").write_text(textwrap.dedent("""
        def app(environ, start_response):
            if environ["PATH_INFO"] == "/ok":
                start_response("200 OK", [("Content-Type", "text/plain")])
                return [b"fine"]
            raise ZeroDivisionError("debug me")
    """))
    blocker = tmp_path / "block"  # its sitecustomize runs in the reloader's child too
    blocker.mkdir()
    (blocker / "sitecustomize.py").write_text("import sys\nsys.modules['werkzeug.debug'] = None\n")
    port = free_port()
    server = run(*FASTCORE, "run", "broken:app", "--port", str(port), "--debug",
                 env={"PYTHONPATH": str(blocker)})
    output = server.wait_for("Press CTRL+C to quit")
    assert output.count("werkzeug.debug is not installed") == 1
    server.wait_for("Restarting with")
    response = get_until(f"http://127.0.0.1:{port}/", lambda r: r.status_code == 500)
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    assert int(response.headers["Content-Length"]) == len(response.content)
    assert "<p>ZeroDivisionError: debug me</p>" in response.text
    traceback_text = html.unescape(response.text.partition("<pre>")[2].partition("</pre>")[0])
    assert traceback_text.startswith("Traceback (most recent call last):")
    assert 'raise ZeroDivisionError("debug me")' in traceback_text
    assert requests.get(f"http://127.0.0.1:{port}/ok", timeout=5).text == "fine"
    assert "Debugger PIN" not in server.output
    assert server.stop() == 0


# The private Werkzeug names fastcore uses, each kept because it is the
# dependency the project builds on (Werkzeug's reloader); a change in one
# must fail here, not at a user's import.
PRIVATE_WERKZEUG_NAMES = {"werkzeug._reloader.reloader_loops"}


def test_fastcore_imports_no_other_private_werkzeug_name():
    import ast
    import pathlib

    import fastcore

    used = set()
    for path in pathlib.Path(fastcore.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("werkzeug"):
                names = [f"{node.module}.{alias.name}" for alias in node.names]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names if alias.name.startswith("werkzeug")]
            else:
                continue
            used.update(name for name in names
                        if any(part.startswith("_") for part in name.split(".")))
    assert used == PRIVATE_WERKZEUG_NAMES


def test_the_werkzeug_names_fastcore_relies_on_are_there():
    import importlib

    for name in PRIVATE_WERKZEUG_NAMES:
        module, _, attribute = name.rpartition(".")
        assert hasattr(importlib.import_module(module), attribute), name
    from werkzeug._reloader import reloader_loops

    for kind in ("stat", "watchdog", "auto"):
        # serving.run_simple makes one so, and calls these methods
        loop = reloader_loops[kind](extra_files=[], exclude_patterns=[], interval=1)
        for method in ("restart_with_reloader", "run", "__enter__", "__exit__"):
            assert callable(getattr(loop, method)), (kind, method)
    import werkzeug.serving

    for public in ("BaseWSGIServer", "WSGIRequestHandler", "ForkingMixIn", "is_ssl_error",
                   "generate_adhoc_ssl_context", "load_ssl_context", "is_running_from_reloader"):
        assert hasattr(werkzeug.serving, public), public
