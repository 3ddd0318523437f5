"""The `fastcore` command: `fastcore run [APP]` and `fastcore flask ...`.

`run` takes the options of `flask run` and serves APP (``module:name``,
``module:factory()``, or a path to a .py file, optionally ``file.py:name``),
or the built-in demo app when APP is left out. A name that holds a callable
taking no arguments is a factory and is called (``module:create_app``), as
Flask's CLI does; without a name, ``app``, ``application``, ``create_app``
and ``make_app`` are looked for in that order. `flask` runs Flask's own
command line with fastcore serving, so `fastcore flask run --reload` is
`flask run --reload` without code changes.
"""

import argparse
import ast
import importlib
import importlib.util
import inspect
import os
import sys
import traceback

__all__ = ["main", "load_app"]


class AppError(Exception):
    """APP cannot be loaded; the message is one line for the user."""


def _cause(error):
    """An exception as one line: its type, message and where it was raised
    (for a syntax error, the file and line that hold it)."""
    if isinstance(error, SyntaxError) and error.filename:
        return f"{type(error).__name__}: {error.msg} ({error.filename}, line {error.lineno})"
    frames = traceback.extract_tb(error.__traceback__)
    where = f" ({frames[-1].filename}, line {frames[-1].lineno})" if frames else ""
    return f"{type(error).__name__}: {error}{where}"


def _import(module_part):
    if module_part.endswith(".py") or os.sep in module_part:
        return _import_file(module_part)
    sys.path.insert(0, os.getcwd())
    try:
        return importlib.import_module(module_part)
    except ModuleNotFoundError as e:
        if e.name is not None and module_part.startswith(e.name):
            raise AppError(f"module not found: {module_part}") from None
        raise AppError(f"importing {module_part} failed: {_cause(e)}") from e
    except Exception as e:
        raise AppError(f"importing {module_part} failed: {_cause(e)}") from e


def _import_file(filename):
    """Import the file itself (not a module of the same name elsewhere on
    sys.path), with its folder on sys.path for its own imports."""
    path = os.path.abspath(filename)
    if not os.path.isfile(path):
        raise AppError(f"file not found: {filename}")
    sys.path.insert(0, os.path.dirname(path))
    name = os.path.splitext(os.path.basename(path))[0]
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as e:
        raise AppError(f"importing {filename} failed: {_cause(e)}") from e
    return module


def _call(factory, description, *args, **kwargs):
    try:
        return factory(*args, **kwargs)
    except Exception as e:
        raise AppError(f"calling {description} failed: {_cause(e)}") from e


def _call_factory(module, expression):
    """``name(args)``: call a factory with literal arguments, as Flask does."""
    try:
        call = ast.parse(expression, mode="eval").body
    except SyntaxError:
        raise AppError(f"cannot parse {expression!r} as a name or a call") from None
    if not isinstance(call, ast.Call) or not isinstance(call.func, ast.Name):
        raise AppError(f"cannot parse {expression!r} as a name or a call")
    try:
        args = [ast.literal_eval(arg) for arg in call.args]
        kwargs = {kw.arg: ast.literal_eval(kw.value) for kw in call.keywords}
    except ValueError:
        raise AppError(f"the arguments of {expression!r} must be literals") from None
    factory = getattr(module, call.func.id, None)
    if factory is None:
        raise AppError(f"{module.__name__} has no attribute {call.func.id!r}")
    return _call(factory, expression, *args, **kwargs)


# Factories by their conventional names (Flask's CLI calls these too).
FACTORY_NAMES = ("create_app", "make_app")


def _takes(obj, count):
    """Whether ``obj`` can be called with ``count`` positional arguments (True
    when its signature cannot be read). A decorator's own signature counts
    (Werkzeug's ``Request.application`` takes ``*args``), not the wrapped one."""
    try:
        inspect.signature(obj, follow_wrapped=False).bind(*range(count))
    except TypeError:
        return False
    except ValueError:
        return True
    return True


def _made_app(obj, call):
    """What the factory ``call`` returned, if it is a WSGI app."""
    if not callable(obj) or not _takes(obj, 2):
        raise AppError(f"{call} returned {type(obj).__name__}, not a WSGI app")
    return obj


def _as_app(obj, spec, factory):
    """The WSGI app ``obj`` is, or makes. A callable that can take
    ``(environ, start_response)`` is the app, unless it is named as a
    factory; one that takes no arguments (and not those two) is a factory,
    and is called, as Flask's CLI calls ``create_app``."""
    if not callable(obj):
        raise AppError(f"{spec} is not callable (got {type(obj).__name__})")
    is_app = _takes(obj, 2)
    name = spec.rpartition(":")[2]
    if factory or (_takes(obj, 0) and (not is_app or name in FACTORY_NAMES)):
        return _made_app(_call(obj, f"{spec}()"), f"{spec}()")
    if not is_app:
        raise AppError(f"{spec} is neither a WSGI app (environ, start_response) "
                       f"nor a factory that takes no arguments")
    return obj


