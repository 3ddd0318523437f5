"""Live reload's watcher: which folders a page depends on, and what a saved
file there means for the open tabs.

Strategy: watchdog's observer (inotify on Linux, FSEvents on macOS) watches
each folder; its thread only notes the paths that changed. A second thread
sleeps until there is one, lets a save's several events settle for
``SETTLE`` seconds, then announces them once: ``css`` with the URL paths
when every file is a stylesheet (the tabs swap just those), else
``reload``. Python files are left to the reloader, which restarts the
server (the tabs notice the new process on their own). Idle, both threads
wait on the kernel or a lock: no polling.
"""

import json
import os
import threading
import time

from fastcore.reload.watch import save_events

__all__ = ["Folder", "Watcher", "flask_folders"]

SETTLE = 0.05
# Files the reloader acts on, or that editors write beside the one saved.
_IGNORED_SUFFIXES = (".py", ".pyc", ".pyo", "~", ".swp", ".swx", ".tmp")
_IGNORED_DIRS = {"__pycache__", ".git", ".hg", "node_modules"}


class Folder:
    """A watched folder, and the URL path its files are served under (None
    when they are not served as they are, as templates are not)."""

    def __init__(self, path, url=None):
        self.path = os.path.abspath(path)
        self.url = url

    def url_of(self, filename):
        """The URL path ``filename`` is served at, or its path relative to
        the folder when the folder is not served as it is."""
        relative = os.path.relpath(filename, self.path).replace(os.sep, "/")
        if self.url is None:
            return relative
        return self.url.rstrip("/") + "/" + relative

    def __repr__(self):
        return f"Folder({self.path!r}, url={self.url!r})"


def _searchpaths(loader):
    """The folders a Jinja loader reads templates from: a FileSystemLoader's,
    and those of the loaders a ChoiceLoader or PrefixLoader holds."""
    yield from getattr(loader, "searchpath", ())
    for inner in (*getattr(loader, "loaders", ()), *getattr(loader, "mapping", {}).values()):
        yield from _searchpaths(inner)


def flask_folders(app):
    """A Flask app's template folders and static folders (its blueprints'
    included), with the URL paths of the static ones."""
    folders = []
    for owner in (app, *app.blueprints.values()):
        folders.extend(Folder(path) for path in _searchpaths(owner.jinja_loader))
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            owner = app
        elif rule.endpoint.endswith(".static"):
            owner = app.blueprints.get(rule.endpoint[: -len(".static")])
        else:
            continue
        if owner is not None and owner.static_folder:
            folders.append(Folder(owner.static_folder, rule.rule.partition("<")[0]))
    return folders


def _ignored(path):
    name = os.path.basename(path)
    if name.endswith(_IGNORED_SUFFIXES) or name.startswith(".#") or name == "4913":
        return True  # 4913: the file vim writes to test a folder
    return not _IGNORED_DIRS.isdisjoint(path.split(os.sep))


class Watcher:
    """Watches ``folders`` and calls ``announce(name, data)`` with each change."""

    def __init__(self, folders, announce, log):
        # Deepest first: a file is served from the innermost folder that holds it.
        self.folders = sorted({f.path: f for f in folders if os.path.isdir(f.path)}.values(),
                              key=lambda f: -len(f.path))
        self._announce = announce
        self._log = log
        self._changed = set()
        self._lock = threading.Lock()
        self._pending = threading.Event()
        self._observer = None

    def start(self):
        from watchdog.events import FileSystemEventHandler
        from watchdog.observers import Observer

        note = self._note

        class Handler(FileSystemEventHandler):
            def on_any_event(self, event):
                if event.is_directory:
                    return
                note(os.fsdecode(event.src_path))
                if event.event_type == "moved":  # an editor's save by rename
                    note(os.fsdecode(event.dest_path))

        observer = Observer()
        observer.daemon = True
        handler = Handler()
        events = save_events()
        for folder in self.folders:
            observer.schedule(handler, folder.path, recursive=True, event_filter=events)
        observer.start()
        self._observer = observer
        threading.Thread(target=self._run, daemon=True, name="fastcore-live-watch").start()

    def stop(self):
        if self._observer is not None:
            self._observer.stop()

    def _note(self, path):
        if _ignored(path) or not any(path.startswith(f.path + os.sep) for f in self.folders):
            return
        with self._lock:
            self._changed.add(path)
        self._pending.set()

    def _run(self):
        while True:
            self._pending.wait()
            time.sleep(SETTLE)  # the rest of the save's events
            self._pending.clear()
            with self._lock:
                changed, self._changed = self._changed, set()
            if changed:
                self._announce_changes(sorted(changed))

    def _announce_changes(self, paths):
        if all(path.endswith(".css") for path in paths):
            name, doing = "css", "swapping the stylesheet"
        else:
            name, doing = "reload", "reloading the page"
        self._log(f"{', '.join(os.path.relpath(path) for path in paths[:3])} changed: {doing}")
        self._announce(name, json.dumps([self._url(path) for path in paths]))

    def _url(self, path):
        folder = next(f for f in self.folders if path.startswith(f.path + os.sep))
        return folder.url_of(path)
