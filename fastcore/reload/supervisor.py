"""The supervisor: the process the developer started. It holds the listening
socket, watches the files (``watch``), and on each change has the zygote
fork a fresh child (``zygote``), or replaces the zygote where a fork would
be stale: a dependency it imported changed, or preloading made it unsafe.
It never serves and never forks, so its watcher's threads are harmless.
"""

import os
import selectors
import signal
import subprocess
import sys
import time

from fastcore import stopping
from fastcore.wsgi.access_log import log
from fastcore.reload.channel import Channel
from fastcore.reload.program import DEPENDENCY, PROJECT, module_files
from fastcore.reload.watch import Watcher

__all__ = ["Supervisor"]

# How long the files must stay quiet before a reload. An editor's save is a
# burst of events (a temporary file, a rename, a write, a touch) that ends
# within a millisecond or two of the event that completes it (a close after
# writing, a rename into place); after any other event the file may still
# be half written. macOS and Windows report no closes: the longer wait.
SETTLE_COMPLETE = 0.003
SETTLE = 0.05
# How long a child may take to say whether it handled a change itself.
ANSWER_TIMEOUT = 2.0
# How long a stopping zygote may take to see its children finish their requests.
STOP_TIMEOUT = 15.0

_ZYGOTE = "from fastcore.reload.zygote import main; main()"


