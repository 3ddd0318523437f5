"""Worker threads: the threads the loop moves to, and TLS handshakes.

Strategy: a task goes to the worker that went idle last (its cache is warm,
and the others can retire), waking only that one; with none idle a thread
starts, up to ``max_workers``; past that, tasks wait in a backlog that every
worker empties before it idles. A worker idle for ``idle_timeout`` seconds
ends. No lock: the idle list and the backlog change only through single list
and deque operations, each atomic, and every race between a worker going
idle and a task arriving is closed by a second look (see ``submit`` and
``_next``).
"""

import collections
import queue
import threading
import time

__all__ = ["WorkerPool"]

# What a worker woken to look at the backlog finds in its inbox (None: end).
_LOOK_AT_BACKLOG = object()


class _Worker:
    __slots__ = ("inbox",)

    def __init__(self):
        self.inbox = queue.SimpleQueue()


class WorkerPool:
    """Threads that run ``function(*args)`` tasks; see the module docstring.

    :param max_workers: the most threads at once.
    :param idle_timeout: seconds an idle thread waits for a task before it ends.
    :param on_fault: called (in the ``except`` block) when a task raises: a
        fault of the server, not of an app (the handler catches those).
    """

    def __init__(self, max_workers, idle_timeout, on_fault):
        self.max_workers = max_workers
        self.idle_timeout = idle_timeout
        self._on_fault = on_fault
        self._idle = []  # _Worker objects waiting for a task, the latest last
        self._backlog = collections.deque()  # tasks no worker has taken yet
        self._threads = set()
        self._closed = False

    @property
    def busy(self):
        """How many workers are running a task (or about to)."""
        return len(self._threads) - len(self._idle) + len(self._backlog)

    def submit(self, function, *args, force=False):
        """Run ``function(*args)`` in a worker; with ``force``, in a new thread
        if none is idle, even past ``max_workers`` (the loop moving on must not
        wait). Called by the loop's thread and its monitor."""
        task = (function, args)
        try:
            self._idle.pop().inbox.put(task)
            return
        except IndexError:
            pass
        if force or len(self._threads) < self.max_workers:
            self._start(task)
            return
        self._backlog.append(task)
        # A worker that went idle since our first look may not have seen it.
        try:
            self._idle.pop().inbox.put(_LOOK_AT_BACKLOG)
        except IndexError:
            pass  # all busy: each looks at the backlog before it idles

    def _start(self, task):
        thread = threading.Thread(target=self._work, args=(task,), daemon=True,
                                  name="fastcore-worker")
        self._threads.add(thread)
        thread.start()

    def _work(self, task):
        worker = _Worker()
        try:
            while task is not None:
                function, args = task
                try:
                    function(*args)
                except Exception:
                    self._on_fault()
                task = self._next(worker)
        finally:
            self._threads.discard(threading.current_thread())

    def _next(self, worker):
        """The next task, or None when this worker should end."""
        idle, backlog = self._idle, self._backlog
        while True:
            try:
                return backlog.popleft()
            except IndexError:
                pass
            if self._closed:
                return None
            idle.append(worker)
            if backlog:  # queued while we were going idle
                try:
                    idle.remove(worker)
                    continue
                except ValueError:
                    pass  # already claimed: something is in the inbox
            try:
                task = worker.inbox.get(timeout=self.idle_timeout)
            except queue.Empty:
                try:
                    idle.remove(worker)
                    return None
                except ValueError:
                    task = worker.inbox.get()  # claimed just as we timed out
            if task is not _LOOK_AT_BACKLOG:
                return task  # a task, or None from close()

    def wait(self, timeout, leave=0):
        """Wait up to ``timeout`` seconds until at most ``leave`` tasks run."""
        deadline = time.monotonic() + timeout
        while self.busy > leave and time.monotonic() < deadline:
            time.sleep(0.02)

    def close(self):
        """End the idle workers; busy ones end after their task."""
        self._closed = True
        while True:
            try:
                self._idle.pop().inbox.put(None)
            except IndexError:
                return
