"""Build script: compiles fastcore/_parser.pyx, or falls back to the pure-Python parser.

All metadata lives in pyproject.toml; this file only declares the extension.

When the extension cannot be built (no C compiler, no Python headers, a
Cython error), the install goes on without it: fastcore then uses its
pure-Python parser, which behaves the same, only slower. The build prints a
warning naming the cause, and writes it to fastcore/_build_failure.txt in
the installed package, where ``fastcore --version`` and the server's banner
find it. FASTCORE_REQUIRE_EXTENSIONS=1 makes the failure an error instead.

FASTCORE_NO_EXTENSIONS=1 skips the extension on purpose. FASTCORE_DEBUG=1
builds it without optimisation, with C asserts and Cython's annotated HTML
(fastcore/_parser.html) beside the source; FASTCORE_SANITIZE=1 leaves the
optimisation flags to CFLAGS (fuzz/run.sh builds with sanitizers).
"""

import os
import re
import sys

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

DEBUG = bool(os.environ.get("FASTCORE_DEBUG"))
REQUIRED = bool(os.environ.get("FASTCORE_REQUIRE_EXTENSIONS"))
FAILURE_FILE = os.path.join("fastcore", "_build_failure.txt")


def _warn(cause):
    line = "=" * 78
    sys.stderr.write(
        f"\n{line}\nWARNING: fastcore's compiled parser could not be built:\n  {cause}\n"
        "fastcore is installed with its pure-Python parser, which behaves the same but\n"
        "parses several times slower. For the compiled one, install a C compiler and\n"
        "Python's headers (Debian/Ubuntu: apt install gcc python3-dev) and reinstall,\n"
        "or install a wheel. FASTCORE_REQUIRE_EXTENSIONS=1 makes this an error.\n"
        f"{line}\n\n")


def _cause(error):
    """One line on why the build failed: the compiler and its status, if it ran."""
    text = str(error)
    ran = re.search(r"Command '\['([^']*)'.*(returned non-zero exit status \d+)", text)
    if ran:
        return f"the C compiler failed ({ran.group(1)} {ran.group(2)})"
    return f"{type(error).__name__}: {text}"


class OptionalBuildExt(build_ext):
    """build_ext that records a failure instead of failing the install."""

    def run(self):
        failure = _failure_path(self)
        if os.path.exists(failure):
            os.remove(failure)  # from an earlier build
        if CYTHON_ERROR is not None:
            self._fall_back(CYTHON_ERROR)
            return
        try:
            super().run()
        except Exception as e:  # no compiler at all (DistutilsPlatformError), ...
            if REQUIRED:
                raise
            self._fall_back(_cause(e))

    def build_extension(self, ext):
        try:
            super().build_extension(ext)
        except Exception as e:  # CompileError, LinkError, a missing header
            if REQUIRED:
                raise
            self._fall_back(_cause(e))

    def _fall_back(self, cause):
        _warn(cause)
        failure = _failure_path(self)
        os.makedirs(os.path.dirname(failure), exist_ok=True)
        with open(failure, "w") as f:
            f.write(f"{cause}\n")


def _failure_path(command):
    return FAILURE_FILE if command.inplace else os.path.join(command.build_lib, FAILURE_FILE)


CYTHON_ERROR = None  # why the .pyx could not be turned into C, if it could not
if os.environ.get("FASTCORE_NO_EXTENSIONS"):
    ext_modules = []
else:
    if DEBUG:
        flags = ["-O0", "-g3", "-UNDEBUG"]
    elif os.environ.get("FASTCORE_SANITIZE"):
        flags = []  # fuzz/run.sh passes the sanitizer flags in CFLAGS
    else:
        flags = ["-O3"] if sys.platform != "win32" else ["/O2"]
    extension = Extension("fastcore._parser", ["fastcore/_parser.pyx"], extra_compile_args=flags)
    try:
        from Cython.Build import cythonize

        ext_modules = cythonize([extension], compiler_directives={"language_level": "3"},
                                annotate=DEBUG)
    except Exception as e:  # Cython missing or a compile error in the .pyx
        if REQUIRED:
            raise
        CYTHON_ERROR = f"Cython: {_cause(e)}"
        ext_modules = [extension]  # so build_ext runs, and records the failure

setup(ext_modules=ext_modules, cmdclass={"build_ext": OptionalBuildExt})
