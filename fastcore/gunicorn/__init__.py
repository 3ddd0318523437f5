"""fastcore as a gunicorn worker: ``gunicorn -k fastcore.gunicorn.Worker app:app``.

``worker`` holds the worker class and the server and handler it runs;
``log`` renders gunicorn's access log. See ``fastcore.gunicorn.worker`` for
what gunicorn's settings mean here. Importing ``fastcore`` never imports
gunicorn; this package needs it (the ``gunicorn`` extra).
"""

from fastcore.gunicorn.worker import Worker

__all__ = ["Worker"]
