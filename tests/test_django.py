"""``manage.py runserver`` served by fastcore, in a real Django project made by
``django-admin startproject`` with ``"fastcore.django"`` first in
INSTALLED_APPS: pages, static files, CSRF-checked forms, bodies and uploads
read Django's way, the admin, Django's autoreloader and its signals, each
through a real socket on 127.0.0.1."""

import hashlib
import os
import re
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time

import pytest
import requests

from conftest import RESTART_WAIT, Process, get_until

django = pytest.importorskip("django")

VIEWS = textwrap.dedent('''
    import hashlib
    import os
    import threading
    import time

    from django.shortcuts import render

    from django.http import HttpResponse, JsonResponse
    from django.middleware.csrf import get_token
    from django.views.decorators.csrf import csrf_exempt

    def page(request):
        return HttpResponse("page version 1")

    def form(request):
        if request.method == "POST":
            return HttpResponse("hello " + request.POST["name"])
        return HttpResponse(get_token(request))

    @csrf_exempt
    def body(request):
        data = request.body
        return JsonResponse({"sha256": hashlib.sha256(data).hexdigest(), "length": len(data)})

    @csrf_exempt
    def upload(request):
        data = request.FILES["file"].read()
        return JsonResponse({"sha256": hashlib.sha256(data).hexdigest(), "length": len(data),
                             "field": request.POST["field"]})

    def sleep(request):
        time.sleep(float(request.GET["s"]))
        return HttpResponse("slept")

    def pid(request):
        return HttpResponse(str(os.getpid()))

    def hello(request):
        return render(request, "pages/hello.html")
''')

# Receivers of Django's autoreload signals, as apps such as
# django-browser-reload connect them: a folder of notes is watched, and a
# saved note is handled (True: no restart needed).
APPS = textwrap.dedent('''
    import os
    from pathlib import Path

    from django.apps import AppConfig
    from django.utils.autoreload import autoreload_started, file_changed

    NOTES = Path(__file__).resolve().parent / "notes"

    def watch_notes(sender, **kwargs):
        sender.watch_dir(NOTES, "*.txt")

    def note_changed(sender, file_path, **kwargs):
        if file_path.suffix == ".txt":
            with open(NOTES / "seen.log", "a") as log:
                log.write(f"{file_path.name} {os.getpid()}\\n")
            return True
        return None

    class PagesConfig(AppConfig):
        name = "pages"

        def ready(self):
            autoreload_started.connect(watch_notes)
            file_changed.connect(note_changed)
''')

URLS = textwrap.dedent('''
    from django.contrib import admin
    from django.urls import path

    from pages import views

    urlpatterns = [
        path("admin/", admin.site.urls),
        path("", views.page),
        path("form/", views.form),
        path("body/", views.body),
        path("upload/", views.upload),
        path("sleep/", views.sleep),
        path("pid/", views.pid),
        path("hello/", views.hello),
    ]
''')

STYLESHEET = "body { color: rebeccapurple; }\n" * 40


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """A new project (startproject), fastcore.django listed first, with an app
    of views and a static file."""
    root = tmp_path_factory.mktemp("django")
    subprocess.run([sys.executable, "-m", "django", "startproject", "mysite", str(root)],
                   check=True, timeout=60)
    settings = root / "mysite" / "settings.py"
    settings.write_text(settings.read_text().replace(
        "INSTALLED_APPS = [", 'INSTALLED_APPS = [\n    "fastcore.django",\n    "pages",', 1))
    app = root / "pages"
    (app / "static" / "pages").mkdir(parents=True)
    (app / "__init__.py").write_text("")
    (app / "views.py").write_text(VIEWS)
    (app / "apps.py").write_text(APPS)
    (app / "notes").mkdir()
    (app / "templates" / "pages").mkdir(parents=True)
    (app / "templates" / "pages" / "hello.html").write_text("hello 1")
    (app / "static" / "pages" / "site.css").write_text(STYLESHEET)
    (root / "mysite" / "urls.py").write_text(URLS)
    return root


