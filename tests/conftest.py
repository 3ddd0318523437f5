"""Shared fixtures: every parser test runs against both implementations."""

import importlib
import os
import sys
from pathlib import Path

import pytest

# The benchmarks' peer adapters (Werkzeug's path, httptools, h11) are reused by
# the tests that compare environs; the repository root itself is not put on
# sys.path, so the installed fastcore (with its compiled module) is the one tested.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))

PURE_ONLY = bool(os.environ.get("FASTCORE_NO_EXTENSIONS"))


@pytest.fixture(params=["compiled", "pure"])
def impl(request):
    """The module under test: fastcore._parser or fastcore._parser_py."""
    if request.param == "compiled":
        if PURE_ONLY:
            pytest.skip("FASTCORE_NO_EXTENSIONS is set")
        return importlib.import_module("fastcore._parser")
    return importlib.import_module("fastcore._parser_py")
