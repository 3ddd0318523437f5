"""Sphinx configuration of fastcore's documentation (``pip install ".[docs]"``,
then ``sphinx-build -W --keep-going -n docs docs/_build/html``)."""

import importlib.machinery
import importlib.util
import os
import sys

import fastcore
import fastcore.server  # noqa: F401  (the server modules import the real parser first)
import fastcore.serving  # noqa: F401


def _parser_reference():
    """The parser's reference is its stub, ``fastcore/_parser.pyi``: both
    implementations follow it, and it has a docstring for every name and
    field. For this build only, ``fastcore.parser`` is the stub, with the
    module's own docstring and the names the stub does not define."""
    import fastcore.parser as real

    path = os.path.join(os.path.dirname(real.__file__), "_parser.pyi")
    loader = importlib.machinery.SourceFileLoader("fastcore.parser", path)
    stub = importlib.util.module_from_spec(importlib.util.spec_from_loader("fastcore.parser",
                                                                           loader))
    loader.exec_module(stub)
    stub.__doc__ = real.__doc__
    stub.__all__ = list(real.__all__)
    for name in ("COMPILED", "PURE_REASON"):
        setattr(stub, name, getattr(real, name))
    sys.modules["fastcore.parser"] = fastcore.parser = stub


_parser_reference()

project = "fastcore"
author = "the fastcore developers"
copyright = "2026, the fastcore developers"
release = version = fastcore.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.intersphinx",
    "sphinxarg.ext",  # the CLI reference, from fastcore.cli's argparse parser
    "myst_parser",  # the pages written in Markdown
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build"]
myst_heading_anchors = 3

# Every reference must resolve (sphinx-build -n): a renamed function fails the build.
nitpicky = True
# Names the API reference mentions that no inventory documents.
nitpick_ignore = [
    ("py:class", "_typeshed.wsgi.WSGIApplication"),
    ("py:class", "WSGIApplication"),
    ("py:class", "SSLContextArg"),
    # Werkzeug's documentation has no entry for these (its inherited docstrings name them).
    ("py:class", "werkzeug.serving.BaseWSGIServer"),
    ("py:class", "WSGIEnvironment"),
]

autodoc_member_order = "bysource"
autodoc_typehints = "description"

# The build needs no network: each inventory is a file kept in docs/_inventories
# (Debian's python3-doc, python-flask-doc, python-werkzeug-doc and
# python-django-doc), the links point at the projects' sites.
intersphinx_mapping = {
    "python": ("https://docs.python.org/3", "_inventories/python.inv"),
    "werkzeug": ("https://werkzeug.palletsprojects.com/en/stable/", "_inventories/werkzeug.inv"),
    "flask": ("https://flask.palletsprojects.com/en/stable/", "_inventories/flask.inv"),
    "django": ("https://docs.djangoproject.com/en/stable/", "_inventories/django.inv"),
}

html_theme = "alabaster"
html_title = f"fastcore {release}"
html_static_path = []
