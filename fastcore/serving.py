"""run_simple and the signals around it: Werkzeug's entry point, served by fastcore.

SIGTERM and SIGINT stop as ``fastcore.stopping`` says, with or without a
reloader: a reloader's parent passes the stop on to the serving child as
SIGTERM and waits for it (Werkzeug's parent dies at once and leaves the
child serving).
"""

from __future__ import annotations

import html
import os
import signal
import sys
import threading
import traceback
from typing import TYPE_CHECKING, Any, Iterable

from werkzeug.serving import is_running_from_reloader

import fastcore.live
from fastcore import reload, stopping
from fastcore.wsgi.access_log import log, style
from fastcore.io.connection import TakenOver
from fastcore.parser import PURE_REASON
from fastcore.reload.supervisor import Supervisor
from fastcore.server import SSLContextArg, make_server

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication

    from fastcore.wsgi.handler import WSGIRequestHandler

__all__ = ["run_simple", "is_running_from_reloader"]


def _forward_signals_to_children():
    """In the parent of Werkzeug's reloader: pass SIGTERM/SIGINT on to the
    serving child as SIGTERM (it finishes its requests, then exits 0, which
    ends the parent's loop); a second signal kills it and exits at once."""
    signals = 0

    def forward(signum, frame):
        nonlocal signals
        signals += 1
        for pid in _child_pids():
            try:
                os.kill(pid, signal.SIGTERM if signals == 1 else signal.SIGKILL)
            except ProcessLookupError:
                pass
        if signals > 1:
            stopping.say(" * Stopped at once: a second signal")
            os._exit(stopping.FORCED)

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, forward)
        signal.signal(signal.SIGINT, forward)


def _werkzeug_reloader_child(server, live, extra_files, exclude_patterns, interval,
                             reloader_type):
    """In the child of Werkzeug's reloader: serve from a thread while the
    main thread runs Werkzeug's file watcher (which exits 3 on a change, for
    the parent to start the next child). The parent passes a stop on as
    SIGTERM; once the requests in flight are done, the serving thread ends
    the process (the watcher's thread may be inside a lock, where an
    exception would not unwind cleanly)."""
    from werkzeug._reloader import reloader_loops

    def serve():
        try:
            server.serve_forever()
        finally:
            if live is not None:
                live.stop()
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(0)

    stopping.on_signals(server, live.streams.end if live is not None else None,
                        from_parent=True)
    reloader = reloader_loops[reloader_type](extra_files=extra_files,
                                             exclude_patterns=exclude_patterns,
                                             interval=interval)
    with reloader:
        threading.Thread(target=serve, daemon=True, name="fastcore-serve").start()
        reloader.run()


def _child_pids():
    """This process's children, from /proc (Linux); none elsewhere."""
    me = str(os.getpid())
    pids = []
    try:
        entries = os.listdir("/proc")
    except OSError:
        return pids
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[1] == me:
            pids.append(int(entry))
    return pids


def _live_reload_folders(app, static_files, dirs, processes):
    """The folders live reload watches for ``app``, once it is known it can
    run; a Flask app is set to serve each saved template (its debug mode
    stays as it is)."""
    reason = fastcore.live.cannot_run(processes)
    if reason is not None:
        raise RuntimeError(reason)
    dirs = [*(dirs or ()),
            *filter(None, os.environ.get("FASTCORE_LIVE_RELOAD_DIRS", "").split(os.pathsep))]
    flask = fastcore.live.flask_app(app)
    if flask is not None:
        flask.config["TEMPLATES_AUTO_RELOAD"] = True
        if "jinja_env" in vars(flask):  # made already: it read the setting
            flask.jinja_env.auto_reload = True
    return fastcore.live.folders(app, static_files, dirs)


def _traceback_pages(app):
    """The debugger's stand-in (when werkzeug.debug is missing, and under live
    reload without --debug): an exception the app raises before it returns
    its response is answered with a 500 page that shows the traceback (also
    written to wsgi.errors). The page is HTML, so live reload's tag goes in
    it and the tab recovers on the next save. The app's own response passes
    through untouched (a file wrapper still reaches sendfile)."""

    def application(environ, start_response):
        try:
            return app(environ, start_response)
        except TakenOver:  # the app's socket was taken over (a WebSocket): not an error
            raise
        except Exception as e:
            text = traceback.format_exc()
            environ["wsgi.errors"].write(text)
            summary = html.escape(traceback.format_exception_only(type(e), e)[-1].strip())
            page = (f"<!doctype html>\n<html lang=en>\n<title>500 {summary}</title>\n"
                    f"<h1>500 Internal Server Error</h1>\n<p>{summary}</p>\n"
                    f"<pre>{html.escape(text)}</pre>\n").encode()
            # Raises again (PEP 3333) if the response has started.
            start_response("500 INTERNAL SERVER ERROR",
                           [("Content-Type", "text/html; charset=utf-8"),
                            ("Content-Length", str(len(page)))], sys.exc_info())
            return [page]

    return application


