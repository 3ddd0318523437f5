"""fastcore side by side with the servers and parsers a user might pick instead.

    pip install ".[bench]"          # in a checkout
    python benchmarks/compare.py    # thorough: ~20 minutes
    python benchmarks/compare.py --quick --json out.json --png out.png

Two sections. *parser*: raw request bytes -> a complete WSGI environ, and
chunked-body decoding throughput, for fastcore (compiled and pure), the
Werkzeug/stdlib path, httptools and h11; every environ is checked equal to
Werkzeug's before it is timed, and a mismatch is reported instead of timed.
*server*: each server alone in one process pinned to CPU 0, the load
generator on CPU 1 (wrk when installed, else a bounded Python client),
warm-up first, then repeats, taken in rounds over every server so that drift
hits all alike: requests/s, p50 and p99 latency, the server's peak RSS and
its CPU time per request (user and system, from /proc: it moves less with
the machine's luck than requests/s does), median and spread; for fastcore
and granian (the peer it is measured against) also system calls, futex calls and
context switches per request (``perf stat`` on its PID during one extra run,
since tracing slows it; skipped with a line where perf cannot read the
tracepoints). Each server
runs as its users run it: fastcore through its CLI (threads and access log
on), granian with its defaults (no access log). Peers that are not installed are skipped with a
line saying how to get them. Every process started is stopped by its PID,
also on Ctrl+C. Only 127.0.0.1 is ever contacted.
"""

import argparse
import datetime
import importlib
import importlib.metadata
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import timeit

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import corpus  # noqa: E402
import load_apps  # noqa: E402
import peers  # noqa: E402

# -- what is compared --------------------------------------------------------

PARSERS = {  # name -> (module that must import, adapter factory)
    "fastcore": ("fastcore._parser",
                 lambda: peers.fastcore_environ(importlib.import_module("fastcore._parser"))),
    "fastcore_pure": ("fastcore._parser_py",
                      lambda: peers.fastcore_environ(importlib.import_module("fastcore._parser_py"))),
    "werkzeug": ("werkzeug", peers.werkzeug_environ),
    "httptools": ("httptools", peers.httptools_environ),
    "h11": ("h11", peers.h11_environ),
}
DECODERS = {
    "fastcore": ("fastcore._parser",
                 lambda: peers.fastcore_decode(importlib.import_module("fastcore._parser"))),
    "fastcore_pure": ("fastcore._parser_py",
                      lambda: peers.fastcore_decode(importlib.import_module("fastcore._parser_py"))),
    "werkzeug": ("werkzeug", lambda: peers.werkzeug_decode),
    "httptools": ("httptools", lambda: peers.httptools_decode),
}
REQUESTS = {**corpus.REQUESTS, "many_fields_50": corpus.MANY_FIELDS}
CHUNK_SIZES = (64, 4096, 65536)

_PY = "import sys\nsys.path.insert(0, {here!r})\nfrom load_apps import {app} as app\n"
_RUNSERVER = ("import os, sys\nsys.path.insert(0, os.path.join({here!r}, 'django_site'))\n"
              "os.environ.update(DJANGO_SETTINGS_MODULE='bench_settings', FASTCORE_DISABLE={disable})\n"
              "from django.core.management import execute_from_command_line\n"
              "execute_from_command_line(['manage.py', 'runserver', '127.0.0.1:{port}', '--noreload'])")
