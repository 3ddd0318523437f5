"""fastcore's reloader (fastcore.reload), in real processes on 127.0.0.1: each
save is served by new code forked from a zygote that imported the
dependencies once; what makes a fork unsafe or stale restarts in full;
nothing is refused or left running. Waits are generous (a busy 2-vCPU
machine restarts slowly); speed is benchmarks/reload.py's business."""

import http.client
import os
import signal
import sys
import textwrap
import threading
import time

import pytest
import requests

from conftest import Process, free_port
from reload import session_pids as session_processes  # benchmarks/reload.py

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="the reloader forks")

# A reload on a loaded machine can take seconds; a test that waits for one
# waits this long.
RELOAD_WAIT = 60

APP = """
import os
{imports}
with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "imports.log"), "a") as log:
    log.write(f"{{os.getpid()}}\\n")  # module-level code: once per process that imports it

def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain"), ("X-Pid", str(os.getpid()))])
    return [({body}).encode()]
"""


def write_app(folder, body='"version 1"', imports=""):
    (folder / "app.py").write_text(APP.format(body=body, imports=imports))


def get_until(url, text, timeout=RELOAD_WAIT):
    """GET ``url`` until its body is ``text`` (any error in between is a
    server still starting); the response."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = requests.get(url, timeout=10)
            if last.text == text:
                return last
        except requests.RequestException as e:
            last = e
        time.sleep(0.05)
    raise AssertionError(f"{url} never answered {text!r}; last: {last!r}")


@pytest.fixture
def serve(tmp_path):
    """``fastcore run app:app --reload`` (or the command given) in a session
    of its own in ``tmp_path``; stopped, and its session emptied, after."""
    started = []

    def start(*command, env=None):
        port = free_port()
        command = command or (sys.executable, "-m", "fastcore", "run", "app:app", "--reload")
        process = Process([*command, "--port", str(port)], cwd=tmp_path, session=True,
                          env={"PYTHONUNBUFFERED": "1", **(env or {})})
        process.url = f"http://127.0.0.1:{port}/"
        started.append(process)
        process.wait_for("Restarting with", timeout=RELOAD_WAIT)
        return process

    yield start
    for process in started:
        sid = process.proc.pid
        process.stop()
        for pid in session_processes(sid):
            os.kill(pid, signal.SIGKILL)


def test_each_save_is_served_by_new_code_whose_module_code_ran_once(serve, tmp_path):
    write_app(tmp_path)
    server = serve()
    get_until(server.url, "version 1")
    pids = set()
    for version in range(2, 5):
        write_app(tmp_path, f'"version {version}"')
        pids.add(get_until(server.url, f"version {version}").headers["X-Pid"])
    assert len(pids) == 3  # a new process for each save
    time.sleep(1)  # nothing else imports the app
    imports = (tmp_path / "imports.log").read_text().split()
    # The supervisor imported it to start, then each child once: 1 + 1 + 3.
    assert len(imports) == 5 and len(set(imports)) == 5, imports
    assert pids <= set(imports)
    assert server.output.count("Detected change in") == 3
    assert "Traceback" not in server.output


def test_an_editor_s_save_burst_is_one_reload(serve, tmp_path):
    write_app(tmp_path)
    server = serve()
    get_until(server.url, "version 1")
    # A temporary file renamed over the module, then touched (a moment later,
    # as on a busy machine), then saved again with the same text.
    temporary = tmp_path / ".app.py.swp"
    temporary.write_text(APP.format(body='"version 2"', imports=""))
    os.replace(temporary, tmp_path / "app.py")
    time.sleep(0.2)
    os.utime(tmp_path / "app.py")
    write_app(tmp_path, '"version 2"')
    get_until(server.url, "version 2")
    time.sleep(1)
    assert server.output.count("Detected change in") == 1, server.output


def _ask_while_saving(url, folder, saves):
    """Send requests, one connection each, while ``saves`` saves are made;
    the statuses (or errors) of all of them."""
    answers = []
    stop = threading.Event()

    def client():
        host, port = url.split("//")[1].rstrip("/").split(":")
        while not stop.is_set() and len(answers) < 200:
            connection = http.client.HTTPConnection(host, int(port), timeout=30)
            try:
                connection.request("GET", "/")
                answers.append(connection.getresponse().status)
            except (OSError, http.client.HTTPException) as e:
                answers.append(repr(e))
            finally:
                connection.close()
            time.sleep(0.01)

    thread = threading.Thread(target=client)
    thread.start()
    for version in range(2, 2 + saves):
        write_app(folder, f'"version {version}"')
        time.sleep(0.25)
    get_until(url, f"version {1 + saves}")
    while len(answers) < 200 and thread.is_alive():
        time.sleep(0.05)
    stop.set()
    thread.join(60)
    return answers


def test_requests_sent_while_saving_ten_times_all_get_answers(serve, tmp_path):
    write_app(tmp_path)
    server = serve()
    get_until(server.url, "version 1")
    answers = _ask_while_saving(server.url, tmp_path, 10)
    assert len(answers) == 200
    assert answers == [200] * 200, [a for a in answers if a != 200]


def _dependency(tmp_path, source):
    """A module in a folder named site-packages (so a dependency, as an
    installed package is), on PYTHONPATH."""
    site = tmp_path / "vendor" / "site-packages"
    site.mkdir(parents=True, exist_ok=True)
    (site / "dep.py").write_text(textwrap.dedent(source))
    return {"PYTHONPATH": str(site)}


def test_a_saved_dependency_restarts_in_full(serve, tmp_path):
    env = _dependency(tmp_path, 'VALUE = "dependency 1"\n')
    write_app(tmp_path, 'dep.VALUE', imports="import dep")
    server = serve(env=env)
    get_until(server.url, "dependency 1")
    (tmp_path / "vendor" / "site-packages" / "dep.py").write_text('VALUE = "dependency 2"\n')
    get_until(server.url, "dependency 2")  # not the zygote's stale copy
    assert "a dependency the zygote had imported: restarting in full" in server.output
    # And the fast path is back for the project's files.
    write_app(tmp_path, '"version 2 " + dep.VALUE', imports="import dep")
    get_until(server.url, "version 2 dependency 2")


def test_a_dependency_that_starts_a_thread_at_import_forces_full_restarts(serve, tmp_path):
    env = _dependency(tmp_path, """
        import threading
        threading.Thread(target=threading.Event().wait, daemon=True).start()
        VALUE = "threads"
    """)
    write_app(tmp_path, 'dep.VALUE', imports="import dep")
    server = serve(env=env)
    get_until(server.url, "threads")
    server.wait_for("importing dep started a thread", timeout=RELOAD_WAIT)
    write_app(tmp_path, '"version 2 " + dep.VALUE', imports="import dep")
    get_until(server.url, "version 2 threads")
    assert "Restarting in full" in server.output
    write_app(tmp_path, '"version 3 " + dep.VALUE', imports="import dep")
    get_until(server.url, "version 3 threads")
    assert "Traceback" not in server.output


def test_sigterm_during_a_reload_leaves_no_process(serve, tmp_path):
    write_app(tmp_path)
    server = serve()
    get_until(server.url, "version 1")
    sid = server.proc.pid
    assert len(session_processes(sid)) == 3  # supervisor, zygote, child
    write_app(tmp_path, '"version 2"')
    time.sleep(0.02)  # the reload under way
    server.proc.send_signal(signal.SIGTERM)
    assert server.proc.wait(RELOAD_WAIT) == 0
    deadline = time.monotonic() + RELOAD_WAIT
    while session_processes(sid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert session_processes(sid) == []
    assert "Traceback" not in server.output


def test_ctrl_c_stops_every_process_without_a_traceback(serve, tmp_path):
    write_app(tmp_path)
    server = serve()
    get_until(server.url, "version 1")
    os.killpg(server.proc.pid, signal.SIGINT)  # as a terminal's Ctrl+C does
    assert server.proc.wait(RELOAD_WAIT) == 0
    deadline = time.monotonic() + RELOAD_WAIT
    while session_processes(server.proc.pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert session_processes(server.proc.pid) == []
    assert "Traceback" not in server.output


FLASK_SCRIPT = """
from flask import Flask
import fastcore

