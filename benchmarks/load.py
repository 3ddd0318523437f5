"""End-to-end load: fastcore against Werkzeug's dev server (and waitress), side by side.

    python benchmarks/load.py [--duration 10] [--connections 10] [--repeats 3]

Each server runs alone in its own process, serving the same app with its
access log on, in threaded mode (what Flask's app.run() uses; waitress with
4 threads), pinned to CPU 0; the load generator runs on CPU 1: wrk when it is
installed, else a bounded Python client (slower: it may be the bottleneck,
and the output says so). Keep-alive, 127.0.0.1 only. Prints requests/s and
p99 latency (median of the repeats) and each server's ratio to Werkzeug.
"""

import argparse
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))

SERVERS = {
    "fastcore": "from fastcore import run_simple\nrun_simple('127.0.0.1', {port}, app, threaded=True)",
    "werkzeug": "from werkzeug.serving import run_simple\n"
                "run_simple('127.0.0.1', {port}, app, threaded=True)",
    "waitress": "import waitress\nwaitress.serve(app, host='127.0.0.1', port={port}, threads=4)",
}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pinned(cpu, args):
    return ["taskset", "-c", str(cpu), *args] if shutil.which("taskset") else args


def start_server(name, app_name, port):
    code = f"import sys\nsys.path.insert(0, {HERE!r})\nfrom load_apps import {app_name} as app\n"
    code += SERVERS[name].format(port=port)
    proc = subprocess.Popen(pinned(0, [sys.executable, "-c", code]),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"{name} did not start")


def run_wrk(port, connections, duration):
    out = subprocess.run(pinned(1, ["wrk", "-t1", f"-c{connections}", f"-d{duration:g}s", "--latency",
                                    f"http://127.0.0.1:{port}/"]),
                         capture_output=True, text=True, timeout=duration + 30).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    scale = {"us": 1e-3, "ms": 1.0, "s": 1e3}[p99.group(2)]
    return rps, float(p99.group(1)) * scale


def run_python_client(port, connections, duration):
    """A bounded keep-alive client: each thread sends requests on its own
    connection until the time is up (never more than 10 million in all)."""
    request = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    latencies, counts = [], []
    stop_at = time.monotonic() + duration

    def worker():
        sock = socket.create_connection(("127.0.0.1", port))
        n, lat = 0, []
        while time.monotonic() < stop_at and n < 10_000_000 // connections:
            t0 = time.perf_counter()
            sock.sendall(request)
            data = b""
            while b"Hello, World!" not in data:
                chunk = sock.recv(65536)
                if not chunk:
                    return
                data += chunk
            lat.append(time.perf_counter() - t0)
            n += 1
        sock.close()
        counts.append(n)
        latencies.extend(lat)

    threads = [threading.Thread(target=worker) for _ in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    latencies.sort()
    p99 = latencies[int(len(latencies) * 0.99)] * 1000 if latencies else float("nan")
    return sum(counts) / duration, p99


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=10)
    parser.add_argument("--connections", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--apps", default="hello,flask_hello")
    parser.add_argument("--servers", default="fastcore,werkzeug,waitress")
    args = parser.parse_args(argv)

    load = run_wrk if shutil.which("wrk") else run_python_client
    print(f"load generator: {'wrk' if load is run_wrk else 'built-in Python client (may be the bottleneck)'}; "
          f"{args.connections} keep-alive connections, {args.duration:g}s x {args.repeats}")
    for app_name in args.apps.split(","):
        results = {}
        for name in args.servers.split(","):
            if name == "waitress" and app_name != "hello":
                continue
            try:
                __import__(name)
            except ImportError:
                print(f"  {name}: not installed, skipped (pip install {name})")
                continue
            runs = []
            for _ in range(args.repeats):
                port = free_port()
                proc = start_server(name, app_name, port)
                try:
                    load(port, args.connections, 1)  # warm-up
                    runs.append(load(port, args.connections, args.duration))
                finally:
                    proc.terminate()
                    proc.wait(10)
            results[name] = (statistics.median(r[0] for r in runs),
                             statistics.median(r[1] for r in runs),
                             min(r[0] for r in runs), max(r[0] for r in runs))
        base = results.get("werkzeug", (None,))[0]
        print(f"\napp: {app_name}")
        print(f"  {'server':<10} {'req/s':>9} {'(min-max)':>17} {'p99 ms':>8} {'vs werkzeug':>12}")
        for name, (rps, p99, low, high) in sorted(results.items(), key=lambda r: -r[1][0]):
            ratio = f"{rps / base:.1f}x" if base else "-"
            print(f"  {name:<10} {rps:9.0f} {f'({low:.0f}-{high:.0f})':>17} {p99:8.2f} {ratio:>12}")


if __name__ == "__main__":
    main()
