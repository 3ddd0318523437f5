"""fastcore: a fast, strict WSGI development server."""

__version__ = "0.1.0"
