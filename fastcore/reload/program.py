"""What a reload starts again: the program, and which of its modules are the
developer's.

A module is the project's when its file lies outside the standard library,
every site-packages folder and fastcore itself: those are the files a
developer edits (an editable install of their own package included), so the
reloader watches them and each new process imports them. Every other module
is a dependency: the zygote imports it once and each child inherits it.
"""

from __future__ import annotations

import functools
import os
import site
import sys
import sysconfig

__all__ = ["Program", "classify", "module_files"]

PROJECT, DEPENDENCY, STDLIB = "project", "dependency", "stdlib"

_FASTCORE = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep


def _folders(*paths):
    return tuple(sorted({os.path.join(os.path.realpath(p), "") for p in paths if p}, key=len,
                        reverse=True))


def _site_folders():
    paths = {sysconfig.get_paths().get(key) for key in ("purelib", "platlib")}
    paths.update(getattr(site, "getsitepackages", list)())
    if site.ENABLE_USER_SITE is not False:
        paths.add(site.getusersitepackages())
    return _folders(*paths)


_STDLIB = _folders(sysconfig.get_paths()["stdlib"], sysconfig.get_paths()["platstdlib"])
_SITE = _site_folders()


def classify(filename: str) -> str:
    """``PROJECT``, ``DEPENDENCY`` (site-packages, dist-packages, fastcore) or
    ``STDLIB`` for a module's file."""
    return _classify_folder(os.path.dirname(filename))


@functools.lru_cache(maxsize=None)
def _classify_folder(folder):
    path = os.path.join(os.path.realpath(folder), "")
    parts = path.split(os.sep)
    if path.startswith(_SITE) or "site-packages" in parts or "dist-packages" in parts:
        return DEPENDENCY
    if path.startswith(_FASTCORE):
        return DEPENDENCY
    if path.startswith(_STDLIB):
        return STDLIB
    return PROJECT


def module_files(modules=None):
    """``[(name, file, kind)]`` of the loaded modules that have a source
    file, in the order they were imported (the order a zygote repeats);
    modules with no file (built in, frozen, namespace packages) are left out:
    there is nothing to watch, and the zygote gets them with their parents."""
    found = []
    for name, module in list((sys.modules if modules is None else modules).items()):
        filename = getattr(module, "__file__", None)
        if not isinstance(filename, str) or not filename:
            continue
        if filename.endswith((".pyc", ".pyo")):
            filename = filename[:-1]
        found.append((name, filename, classify(filename)))
    return found


class Program:
    """How this process was started, to run it again in a forked child:
    the interpreter's options, and a script (``python app.py``, a console
    script such as ``fastcore`` or ``flask``) or a module (``python -m``).

    ``Program.current()`` is None when the program cannot be run again
    that way (``python -c``, an interactive session, a frozen executable).
    """

    def __init__(self, argv, options, path0, script=None, module=None):
        self.argv = argv
        self.options = options
        self.path0 = path0
        self.script = script
        self.module = module

    @classmethod
    def current(cls) -> Program | None:
        main = sys.modules.get("__main__")
        spec = getattr(main, "__spec__", None)
        argv = list(sys.argv)
        if spec is not None and spec.name:  # python -m NAME
            module = spec.name
            if module.endswith(".__main__"):
                module = module[: -len(".__main__")]
            tail = len(argv) + 1  # -m NAME ARGS...
            return cls(argv, cls._options(tail), os.getcwd(), module=module)
        script = getattr(main, "__file__", None)
        if not script or not os.path.isfile(script) or getattr(sys, "frozen", False):
            return None
        script = os.path.abspath(script)
        return cls(argv, cls._options(len(argv)), os.path.dirname(os.path.realpath(script)),
                   script=script)

    @staticmethod
    def _options(tail):
        """The interpreter's own options (``-X dev``, ``-W error``, ``-O``):
        what sys.orig_argv holds before the program and its arguments."""
        orig = getattr(sys, "orig_argv", None)  # Python 3.10+
        if not orig or len(orig) <= tail:
            return []
        return list(orig[1:-tail])

    def to_json(self):
        return {"argv": self.argv, "options": self.options, "path0": self.path0,
                "script": self.script, "module": self.module}

    @classmethod
    def from_json(cls, data):
        return cls(data["argv"], data["options"], data["path0"], data["script"], data["module"])

    def set_path(self):
        """sys.path[0] as the program had it (the zygote runs with ``-c``,
        which puts the working folder there; ``-I`` and ``-P`` put nothing)."""
        if sys.path and sys.path[0] == "":
            sys.path[0] = self.path0

    def run(self):
        """Run the program in this process, as ``python`` would have."""
        import runpy

        sys.argv[:] = self.argv
        if self.module is not None:
            runpy.run_module(self.module, run_name="__main__", alter_sys=True)
        else:
            runpy.run_path(self.script, run_name="__main__")
