"""fastcore: a fast, strict WSGI development server with a compiled HTTP/1.1 parser.

The server names (``run_simple``, ``make_server``, the server and handler
classes) are imported on first use, so ``import fastcore.parser`` loads only
the parser.
"""

__version__ = "0.1.0"

_SERVER_NAMES = {
    "run_simple": "fastcore.serving",
    "make_server": "fastcore.server",
    "BaseWSGIServer": "fastcore.server",
    "ThreadedWSGIServer": "fastcore.server",
    "ForkingWSGIServer": "fastcore.server",
    "is_running_from_reloader": "fastcore.serving",
    "WSGIRequestHandler": "fastcore.handler",
    "patch_werkzeug": "fastcore.patch",
}

__all__ = ["__version__", *_SERVER_NAMES]


def __getattr__(name):
    module = _SERVER_NAMES.get(name)
    if module is None:
        raise AttributeError(f"module 'fastcore' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
