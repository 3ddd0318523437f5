"""The compiled parser must be the one in use unless the user opted out."""

import os
import subprocess
import sys

import pytest

from fastcore import parser


@pytest.mark.skipif(bool(os.environ.get("FASTCORE_NO_EXTENSIONS")), reason="pure build requested")
@pytest.mark.skipif("not built" in (parser.PURE_REASON or ""),
                    reason="installed without a compiler, as the build warned")
def test_compiled_module_is_in_use():
    assert parser.COMPILED, (
        "fastcore._parser did not load: the extension was not built "
        "(install with `pip install .`, and run `pytest`, not `python -m pytest`, "
        "from the checkout so the installed package is imported)"
    )
    assert parser.parse_request.__module__ == "fastcore._parser"


def test_env_var_forces_pure_implementation():
    code = "import fastcore.parser as p; print(p.COMPILED, p.parse_request.__module__)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "FASTCORE_NO_EXTENSIONS": "1"}).stdout
    assert out.split() == ["False", "fastcore._parser_py"]


def test_parser_does_not_import_the_server():
    code = ("import sys, fastcore.parser; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('werkzeug', 'socketserver', 'http') or m.startswith('fastcore.serv')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"


def test_twins_export_the_same_names():
    from fastcore import _parser_py
    names = set(_parser_py.__all__)
    if parser.COMPILED:
        from fastcore import _parser
        assert set(_parser.__all__) == names
        for name in names:
            assert hasattr(_parser, name)
    for name in names:
        assert hasattr(_parser_py, name)
    assert names <= set(dir(parser))