def test_the_project_lists_fastcore_first(project):
    text = (project / "mysite" / "settings.py").read_text()
    apps = re.search(r"INSTALLED_APPS = \[(.*?)\]", text, re.S).group(1)
    names = re.findall(r"['\"]([\w.]+)['\"]", apps)
    assert names[0] == "fastcore.django" and "pages" in names


class Runserver(Process):
    """``manage.py runserver PORT ...`` in its own session, its output collected."""

    def __init__(self, project, *options, env=None, host="127.0.0.1", port_only=False):
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        with socket.socket(family) as probe:
            probe.bind((host, 0))
            self.port = probe.getsockname()[1]
        address = f"[{host}]" if ":" in host else host
        self.url = f"http://{address}:{self.port}"
        addrport = str(self.port) if port_only else f"{address}:{self.port}"
        super().__init__([sys.executable, "manage.py", "runserver", addrport, *options],
                         cwd=project, env={"PYTHONUNBUFFERED": "1", **(env or {})},
                         session=True)

    def get_until(self, path, predicate, timeout=RESTART_WAIT):
        """GET ``path`` until ``predicate(response)`` (the autoreloader
        restarts the server in between); that response."""
        response = get_until(self.url + path, predicate, timeout)
        assert response is not None and predicate(response), (
            f"{path}: {response and response.text!r}\n{self.output}")
        return response

    def signal(self, signum, group=False):
        """Send ``signum`` (to the whole session with ``group``, as a
        terminal's Ctrl+C does); the exit status, within 10 s."""
        if group:
            os.killpg(self.proc.pid, signum)
        else:
            self.proc.send_signal(signum)
        return self.proc.wait(10)

    def stop(self):  # the autoreloader's child too: the whole session
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait()
        self._reader.join(5)


@pytest.fixture
def runserver(project):
    started = []

    def start(*options, env=None, host="127.0.0.1", port_only=False):
        server = Runserver(project, *options, env=env, host=host, port_only=port_only)
        started.append(server)
        server.wait_for("Quit the server with")
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture(scope="module")
def served(project):
    """One runserver (threaded, with the autoreloader) for the tests that
    only make requests."""
    server = Runserver(project)
    server.wait_for("Quit the server with")
    server.get_until("/", lambda r: r.ok)
    yield server
    server.stop()


def test_runserver_starts_as_django_s_with_its_checks_and_banner(served):
    output = served.output
    assert "Watching for file changes with fastcore's reloader" in output
    assert "Performing system checks..." in output
    assert "System check identified no issues" in output
    assert "unapplied migration(s)" in output  # the migration warning
    assert f"Starting development server at http://127.0.0.1:{served.port}/" in output


def test_a_page_is_served_by_fastcore_and_logged_as_runserver_logs_it(served):
    response = requests.get(served.url + "/", timeout=5)
    assert response.status_code == 200 and response.text == "page version 1"
    assert response.headers["Server"].startswith("fastcore/")
    served.wait_for('"GET / HTTP/1.1" 200 14')
    assert re.search(r'^\[\d\d/\w{3}/\d{4} \d\d:\d\d:\d\d\] "GET / HTTP/1\.1" 200 14$',
                     served.output, re.M), served.output
    requests.get(served.url + "/nothere/", timeout=5)
    served.wait_for('"GET /nothere/ HTTP/1.1" 404 ')


def test_a_static_file_of_an_app_is_served(served):
    response = requests.get(served.url + "/static/pages/site.css", timeout=5)
    assert response.status_code == 200 and response.text == STYLESHEET
    served.wait_for(f'"GET /static/pages/site.css HTTP/1.1" 200 {len(STYLESHEET)}')


