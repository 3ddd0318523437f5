"""Instructions per request, counted by valgrind's callgrind.

    apt-get install valgrind
    python benchmarks/instructions.py --servers fastcore_threaded,fastcore_gunicorn

Requests/s on these shared VMs moves by 10% from one run to the next, and a
server's CPU time per request by 5%; the number of instructions it executes
per request does not (two runs agree within 0.5%). So a change of a few
percent in what a request costs, such as the gunicorn worker against the dev
server, is settled here, and requests/s are left to compare.py.

Each server (compare.py's recipes, Python ones only) runs under callgrind,
its child processes too. After a warm-up the counters are zeroed, N
keep-alive requests go over C connections (each connection's request sent,
then every response read), and the counters are dumped: the process that
executed the most instructions is the one that served (gunicorn's worker,
not its arbiter). The loop's busy polling is turned off, for how much it
spins depends on timing, which valgrind slows about fifty-fold; so is
threaded mode's hand-off of a request that runs longer than 2 ms, which
under valgrind a hello request takes about (it moved the loop now and then,
and a count up by 5%). Only user
space is counted: the kernel's share of a request (its system calls) is in
compare.py's CPU figures, not here. Only 127.0.0.1 is contacted.
"""

import argparse
import glob
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time

import compare

# The servers whose work is Python (granian's and bjoern's is not, and
# callgrind would count them on other terms).
SERVERS = ("fastcore_threaded", "fastcore_single", "fastcore_gunicorn", "werkzeug_threaded",
           "werkzeug_single", "waitress", "gunicorn_sync", "gunicorn_gthread", "floor")
NO_SPIN = ("import fastcore.io.loop; fastcore.io.loop.SPIN_SECONDS = 0\n"
           "import fastcore.server; fastcore.server.BaseWSGIServer.handoff_after = 1.0\n")
STARTUP_SECONDS = 300  # Python and its imports, under valgrind


def python_argv(recipe, app, port, here=compare.HERE):
    """The interpreter's arguments for a compare.py recipe, with the busy
    poll turned off before the server starts."""
    if isinstance(recipe, str):
        return ["-c", NO_SPIN + recipe.format(here=here, app=app, port=port)]
    parts = [part.format(app=app, port=port) for part in recipe]
    if parts[0] != "-m":
        raise ValueError(f"a recipe that runs a module was expected: {recipe!r}")
    run = f"import runpy; runpy.run_module({parts[1]!r}, run_name='__main__', alter_sys=True)"
    return ["-c", NO_SPIN + run, *parts[2:]]


def instructions_in(dump):
    """The instructions a callgrind dump file counted (its "summary:" line)."""
    with open(dump) as f:
        for line in f:
            if line.startswith("summary:"):
                return int(line.split()[1])
    raise ValueError(f"{dump}: no summary line")


def serving_process_count(directory):
    """The largest count among the dumps in ``directory`` (one per process)."""
    dumps = glob.glob(os.path.join(directory, "cg.*.*"))
    if not dumps:
        raise RuntimeError(f"callgrind wrote no dump in {directory}")
    return max(instructions_in(dump) for dump in dumps)


def send_requests(port, count, connections, close=False):
    """``count`` GETs (rounded up to whole rounds over the connections),
    keep-alive, or with ``close`` each on a connection of its own."""
    # One request and nothing after it (an empty line after a request is
    # skipped before the next, but costs a parse and a head deadline).
    close_field = "Connection: close\r\n" if close else ""
    request = f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{close_field}\r\n".encode()
    socks = []
    try:
        for _ in range(-(-count // connections)):
            if not socks:
                socks = [socket.create_connection(("127.0.0.1", port), timeout=60)
                         for _ in range(connections)]
            for sock in socks:
                sock.sendall(request)
            for sock in socks:
                _read_response(sock)
            if close:
                for sock in socks:
                    sock.close()
                socks = []
    finally:
        for sock in socks:
            sock.close()


def _read_response(sock):
    data = b""
    while b"\r\n\r\n" not in data:
        data += _recv(sock)
    head, _, body = data.partition(b"\r\n\r\n")
    length = re.search(rb"(?i)\r\ncontent-length:\s*(\d+)", head)
    if length is None:
        raise RuntimeError("a response without Content-Length: use a fixed-length app")
    while len(body) < int(length.group(1)):
        body += _recv(sock)


def _recv(sock):
    chunk = sock.recv(65536)
    if not chunk:
        raise RuntimeError("the server closed the connection")
    return chunk


def count(name, app, requests, connections, warmup, close=False):
    """Instructions per request of one server."""
    port = compare.free_port()
    recipe = compare.SERVERS[name][2]
    with tempfile.TemporaryDirectory(prefix="callgrind-") as directory:
        command = ["valgrind", "--tool=callgrind", "--trace-children=yes",
                   f"--callgrind-out-file={directory}/cg.%p", sys.executable,
                   *python_argv(recipe, app, port)]
        proc = subprocess.Popen(command, cwd=compare.HERE, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, start_new_session=True)
        try:
            _wait_for(port, proc, name)
            send_requests(port, warmup, connections, close)
            _control(proc, "-z")
            send_requests(port, requests, connections, close)
            _control(proc, "-d")
        finally:
            compare.stop_process(proc)
        sent = -(-requests // connections) * connections
        return serving_process_count(directory) / sent


def _wait_for(port, proc, name):
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{name} exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.5)
    raise RuntimeError(f"{name} did not start within {STARTUP_SECONDS} s")


def _control(proc, option):
    """callgrind_control ``option`` (-z: zero, -d: dump) for every process of
    the server's session (a forking server's children included)."""
    pids = subprocess.run(["pgrep", "-s", str(proc.pid)], capture_output=True,
                          text=True).stdout.split()
    for pid in pids:
        subprocess.run(["callgrind_control", option, pid], capture_output=True, check=False)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--servers", default="fastcore_threaded,fastcore_gunicorn",
                        help=f"comma-separated, from: {', '.join(SERVERS)}")
    parser.add_argument("--app", default="hello", help="an app of load_apps.py")
    parser.add_argument("--requests", type=int, default=4000)
    parser.add_argument("--connections", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=500)
    parser.add_argument("--close", action="store_true",
                        help="each request on a connection of its own (Connection: close)")
    args = parser.parse_args(argv)
    args.servers = args.servers.split(",")
    unknown = [name for name in args.servers if name not in SERVERS]
    if unknown:
        parser.error(f"not a server this counts: {', '.join(unknown)}")
    return args


def main(argv=None):
    args = parse_args(argv)
    for tool in ("valgrind", "callgrind_control", "pgrep"):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} is needed (apt-get install valgrind procps)")
    results = {}
    for name in args.servers:
        results[name] = count(name, args.app, args.requests, args.connections, args.warmup,
                              args.close)
    first = args.servers[0]
    how = "Connection: close, in rounds of" if args.close else "keep-alive over"
    print(f"instructions per request: {args.app}, {args.requests} requests, {how} "
          f"{args.connections} connections; x = vs {first}")
    for name, per_request in results.items():
        print(f"  {name:20s} {per_request:10,.0f}  {per_request / results[first]:5.3f}x")
    return results


if __name__ == "__main__":
    main()
