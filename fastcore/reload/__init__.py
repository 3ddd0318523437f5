"""fastcore's reloader: a saved file is served by new code without
importing the app's dependencies again (docs/reloader.md has the figures).

Three processes: the **supervisor** (the one the developer started) holds
the listening socket and watches the project's files; a **zygote**, a fresh
interpreter, imports the app's third-party modules once and forks a
**child** for each change, which runs the program again from the start
(importing only the project's own modules) and serves on the inherited
socket. A request that arrives during a reload waits in the socket's
backlog and is answered by the new child. See docs/reloader.md.

``run_simple(use_reloader=True)`` uses it when ``reloader_type`` is
``"auto"`` (and ``FASTCORE_RELOADER`` is not ``stat`` or ``watchdog``, which
name Werkzeug's reloaders), wherever ``unavailable()`` finds no reason not to.
"""

import importlib.util
import os

from fastcore.reload import child
from fastcore.reload.program import Program

__all__ = ["choose", "child", "Program"]

WERKZEUG_TYPES = ("stat", "watchdog")


def choose(reloader_type="auto"):
    """Which reloader runs this program: ``(program, None, None)`` for
    fastcore's, or ``(None, werkzeug_type, reason)`` for Werkzeug's, of that
    type, with why (one line for the log; None when it was asked for).
    ``FASTCORE_RELOADER`` in the environment stands in for "auto"."""
    if reloader_type == "auto":
        reloader_type = os.environ.get("FASTCORE_RELOADER") or "auto"
    if reloader_type in WERKZEUG_TYPES:
        return None, reloader_type, None
    if reloader_type not in ("auto", "fastcore"):
        raise ValueError(f"reloader_type must be 'auto', 'fastcore', 'stat' or 'watchdog', "
                         f"not {reloader_type!r}")
    if not hasattr(os, "fork"):
        return None, "auto", "this platform has no fork()"
    if importlib.util.find_spec("watchdog") is None:
        return None, "stat", "watchdog is not installed (pip install watchdog)"
    program = Program.current()
    if program is None:
        return None, "auto", "this program cannot be started again (python -c, or a frozen one)"
    return program, None, None
