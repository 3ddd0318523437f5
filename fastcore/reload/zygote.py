"""The zygote: a process that imports the program's dependencies once and
forks a fresh child to serve after each change.

The supervisor starts it as a new interpreter (``python -c``), so it holds
nothing the program imported, and it runs no thread: only the forking thread
survives a fork, and a lock another thread held would stay locked in the
child. It imports the modules the supervisor names (those the program
loaded from the standard library and site-packages), forks a child that
runs the program again from the start (the project's own modules are
imported there, fresh), and imports what each child reports it loaded
after that, so the next child finds it ready.

A module whose import starts a thread, opens a socket or imports the
project's code makes a fork unsafe or stale: the zygote says so, and the
supervisor replaces it by one that preloads nothing.
"""

import gc
import importlib
import importlib.machinery
import json
import os
import selectors
import signal
import sys
import threading
import time

from fastcore.reload import child
from fastcore.reload.channel import Channel
from fastcore.reload.program import PROJECT, Program, classify

__all__ = ["main"]

# How long a replaced child may take to finish its requests before it is killed.
LEAVING_GRACE = 10.0


class _ProjectBlocker:
    """A meta path finder, first while preloading: a dependency that imports
    the project's code at import time (a settings module, a plugin) fails
    to preload instead of leaving that code, stale after the next save, in
    every child."""

    @staticmethod
    def find_spec(name, path=None, target=None):
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        origin = getattr(spec, "origin", None)
        if origin and spec.has_location and classify(origin) == PROJECT:
            raise ImportError(f"{name} is the project's: not preloaded")
        return None


def _threads():
    try:
        return len(os.listdir("/proc/self/task"))  # threads of C and Rust code too
    except OSError:
        return threading.active_count()


def _sockets():
    """The fds of this process that are sockets (Linux; empty elsewhere)."""
    found = set()
    try:
        fds = os.listdir("/proc/self/fd")
    except OSError:
        return found
    for fd in fds:
        try:
            if os.readlink(f"/proc/self/fd/{fd}").startswith("socket:"):
                found.add(int(fd))
        except OSError:
            pass
    return found


