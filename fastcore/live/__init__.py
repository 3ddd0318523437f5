"""Live reload: the browser follows every save.

``run_simple(..., live_reload=True)``, ``fastcore run APP --live-reload`` and
``fastcore flask run --live-reload`` turn it on. Each HTML page gets a
script tag (``inject``); the script holds an event stream (``streams``) that
tells it of each change the watcher (``watch``) sees, and of each new server
process, which the reloader starts when Python code changes.
"""

import importlib
import importlib.util
import os
import secrets

from fastcore.wsgi.access_log import log
from fastcore.live.inject import PREFIX, LiveReload
from fastcore.live.streams import Streams
from fastcore.live.watch import Folder, Watcher, flask_folders

__all__ = ["Live", "PREFIX", "cannot_run", "flask_app", "folders"]

MISSING_WATCHDOG = ("live reload watches files with watchdog, which is not installed: "
                    "pip install 'fastcore-wsgi[live]'")


def cannot_run(processes):
    """Why live reload cannot serve with ``processes`` (one line), or None."""
    if processes > 1:
        return ("live reload holds each tab's event stream in the serving process: "
                "it cannot serve with processes > 1 (--processes)")
    try:
        importlib.import_module("watchdog.observers")
    except ImportError:
        return MISSING_WATCHDOG
    return None


def flask_app(app):
    """``app`` if it is a Flask app (by its shape: Flask need not be imported)."""
    if all(hasattr(app, name) for name in ("jinja_loader", "blueprints", "url_map", "config")):
        return app
    return None


def folders(app, static_files=None, dirs=()):
    """The folders live reload watches: a Flask app's template and static
    folders, the ``static_files`` of run_simple (URL -> folder) and ``dirs``."""
    found = flask_folders(app) if flask_app(app) is not None else []
    for url, target in (static_files or {}).items():
        if isinstance(target, tuple):  # (package, path), as SharedDataMiddleware takes
            package, path = target
            spec = importlib.util.find_spec(package)
            target = os.path.join(os.path.dirname(spec.origin), path)
        if os.path.isdir(target):
            found.append(Folder(target, url))
        else:  # one file: its folder, matched by name
            found.append(Folder(os.path.dirname(os.path.abspath(target))))
    found.extend(Folder(path) for path in dirs)
    return found


class Live:
    """Live reload in one server process: the middleware around ``app``, the
    streams of its tabs, and the watcher of ``watched`` folders."""

    def __init__(self, app, watched):
        self.streams = Streams(boot=secrets.token_hex(6))
        self.app = LiveReload(app, self.streams)
        self.watcher = Watcher(watched, self.streams.send, self._log)

    def start(self):
        """Start watching the folders, and say which on the console."""
        self.watcher.start()
        shown = ", ".join(os.path.relpath(f.path) for f in self.watcher.folders) or "no folders"
        self._log(f"on, watching {shown}")

    def stop(self):
        """Stop watching and close every tab's stream (they reconnect to the next process)."""
        self.watcher.stop()
        self.streams.close()

    def _log(self, message):
        log("info", f" * Live reload: {message}")
