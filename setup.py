"""Build script: compiles fastcore/_parser.pyx unless FASTCORE_NO_EXTENSIONS is set.

All metadata lives in pyproject.toml; this file only declares the extension.
"""

import os

from setuptools import Extension, setup

if os.environ.get("FASTCORE_NO_EXTENSIONS"):
    ext_modules = []
else:
    from Cython.Build import cythonize

    ext_modules = cythonize(
        [Extension("fastcore._parser", ["fastcore/_parser.pyx"], extra_compile_args=["-O3"])],
        compiler_directives={"language_level": "3"},
    )

setup(ext_modules=ext_modules)
