"""The built-in demo app that `fastcore run` serves when given no app.

It shows the request it received, has a form that uploads a file, and links to
a response streamed in chunks, so a first run exercises the parser, request
bodies and streaming.
"""

import html
import time

from werkzeug.wrappers import Request, Response

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>fastcore demo</title>
<style>body{{font:15px system-ui,sans-serif;margin:2em;max-width:60em}}
td{{padding:2px 8px;vertical-align:top;font-family:monospace}}</style></head>
<body><h1>fastcore is running</h1>
<p>{summary}</p>
<h2>The request you sent</h2><table>{rows}</table>
<h2>Upload a file</h2>
<form method="post" action="/upload" enctype="multipart/form-data">
<input type="file" name="file"> <button>Upload</button></form>
<p><a href="/stream">A response streamed in chunks</a> (one line every 0.2 s).</p>
</body></html>"""


def _page(request, summary):
    rows = "".join(
        f"<tr><td>{html.escape(key)}</td><td>{html.escape(str(value))}</td></tr>"
        for key, value in sorted(request.environ.items())
        if key.isupper()
    )
    return Response(PAGE.format(summary=summary, rows=rows), mimetype="text/html")


def _stream():
    for i in range(1, 11):
        yield f"chunk {i} of 10 at {time.strftime('%H:%M:%S')}\n".encode()
        time.sleep(0.2)


@Request.application
def demo_app(request):
    if request.path == "/stream":
        return Response(_stream(), mimetype="text/plain")
    if request.path == "/upload" and request.method == "POST":
        upload = request.files.get("file")
        if upload is None or not upload.filename:
            return _page(request, "No file was chosen.")
        size = len(upload.read())
        return _page(request, f"Received <b>{html.escape(upload.filename)}</b>: {size} bytes.")
    return _page(request, f"{html.escape(request.method)} {html.escape(request.full_path)}")