class Supervisor:
    """Runs the program in forked children until SIGINT or SIGTERM.

    :param program: a ``Program``: what each child runs.
    :param fds: the listening sockets' fds, passed to every child.
    :param extra_files: more files whose change reloads.
    :param exclude_patterns: fnmatch patterns of files never watched.
    """

    def __init__(self, program, fds, extra_files=(), exclude_patterns=()):
        self.program = program
        self.fds = tuple(fds)
        self.extra_files = list(extra_files or ())
        self.watcher = Watcher(self._wake, exclude_patterns)
        # What a zygote imports before its first fork: this process's
        # dependencies (it has loaded the app), then every child's.
        self.preload = []
        self._preload_names = set()
        self.preloading = True
        self.unsafe = False  # the zygote preloaded something that makes a fork unsafe
        self.zygote = None  # (Popen, Channel)
        self.retiring = []  # replaced zygotes, finishing their children's requests
        self.children = set()
        self.asks = False  # the serving child answers "ask" (Django's file_changed)
        self.asking = None  # (changes, deadline) while a child decides
        self.pending = {}
        self.loaded_after = None  # when the serving child began to import (time.time())
        self.quiet_at = 0.0
        self.signals = 0
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self.selector = selectors.DefaultSelector()
        self.selector.register(self._wake_r, selectors.EVENT_READ)

    def _wake(self):
        try:
            os.write(self._wake_w, b"!")
        except BlockingIOError:
            pass  # a wake-up is pending already

    def _note_modules(self, files, loaded_after=None):
        watched = {}
        for name, filename, kind in files:
            if kind in (PROJECT, DEPENDENCY):
                watched[filename] = kind
            if kind != PROJECT and name not in self._preload_names and name != "__main__":
                self._preload_names.add(name)
                self.preload.append(name)
        self.watcher.add_files(watched, loaded_after)

    # -- running --------------------------------------------------------------

    def run(self):
        """Serve through children until a signal; returns the exit code."""
        def stop(signum, frame):
            self.signals += 1
            if self.signals > 1:  # a second Ctrl+C: no more waiting
                self._kill_all()
                stopping.say(" * Stopped at once: a second signal")
                os._exit(stopping.FORCED)
            self._wake()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        self._note_modules(module_files())
        self.watcher.add_files({path: "extra" for path in self.extra_files})
        self.watcher.start()
        log("info", " * Restarting with fastcore's reloader (fork)")
        self._spawn()
        try:
            while not self.signals:
                self._turn()
        finally:
            self.watcher.stop()
            self._stop_all()
        return 0

    def _turn(self):
        now = time.monotonic()
        timeout = None
        if self.pending:
            timeout = max(0.0, self.quiet_at - now)
        if self.asking is not None:
            timeout = max(0.0, min(timeout or ANSWER_TIMEOUT, self.asking[1] - now))
        if self.retiring:
            timeout = min(timeout, 1.0) if timeout is not None else 1.0
        for key, _ in self.selector.select(timeout):
            if key.fileobj == self._wake_r:
                try:
                    os.read(self._wake_r, 4096)
                except BlockingIOError:
                    pass
            else:
                self._from_zygote(key.fileobj)
        changed, complete = self.watcher.take()
        now = time.monotonic()
        if changed:
            self.pending.update(changed)
            self.quiet_at = now + (SETTLE_COMPLETE if complete else SETTLE)
        if self.asking is not None and now > self.asking[1]:
            changes, _ = self.asking
            self.asking = None
            self._reload(changes)
        if self.pending and now >= self.quiet_at and self.asking is None:
            changes, self.pending = self.watcher.new_versions(self.pending), {}
            if changes:
                self._act(changes)
        self.retiring = [proc for proc in self.retiring if proc.poll() is None]

    def _act(self, changes):
        dependencies = sorted(path for path, kind in changes.items() if kind == DEPENDENCY)
        if dependencies:
            log("info", f" * Detected change in {dependencies[0]!r}, a dependency the zygote "
                "had imported: restarting in full")
            self._restart_in_full()
        elif self.asks and self.zygote is not None:
            self.zygote[1].send("ask", paths=sorted(changes))
            self.asking = (changes, time.monotonic() + ANSWER_TIMEOUT)
        else:
            self._reload(changes)

    def _reload(self, changes):
        log("info", f" * Detected change in {sorted(changes)[0]!r}, reloading")
        if self.unsafe or self.zygote is None:
            log("info", " * Restarting in full: a new zygote, which preloads nothing")
            self.unsafe = False
            self._restart_in_full()
        else:
            self.loaded_after = time.time()
            self.zygote[1].send("reload")

    def _restart_in_full(self):
        self._retire_zygote()
        self._spawn()

    # -- the zygote ---------------------------------------------------------------

    def _spawn(self):
        import json

        to_zygote_r, to_zygote_w = os.pipe()
        from_zygote_r, from_zygote_w = os.pipe()
        config = {"program": self.program.to_json(), "read": to_zygote_r,
                  "write": from_zygote_w, "preload": self.preload if self.preloading else None}
        env = {**os.environ, "WERKZEUG_RUN_MAIN": "true", "FASTCORE_ZYGOTE": json.dumps(config)}
        self.loaded_after = time.time()  # what it imports from now on is reported later
        proc = subprocess.Popen([sys.executable, *self.program.options, "-c", _ZYGOTE], env=env,
                                pass_fds=(*self.fds, to_zygote_r, from_zygote_w))
        os.close(to_zygote_r)
        os.close(from_zygote_w)
        channel = Channel(from_zygote_r, to_zygote_w)
        self.selector.register(channel, selectors.EVENT_READ)
        self.zygote = (proc, channel)
        self.asks = False

    def _retire_zygote(self):
        if self.zygote is None:
            return
        proc, channel = self.zygote
        self.zygote = None
        self.selector.unregister(channel)
        channel.close()  # it reads the end of its input: it stops its children and exits
        self.retiring.append(proc)

    def _from_zygote(self, channel):
        messages = channel.receive()
        if messages is None:
            self._zygote_gone()
            return
        for message in messages:
            op = message["op"]
            if op == "forked":
                self.children.add(message["pid"])
                self.asks = False
            elif op == "modules":
                # A child reports what it imported once it serves: a file
                # saved since the fork may not be the text it runs.
                self._note_modules(message["files"], self.loaded_after)
                for folder, glob in message.get("trees", ()):
                    self.watcher.add_tree(folder, glob)
                self.watcher.add_files({path: "extra" for path in message.get("extra", ())})
                self.asks = self.asks or bool(message.get("asks"))
            elif op == "answer" and self.asking is not None:
                changes, _ = self.asking
                self.asking = None
                if not message["handled"]:
                    self._reload(changes)
            elif op == "unsafe":
                log("warning", f" * Reloader: {message['reason']}, so a fork could deadlock or "
                    "serve stale code: each reload now imports every module again")
                self.preloading = False
                self.unsafe = True
            elif op == "exited":
                self.children.discard(message["pid"])
                if not message["asked"]:
                    log("warning", f" * The app exited with code {message['code']}: save a "
                        "file to start it again")

    def _zygote_gone(self):
        proc, channel = self.zygote
        self.selector.unregister(channel)
        channel.close()
        self.zygote = None
        code = proc.wait()
        if self.signals:
            return
        log("warning", f" * Reloader: the zygote exited with code {code}; starting a new "
            "one that imports every module in each child")
        self.preloading = False
        self._spawn()

    # -- stopping -------------------------------------------------------------------

    def _stop_all(self):
        """Stop the zygotes (each stops its children, which finish their
        requests first) and wait for them; kill what is left."""
        self._retire_zygote()
        deadline = time.monotonic() + STOP_TIMEOUT
        for proc in self.retiring:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.retiring:
            try:
                proc.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
        if any(proc.poll() is None for proc in self.retiring):
            self._kill_all()

    def _kill_all(self):
        """Kill the zygotes and their children (a zygote that exits reaps its
        children first, so their pids are only used while one is alive)."""
        for proc in [*self.retiring, *(self.zygote[:1] if self.zygote else ())]:
            if proc.poll() is None:
                proc.kill()
        for pid in self.children:
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
