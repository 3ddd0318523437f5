"""``manage.py runserver``, served by fastcore.

The command is Django's own (staticfiles' when that app is installed, for its
``--nostatic`` and ``--insecure``), so the address and port, ``--ipv6``,
``--nothreading``, ``--noreload``, ``--skip-checks``, the system checks, the
unapplied-migrations warning, the banner and Django's autoreloader are
Django's. Only the server it starts is fastcore's: Django's ``inner_run``
calls ``django.core.servers.basehttp.run`` by the name its module imported,
which this command points at ``serve`` while it runs. Requests are logged
through the ``django.server`` logger, as runserver logs them.

``FASTCORE_DISABLE=1`` in the environment leaves Django's server in place.
"""

import logging
import os
import threading

import django.core.management.commands.runserver as django_runserver
from django.apps import apps

from fastcore.handler import WSGIRequestHandler
from fastcore.server import make_server
from fastcore.serving import _stop_on_signals

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
        exchange = self._exchange
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
    server = make_server(addr, port, wsgi_handler, threaded=threading,
                         request_handler=DjangoRequestHandler)
    if on_bind is not None:
        on_bind(server.port)
    if _in_main_thread():
        # With --noreload: SIGTERM and Ctrl+C finish the requests under way.
        # Under the autoreloader this is a thread of its, which handles them.
        _stop_on_signals(server)
    try:
        server.serve_forever()
    finally:
        server.server_close()


def _in_main_thread():
    # (A function of its own: in serve, Django's parameter "threading" hides the module.)
    return threading.current_thread() is threading.main_thread()


class Command(_Base):
    help = _Base.help + " (fastcore)"

    def inner_run(self, *args, **options):
        if os.environ.get("FASTCORE_DISABLE") == "1":
            return super().inner_run(*args, **options)
        django_run = django_runserver.run
        django_runserver.run = serve
        try:
            return super().inner_run(*args, **options)
        finally:
            django_runserver.run = django_run