app = Flask(__name__)

@app.route("/")
def index():
    return "{body}"

if __name__ == "__main__":
    import sys
    fastcore.patch_werkzeug()
    app.run(port=int(sys.argv[sys.argv.index("--port") + 1]), debug=True{options})
"""


def test_app_run_debug_true_reloads_through_fastcore_s_reloader(serve, tmp_path):
    script = tmp_path / "flaskapp.py"
    script.write_text(FLASK_SCRIPT.format(body="flask 1", options=""))
    server = serve(sys.executable, "flaskapp.py")
    get_until(server.url, "flask 1")
    assert "Restarting with fastcore's reloader" in server.output
    script.write_text(FLASK_SCRIPT.format(body="flask 2", options=""))
    get_until(server.url, "flask 2")
    assert "Debugger PIN" in server.output  # the debugger runs in each child


def test_reloader_type_stat_is_werkzeug_s(serve, tmp_path):
    script = tmp_path / "flaskapp.py"
    script.write_text(FLASK_SCRIPT.format(body="flask 1", options=', reloader_type="stat"'))
    server = serve(sys.executable, "flaskapp.py")
    get_until(server.url, "flask 1")
    assert "Restarting with stat" in server.output
    assert "fastcore's reloader" not in server.output


def test_fastcore_reloader_stat_in_the_environment_is_werkzeug_s(serve, tmp_path):
    write_app(tmp_path)
    server = serve(env={"FASTCORE_RELOADER": "stat"})
    get_until(server.url, "version 1")
    assert "Restarting with stat" in server.output


def test_a_file_saved_after_its_process_began_to_load_counts_as_new_even_unchanged(tmp_path):
    """A save between the child's import and its report of what it imported
    (the supervisor starts watching then) must not be taken for the text the
    child runs: saving that text again is a new version. A file older than
    the load keeps the rule that the same text saved again is no change."""
    from fastcore.reload.watch import Watcher

    loaded, saved_later = tmp_path / "loaded.py", tmp_path / "saved_later.py"
    loaded.write_text("x = 1\n")
    started = time.time()
    os.utime(loaded, (started - 10, started - 10))
    saved_later.write_text("x = 2\n")
    os.utime(saved_later, (started + 1, started + 1))
    watcher = Watcher(lambda: None)
    try:
        watcher.add_files({str(loaded): "project", str(saved_later): "project"},
                          loaded_after=started)
        same = {os.path.realpath(loaded): "project", os.path.realpath(saved_later): "project"}
        assert watcher.new_versions(same) == {os.path.realpath(saved_later): "project"}
        assert watcher.new_versions(same) == {}  # taken now: the same text again is no change
    finally:
        watcher.stop()
