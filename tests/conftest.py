"""Shared fixtures: every parser test runs against both implementations."""

import importlib
import os
import sys
from pathlib import Path

import pytest
from hypothesis import settings

# HYPOTHESIS_PROFILE=thorough runs the property tests a hundred times longer.
settings.register_profile("default", max_examples=300)
settings.register_profile("thorough", max_examples=30000)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

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