def test_a_form_post_passes_django_s_csrf_check(served):
    session = requests.Session()
    token = session.get(served.url + "/form/", timeout=5).text
    refused = requests.post(served.url + "/form/", data={"name": "x"}, timeout=5)
    assert refused.status_code == 403  # no token: Django's CSRF check refuses it
    response = session.post(served.url + "/form/", timeout=5,
                            data={"name": "Ada", "csrfmiddlewaretoken": token},
                            headers={"Referer": served.url + "/form/"})
    assert response.status_code == 200 and response.text == "hello Ada"


def test_an_87_kb_body_arrives_whole_in_request_body(served):
    # (Content-Length framed: Django reads CONTENT_LENGTH bytes and no more,
    # so a chunked body reaches a Django view empty, under any server.)
    body = os.urandom(87 * 1024)
    response = requests.post(served.url + "/body/", data=body, timeout=10,
                             headers={"Content-Type": "application/octet-stream"})
    assert response.json() == {"sha256": hashlib.sha256(body).hexdigest(), "length": len(body)}


def test_a_multipart_upload_arrives_whole_in_request_files(served):
    content = os.urandom(300 * 1024)
    response = requests.post(served.url + "/upload/", timeout=10, data={"field": "value"},
                             files={"file": ("data.bin", content, "application/octet-stream")})
    assert response.json() == {"sha256": hashlib.sha256(content).hexdigest(),
                                "length": len(content), "field": "value"}


def test_the_admin_login_page(served):
    response = requests.get(served.url + "/admin/login/", timeout=5)
    assert response.status_code == 200 and "Django administration" in response.text
    assert "csrfmiddlewaretoken" in response.text


def _slow_and_quick(server):
    """Seconds a quick request took while a slow one (3 s) ran."""
    slow = threading.Thread(target=requests.get, args=(server.url + "/sleep/?s=3",),
                            kwargs={"timeout": 30})
    slow.start()
    time.sleep(0.15)
    started = time.monotonic()
    assert requests.get(server.url + "/", timeout=10).ok
    took = time.monotonic() - started
    slow.join()
    return took


def test_threaded_by_default_and_one_request_at_a_time_with_nothreading(runserver):
    threaded = runserver("--noreload")
    threaded.get_until("/", lambda r: r.ok)
    assert _slow_and_quick(threaded) < 1.5
    single = runserver("--noreload", "--nothreading")
    single.get_until("/", lambda r: r.ok)
    assert _slow_and_quick(single) > 1.5  # it waited for the slow one


def server_says(server, text):
    try:
        return requests.get(server.url + "/", timeout=10).text == text
    except requests.RequestException:  # restarting
        return False


def save_until(path, text, seen, server):
    """Save ``text`` to ``path`` again every few seconds until ``seen()``: a
    save made before the reloader watches the file goes unseen (Django's
    stat reloader looks once a second, by modification time)."""
    deadline = time.monotonic() + RESTART_WAIT
    while True:
        path.write_text(text)
        look_until = time.monotonic() + 3
        while time.monotonic() < look_until:
            if seen():
                return
            time.sleep(0.1)
        assert time.monotonic() < deadline, server.output


def test_an_edit_is_picked_up_and_a_syntax_error_does_not_kill_the_reloader(runserver, project):
    views = project / "pages" / "views.py"
    server = runserver()
    server.get_until("/", lambda r: r.text == "page version 1")
    try:
        save_until(views, VIEWS.replace("page version 1", "page version 2"),
                   lambda: server_says(server, "page version 2"), server)
        save_until(views, VIEWS.replace("def page(request):", "def page(request)"),
                   lambda: "SyntaxError" in server.output, server)
        save_until(views, VIEWS.replace("page version 1", "page version 3"),
                   lambda: server_says(server, "page version 3"), server)
        assert server.proc.poll() is None
    finally:
        views.write_text(VIEWS)
    assert server.signal(signal.SIGINT, group=True) == 0  # Ctrl+C in its terminal


