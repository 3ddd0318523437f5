"""Make Flask (app.run() and `flask run`) serve with fastcore."""

import sys

__all__ = ["patch_werkzeug"]


def patch_werkzeug() -> None:
    """Point Werkzeug's run_simple at fastcore's, wherever Flask looks it up.

    ``app.run()`` imports ``werkzeug.serving.run_simple`` when called, while
    ``flask.cli`` binds ``werkzeug.run_simple`` when it is imported; all three
    names are replaced (flask.cli only if it is already imported; if it is
    imported later it binds the patched name). Calling it twice is harmless.
    """
    import werkzeug
    import werkzeug.serving

    from fastcore.serving import run_simple

    werkzeug.serving.run_simple = run_simple
    werkzeug.run_simple = run_simple
    cli = sys.modules.get("flask.cli")
    if cli is not None:
        cli.run_simple = run_simple
