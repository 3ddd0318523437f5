"""Run one test app on an ephemeral port: `python serve.py APP MODE [OPTION=VALUE ...]`.

APP names an app in server_apps, or a factory there as "name()", or an app
in another module here as "module.name".
Prints "PORT <n>" (or "UNIX <path>") on stdout once listening; logs on stderr.
MODE is "threaded", "single" or "forking"; "+level" after it (e.g.
"threaded+level") serves with the level-triggered selector the loop uses
where there is no epoll.
"""

import importlib
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import server_apps  # noqa: E402
from fastcore.server import make_server  # noqa: E402


def main():
    app_name, mode, *options = sys.argv[1:]
    mode, _, poller = mode.partition("+")
    if poller == "level":
        import fastcore.io.loop
        import fastcore.io.poller

        fastcore.io.loop.Poller = fastcore.io.poller._LevelPoller
    kwargs = {}
    host = "127.0.0.1"
    handler = None
    for option in options:
        key, _, value = option.partition("=")
        if key == "host":
            host = value
        elif key == "handler":
            handler = getattr(server_apps, value)
        elif key == "ssl_context":  # "adhoc"
            kwargs[key] = value
        else:
            kwargs[key] = int(value) if value.isdigit() else float(value)
    module = server_apps
    if "." in app_name:  # another module of tests/, e.g. "ws_apps.echo_app"
        module_name, app_name = app_name.split(".")
        module = importlib.import_module(module_name)
    if app_name.endswith("()"):  # a factory
        app = getattr(module, app_name[:-2])()
    else:
        app = getattr(module, app_name)
    server = make_server(host, 0, app, threaded=mode == "threaded",
                         processes=4 if mode == "forking" else 1, request_handler=handler,
                         **kwargs)
    if host.startswith("unix://"):
        print("UNIX", host[len("unix://"):], flush=True)
    else:
        print("PORT", server.port, flush=True)
    from fastcore import stopping

    stopping.serve(server)


if __name__ == "__main__":
    main()