def test_a_template_save_is_served_by_the_same_process(runserver, project):
    """Django's template_changed receiver handles it (resets the loaders):
    no restart, as with Django's own reloader."""
    template = project / "pages" / "templates" / "pages" / "hello.html"
    server = runserver()
    server.get_until("/hello/", lambda r: r.text == "hello 1")
    pid = requests.get(server.url + "/pid/", timeout=10).text
    try:
        # Saved until it is served: a save before the folder is watched (the
        # child reports it once it serves) goes unseen, as it would by Django's.
        deadline = time.monotonic() + 60
        while requests.get(server.url + "/hello/", timeout=10).text != "hello 2":
            assert time.monotonic() < deadline, server.output
            template.write_text("hello 2")
            time.sleep(0.5)
    finally:
        template.write_text("hello 1")
    assert requests.get(server.url + "/pid/", timeout=10).text == pid
    assert "Detected change" not in server.output


def test_file_changed_receivers_run_in_the_serving_process(runserver, project):
    notes = project / "pages" / "notes"
    server = runserver()
    pid = server.get_until("/pid/", lambda r: r.ok).text
    deadline = time.monotonic() + 60
    seen = notes / "seen.log"
    saves = 0
    while not (seen.exists() and f"todo.txt {pid}" in seen.read_text()):
        assert time.monotonic() < deadline, server.output
        saves += 1  # saved until seen (see the template test)
        (notes / "todo.txt").write_text(f"note {saves}")
        time.sleep(0.5)
    time.sleep(0.5)
    # Handled by the receiver: the same process serves on.
    assert requests.get(server.url + "/pid/", timeout=10).text == pid


def test_no_request_is_refused_or_reset_across_reloads(runserver, project):
    views = project / "pages" / "views.py"
    server = runserver()
    server.get_until("/", lambda r: r.text == "page version 1")
    answers = []
    done = threading.Event()

    def client():
        while not done.is_set() and len(answers) < 300:
            try:
                answers.append(requests.get(server.url + "/", timeout=30).status_code)
            except requests.RequestException as e:
                answers.append(repr(e))
            time.sleep(0.005)

    thread = threading.Thread(target=client)
    thread.start()
    try:
        for version in (2, 3, 4):
            views.write_text(VIEWS.replace("page version 1", f"page version {version}"))
            server.get_until("/", lambda r, v=version: r.text == f"page version {v}")
    finally:
        done.set()
        thread.join(60)
        views.write_text(VIEWS)
    assert answers and all(answer == 200 for answer in answers), answers


def test_with_noreload_sigterm_exits_cleanly(runserver):
    server = runserver("--noreload")
    assert server.get_until("/", lambda r: r.ok).text == "page version 1"
    assert server.signal(signal.SIGTERM) == 0
    assert "Traceback" not in server.output


def test_sigterm_under_the_autoreloader_exits_cleanly(runserver):
    server = runserver()
    server.get_until("/", lambda r: r.ok)
    assert server.signal(signal.SIGTERM, group=True) == 0
    assert "Traceback" not in server.output


def test_fastcore_disable_runs_django_s_own_server(runserver):
    server = runserver("--noreload", env={"FASTCORE_DISABLE": "1"})
    response = server.get_until("/", lambda r: r.ok)
    assert response.headers["Server"].startswith("WSGIServer/")


@pytest.mark.parametrize("option", [None, "--ipv6"])
def test_an_ipv6_address_and_port_or_ipv6_and_a_port(runserver, option):
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
    except OSError:
        pytest.skip("no ::1 here")
    options = ("--noreload",) if option is None else ("--noreload", option)
    server = runserver(*options, host="::1", port_only=option is not None)
    server.wait_for(f"Starting development server at http://[::1]:{server.port}/")
    response = server.get_until("/", lambda r: r.ok)
    assert response.text == "page version 1" and response.headers["Server"].startswith("fastcore/")


def test_skip_checks_and_nostatic(runserver):
    server = runserver("--noreload", "--skip-checks", "--nostatic")
    assert server.get_until("/", lambda r: r.ok).headers["Server"].startswith("fastcore/")
    assert "Performing system checks" not in server.output
    assert requests.get(server.url + "/static/pages/site.css", timeout=5).status_code == 404
