"""The serving child's side of fastcore's reloader: it tells the supervisor
which modules it loaded since the fork (the project's files to watch, the
dependencies for the zygote to import), and answers its questions.

``channel`` and ``inherited`` are set by the zygote in each child it forks;
``channel`` is None elsewhere.
"""

import select
import sys
import threading

from fastcore.reload.program import module_files

__all__ = ["channel", "serving"]

channel = None
# The modules this child had when it was forked: the zygote's, known already.
inherited = frozenset()

# How often the child looks for modules imported since its last report
# (an app may import some on its first request).
RECHECK_SECONDS = 1.0

# Answers the supervisor's "ask" (which paths changed): True when this
# process handled the change itself and needs no restart (Django's
# file_changed receivers). None: nothing to ask, every change restarts.
answer_changes = None


def serving(extra=None):
    """Called once the server is ready to serve: report the modules loaded,
    and keep reporting those loaded later."""
    if channel is None:
        return
    if extra:  # what else to watch (Django's watch_dir): small, and wanted at once
        channel.send("modules", files=[], **extra)
    # The modules are reported from the thread, so the first request is not kept waiting.
    threading.Thread(target=_follow, daemon=True, name="fastcore-reload-report").start()


def _report(reported):
    """Send the modules loaded since the last report (``reported``: their names)."""
    modules = {name: module for name, module in list(sys.modules.items())
               if name not in reported}
    reported.update(modules)
    files = module_files(modules)
    if files:
        channel.send("modules", files=files)


def _follow():
    reported = set(inherited)
    _report(reported)
    while True:
        readable, _, _ = select.select([channel.read_fd], [], [], RECHECK_SECONDS)
        if readable:
            messages = channel.receive()
            if messages is None:
                return  # the zygote is gone
            for message in messages:
                if message["op"] == "ask":
                    handled = answer_changes is not None and answer_changes(message["paths"])
                    channel.send("answer", handled=bool(handled))
        elif len(sys.modules) != len(reported):
            _report(reported)
