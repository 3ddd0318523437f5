"""Flask apps whose routes take their connection over (WebSockets), served by
test_websockets through serve.py ("ws_apps.echo_app"), `fastcore run` and
`app.run()`."""

import hashlib
import time

from flask import Flask, request
from flask_sock import Sock
from flask_socketio import SocketIO

echo_app = Flask(__name__)
_sock = Sock(echo_app)


@echo_app.route("/")
def index():
    return "hello"


@echo_app.route("/slow")
def slow():
    time.sleep(float(request.args.get("s", "0.2")))
    return "slow"


@_sock.route("/echo")
def echo(ws):
    """Echo every message; "bye" makes the server close the websocket."""
    while True:
        message = ws.receive()
        if message == "bye":
            return  # Flask-Sock closes the websocket when the route returns
        ws.send(message)


socketio_app = Flask(__name__)
socketio = SocketIO(socketio_app, async_mode="threading")


@socketio.on("echo")
def socketio_echo(data):
    return data  # the acknowledgement carries the data back


@socketio.on("digest")
def socketio_digest(data):
    """The sha256 and length of an event's payload (test_frameworks)."""
    if isinstance(data, str):
        data = data.encode("latin-1")
    return {"sha256": hashlib.sha256(data).hexdigest(), "length": len(data)}


@socketio_app.route("/")
def socketio_index():
    return "hello"
