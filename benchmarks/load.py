"""End-to-end load: fastcore against Werkzeug's dev server (and waitress), side by side.

    python benchmarks/load.py [--duration 10] [--repeats 3] [--servers ...] [--apps ...]

The server section of compare.py narrowed to the question of the server
issue: each server alone in its own process, serving the same app with its
access log on, in threaded mode (what Flask's app.run() uses; waitress with 4
threads), pinned to CPU 0, with 10 keep-alive connections from wrk on CPU 1
(or the bounded Python client when wrk is missing). Prints requests/s, p50
and p99 (median of the repeats) and each server's ratio to Werkzeug.
"""

import argparse
import os
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import compare  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=10)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--apps", default="hello,flask_hello")
    parser.add_argument("--servers", default="fastcore_threaded,werkzeug_threaded,waitress")
    args = parser.parse_args(argv)
    args.load_client = "wrk" if shutil.which("wrk") else "python"
    servers = [s for s in args.servers.split(",") if compare.installed(compare.SERVERS[s][0])]
    matrix = [(server, app, "keepalive_c10")
              for app in args.apps.split(",") for server in servers
              if not (app == "flask_hello" and server == "waitress")]
    print(f"load generator: {args.load_client}; 10 keep-alive connections, "
          f"{args.duration:g}s x {args.repeats}")
    results = []
    per_run = args.repeats * (args.duration + args.warmup + 1.5)
    compare.run_server_section(args, compare.Progress([per_run] * len(matrix)), results, matrix,
                               set())
    compare.print_tables(results)


if __name__ == "__main__":
    main()
