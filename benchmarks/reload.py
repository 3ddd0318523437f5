"""The edit loop, timed: from writing a ``.py`` file to the first response
that carries the new code, for each reloader on the same projects, in one run.

    python benchmarks/reload.py --rounds 10 [--only NAME ...] [--json FILE]
    python benchmarks/reload.py --idle

A small Flask app (``app.py``, one route) and a Django startproject with one
app and one view are made in a temporary folder. Each server starts, serves
the first version, then each round waits a random 0.3-1.5 s (so the save
falls at any phase of a polling reloader), writes the view's module with a
new version string, and polls ``/`` (a new connection each time, every
2 ms) until that string comes back. Printed: the median, min and max of the
rounds, the requests that failed during them (refused, reset or closed
without an answer; a response with the old text is not a failure), and the
saves never served (``missed``: not within 30 s; the next round saves again).

Servers (each only where its package is installed): fastcore's reloader
through ``fastcore run --reload``, ``--live-reload``, ``fastcore flask run
--reload``, ``app.run(debug=True)`` with ``patch_werkzeug()`` and Django's
``runserver`` with ``fastcore.django``; Werkzeug's stat and watchdog
reloaders (``run_simple``); ``flask run --reload``; Django's own
``runserver``; ``granian --interface wsgi --reload``.

``--idle`` measures instead the CPU that fastcore's reloader uses over 10 s
with nothing saved (the supervisor and the zygote, and the serving child
apart), for the Flask app importing one module from each of 250 packages of
a made-up 5,000-file site-packages. Only 127.0.0.1 is contacted.
"""

import argparse
import http.client
import importlib.util
import json
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

from live_reload import cpu_seconds  # every thread's, from /proc/PID/task/*/schedstat

FLASK_APP = '''\
from flask import Flask
{imports}
app = Flask(__name__)


@app.route("/")
def index():
    return "{version}"


if __name__ == "__main__":  # app.run(debug=True), served by fastcore
    import sys

    import fastcore

    fastcore.patch_werkzeug()
    app.run(port=int(sys.argv[1]), debug=True)
'''

WERKZEUG = '''\
import sys

from werkzeug.serving import run_simple

from app import app

run_simple("127.0.0.1", int(sys.argv[1]), app, use_reloader=True, reloader_type=sys.argv[2])
'''

DJANGO_VIEW = '''\
from django.http import HttpResponse


def index(request):
    return HttpResponse("{version}")
'''

DJANGO_URLS = '''\
from django.contrib import admin
from django.urls import path

from pages.views import index

urlpatterns = [path("admin/", admin.site.urls), path("", index)]
'''


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_projects(root, imports=""):
    flask_dir = os.path.join(root, "flask_site")
    os.makedirs(flask_dir)
    with open(os.path.join(flask_dir, "app.py"), "w") as f:
        f.write(FLASK_APP.format(version="version 0", imports=imports))
    with open(os.path.join(flask_dir, "werkzeug_reloader.py"), "w") as f:
        f.write(WERKZEUG)
    django_dir = os.path.join(root, "django_site")
    if importlib.util.find_spec("django") is not None:
        os.makedirs(django_dir)
        subprocess.run([sys.executable, "-m", "django", "startproject", "mysite", django_dir],
                       check=True, capture_output=True, timeout=120)
        settings = os.path.join(django_dir, "mysite", "settings.py")
        with open(settings) as f:
            text = f.read()
        with open(settings, "w") as f:
            f.write(text.replace("INSTALLED_APPS = [",
                                 'INSTALLED_APPS = [\n    "fastcore.django",\n    "pages",', 1))
        os.makedirs(os.path.join(django_dir, "pages"))
        open(os.path.join(django_dir, "pages", "__init__.py"), "w").close()
        with open(os.path.join(django_dir, "pages", "views.py"), "w") as f:
            f.write(DJANGO_VIEW.format(version="version 0"))
        with open(os.path.join(django_dir, "mysite", "urls.py"), "w") as f:
            f.write(DJANGO_URLS)
    return flask_dir, django_dir


