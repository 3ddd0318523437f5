"""The documentation site (docs/) builds with warnings as errors and every
reference resolved, offline; its CLI reference has every option of the
installed command, and its parser reference every public name. Needs the
``docs`` extra (CI installs it)."""

import argparse
import html
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("sphinx")
pytest.importorskip("myst_parser")
pytest.importorskip("sphinxarg")

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The site, built in a process of its own: docs/conf.py makes the
    parser's stub ``fastcore.parser`` for the build, which must not leak into
    the tests that run after it in this one."""
    out = tmp_path_factory.mktemp("html")
    build = subprocess.run([sys.executable, "-m", "sphinx", "-W", "--keep-going", "-n", "-q",
                            "-b", "html", str(ROOT / "docs"), str(out)],
                           capture_output=True, text=True)
    assert build.returncode == 0, f"sphinx-build -W -n failed:\n{build.stderr}"
    return out


def text_of(page):
    return html.unescape(re.sub(r"<[^>]+>", "", page.read_text()))


def test_every_option_of_fastcore_run_is_in_the_cli_reference(site):
    from fastcore.cli import build_parser

    reference = text_of(site / "cli.html")
    options = [option for action in build_parser().run_parser._actions
               if not isinstance(action, argparse._HelpAction)  # (every command has -h)
               for option in action.option_strings]
    assert "--live-reload-dir" in options and "--max-workers" in options
    missing = [option for option in options if option not in reference]
    assert missing == []


def test_every_public_name_of_the_parser_has_an_entry(site):
    import fastcore.parser

    page = (site / "parser-api.html").read_text()
    missing = [name for name in fastcore.parser.__all__
               if f'id="fastcore.parser.{name}"' not in page]
    assert missing == []


def test_every_field_of_a_request_head_is_described(site):
    page = (site / "parser-api.html").read_text()
    for field in ("method", "target", "path", "query", "version", "headers", "size",
                  "content_length", "chunked", "keep_alive", "expect_continue"):
        assert f'id="fastcore.parser.RequestHead.{field}"' in page, field


def test_the_readme_is_a_front_page():
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) <= 200
    # the two commands: run the demo app, run the tests
    assert 'pip install . && fastcore run\n' in readme
    assert 'pip install ".[test]" && pytest -n 4\n' in readme
