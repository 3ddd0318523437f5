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


BIG = b"x" * 65536


def big(environ, start_response):
    """A 64 KiB response."""
    start_response("200 OK", [("Content-Type", "application/octet-stream"),
                              ("Content-Length", str(len(BIG)))])
    return [BIG]


def upload(environ, start_response):
    """Reads the request body (the benchmark sends 1 MiB chunked) and answers with its size."""
    stream = environ["wsgi.input"]
    size = 0
    while True:
        piece = stream.read(65536)
        if not piece:
            break
        size += len(piece)
    body = str(size).encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