def run_simple(hostname: str, port: int, application: WSGIApplication,
               use_reloader: bool = False, use_debugger: bool = False, use_evalex: bool = True,
               extra_files: Iterable[str] | None = None,
               exclude_patterns: Iterable[str] | None = None, reloader_interval: int = 1,
               reloader_type: str = "auto", threaded: bool = False, processes: int = 1,
               request_handler: type[WSGIRequestHandler] | None = None,
               static_files: dict[str, str | tuple[str, str]] | None = None,
               passthrough_errors: bool = False, ssl_context: SSLContextArg = None,
               live_reload: bool | None = None, live_reload_dirs: Iterable[str] | None = None,
               **options: Any) -> None:
    """Start a development server for ``application``: Werkzeug's run_simple,
    with the same parameters and behaviour, served by fastcore.

    :param hostname: a host name, IPv4 or IPv6 address, or ``unix://PATH``.
    :param port: the port; 0 picks a free one (the banner shows it).
    :param application: the WSGI application.
    :param use_reloader: restart the server when a module or ``extra_files`` changes.
    :param use_debugger: wrap the app in Werkzeug's interactive debugger.
    :param use_evalex: allow the debugger's console.
    :param extra_files: more files the reloader watches.
    :param exclude_patterns: fnmatch patterns of files the reloader ignores.
    :param reloader_interval: seconds between the stat reloader's checks.
    :param reloader_type: ``"auto"`` (fastcore's reloader, see :mod:`fastcore.reload`;
        the ``FASTCORE_RELOADER`` environment variable may name another), or
        Werkzeug's ``"stat"`` or ``"watchdog"``.
    :param threaded: serve each active connection in a thread.
    :param processes: serve each connection in a child process, at most this many.
    :param request_handler: a WSGIRequestHandler subclass.
    :param static_files: URL prefix -> directory, served by SharedDataMiddleware.
    :param passthrough_errors: let app errors crash the server instead of a 500.
    :param ssl_context: an SSLContext, a (cert, key) tuple, or ``"adhoc"``.
    :param live_reload: the browser follows every save (turns the reloader on).
        None: on when the environment variable ``FASTCORE_LIVE_RELOAD`` is ``1``
        (``fastcore flask run --live-reload`` sets it).
    :param live_reload_dirs: more folders whose changes reload the page
        (``FASTCORE_LIVE_RELOAD_DIRS``, separated by ``os.pathsep``, adds to them).
    """
    if not isinstance(port, int):
        raise TypeError("port must be an integer")
    if live_reload is None:
        live_reload = os.environ.get("FASTCORE_LIVE_RELOAD") == "1"
    live = None
    if live_reload:
        use_reloader = True
        watched = _live_reload_folders(application, static_files, live_reload_dirs, processes)
    if static_files:
        from werkzeug.middleware.shared_data import SharedDataMiddleware

        application = SharedDataMiddleware(application, static_files)
    debugger_missing = False
    if use_debugger:
        try:
            from werkzeug.debug import DebuggedApplication
        except ImportError:  # its future in Werkzeug is under discussion
            debugger_missing = True
            application = _traceback_pages(application)
        else:
            application = DebuggedApplication(application, evalex=use_evalex)
            application.trusted_hosts.append(hostname)
    elif live_reload and not passthrough_errors:  # the page shows what a save broke
        application = _traceback_pages(application)
    if live_reload:
        live = fastcore.live.Live(application, watched)
        application = live.app

    program = None
    if use_reloader:
        # (In Werkzeug's reloader's child too: it runs the watcher of the type chosen.)
        program, werkzeug_type, fallback = reload.choose(reloader_type)
        reloader_type = werkzeug_type or reloader_type
        if fallback and not is_running_from_reloader():
            log("warning", f" * Reloader: Werkzeug's, restarting in full: {fallback}")
    fd = int(os.environ["WERKZEUG_SERVER_FD"]) if is_running_from_reloader() else None
    srv = make_server(hostname, port, application, threaded, processes, request_handler,
                      passthrough_errors, ssl_context, fd=fd, **options)
    srv.socket.set_inheritable(True)
    os.environ["WERKZEUG_SERVER_FD"] = str(srv.fileno())
    for sock in srv.extra_sockets:
        sock.set_inheritable(True)
        os.environ["FASTCORE_SERVER_FD6"] = str(sock.fileno())
    if not is_running_from_reloader():
        srv.log_startup()
        if PURE_REASON is not None:
            log("warning", " * Parser: pure Python, several times slower (%s)", PURE_REASON)
        if debugger_missing:
            log("warning", " * Debugger: werkzeug.debug is not installed; an error answers a "
                "page with its traceback")
        log("info", style("Press CTRL+C to quit", "yellow"))

    if use_reloader and reload.child.channel is not None:
        # A child of fastcore's reloader: serve until the next change replaces it.
        reload.child.serving()
        if live is not None:
            live.start()
        # A tab's stream ends with the signal, not after the requests in
        # flight: the tab reconnects to the next child at once.
        try:
            stopping.serve(srv, live.streams.end if live is not None else None, from_parent=True)
        finally:
            if live is not None:
                live.stop()
    elif use_reloader and not is_running_from_reloader() and program is not None:
        sys.exit(Supervisor(program, [srv.fileno(), *(s.fileno() for s in srv.extra_sockets)],
                            extra_files, exclude_patterns).run())
    elif use_reloader and is_running_from_reloader():
        if live is not None:
            live.start()
        _werkzeug_reloader_child(srv, live, extra_files, exclude_patterns, reloader_interval,
                                 reloader_type)
    elif use_reloader:
        from werkzeug._reloader import reloader_loops

        _forward_signals_to_children()
        reloader = reloader_loops[reloader_type](extra_files=extra_files,
                                                 exclude_patterns=exclude_patterns,
                                                 interval=reloader_interval)
        try:  # each child serves on the socket it inherits
            sys.exit(reloader.restart_with_reloader())
        finally:
            srv.server_close()
    else:
        stopping.serve(srv)