SERVERS = {  # name -> (module that must import, pip name, how to start it)
    # fastcore as its users run it: the CLI's defaults (threads, access log on).
    "fastcore_threaded": ("fastcore", "fastcore-wsgi",
                          ["-m", "fastcore", "run", "load_apps:{app}", "--port", "{port}"]),
    "fastcore_single": ("fastcore", "fastcore-wsgi",
                        ["-m", "fastcore", "run", "load_apps:{app}", "--port", "{port}",
                         "--no-threads"]),
    "werkzeug_threaded": ("werkzeug", "werkzeug",
                          _PY + "from werkzeug.serving import run_simple\n"
                                "run_simple('127.0.0.1', {port}, app, threaded=True)"),
    "werkzeug_single": ("werkzeug", "werkzeug",
                        _PY + "from werkzeug.serving import run_simple\n"
                              "run_simple('127.0.0.1', {port}, app, threaded=False)"),
    "waitress": ("waitress", "waitress",
                 _PY + "import waitress\nwaitress.serve(app, host='127.0.0.1', port={port}, threads=4)"),
    "gunicorn_sync": ("gunicorn", "gunicorn",
                      ["-m", "gunicorn", "-w", "1", "-k", "sync", "--access-logfile", "-",
                       "-b", "127.0.0.1:{port}", "load_apps:{app}"]),
    "gunicorn_gthread": ("gunicorn", "gunicorn",
                         ["-m", "gunicorn", "-w", "1", "-k", "gthread", "--threads", "4",
                          "--access-logfile", "-", "-b", "127.0.0.1:{port}", "load_apps:{app}"]),
    # fastcore's worker under gunicorn's arbiter, with gthread's threads and access log.
    "fastcore_gunicorn": ("gunicorn", "gunicorn",
                          ["-m", "gunicorn", "-w", "1", "-k", "fastcore.gunicorn.Worker",
                           "--threads", "4", "--access-logfile", "-", "-b", "127.0.0.1:{port}",
                           "load_apps:{app}"]),
    # granian as its users run it: its defaults (no access log).
    "granian": ("granian", "granian",
                ["-m", "granian", "--interface", "wsgi", "--workers", "1", "--host", "127.0.0.1",
                 "--port", "{port}", "load_apps:{app}"]),
    "bjoern": ("bjoern", "bjoern", _PY + "import bjoern\nbjoern.run(app, '127.0.0.1', {port})"),
    # A measuring stick, not a server (floor.py): hello world, keep-alive only.
    "floor": ("fastcore", "fastcore-wsgi", _PY + "import floor\nfloor.serve({port}, app)"),
    # For the app that waits (sleep_10ms) only: the peers with threads enough
    # for 100 requests waiting at once (fastcore's max_workers is 100).
    "granian_blocking100": ("granian", "granian",
                            ["-m", "granian", "--interface", "wsgi", "--workers", "1",
                             "--blocking-threads", "100", "--host", "127.0.0.1", "--port",
                             "{port}", "load_apps:{app}"]),
    "gunicorn_gthread100": ("gunicorn", "gunicorn",
                            ["-m", "gunicorn", "-w", "1", "-k", "gthread", "--threads", "100",
                             "--access-logfile", "-", "-b", "127.0.0.1:{port}",
                             "load_apps:{app}"]),
    # A Django project's `manage.py runserver` (django_site/), as its users
    # start it: Django's own server, and fastcore's (fastcore.django, first in
    # its INSTALLED_APPS). Both threaded, logging every request; no reloader.
    "django_runserver": ("django", "django", _RUNSERVER.replace("{disable}", "'1'")),
    "fastcore_runserver": ("django", "django", _RUNSERVER.replace("{disable}", "''")),
}
# The Django project's view (a small page) and a static file (10 KB, served by staticfiles).
DJANGO_APPS = ("django_view", "django_static")
DJANGO_PATHS = {"django_view": b"/", "django_static": b"/static/site.css"}
APPS = ("hello", "flask_hello", "big", "upload", "get_1k", "get_10k", "echo_1k", "echo_10k",
        "echo_100k", "static_50k", "file_wrapper_50k", "flask_json", "sleep_10ms", *DJANGO_APPS)
LOADS = {"keepalive_c1": (1, True), "keepalive_c10": (10, True), "keepalive_c50": (50, True),
         "close_c10": (10, False), "keepalive_c100": (100, True), "keepalive_c512": (512, True)}
# The loads an app is measured under; the others: keep-alive over 10 connections.
APP_LOADS = {"hello": ("keepalive_c1", "keepalive_c10", "keepalive_c50", "close_c10"),
             "sleep_10ms": ("keepalive_c100", "keepalive_c512")}
