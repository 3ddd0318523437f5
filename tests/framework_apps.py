"""One WSGI app per framework, each reading the request body its own way, for
test_frameworks. Every route answers with the sha256 and length of the data it
saw, as JSON; the first path segment picks the framework (``/django/raw``,
``/flask/files``...), and /socket.io/ is Flask-SocketIO (ws_apps).

Routes (each framework has those it supports):
  raw    the body as bytes, the framework's usual way
  form   the field ``f`` of an urlencoded form
  files  the file ``upload`` of a multipart form
  stream, media, lines, iter, readinto, read1: the other accessors named in
         each app below
"""

import hashlib
import json
from wsgiref.validate import validator


def _digest(data):
    if isinstance(data, str):
        data = data.encode("latin-1")
    return {"sha256": hashlib.sha256(data).hexdigest(), "length": len(data)}


def _json_response(start_response, payload):
    body = json.dumps(payload).encode()
    start_response("200 OK", [("Content-Type", "application/json"),
                              ("Content-Length", str(len(body)))])
    return [body]


# -- a plain WSGI app: PEP 3333's read methods, each used as an app would -----------

def _read_whole(stream, environ):
    """One read of CONTENT_LENGTH (Django's and Engine.IO's way), or of all
    there is (a chunked body: wsgiref's validator wants read's argument)."""
    length = environ.get("CONTENT_LENGTH")
    return stream.read(int(length) if length else -1)


def _read_lines(stream, environ):
    return b"".join(iter(stream.readline, b""))


def _read_iter(stream, environ):
    return b"".join(stream)


def _read_into(stream, environ):
    parts = []
    buffer = bytearray(70000)  # not a divisor of any size sent
    while True:
        count = stream.readinto(buffer)
        if not count:
            return b"".join(parts)
        parts.append(bytes(buffer[:count]))


def _read_lines_limited(stream, environ):
    return b"".join(stream.readlines(1000)) + b"".join(iter(lambda: stream.readline(777), b""))


def _read1(stream, environ):
    return b"".join(iter(lambda: stream.read1(50000), b""))


PLAIN_READS = {"raw": _read_whole, "lines": _read_lines, "iter": _read_iter,
               "readinto": _read_into, "readlines": _read_lines_limited, "read1": _read1}
# wsgiref's validator hides what PEP 3333 does not name.
_UNVALIDATED = ("/readinto", "/read1")


def _plain(environ, start_response):
    route = environ["PATH_INFO"].strip("/")
    if route == "ping":
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "4")])
        return [b"pong"]
    data = PLAIN_READS[route](environ["wsgi.input"], environ)
    return _json_response(start_response, _digest(data))


_validated_plain = validator(_plain)


def plain_app(environ, start_response):
    if environ["PATH_INFO"] in _UNVALIDATED:
        return _plain(environ, start_response)
    return _validated_plain(environ, start_response)


# -- Django ---------------------------------------------------------------------------

def _django_app():
    import django
    from django.conf import settings
    from django.http import JsonResponse
    from django.urls import path
    from django.views.decorators.csrf import csrf_exempt

    @csrf_exempt
    def raw(request):
        return JsonResponse(_digest(request.body))

    @csrf_exempt
    def form(request):
        return JsonResponse(_digest(request.POST["f"]))

    @csrf_exempt
    def files(request):
        return JsonResponse(_digest(request.FILES["upload"].read()))

    settings.configure(
        DEBUG=False, SECRET_KEY="test", ALLOWED_HOSTS=["*"], ROOT_URLCONF=__name__,
        MIDDLEWARE=[], INSTALLED_APPS=[],
        # No cap on what request.body and request.POST hold: the test sends 16 MiB.
        DATA_UPLOAD_MAX_MEMORY_SIZE=None, DATA_UPLOAD_MAX_NUMBER_FIELDS=None)
    global urlpatterns
    urlpatterns = [path("raw", raw), path("form", form), path("files", files)]
    django.setup()
    from django.core.wsgi import get_wsgi_application

    return get_wsgi_application()


# -- Flask / Werkzeug ----------------------------------------------------------------

def _flask_app():
    from flask import Flask, request

    app = Flask("framework_flask")
    # Werkzeug's default form limits are for production: the test sends 16 MiB.
    app.config["MAX_FORM_MEMORY_SIZE"] = None

    @app.post("/raw")
    def raw():
        return _digest(request.get_data())

    @app.post("/form")
    def form():
        return _digest(request.form["f"])

    @app.post("/files")
    def files():
        return _digest(request.files["upload"].read())

    @app.post("/stream")
    def stream():
        return _digest(b"".join(iter(lambda: request.stream.read(40000), b"")))

    return app


# -- Bottle ----------------------------------------------------------------------------

def _bottle_app():
    import bottle

    bottle.BaseRequest.MEMFILE_MAX = 32 << 20  # bodies above go to a temporary file
    app = bottle.Bottle()

    @app.post("/raw")
    def raw():
        return _digest(bottle.request.body.read())

    @app.post("/form")
    def form():
        return _digest(bottle.request.forms.getunicode("f", encoding="latin-1"))

    @app.post("/files")
    def files():
        return _digest(bottle.request.files["upload"].file.read())

    return app


# -- Falcon ----------------------------------------------------------------------------

def _falcon_app():
    import falcon

    class Raw:
        def on_post(self, req, resp):
            resp.media = _digest(req.bounded_stream.read())

    class Media:
        def on_post(self, req, resp):
            resp.media = _digest(req.get_media()["f"])

    app = falcon.App()
    app.add_route("/raw", Raw())
    app.add_route("/media", Media())
    return app


# -- WebOb (Pyramid's request) ---------------------------------------------------------

def _webob_app():
    from webob import Request, Response

    def app(environ, start_response):
        request = Request(environ)
        route = request.path_info.strip("/")
        if route == "raw":
            data = request.body
        elif route == "form":
            data = request.POST["f"]
        else:
            data = request.POST["upload"].file.read()
        return Response(json=_digest(data))(environ, start_response)

    return app


def _socketio_app():
    from ws_apps import socketio_app

    return socketio_app


FRAMEWORKS = {"plain": lambda: plain_app, "django": _django_app, "flask": _flask_app,
              "bottle": _bottle_app, "falcon": _falcon_app, "webob": _webob_app}


def app():
    """The dispatcher: the first path segment names the framework."""
    apps = {name: make() for name, make in FRAMEWORKS.items()}
    socketio = _socketio_app()

    def dispatch(environ, start_response):
        path = environ["PATH_INFO"]
        name, _, rest = path[1:].partition("/")
        if name == "socket.io":
            return socketio(environ, start_response)
        environ["SCRIPT_NAME"] += "/" + name
        environ["PATH_INFO"] = "/" + rest
        return apps[name](environ, start_response)

    return dispatch