def load_app(spec, factory=False):
    """The WSGI app that APP names (see the module docstring)."""
    if spec is None:
        from fastcore.demo import demo_app

        return demo_app
    module_part, _, attr = spec.partition(":")
    module = _import(module_part)
    if "(" in attr:
        return _made_app(_call_factory(module, attr), spec)
    if attr:
        if not hasattr(module, attr):
            raise AppError(f"{module.__name__} has no attribute {attr!r}")
        return _as_app(getattr(module, attr), spec, factory)
    for name in ("app", "application", *FACTORY_NAMES):
        if hasattr(module, name):
            return _as_app(getattr(module, name), f"{module_part}:{name}", factory)
    raise AppError(f"{module.__name__} has no 'app', 'application', 'create_app' or "
                   f"'make_app'; name one as {module_part}:NAME")


def _failing_app(error):
    """While the reloader runs: an app that could not be loaded answers every
    request with its error (the debugger shows it with --debug) until the
    next save restarts the server."""
    where = error.__traceback__

    def app(environ, start_response):
        raise error.with_traceback(where)

    return app


def _static(value):
    url, sep, directory = value.partition("=")
    if not sep or not url.startswith("/"):
        raise argparse.ArgumentTypeError(f"expected URL=DIR with URL starting with '/', got {value!r}")
    return url, directory


def _size(value):
    """A byte count: 1048576, or with a binary suffix, 512K, 10M, 1G."""
    number, unit = value[:-1], value[-1:].upper()
    scale = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}.get(unit)
    if scale is None:
        number, scale = value, 1
    if not number.isdigit():
        raise argparse.ArgumentTypeError(f"expected a size like 1048576, 512K, 10M or 1G, got {value!r}")
    return int(number) * scale


def _count(value):
    """A whole number of at least 1."""
    if not value.isdigit() or int(value) < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got {value!r}")
    return int(value)


def _paths(value):
    return [p for p in value.split(os.pathsep) if p]


def version_text():
    """fastcore's, Werkzeug's and Python's versions, and which parser is in use."""
    from importlib.metadata import version

    from fastcore import __version__
    from fastcore.parser import PURE_REASON

    parser = "compiled" if PURE_REASON is None else f"pure Python ({PURE_REASON})"
    return (f"fastcore {__version__} (parser: {parser})\nWerkzeug {version('werkzeug')}\n"
            f"Python {sys.version.split()[0]} ({sys.implementation.name})")


class _Version(argparse.Action):
    """``--version``, whose text (package metadata) is read only when asked
    for: each reload runs the command line again."""

    def __call__(self, parser, namespace, values, option_string=None):
        print(version_text())
        parser.exit()


def build_parser():
    parser = argparse.ArgumentParser(prog="fastcore", description="A fast, strict WSGI dev server.",
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action=_Version, nargs=0,
                        help="show fastcore's, Werkzeug's and Python's versions and exit")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="serve a WSGI app (or the demo app)")
    run.add_argument("app", nargs="?", metavar="APP",
                     help="module:name, module:factory(), or file.py; the demo app if left out")
    run.add_argument("--host", default="127.0.0.1", help="interface to bind (127.0.0.1)")
    run.add_argument("--port", "-p", type=int, default=5000, help="port to bind (5000)")
    run.add_argument("--reload", action=argparse.BooleanOptionalAction, default=None,
                     help="restart when code changes (default: on with --debug)")
    run.add_argument("--debug", action="store_true", help="interactive debugger and reloader")
    run.add_argument("--threads", action=argparse.BooleanOptionalAction, default=True,
                     help="serve connections in threads (default: on)")
    run.add_argument("--processes", type=int, default=1, help="serve connections in up to N processes")
    run.add_argument("--max-workers", type=_count, metavar="N",
                     help="with threads: the most requests running at once (100); "
                          "more wait, their connections accepted")
    run.add_argument("--cert", help="TLS certificate file, or 'adhoc' for a temporary one")
    run.add_argument("--key", help="TLS key file (with --cert FILE)")
    run.add_argument("--static", action="append", type=_static, default=[], metavar="URL=DIR",
                     help="serve files from DIR under URL (repeatable)")
    run.add_argument("--extra-files", type=_paths, default=[],
                     help=f"more files the reloader watches, separated by {os.pathsep!r}")
    run.add_argument("--exclude-patterns", type=_paths, default=[],
                     help=f"fnmatch patterns the reloader ignores, separated by {os.pathsep!r}")
    run.add_argument("--factory", action="store_true", help="APP names a factory to call")
    run.add_argument("--max-content-length", type=_size, metavar="SIZE",
                     help="answer 413 to request bodies larger than SIZE (e.g. 10M; default: no limit)")
    run.add_argument("--live-reload", action="store_true",
                     help="the browser follows every save: reloads the page, swaps a stylesheet "
                          "(turns on --reload)")
    run.add_argument("--live-reload-dir", action="append", default=[], metavar="DIR",
                     help="with --live-reload: a folder whose changes reload the page (repeatable)")
    commands.add_parser("flask", help="run Flask's command line (e.g. `flask run`), served by fastcore")
    parser.run_parser = run  # for errors that show `fastcore run`'s usage
    return parser


