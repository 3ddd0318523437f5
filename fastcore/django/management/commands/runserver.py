"""``manage.py runserver``, served by fastcore.

The command is Django's own (staticfiles' when that app is installed, for its
``--nostatic`` and ``--insecure``), so the address and port, ``--ipv6``,
``--nothreading``, ``--noreload``, ``--skip-checks``, the system checks, the
unapplied-migrations warning and the banner are Django's. The server it
starts is fastcore's: Django's ``inner_run`` calls
``django.core.servers.basehttp.run`` by the name its module imported, which
this command points at ``serve`` while it runs. Requests are logged through
the ``django.server`` logger, as runserver logs them.

The reloader is fastcore's (``fastcore.reload``): the listening socket is
bound once and stays open across reloads, and each change is served by a
child forked from a process that has imported Django already. Django's
``autoreload_started`` and ``file_changed`` signals are sent in each child
as Django's own reloader sends them, so a receiver that watches a folder
(template folders, translations, django-browser-reload) keeps working, and
one that handles a change (returns True) spares the restart.

``FASTCORE_DISABLE=1`` in the environment leaves Django's server in place.
"""

import logging
import os
import sys
from pathlib import Path

import django.core.management.commands.runserver as django_runserver
from django.apps import apps
from django.utils import autoreload

from fastcore import reload, stopping
from fastcore.wsgi.access_log import log
from fastcore.wsgi.handler import WSGIRequestHandler
from fastcore.reload.supervisor import Supervisor
from fastcore.server import make_server

if apps.is_installed("django.contrib.staticfiles"):
    from django.contrib.staticfiles.management.commands.runserver import Command as _Base
else:
    _Base = django_runserver.Command

_logger = logging.getLogger("django.server")


class DjangoRequestHandler(WSGIRequestHandler):
    """Logs through ``django.server`` as Django's runserver does: the time in
    ``server_time``, the level by status (5xx error, 4xx warning), the bytes
    of the body sent."""

    def log_request(self, code="-", size="-"):
        exchange = self.exchange
        if exchange is not None:
            size = exchange.sent
        code = str(code)
        level = logging.INFO
        extra = {"request": self.request, "server_time": self.log_date_time_string()}
        if code.isdigit() and len(code) == 3:
            extra["status_code"] = int(code)
            if code >= "500":
                level = logging.ERROR
            elif code >= "400":
                level = logging.WARNING
        _logger.log(level, '"%s" %s %s', self.requestline, code, size, extra=extra)

    def log(self, type, message, *args):
        _logger.log(logging.getLevelName(type.upper()), message, *args,
                    extra={"request": self.request, "server_time": self.log_date_time_string()})


def serve(addr, port, wsgi_handler, ipv6=False, threading=False, on_bind=None, **ignored):
    """Django's ``basehttp.run``, served by fastcore (threaded unless
    ``--nothreading``; ``addr`` an IPv6 address without brackets with
    ``ipv6``). ``ignored``: ``server_cls``, a class of Django's server."""
    inherited = reload.child.channel is not None
    fd = int(os.environ["WERKZEUG_SERVER_FD"]) if inherited else None
    server = make_server(addr, port, wsgi_handler, threaded=threading,
                         request_handler=DjangoRequestHandler, fd=fd)
    if on_bind is not None:
        on_bind(server.port)
    if inherited:
        reloader = _Reloader.current
        reload.child.serving(extra={
            "asks": True, "extra": [str(path) for path in reloader.extra_files],
            "trees": [(str(folder), glob) for folder, globs in reloader.directory_globs.items()
                      for glob in sorted(globs)]})
    # With --noreload, or in a child of fastcore's reloader (whose zygote
    # passes Ctrl+C on as SIGTERM): SIGTERM and Ctrl+C stop it as
    # fastcore.stopping says. Under Django's autoreloader this is a thread
    # of its, and Django handles them.
    try:
        stopping.serve(server, from_parent=inherited)
    finally:
        server.server_close()


class _Reloader(autoreload.BaseReloader):
    """What Django's autoreload receivers are given as ``sender`` in a child
    of fastcore's reloader: ``watch_dir`` and ``watch_file`` note what to
    watch (the supervisor watches it); ``changed`` sends ``file_changed``
    for each changed path, as Django's reloader does."""

    current = None

    def changed(self, paths):
        """Whether every receiver handled every path (then no restart)."""
        handled = True
        for path in paths:
            results = autoreload.file_changed.send(sender=self, file_path=Path(path))
            handled = handled and any(result for _, result in results)
        return handled


class Command(_Base):
    help = _Base.help + " (fastcore)"

    def run(self, **options):
        if os.environ.get("FASTCORE_DISABLE") == "1" or not options["use_reloader"]:
            return super().run(**options)
        if reload.child.channel is not None:
            return self._serve_in_child(**options)
        program, _, fallback = reload.choose()
        if program is None:
            if fallback:
                log("warning", f" * Reloader: Django's, restarting in full: {fallback}")
            return super().run(**options)
        # Bound here, once: the socket stays open (and requests wait in its
        # backlog) while a change is taken up.
        listener = make_server(self.addr, int(self.port), None)
        listener.socket.set_inheritable(True)
        os.environ["WERKZEUG_SERVER_FD"] = str(listener.fileno())
        os.environ[autoreload.DJANGO_AUTORELOAD_ENV] = "true"
        sys.exit(Supervisor(program, [listener.fileno()]).run())

    def _serve_in_child(self, **options):
        reloader = _Reloader.current = _Reloader()
        reload.child.answer_changes = reloader.changed
        autoreload.logger.info("Watching for file changes with fastcore's reloader")
        try:
            from django.urls import get_resolver

            get_resolver().urlconf_module  # loaded before the signal, as Django's reloader does
        except Exception:  # a broken URLconf is reported when it is used
            pass
        autoreload.autoreload_started.send(sender=reloader)
        self.inner_run(None, **options)

    def inner_run(self, *args, **options):
        if os.environ.get("FASTCORE_DISABLE") == "1":
            return super().inner_run(*args, **options)
        django_run = django_runserver.run
        django_runserver.run = serve
        try:
            return super().inner_run(*args, **options)
        finally:
            django_runserver.run = django_run
