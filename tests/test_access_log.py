"""The "werkzeug" logger as fastcore sets it up and writes to it: fastcore's
own code for what Werkzeug keeps private (its logger set-up, its styles and
its control-character escapes), and when access lines may bypass logging."""

import io
import logging

import pytest

from fastcore.wsgi import access_log
from fastcore.wsgi.access_log import _direct_handler, log, request_text, style


@pytest.fixture
def logger():
    """The "werkzeug" logger and the root logger, emptied, then put back."""
    werkzeug, root = logging.getLogger("werkzeug"), logging.getLogger()
    saved = [(each, each.level, each.handlers[:], each.filters[:], each.propagate, each.disabled)
             for each in (werkzeug, root)]
    for each in (werkzeug, root):
        each.handlers.clear()
        each.filters.clear()
    werkzeug.setLevel(logging.NOTSET)
    yield werkzeug
    # (pytest's own capture handlers, added to the root logger while a test
    # runs, are taken off by the tests that need none: _root_alone.)
    for each, level, handlers, filters, propagate, disabled in saved:
        each.setLevel(level)
        each.handlers[:] = handlers
        each.filters[:] = filters
        each.propagate, each.disabled = propagate, disabled


def _root_alone():
    logging.getLogger().handlers.clear()


def test_log_sets_the_logger_up_once_and_writes_to_stderr(logger, capsys):
    _root_alone()
    log("info", "first %s  ", "line")
    log("warning", "second")
    assert logger.level == logging.INFO
    assert len(logger.handlers) == 1 and type(logger.handlers[0]) is logging.StreamHandler
    assert capsys.readouterr().err == "first line\nsecond\n"


def test_log_adds_no_handler_where_one_up_the_chain_takes_the_record(logger, capsys):
    _root_alone()
    stream = io.StringIO()
    logging.getLogger().addHandler(logging.StreamHandler(stream))
    log("info", "to the root's")
    assert logger.handlers == [] and stream.getvalue() == "to the root's\n"
    logger.propagate = False  # the root's is out of reach now
    log("info", "to a new one")
    assert len(logger.handlers) == 1 and capsys.readouterr().err == "to a new one\n"


def test_log_after_werkzeug_set_the_logger_up_adds_nothing(logger):
    internal = pytest.importorskip("werkzeug._internal")
    if not hasattr(internal, "_log"):
        pytest.skip("this Werkzeug has no _log")
    _root_alone()
    internal._log("info", "from Werkzeug")
    handlers = logger.handlers[:]
    log("info", "from fastcore")
    assert logger.handlers == handlers and len(handlers) == 1
    assert _direct_handler() is handlers[0]  # Werkzeug's own handler is written to directly


class _OwnEmit(logging.StreamHandler):
    def emit(self, record):
        super().emit(record)


def _formatted():
    handler = logging.StreamHandler(io.StringIO())
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    return handler


def _filtered():
    handler = logging.StreamHandler(io.StringIO())
    handler.addFilter(lambda record: False)
    return handler


def _crlf():
    handler = logging.StreamHandler(io.StringIO())
    handler.terminator = "\r\n"
    return handler


@pytest.mark.parametrize("make, direct", [
    (lambda: logging.StreamHandler(io.StringIO()), True),
    (_formatted, False),
    (_filtered, False),
    (_crlf, False),
    (lambda: _OwnEmit(io.StringIO()), False),
    (lambda: logging.FileHandler("/dev/null"), False),
])
def test_access_lines_bypass_logging_only_where_the_handler_would_write_them_unchanged(
        logger, make, direct):
    _root_alone()
    handler = make()
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    assert (_direct_handler() is handler) is direct
    handler.close()


def test_access_lines_take_the_logging_path_when_anything_else_would_see_them(logger):
    _root_alone()
    handler = logging.StreamHandler(io.StringIO())
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    assert _direct_handler() is handler
    logging.getLogger().addHandler(logging.StreamHandler(io.StringIO()))
    assert _direct_handler() is None  # the record also propagates to the root's handler
    logger.propagate = False
    assert _direct_handler() is handler
    logger.setLevel(logging.WARNING)
    assert _direct_handler() is None
    logger.setLevel(logging.INFO)
    logger.addFilter(lambda record: True)
    assert _direct_handler() is None


def test_emit_writes_a_direct_line_to_the_handlers_stream(logger):
    _root_alone()
    stream = io.StringIO()
    logger.addHandler(logging.StreamHandler(stream))
    logger.setLevel(logging.INFO)
    access_log.emit("info", '"%s" %s -', ("GET / HTTP/1.1", 200))
    access_log.access_log.flush()
    assert stream.getvalue() == '"GET / HTTP/1.1" 200 -\n'


@pytest.mark.parametrize("code, styled", [
    (200, "GET / HTTP/1.1"),
    (101, "\x1b[1mGET / HTTP/1.1\x1b[0m"),
    (304, "\x1b[36mGET / HTTP/1.1\x1b[0m"),
    (302, "\x1b[32mGET / HTTP/1.1\x1b[0m"),
    (404, "\x1b[33mGET / HTTP/1.1\x1b[0m"),
    (400, "\x1b[1m\x1b[31mGET / HTTP/1.1\x1b[0m"),
    (500, "\x1b[1m\x1b[35mGET / HTTP/1.1\x1b[0m"),
])
def test_request_lines_are_styled_by_status_as_werkzeug_styles_them(code, styled):
    assert request_text("GET", "/", "HTTP/1.1", code) == styled


def test_style_names_each_style():
    assert style("x", "yellow") == "\x1b[33mx\x1b[0m"
    with pytest.raises(KeyError):
        style("x", "blinking")


@pytest.mark.parametrize("target, shown", [
    ("/a%00b%1B%7F", "/a%00b%1B%7F"),  # C0 controls and DEL: left encoded by uri_to_iri
    ("/a%C2%85b", "/a\\x85b"),  # a C1 control, decoded from UTF-8: escaped
    ("/a%C2%9Fb", "/a\\x9fb"),
    ("/a%5Cb", "/a\\\\b"),  # a backslash, doubled
    ("/caf%C3%A9", "/café"),  # not a control character: shown
])
def test_request_lines_show_control_characters_escaped(target, shown):
    assert request_text("GET", target, "HTTP/1.1", 200) == f"GET {shown} HTTP/1.1"