# Servers that run some apps only (the peers' settings for them; the Django
# project's runserver), and apps only some servers run (the project's pages).
ONLY_APPS = {"granian_blocking100": ("sleep_10ms",), "gunicorn_gthread100": ("sleep_10ms",),
             "django_runserver": DJANGO_APPS, "fastcore_runserver": DJANGO_APPS}
ONLY_SERVERS = {app: ("django_runserver", "fastcore_runserver") for app in DJANGO_APPS}
ECHO_SIZES = {"echo_1k": 1024, "echo_10k": 10240, "echo_100k": 102400}
QUICK_SERVERS = ("fastcore_threaded", "werkzeug_threaded", "waitress")


def installed(module):
    try:
        importlib.import_module(module)
        return True
    except ImportError:
        return False


def package_version(name):
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


class Progress:
    """One line per step: what runs, how many of how many, time left.

    Each step comes with an estimate of its seconds; the time left is the
    estimate of the steps to come, scaled by how the estimates have held up.
    """

    def __init__(self, estimates):
        self.estimates = list(estimates)
        self.done = 0
        self.started = time.monotonic()

    def step(self, what):
        elapsed = time.monotonic() - self.started
        spent_estimate = sum(self.estimates[:self.done])
        scale = elapsed / spent_estimate if spent_estimate > 0 and elapsed > 0 else 1.0
        left = sum(self.estimates[self.done:]) * scale
        self.done += 1
        print(f"[{self.done}/{len(self.estimates)}] {what} ... about {left:.0f}s left", flush=True)


# -- parser section -------------------------------------------------------------

def best_time(function, arg, budget):
    """Best seconds per call: repeats of an auto-sized loop within ``budget``."""
    timer = timeit.Timer(lambda: function(arg))
    number, taken = timer.autorange()
    repeats = max(3, int(budget / max(taken, 1e-6)))
    return min(timer.repeat(repeat=min(repeats, 50), number=number)) / number


def run_parser_section(args, progress, results):
    adapters = {}
    for name, (module, factory) in PARSERS.items():
        if not installed(module):
            print(f"  {name}: not installed, skipped (pip install {module.split('.')[0]})")
            continue
        adapters[name] = factory()
    reference = adapters.get("werkzeug")
    budget = 0.2 if args.quick else 1.5
    for request_name, raw in REQUESTS.items():
        expected = peers.request_keys(reference(raw)) if reference else None
        for name, adapter in adapters.items():
            progress.step(f"parser {name} on {request_name}")
            entry = {"section": "parser", "case": request_name, "impl": name}
            try:
                got = peers.request_keys(adapter(raw))
            except Exception as e:  # noqa: BLE001 - any failure is reported, not timed
                entry["error"] = f"{type(e).__name__}: {e}"
            else:
                if expected is not None and got != expected:
                    entry["error"] = "environ differs from Werkzeug's: " + ", ".join(
                        sorted(k for k in set(got) | set(expected) if got.get(k) != expected.get(k)))
                else:
                    entry["seconds"] = best_time(adapter, raw, budget)
            results.append(entry)
    total = (1 if args.quick else 16) * 1024 * 1024
    for size in CHUNK_SIZES:
        raw, body = corpus.chunked_body(total, size)
        for name, (module, factory) in DECODERS.items():
            if not installed(module):
                continue
            progress.step(f"chunked {name} at {size} B chunks")
            decode = factory()
            entry = {"section": "chunked", "case": f"{size}B", "impl": name}
            if name == "fastcore_pure" and size == 64 and not args.quick:
                entry["error"] = "skipped: seconds per round at 64-byte chunks"
            elif decode(raw) != body:
                entry["error"] = "decoded a different body"
            else:
                seconds = min(timeit.repeat(lambda: decode(raw), number=1, repeat=3))
                entry["seconds"] = seconds
                entry["mb_per_s"] = total / seconds / 1e6
            results.append(entry)


# -- server section -------------------------------------------------------------

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pinned(cpu, command):
    return ["taskset", "-c", str(cpu), *command] if shutil.which("taskset") else command


