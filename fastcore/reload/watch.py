"""The supervisor's watcher: native change notification (watchdog's
observer: inotify, FSEvents, ReadDirectoryChangesW) on the folders of the
files a reload depends on, each folder alone (never a walk of
site-packages); only events for those files count. Django's
``watch_dir(folder, glob)`` adds a folder with every file under it that
matches the glob.

The project's files (and ``extra_files``) count as changed only when what
they hold changed: a touch, a change of mode or a save of the same text is
not a new version, whatever moment it comes at after the save before it.
"""

import fnmatch
import hashlib
import os
import threading
from pathlib import PurePath

__all__ = ["Watcher"]

# The events that can change what a file holds; opening or reading one cannot.
_CHANGES = {"created", "modified", "moved", "deleted", "closed"}
# Kinds of file whose content is compared (the dependencies' are many, and
# any event there restarts in full).
_COMPARED = {"project", "extra"}
# A larger file counts as changed on any event (reading it would cost more).
_COMPARED_SIZE = 1 << 20


def _digest(path):
    """What ``path`` holds, as a digest (None: gone, unreadable or large)."""
    try:
        if os.path.getsize(path) > _COMPARED_SIZE:
            return None
        with open(path, "rb") as f:
            return hashlib.blake2b(f.read(), digest_size=16).digest()
    except OSError:
        return None


def _modified(path):
    """When ``path`` was last written (time.time()), or +inf when unknown."""
    try:
        return os.stat(path).st_mtime
    except OSError:
        return float("inf")


def save_events():
    """The watchdog events a save can make, for ``schedule(event_filter=)``:
    watchdog then asks the kernel for those alone. Without a filter, every
    file opened in a watched folder (site-packages, by each Python process
    that starts) wakes the watcher."""
    from watchdog import events

    return [events.FileCreatedEvent, events.FileModifiedEvent, events.FileMovedEvent,
            events.FileDeletedEvent, events.FileClosedEvent]


class Watcher:
    """Calls ``on_change()`` (from the observer's thread) after each event
    on a watched file; ``take()`` returns the changed paths since the last
    call, each with what it is (a kind from ``fastcore.reload.program``,
    or ``"extra"``), and whether each was last seen complete: closed after
    writing, or renamed into place (a save by rename). Other events (a
    write, a truncation, the old file renamed away) may have more to come."""

    def __init__(self, on_change, exclude_patterns=()):
        from watchdog.observers import Observer

        self._on_change = on_change
        self._exclude = list(exclude_patterns or ())
        self._files = {}  # real path -> kind
        self._digests = {}  # real path -> what it held when last taken (compared kinds)
        self._trees = {}  # real folder -> [glob, ...]
        self._scheduled = {}  # real folder -> recursive
        self._changed = {}
        self._complete = True
        self._lock = threading.Lock()
        self._observer = Observer()
        self._observer.daemon = True
        self._handler = _Handler(self._note)
        self._events = save_events()

    def start(self):
        self._observer.start()

    def stop(self):
        self._observer.stop()

    def add_files(self, files, loaded_after=None):
        """``files``: path -> kind. ``loaded_after`` (time.time()): when the
        process that imported them started loading; a file saved since may
        hold other text than it loaded, so its next save is a new version
        whatever its text (else a save made before the watch began, saved
        again unchanged, would never be seen)."""
        for path, kind in files.items():
            path = os.path.realpath(path)
            if self._excluded(path) or self._files.get(path) == kind:
                continue
            self._files[path] = kind
            if kind in _COMPARED:
                self._digests[path] = (None if loaded_after is not None
                                       and _modified(path) >= loaded_after else _digest(path))
            self._schedule(os.path.dirname(path), recursive=False)

    def add_tree(self, folder, glob):
        folder = os.path.realpath(folder)
        globs = self._trees.setdefault(folder, [])
        if glob not in globs:
            globs.append(glob)
        self._schedule(folder, recursive=True)

    def _schedule(self, folder, recursive):
        if self._scheduled.get(folder) in (True, recursive) or not os.path.isdir(folder):
            return
        self._observer.schedule(self._handler, folder, recursive=recursive,
                                event_filter=self._events)
        self._scheduled[folder] = recursive

    def _excluded(self, path):
        return any(fnmatch.fnmatch(path, pattern) for pattern in self._exclude)

    def _kind(self, path):
        kind = self._files.get(path)
        if kind is not None:
            return kind
        for folder, globs in self._trees.items():
            if path.startswith(folder + os.sep):
                relative = PurePath(os.path.relpath(path, folder))
                if any(_matches(relative, glob) for glob in globs) and not self._excluded(path):
                    return "tree"
        return None

    def _note(self, path, complete):
        kind = self._kind(path)
        if kind is None:
            return
        with self._lock:
            self._changed[path] = kind
            self._complete = complete
        self._on_change()

    def new_versions(self, changes):
        """Of ``changes`` (path -> kind, settled), those that hold a new
        version: a compared file whose text is what it was when last taken
        (a touch, the same text saved again, a save that went back) is left
        out. Read once the burst of events is over, not at each event, which
        may come while the editor is still writing."""
        new = {}
        for path, kind in changes.items():
            if kind in _COMPARED:
                digest = _digest(path)
                if digest is not None and digest == self._digests.get(path):
                    continue
                self._digests[path] = digest
            new[path] = kind
        return new

    def take(self):
        """``(changes, complete)``: path -> kind, and whether the last event
        was one that ends a save."""
        with self._lock:
            changed, self._changed = self._changed, {}
            return changed, self._complete


def _matches(relative, glob):
    """Whether a path under a watched tree matches a Django glob (``**/*``,
    ``**/*.mo``: a file at any depth; else as ``Path.glob`` would)."""
    if glob.startswith("**/"):
        return fnmatch.fnmatch(relative.name, glob[3:])
    return relative.match(glob)


class _Handler:
    """watchdog's handler interface: ``dispatch(event)``."""

    def __init__(self, note):
        self._note = note

    def dispatch(self, event):
        kind = event.event_type
        if event.is_directory or kind not in _CHANGES:
            return
        dest = getattr(event, "dest_path", None)
        self._note(os.fsdecode(event.src_path), kind == "closed")
        if dest:  # a save by rename: the new file arrives under the watched name
            self._note(os.fsdecode(dest), True)