def _ssl_context(args, parser):
    if args.cert is None:
        if args.key:
            parser.error("--key needs --cert")
        return None
    if args.cert == "adhoc":
        if args.key:
            parser.error("--key cannot be used with --cert adhoc")
        if importlib.util.find_spec("cryptography") is None:
            parser.exit(2, "fastcore: error: --cert adhoc makes its certificate with the "
                           "'cryptography' package: pip install cryptography\n")
        return "adhoc"
    if not args.key:
        parser.error("--cert FILE needs --key FILE")
    return (args.cert, args.key)


def _check_live_reload(error, processes, reload):
    """Refuse live reload where it cannot run, in one line (``error`` exits)."""
    from fastcore.live import cannot_run

    if reload is False:
        error("--live-reload restarts the server when code changes: drop --no-reload")
    reason = cannot_run(processes)
    if reason is not None:
        error(reason)


def _add_live_reload_to_flask_run():
    """`flask run --live-reload [--live-reload-dir DIR]`: the options pass to
    run_simple through the environment, as the reloader's child needs them."""
    import click
    from flask.cli import run_command

    if any(param.name == "live_reload" for param in run_command.params):
        return  # added already (main called twice in one process)

    def error(message):
        raise click.UsageError(message)

    callback = run_command.callback

    def run(live_reload, live_reload_dir, **kwargs):
        if live_reload_dir and not live_reload:
            error("--live-reload-dir needs --live-reload")
        if live_reload:
            _check_live_reload(error, 1, kwargs.get("reload"))
            os.environ["FASTCORE_LIVE_RELOAD"] = "1"
            os.environ["FASTCORE_LIVE_RELOAD_DIRS"] = os.pathsep.join(live_reload_dir)
            kwargs["reload"] = True
        return callback(**kwargs)

    run_command.params += [
        click.Option(["--live-reload"], is_flag=True,
                     help="fastcore: the browser follows every save (turns on --reload)."),
        click.Option(["--live-reload-dir"], multiple=True, type=click.Path(file_okay=False),
                     help="fastcore: with --live-reload, a folder whose changes reload the page."),
    ]
    run_command.callback = run


def run_flask(args):
    from fastcore.patch import patch_werkzeug

    if importlib.util.find_spec("flask") is None:
        sys.stderr.write("fastcore: error: `fastcore flask` runs Flask's command line, and "
                         "Flask is not installed: pip install flask\n")
        return 2
    patch_werkzeug()
    _add_live_reload_to_flask_run()
    from flask.cli import cli

    # sys.argv stays as it is: the reloader re-runs this command from it
    # (on Python 3.9, which has no sys.orig_argv).
    cli.main(args=args, prog_name="flask")
    return 0


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["flask"]:
        # Everything after "flask" is Flask's, options included.
        return run_flask(argv[1:])
    parser = build_parser()
    args = parser.parse_args(argv)
    # An error in how `run` was called shows `run`'s usage (argparse's errors
    # of its own do too).
    parser = parser.run_parser
    if args.threads and args.processes > 1:
        args.threads = False
    ssl_context = _ssl_context(args, parser)
    if args.max_workers is not None and not args.threads:
        parser.error("--max-workers sets the threads of threaded mode: drop --no-threads "
                     "(and --processes)")
    options = {} if args.max_workers is None else {"max_workers": args.max_workers}
    if args.live_reload_dir and not args.live_reload:
        parser.error("--live-reload-dir needs --live-reload")
    if args.live_reload:
        _check_live_reload(parser.error, args.processes, args.reload)
    reload = args.live_reload or (args.debug if args.reload is None else args.reload)
    from fastcore.server import StartupError
    from fastcore.serving import is_running_from_reloader, run_simple

    try:
        app = load_app(args.app, factory=args.factory)
    except AppError as e:
        if not (reload and is_running_from_reloader()):
            parser.exit(2, f"fastcore: error: {e}\n")
        # A save broke the app: keep serving (the error, until the next save
        # restarts this process), as `flask run --reload` does.
        cause = e.__cause__ or e
        traceback.print_exception(type(cause), cause, cause.__traceback__)
        sys.stderr.write(f"fastcore: error: {e}\n")
        app = _failing_app(cause)
    if args.debug and getattr(app, "debug", None) is False:
        # A Flask app answers its own exceptions with a plain 500 unless it is
        # in debug mode: let them reach the debugger (`flask run --debug` does this).
        app.debug = True
    try:
        run_simple(args.host, args.port, app, use_reloader=reload, use_debugger=args.debug,
                   threaded=args.threads, processes=args.processes,
                   static_files=dict(args.static) or None, ssl_context=ssl_context,
                   extra_files=args.extra_files or None,
                   exclude_patterns=args.exclude_patterns or None,
                   max_content_length=args.max_content_length, live_reload=args.live_reload,
                   live_reload_dirs=args.live_reload_dir, **options)
    except StartupError as e:
        parser.exit(2, f"fastcore: error: {e}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
