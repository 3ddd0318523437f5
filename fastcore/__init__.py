"""fastcore: a fast, strict WSGI development server with a compiled HTTP/1.1 parser.

The server names (``run_simple``, ``make_server``, the server and handler
classes) are imported on first use, so ``import fastcore.parser`` loads only
the parser.
"""

from typing import TYPE_CHECKING

__version__ = "0.1.0"

_SERVER_NAMES = {
    "run_simple": "fastcore.serving",
    "make_server": "fastcore.server",
    "BaseWSGIServer": "fastcore.server",
    "ThreadedWSGIServer": "fastcore.server",
    "ForkingWSGIServer": "fastcore.server",
    "is_running_from_reloader": "fastcore.serving",
    "WSGIRequestHandler": "fastcore.wsgi.handler",
    "patch_werkzeug": "fastcore.patch",
}

__all__ = ["__version__", *_SERVER_NAMES]

if TYPE_CHECKING:  # what type checkers see of the names imported on first use
    from fastcore.wsgi.handler import WSGIRequestHandler as WSGIRequestHandler
    from fastcore.patch import patch_werkzeug as patch_werkzeug
    from fastcore.server import BaseWSGIServer as BaseWSGIServer
    from fastcore.server import ForkingWSGIServer as ForkingWSGIServer
    from fastcore.server import ThreadedWSGIServer as ThreadedWSGIServer
    from fastcore.server import make_server as make_server
    from fastcore.serving import is_running_from_reloader as is_running_from_reloader
    from fastcore.serving import run_simple as run_simple


def __getattr__(name: str) -> object:
    module = _SERVER_NAMES.get(name)
    if module is None:
        raise AttributeError(f"module 'fastcore' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
