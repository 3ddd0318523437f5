"""Build script: compiles fastcore/_parser.pyx unless FASTCORE_NO_EXTENSIONS is set.

All metadata lives in pyproject.toml; this file only declares the extension.
FASTCORE_DEBUG=1 builds it without optimisation, with C asserts and Cython's
annotated HTML (fastcore/_parser.html) beside the source; FASTCORE_SANITIZE=1
leaves the optimisation flags to CFLAGS (fuzz/run.sh builds with sanitizers).
"""

import os

from setuptools import Extension, setup

DEBUG = bool(os.environ.get("FASTCORE_DEBUG"))

if os.environ.get("FASTCORE_NO_EXTENSIONS"):
    ext_modules = []
else:
    from Cython.Build import cythonize

    if DEBUG:
        flags = ["-O0", "-g3", "-UNDEBUG"]
    elif os.environ.get("FASTCORE_SANITIZE"):
        flags = []  # fuzz/run.sh passes the sanitizer flags in CFLAGS
    else:
        flags = ["-O3"]
    ext_modules = cythonize(
        [Extension("fastcore._parser", ["fastcore/_parser.pyx"], extra_compile_args=flags)],
        compiler_directives={"language_level": "3"},
        annotate=DEBUG,
    )

setup(ext_modules=ext_modules)