def start_server(name, app, port):
    recipe = SERVERS[name][2]
    if isinstance(recipe, str):
        command = [sys.executable, "-c", recipe.format(here=HERE, app=app, port=port)]
    else:
        command = [sys.executable, *(part.format(app=app, port=port) for part in recipe)]
    proc = subprocess.Popen(pinned(0, command), cwd=HERE, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{name} exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc
        except OSError:
            time.sleep(0.1)
    stop_process(proc)
    raise RuntimeError(f"{name} did not start within 20 s")


def stop_process(proc):
    """Stop a server and all it started (its own process group), by PID."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def peak_rss_kib(pid):
    """VmHWM of the server and its children (gunicorn's worker is a child)."""
    total = 0
    for candidate in [pid, *_children(pid)]:
        try:
            with open(f"/proc/{candidate}/status") as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        total = max(total, int(line.split()[1]))
        except OSError:
            pass
    return total or None


def cpu_seconds(pid):
    """User and system CPU seconds the server and its children (gunicorn's
    worker) have used so far, every thread counted; None without /proc."""
    user = system = 0
    found = False
    for candidate in [pid, *_children(pid)]:
        try:
            with open(f"/proc/{candidate}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        found = True
        user += int(fields[11])  # utime and stime, fields 14 and 15 of proc(5)
        system += int(fields[12])
    if not found:
        return None
    tick = os.sysconf("SC_CLK_TCK")
    return user / tick, system / tick


def _children(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(c) for c in f.read().split()]
    except OSError:
        return []


UPLOAD = b"".join(b"%x\r\n%s\r\n" % (65536, b"u" * 65536) for _ in range(16)) + b"0\r\n\r\n"


def request_bytes(app, keep_alive):
    connection = b"" if keep_alive else b"Connection: close\r\n"
    if app == "upload":
        return (b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n"
                + connection + b"\r\n" + UPLOAD)
    if app in ECHO_SIZES:
        size = ECHO_SIZES[app]
        return (b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/octet-stream\r\n"
                b"Content-Length: %d\r\n%s\r\n%s" % (size, connection, b"e" * size))
    path = (load_apps.STATIC_PATH.encode() if app == "static_50k"
            else DJANGO_PATHS.get(app, b"/"))
    return b"GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n%s\r\n" % (path, connection)


def run_wrk(port, app, connections, keep_alive, duration):
    script = None
    command = ["wrk", "-t1", f"-c{connections}", f"-d{duration:g}s", "--latency"]
    if request_bytes(app, keep_alive) != request_bytes("hello", True):  # not wrk's own request
        raw = request_bytes(app, keep_alive).decode("latin-1")
        script = tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False)
        script.write("local raw = " + json.dumps(raw) + "\nrequest = function() return raw end\n")
        script.close()
        command += ["-s", script.name]
    command.append(f"http://127.0.0.1:{port}/")
    try:
        out = subprocess.run(pinned(1, command), capture_output=True, text=True,
                             timeout=duration + 60).stdout
    finally:
        if script:
            os.unlink(script.name)
    return parse_wrk(out)


def parse_wrk(out):
    import re

    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))

    def percentile(p):
        match = re.search(rf"\b{p}%\s+([\d.]+)(us|ms|s)\b", out)
        return float(match.group(1)) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[match.group(2)]

    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"rps": rps, "p50_ms": percentile(50), "p99_ms": percentile(99),
            "bad_responses": int(errors.group(1)) if errors else 0}


