"""The apps the end-to-end load benchmark serves: the same bytes from each server."""

BODY = b"Hello, World!"


def hello(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(BODY)))])
    return [BODY]


def _flask_app():
    try:
        from flask import Flask
    except ImportError:
        return None
    app = Flask(__name__)

    @app.route("/")
    def index():
        return "Hello, World!"

    return app


flask_hello = _flask_app()