def servers(flask_dir, django_dir):
    """name -> (folder, command with {port}, environment, file to save, its template)."""
    python = sys.executable
    app = os.path.join(flask_dir, "app.py")
    view = os.path.join(django_dir, "pages", "views.py")
    found = {
        "fastcore run --reload": (flask_dir, [python, "-m", "fastcore", "run", "app:app",
                                              "--reload", "--port", "{port}"], {}),
        "fastcore run --live-reload": (flask_dir, [python, "-m", "fastcore", "run", "app:app",
                                                   "--live-reload", "--port", "{port}"], {}),
        "fastcore flask run --reload": (flask_dir, [python, "-m", "fastcore", "flask", "--app",
                                                    "app", "run", "--reload", "--port",
                                                    "{port}"], {}),
        "app.run(debug=True), fastcore": (flask_dir, [python, "app.py", "{port}"], {}),
        "Werkzeug's stat reloader": (flask_dir, [python, "werkzeug_reloader.py", "{port}",
                                                 "stat"], {}),
        "Werkzeug's watchdog reloader": (flask_dir, [python, "werkzeug_reloader.py", "{port}",
                                                     "watchdog"], {}),
        "flask run --reload": (flask_dir, [python, "-m", "flask", "--app", "app", "run",
                                           "--reload", "--port", "{port}"], {}),
        "runserver, fastcore.django": (django_dir, [python, "manage.py", "runserver",
                                                    "127.0.0.1:{port}"], {}),
        "runserver, Django's own": (django_dir, [python, "manage.py", "runserver",
                                                 "127.0.0.1:{port}"], {"FASTCORE_DISABLE": "1"}),
        "granian --reload": (flask_dir, [python, "-m", "granian", "--interface", "wsgi",
                                         "--reload", "--port", "{port}", "app:app"], {}),
    }
    available = {}
    for name, (folder, command, env) in found.items():
        if folder == django_dir and importlib.util.find_spec("django") is None:
            continue
        if "granian" in name and importlib.util.find_spec("granian") is None:
            continue
        if "watchdog" in name and importlib.util.find_spec("watchdog") is None:
            continue
        saved, template = (view, DJANGO_VIEW) if folder == django_dir else (app, FLASK_APP)
        available[name] = (folder, command, env, saved, template)
    return available