def run_python_client(port, app, connections, keep_alive, duration):
    """A bounded load client: a thread per connection, each sending requests
    until the time is up (at most 1,000,000 in all); reads Content-Length
    framed responses."""
    import threading

    request = request_bytes(app, keep_alive)
    stop_at = time.monotonic() + duration
    latencies, bad = [], [0]
    limit = 1_000_000 // connections

    def read_response(sock, buffer):
        while b"\r\n\r\n" not in buffer:
            data = sock.recv(65536)
            if not data:
                raise ConnectionError("closed")
            buffer += data
        head, _, rest = buffer.partition(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        while len(rest) < length:
            data = sock.recv(65536)
            if not data:
                raise ConnectionError("closed")
            rest += data
        if not head.startswith(b"HTTP/1.1 2") and not head.startswith(b"HTTP/1.0 2"):
            bad[0] += 1
        return rest[length:]

    def worker():
        sock, buffer, done = None, b"", 0
        while time.monotonic() < stop_at and done < limit:
            if sock is None:
                sock = socket.create_connection(("127.0.0.1", port), timeout=10)
            started = time.perf_counter()
            try:
                sock.sendall(request)
                buffer = read_response(sock, buffer)
            except OSError:
                sock.close()
                sock, buffer = None, b""
                continue
            latencies.append(time.perf_counter() - started)
            done += 1
            if not keep_alive:
                sock.close()
                sock, buffer = None, b""
        if sock is not None:
            sock.close()

    threads = [threading.Thread(target=worker) for _ in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    latencies.sort()
    n = len(latencies)
    if not n:
        return {"rps": 0.0, "p50_ms": None, "p99_ms": None, "bad_responses": bad[0]}
    return {"rps": n / duration, "p50_ms": latencies[n // 2] * 1e3,
            "p99_ms": latencies[min(n - 1, int(n * 0.99))] * 1e3, "bad_responses": bad[0]}


def server_matrix(args):
    """(server, app, load) triples: every load on hello, keep-alive c10 on the rest."""
    apps = ("hello", "flask_hello") if args.quick else APPS
    if args.apps:
        apps = tuple(app for app in apps if app in args.apps.split(","))
    matrix = []
    for server in args.servers:
        for app in apps:
            if app.startswith("flask_") and not installed("flask"):
                continue
            if app not in ONLY_APPS.get(server, (app,)):
                continue
            if server not in ONLY_SERVERS.get(app, (server,)):
                continue
            loads = ("keepalive_c10",) if args.quick else APP_LOADS.get(app, ("keepalive_c10",))
            for load in loads:
                if server == "floor" and (app != "hello" or not LOADS[load][1]):
                    continue  # it serves nothing else
                matrix.append((server, app, load))
    return matrix


# The servers whose system calls are counted (an extra run each).
COUNTED = ("fastcore", "granian")
PERF_EVENTS = {"raw_syscalls:sys_enter": "syscalls", "syscalls:sys_enter_futex": "futex",
               "context-switches": "context_switches"}


def perf_available():
    """Whether perf can count the system-call tracepoints here."""
    if not shutil.which("perf"):
        return False
    out = subprocess.run(["perf", "stat", "-x,", "-e", ",".join(PERF_EVENTS), "true"],
                         capture_output=True, text=True)
    return out.returncode == 0 and "not supported" not in out.stderr and "<not" not in out.stderr


def count_events(pid, seconds):
    """perf stat's counts of PERF_EVENTS for the threads of ``pid`` and its
    children (gunicorn's worker), over ``seconds``."""
    pids = ",".join(str(p) for p in [pid, *_children(pid)])
    out = subprocess.run(["perf", "stat", "-x,", "-e", ",".join(PERF_EVENTS), "-p", pids,
                          "sleep", f"{seconds:g}"], capture_output=True, text=True,
                         timeout=seconds + 30).stderr
    counts = {}
    for line in out.splitlines():
        fields = line.split(",")
        if len(fields) > 2 and fields[2] in PERF_EVENTS and fields[0].isdigit():
            counts[PERF_EVENTS[fields[2]]] = int(fields[0])
    return counts


def _counted_load(load, port, app, connections, keep_alive, duration, pid):
    """One load run while perf counts the server's system calls in its middle
    (from 0.5 s in, for duration - 1 s): the per-request figures. Tracing every
    system call slows the server, so this run is extra, never a timed one."""
    import threading

    counted = {}
    seconds = max(duration - 1.0, 0.5)

    def count():
        time.sleep(0.5)
        counted.update(count_events(pid, seconds))

    counter = threading.Thread(target=count)
    counter.start()
    run = load(port, app, connections, keep_alive, duration)
    counter.join()
    requests_counted = run["rps"] * seconds
    if not counted or not requests_counted:
        return {}
    return {f"{name}_per_request": value / requests_counted for name, value in counted.items()}


def run_server_section(args, progress, results, matrix, processes):
    """Each (server, app, load) once per round, for ``repeats`` rounds: a
    machine whose speed drifts (another VM waking on the host) shifts every
    server's figures alike, not only those of the server measured then."""
    load = run_wrk if args.load_client == "wrk" else run_python_client
    wanted = any(server.startswith(COUNTED) for server, _, _ in matrix)
    counting = wanted and args.duration >= 2 and perf_available()
    if wanted and not counting:
        print("  system calls per request: skipped ("
              + ("runs shorter than 2 s" if args.duration < 2
                 else "perf cannot read the tracepoints here") + ")")
    entries = [{"section": "server", "server": server, "app": app, "load": load_name, "runs": []}
               for server, app, load_name in matrix]
    try:
        for repeat in range(args.repeats):
            for entry in entries:
                server, app, load_name = entry["server"], entry["app"], entry["load"]
                progress.step(f"server {server} · {app} · {load_name} (round {repeat + 1})")
                if "error" in entry:
                    continue
                connections, keep_alive = LOADS[load_name]
                try:
                    port = free_port()
                    proc = start_server(server, app, port)
                    processes.add(proc)
                    try:
                        load(port, app, connections, keep_alive, args.warmup)
                        before = cpu_seconds(proc.pid)
                        run = load(port, app, connections, keep_alive, args.duration)
                        after = cpu_seconds(proc.pid)
                        run["peak_rss_kib"] = peak_rss_kib(proc.pid)
                        requests = run["rps"] * args.duration
                        if before and after and requests:
                            # CPU per request moves less than requests/s with
                            # the machine's luck: the server's own cost.
                            run["cpu_us"] = (sum(after) - sum(before)) / requests * 1e6
                            run["user_us"] = (after[0] - before[0]) / requests * 1e6
                        entry["runs"].append(run)
                        if counting and server.startswith(COUNTED) and repeat == 0:
                            entry.update(_counted_load(load, port, app, connections, keep_alive,
                                                       args.duration, proc.pid))
                    finally:
                        stop_process(proc)
                        processes.discard(proc)
                except (RuntimeError, AttributeError, OSError, subprocess.TimeoutExpired) as e:
                    entry["error"] = f"{type(e).__name__}: {e}"
    finally:  # also on Ctrl+C: what was measured is reported
        for entry in entries:
            if entry["runs"]:
                rps = [r["rps"] for r in entry["runs"]]
                entry["rps"] = statistics.median(rps)
                entry["rps_min"], entry["rps_max"] = min(rps), max(rps)
                for key in ("p50_ms", "p99_ms", "peak_rss_kib", "cpu_us", "user_us"):
                    values = [r[key] for r in entry["runs"] if r.get(key) is not None]
                    entry[key] = statistics.median(values) if values else None
            results.append(entry)


# -- output ---------------------------------------------------------------------

def machine_info():
    model = platform.processor()
    try:
        with open("/proc/cpuinfo") as f:
            model = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    names = ["fastcore-wsgi", "werkzeug", "flask", "httptools", "h11", "waitress", "gunicorn",
             "granian", "bjoern", "Cython"]
    return {"cpu": model, "cores": os.cpu_count(), "python": platform.python_version(),
            "platform": platform.platform(), "date": datetime.datetime.now().isoformat(timespec="seconds"),
            "packages": {name: package_version(name) for name in names if package_version(name)}}


def print_tables(results, write=print):
    parser_rows = [r for r in results if r["section"] in ("parser", "chunked")]
    cases = {}
    for row in parser_rows:
        cases.setdefault((row["section"], row["case"]), []).append(row)
    if cases:
        write("\nParser: raw bytes -> environ (best time), chunked decoding (MB/s); x = vs Werkzeug")
    for (section, case), rows in cases.items():
        base = next((r.get("seconds") for r in rows if r["impl"] == "werkzeug"), None)
        write(f"  {section} {case}")
        for row in sorted(rows, key=lambda r: r.get("seconds", float("inf"))):
            if "error" in row:
                write(f"    {row['impl']:<15} {row['error']}")
                continue
            amount = (f"{row['mb_per_s']:9.0f} MB/s" if section == "chunked"
                      else f"{row['seconds'] * 1e6:9.2f} us  ")
            ratio = f"{base / row['seconds']:7.1f}x" if base else ""
            write(f"    {row['impl']:<15}{amount} {ratio}")
    server_rows = [r for r in results if r["section"] == "server"]
    if server_rows:
        write("\nServer: requests/s (median, min-max), latency, peak RSS; x = vs werkzeug_threaded")
    groups = {}
    for row in server_rows:
        groups.setdefault((row["app"], row["load"]), []).append(row)
    for (app, load), rows in groups.items():
        base = next((r.get("rps") for r in rows if r["server"] == "werkzeug_threaded"), None)
        write(f"  {app} · {load}")
        for row in sorted(rows, key=lambda r: -(r.get("rps") or 0)):
            if "rps" not in row:
                write(f"    {row['server']:<18} {row.get('error', 'no result')}")
                continue
            ratio = f"{row['rps'] / base:6.1f}x" if base else ""
            rss = f"{row['peak_rss_kib'] / 1024:6.1f} MiB" if row.get("peak_rss_kib") else ""
            p50 = f"{row['p50_ms']:.2f}" if row.get("p50_ms") is not None else "-"
            p99 = f"{row['p99_ms']:.2f}" if row.get("p99_ms") is not None else "-"
            calls = ""
            if row.get("cpu_us") is not None:
                calls = f"  CPU {row['cpu_us']:5.1f} us/req ({row['user_us']:.1f} user)"
            if "syscalls_per_request" in row:
                calls += (f"  {row['syscalls_per_request']:.2f} syscalls/req"
                         f" ({row.get('futex_per_request', 0):.2f} futex,"
                         f" {row.get('context_switches_per_request', 0):.2f} cs)")
            write(f"    {row['server']:<18}{row['rps']:9.0f} ({row['rps_min']:.0f}-{row['rps_max']:.0f})"
                  f"  p50 {p50} ms  p99 {p99} ms  {rss}  {ratio}{calls}")


def draw_chart(results, path):
    """One panel per section: bars of each implementation's speed as a
    multiple of Werkzeug's (the dashed line at 1)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = []
    for section, label, key, higher in (("parser", "parse -> environ", "seconds", False),
                                        ("chunked", "chunked decoding", "seconds", False),
                                        ("server", "server req/s", "rps", True)):
        rows = [r for r in results if r["section"] == section and key in r]
        if rows:
            panels.append((label, rows, key, higher, section))
    if not panels:
        return
    widest = max(len({(r.get("app"), r.get("load"), r.get("case")) for r in rows})
                 for _, rows, _, _, _ in panels)
    fig, axes = plt.subplots(len(panels), 1, figsize=(max(11, 0.8 * widest), 4.2 * len(panels)),
                             squeeze=False)
    palette = plt.get_cmap("tab20")
    for ax, (label, rows, key, higher, section) in zip(axes[:, 0], panels):
        # One colour per implementation, the same in every panel of its kind.
        known = sorted(SERVERS) if section == "server" else sorted(set(PARSERS) | set(DECODERS))
        case_key = "case" if section != "server" else None
        groups = {}
        for row in rows:
            case = row[case_key] if case_key else f"{row['app']} {row['load']}"
            groups.setdefault(case, {})[row.get("impl") or row.get("server")] = row[key]
        names = sorted({n for g in groups.values() for n in g})
        width = 0.8 / max(len(names), 1)
        for i, name in enumerate(names):
            color = palette(known.index(name) % palette.N) if name in known else None
            values = []
            for case, group in groups.items():
                base = group.get("werkzeug") or group.get("werkzeug_threaded")
                value = group.get(name)
                if not base or not value:
                    values.append(0)
                else:
                    values.append(value / base if higher else base / value)
            xs = [j + i * width for j in range(len(groups))]
            ax.bar(xs, values, width, label=name, color=color)
        ax.axhline(1, color="black", linestyle="--", linewidth=1)
        ax.set_yscale("log")
        ax.set_xticks([j + 0.4 - width / 2 for j in range(len(groups))], list(groups), fontsize=8,
                      rotation=30, ha="right")
        ax.set_ylabel("times Werkzeug's speed")
        ax.set_title(label)
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# -- command line -----------------------------------------------------------------

def parse_args(argv):
    parser = argparse.ArgumentParser(description="fastcore side by side with its peers.")
    parser.add_argument("--quick", action="store_true", help="a run of under two minutes")
    parser.add_argument("--only", choices=["parser", "server"], help="run one section")
    parser.add_argument("--servers", help=f"comma-separated, from: {', '.join(SERVERS)}")
    parser.add_argument("--apps", help=f"comma-separated, from: {', '.join(APPS)}")
    parser.add_argument("--duration", type=float, help="seconds of load per run (10; quick 2)")
    parser.add_argument("--repeats", type=int, help="runs per server and load (3; quick 1)")
    parser.add_argument("--warmup", type=float, default=1.0, help="seconds of load before each run")
    parser.add_argument("--load-client", choices=["wrk", "python"],
                        help="wrk when installed, else the built-in Python client")
    parser.add_argument("--json", metavar="PATH", help="write every figure and the machine here")
    parser.add_argument("--png", metavar="PATH", help="draw the chart here (needs matplotlib)")
    args = parser.parse_args(argv)
    args.duration = args.duration or (2.0 if args.quick else 10.0)
    args.repeats = args.repeats or (1 if args.quick else 3)
    if args.load_client is None:
        args.load_client = "wrk" if shutil.which("wrk") else "python"
    if args.load_client == "wrk" and not shutil.which("wrk"):
        parser.error("wrk is not installed (apt-get install wrk), use --load-client python")
    wanted = args.servers.split(",") if args.servers else list(QUICK_SERVERS if args.quick else SERVERS)
    unknown = [s for s in wanted if s not in SERVERS]
    if unknown:
        parser.error(f"unknown servers: {', '.join(unknown)}")
    unknown = [a for a in (args.apps or "").split(",") if a and a not in APPS]
    if unknown:
        parser.error(f"unknown apps: {', '.join(unknown)}")
    args.servers = []
    for name in wanted:
        module, pip_name = SERVERS[name][:2]
        if installed(module):
            args.servers.append(name)
        else:
            print(f"  {name}: not installed, skipped (pip install {pip_name})")
    return args


def main(argv=None):
    args = parse_args(argv)
    results = []
    processes = set()
    sections = [args.only] if args.only else ["parser", "server"]
    matrix = server_matrix(args) if "server" in sections else []
    parser_steps = (len(PARSERS) * len(REQUESTS) + len(DECODERS) * len(CHUNK_SIZES)
                    if "parser" in sections else 0)
    per_parser_step = 0.5 if args.quick else 2.0
    per_run = args.duration + args.warmup + 1.5
    progress = Progress([per_parser_step] * parser_steps + [per_run] * len(matrix) * args.repeats)
    print(f"load generator: {args.load_client}"
          + ("" if args.load_client == "wrk" else " (built-in, may be the bottleneck)"))

    def interrupted(signum, frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupted)
    try:
        if "parser" in sections:
            run_parser_section(args, progress, results)
        if matrix:
            run_server_section(args, progress, results, matrix, processes)
    except KeyboardInterrupt:
        print("\ninterrupted: stopping every server started, reporting what was measured")
    finally:
        for proc in list(processes):
            stop_process(proc)
        signal.signal(signal.SIGTERM, previous)
    print_tables(results)
    report = {"machine": machine_info(), "load_client": args.load_client,
              "settings": {"duration": args.duration, "repeats": args.repeats,
                           "warmup": args.warmup, "quick": args.quick},
              "results": results}
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=1)
        print(f"\nwrote {args.json}")
    if args.png:
        draw_chart(results, args.png)
        print(f"wrote {args.png}")
    return report


if __name__ == "__main__":
    main()