class Zygote:
    def __init__(self, config):
        self.program = Program.from_json(config["program"])
        self.parent = Channel(config["read"], config["write"])
        self.preload = config["preload"] is not None
        self.child = None  # (pid, Channel) of the serving child
        self.leaving = {}  # pid -> when it is killed if it has not exited
        self.stopping = False
        self.unsafe = None
        self.failed = set()  # names that would not import here: left to the children
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self._sockets = _sockets()
        self.selector = selectors.DefaultSelector()

    # -- preloading ------------------------------------------------------------------

    def import_all(self, names):
        """Import ``names`` (those not imported yet), each on its own: one that
        fails is left to the children. Stops at the first that makes a fork
        unsafe, and tells the supervisor."""
        if not self.preload or self.unsafe:
            return
        started = time.monotonic()
        count = 0
        sys.meta_path.insert(0, _ProjectBlocker)
        try:
            for name in names:
                if name in sys.modules or name in self.failed or name == "__main__":
                    continue
                fds = len(self._sockets)
                try:
                    importlib.import_module(name)
                    count += 1
                except BaseException:  # noqa: BLE001 - any failure: the child imports it
                    self.failed.add(name)
                    continue
                self.unsafe = self._unsafe_after(name, fds)
                if self.unsafe:
                    self.parent.send("unsafe", reason=self.unsafe)
                    return
        finally:
            sys.meta_path.remove(_ProjectBlocker)
        if count:
            self.parent.send("preloaded", count=count, seconds=time.monotonic() - started)

    def _unsafe_after(self, name, fds):
        if _threads() > 1:
            return f"importing {name} started a thread"
        sockets = _sockets()
        if len(sockets) > fds:
            return f"importing {name} opened a socket"
        self._sockets = sockets
        return None

    # -- children --------------------------------------------------------------------

    def fork(self):
        """Fork a child to serve; returns True in the child."""
        to_child_r, to_child_w = os.pipe()
        from_child_r, from_child_w = os.pipe()
        # What the zygote holds is never garbage: the child's collector
        # should not walk it, and so copy every page it touches.
        gc.collect()
        gc.freeze()
        pid = os.fork()
        if pid == 0:
            os.close(to_child_w)
            os.close(from_child_r)
            self.parent.close()
            if self.child is not None:
                self.child[1].close()
            signal.set_wakeup_fd(-1)
            self.selector.close()
            os.close(self._wake_r)
            os.close(self._wake_w)
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            signal.signal(signal.SIGINT, signal.default_int_handler)
            child.channel = Channel(to_child_r, from_child_w)
            child.inherited = frozenset(sys.modules)
            return True
        os.close(to_child_r)
        os.close(from_child_w)
        self.child = (pid, Channel(from_child_r, to_child_w))
        self.parent.send("forked", pid=pid)
        return False

    def retire_child(self):
        """Ask the serving child to stop (it finishes its requests); the next
        one can start at once, on the same listening socket."""
        if self.child is None:
            return
        pid, channel = self.child
        self.child = None
        channel.close()
        self.leaving[pid] = time.monotonic() + LEAVING_GRACE
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass

    def reap(self):
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            code = os.waitstatus_to_exitcode(status)
            asked = self.leaving.pop(pid, None) is not None
            if self.child is not None and self.child[0] == pid:
                self.child[1].close()
                self.child = None
            self.parent.send("exited", pid=pid, code=code, asked=asked or self.stopping)

    def kill_overdue(self):
        now = time.monotonic()
        for pid, deadline in list(self.leaving.items()):
            if now > deadline:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass

    # -- the loop ------------------------------------------------------------------

    def run(self, names):
        """Preload, fork the first child, then follow the supervisor; returns
        True in a forked child (which then runs the program), False when the
        zygote is to exit."""
        def stop(signum, frame):
            self.stopping = True

        signal.set_wakeup_fd(self._wake_w)
        signal.signal(signal.SIGCHLD, lambda signum, frame: None)
        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        self.program.set_path()
        self.import_all(names)
        if self.fork():
            return True
        selector = self.selector
        selector.register(self.parent, selectors.EVENT_READ, self._from_parent)
        selector.register(self._wake_r, selectors.EVENT_READ, self._woken)
        watched_child = None
        while not self.stopping or self.child is not None or self.leaving:
            if self.stopping:
                self.retire_child()
            if self.child is not None and self.child[1] is not watched_child:
                if watched_child is not None:
                    selector.unregister(watched_child)
                watched_child = self.child[1]
                selector.register(watched_child, selectors.EVENT_READ, self._from_child)
            elif self.child is None and watched_child is not None:
                selector.unregister(watched_child)
                watched_child = None
            for key, _ in selector.select(1.0 if self.leaving else None):
                if key.data(key.fileobj):
                    return True
            self.reap()
            self.kill_overdue()
        return False

    def _woken(self, fd):
        try:
            os.read(fd, 512)
        except BlockingIOError:
            pass

    def _from_parent(self, channel):
        messages = channel.receive()
        if messages is None:  # the supervisor is gone
            self.selector.unregister(channel)
            self.stopping = True
            return False
        for message in messages:
            op = message["op"]
            if op == "reload":
                self.retire_child()
                if self.fork():
                    return True
            elif op == "ask" and self.child is not None:
                self.child[1].send("ask", paths=message["paths"])
        return False

    def _from_child(self, channel):
        messages = channel.receive()
        if not messages:
            return False  # closed: reap() reports the exit
        pid = self.child[0]
        for message in messages:
            self.parent.send(pid=pid, **message)
            if message["op"] == "modules":
                self.import_all(name for name, _, kind in message["files"] if kind != PROJECT)
        return False


def main():
    config = json.loads(os.environ.pop("FASTCORE_ZYGOTE"))
    zygote = Zygote(config)
    if not zygote.run(config["preload"] or ()):
        sys.exit(0)
    del zygote
    program = Program.from_json(config["program"])
    program.run()