def ask(port):
    """The body of GET / (None when the request failed) and whether it failed."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", "/")
        return connection.getresponse().read().decode(errors="replace"), False
    except (OSError, http.client.HTTPException):
        return None, True
    finally:
        connection.close()


def start(folder, command, env, port, timeout=60):
    process = subprocess.Popen([part.format(port=port) for part in command], cwd=folder,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               env={**os.environ, **env}, start_new_session=True)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body, failed = ask(port)
        if body is not None and "version 0" in body:
            return process
        time.sleep(0.05)
    stop(process)
    raise RuntimeError(f"{command[:4]} did not start in {timeout} s")


def stop(process):
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(20)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        pass
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait()


def time_rounds(name, spec, rounds, imports, give_up=30.0):
    folder, command, env, saved, template = spec
    port = free_port()
    with open(saved, "w") as f:
        f.write(template.format(version="version 0", imports=imports))
    process = start(folder, command, env, port)
    times, failed, missed = [], 0, 0
    try:
        time.sleep(1.0)  # settled: its first look at the files is done
        for number in range(1, rounds + 1):
            time.sleep(random.uniform(0.3, 1.5))
            wanted = f"version {number}"
            started = time.monotonic()
            with open(saved, "w") as f:
                f.write(template.format(version=wanted, imports=imports))
            while True:
                body, request_failed = ask(port)
                failed += request_failed
                if body is not None and wanted in body:
                    times.append((time.monotonic() - started) * 1000)
                    break
                if time.monotonic() - started > give_up:  # this save was never picked up
                    missed += 1
                    break
                time.sleep(0.002)
    finally:
        stop(process)
    if not times:
        raise RuntimeError(f"{name}: no save was served within {give_up} s")
    return times, failed, missed


def session_pids(sid):
    """The pids of the live processes in session ``sid`` (Linux's /proc)."""
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if fields[0] != "Z" and int(fields[3]) == sid:
                pids.append(int(entry))
    return pids


def fake_site_packages(root, packages=250, files=20):
    """A site-packages folder of ``packages`` packages of ``files`` modules
    (5,000 files by default); the import lines that load one module of each."""
    site = os.path.join(root, "vendor", "site-packages")
    for number in range(packages):
        package = os.path.join(site, f"dep{number}")
        os.makedirs(package)
        for index in range(files):
            name = "__init__.py" if index == 0 else f"mod{index}.py"
            with open(os.path.join(package, name), "w") as f:
                f.write(f"VALUE = {index}\n")
    return site, "\n".join(f"import dep{number}.mod1" for number in range(packages))


def idle(root, seconds=10.0):
    site, imports = fake_site_packages(root)
    flask_dir, _ = make_projects(os.path.join(root, "idle"), imports)
    port = free_port()
    env = {"PYTHONPATH": site}
    process = start(flask_dir, [sys.executable, "-m", "fastcore", "run", "app:app", "--reload",
                                "--port", "{port}"], env, port)
    try:
        time.sleep(3.0)  # the zygote has imported what the child reported
        parents = {pid: parent(pid) for pid in session_pids(process.pid)}
        before = {pid: cpu_seconds(pid) for pid in parents}
        time.sleep(seconds)
        used = {pid: cpu_seconds(pid) - before[pid] for pid in parents}
    finally:
        stop(process)
    supervisor = process.pid
    # The zygote is the supervisor's child; the serving child is the zygote's.
    zygote = next(pid for pid, ppid in parents.items() if ppid == supervisor)
    serving = sum(used[pid] for pid in parents if pid not in (supervisor, zygote))
    print(f"idle CPU over {seconds:.0f} s, 5,000-file site-packages (250 packages imported):")
    print(f"  supervisor (watcher) {used[supervisor] * 1000:.2f} ms, zygote "
          f"{used[zygote] * 1000:.2f} ms, reloader in all "
          f"{(used[supervisor] + used[zygote]) * 1000:.2f} ms; serving child {serving * 1000:.2f} ms")


def parent(pid):
    with open(f"/proc/{pid}/stat") as f:
        return int(f.read().rsplit(")", 1)[1].split()[1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--only", action="append", help="run only servers whose name has this")
    parser.add_argument("--json", help="write the results to this file")
    parser.add_argument("--idle", action="store_true", help="measure the idle reloader's CPU")
    args = parser.parse_args()
    root = tempfile.mkdtemp(prefix="fastcore-reload-")
    try:
        if args.idle:
            idle(root)
            return
        flask_dir, django_dir = make_projects(root)
        results = {}
        print(f"save -> served, {args.rounds} rounds each (ms); Python {sys.version.split()[0]}")
        print(f"{'server':34} {'median':>8} {'min':>8} {'max':>8} {'failed':>7} {'missed':>7}")
        for name, spec in servers(flask_dir, django_dir).items():
            if args.only and not any(part in name for part in args.only):
                continue
            try:
                times, failed, missed = time_rounds(name, spec, args.rounds, "")
            except RuntimeError as e:
                print(f"{name:34} {e}")
                continue
            results[name] = {"median": statistics.median(times), "min": min(times),
                             "max": max(times), "failed": failed, "missed": missed,
                             "rounds": times}
            print(f"{name:34} {statistics.median(times):8.0f} {min(times):8.0f} "
                  f"{max(times):8.0f} {failed:7d} {missed:7d}", flush=True)
        if args.json:
            with open(args.json, "w") as f:
                json.dump(results, f, indent=1)
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
