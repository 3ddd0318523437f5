"""What SIGINT and SIGTERM do to a running server.

The first signal stops accepting and ends every open event stream at once
(an EventSource reconnects by itself, and a stream never ends of its own
accord); the other requests in flight get the server's ``grace_period`` to
finish, and the console says what is left and that a second signal forces
the stop. A second signal, or a grace period that runs out while the main
thread is still held by an app, exits at once. A signal handler here never
blocks, never takes a lock and never raises, except ``StreamEnded`` into an
event stream the main thread is serving.

A process whose parent passes the stop on as SIGTERM (a child of a reloader,
or of ``processes=N``) ignores SIGINT: Ctrl+C reaches the whole process
group, and the parent's SIGTERM must not count as a second Ctrl+C.
"""

import contextlib
import os
import signal
import sys
import threading

__all__ = ["StreamEnded", "serve", "on_signals", "stop", "exit_now", "handled",
           "signals_held", "release_signals"]

# The exit status of a stop forced by a second signal (a stop that ran its
# course, or whose grace period ran out, exits 0).
FORCED = 1
# The grace period's backstop fires this much after the loop's own deadline,
# which ends the loop in order when the loop's thread is free to see it.
BACKSTOP_MARGIN = 0.5


class StreamEnded(KeyboardInterrupt):
    """Raised into the thread serving an event stream when the server stops.

    A KeyboardInterrupt, so that an app's ``except Exception`` lets it
    through, and so that serve_forever ends quietly should it arrive outside
    the exchange that catches it.
    """


def say(line):
    """One line on stderr, from a signal handler: written straight to the
    descriptor (sys.stderr's buffer may be in the middle of a write)."""
    try:
        os.write(2, f"{line}\n".encode(errors="replace"))
    except OSError:
        pass


def exit_now(server, why, code=FORCED):
    """End the process at once: what is still running is cut."""
    say(f" * Stopped at once: {why}")
    for pid in getattr(server, "active_children", None) or ():
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:  # a reentrant write, a closed pipe: nothing more to say
            pass
    os._exit(code)


def stop(server):
    """Stop ``server`` as the first signal does (gunicorn's worker calls it
    from its own SIGTERM handler); raises StreamEnded when this thread is
    serving an event stream."""
    server.request_stop()
    _end_stream_here(server)


def _end_stream_here(server):
    """Raise StreamEnded when this thread is serving an event stream."""
    if server.streaming_in(threading.get_ident()):
        raise StreamEnded


def serve(server, first=None, from_parent=False):
    """``server.serve_forever()``, with SIGINT and SIGTERM handled as
    ``on_signals`` says while it runs."""
    restore = on_signals(server, first, from_parent)
    try:
        server.serve_forever()
    finally:
        restore()


def on_signals(server, first=None, from_parent=False):
    """Handle SIGINT and SIGTERM (see the module docstring) while ``server``
    serves; returns the function that puts the previous handlers back.

    :param first: called on the first signal, before the server stops (it
        must take no lock).
    :param from_parent: the parent passes a stop on as SIGTERM: ignore SIGINT.
    """
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    signals = 0

    def handle(signum, frame):
        nonlocal signals
        signals += 1
        if signals > 1:
            exit_now(server, "a second signal")
        if first is not None:
            first()
        server.request_stop()  # first: nothing below may keep the stop from starting
        try:
            left = server.requests_in_flight()
            if left:
                say(f" * Stopping: waiting up to {server.grace_period:g} s for "
                    f"{_count(len(left), 'request')} in flight ({', '.join(left[:3])}"
                    f"{', ...' if len(left) > 3 else ''}); press CTRL+C again to stop at once")
            if signal.getsignal(signal.SIGALRM) in (signal.SIG_DFL, None):
                signal.signal(signal.SIGALRM, grace_over)
                signal.setitimer(signal.ITIMER_REAL, server.grace_period + BACKSTOP_MARGIN)
        except Exception as e:  # a message or a backstop less; never a traceback in the app
            say(f" * Stopping ({type(e).__name__}: {e})")
        _end_stream_here(server)  # (stop() less the request_stop done above)

    def grace_over(signum, frame):
        left = server.requests_in_flight()
        exit_now(server, f"the grace period of {server.grace_period:g} s is over "
                 f"({_count(len(left), 'request')} cut)", code=0)

    handle.stops = server  # what handled() looks for
    previous = {signum: signal.getsignal(signum)
                for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGALRM)}
    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGINT, signal.SIG_IGN if from_parent else handle)

    def restore():
        if signal.getsignal(signal.SIGALRM) is grace_over:
            signal.setitimer(signal.ITIMER_REAL, 0)
        for signum, handler in previous.items():
            signal.signal(signum, handler if handler is not None else signal.SIG_DFL)

    return restore


def handled():
    """Whether SIGTERM is handled here (``on_signals``)."""
    return getattr(signal.getsignal(signal.SIGTERM), "stops", None) is not None


_HELD = {signal.SIGINT, signal.SIGTERM}


@contextlib.contextmanager
def signals_held():
    """SIGINT and SIGTERM wait, in this thread, until the block ends (a
    child forked in it: until it calls ``release_signals``)."""
    if not hasattr(signal, "pthread_sigmask"):
        yield
        return
    signal.pthread_sigmask(signal.SIG_BLOCK, _HELD)
    try:
        yield
    finally:
        release_signals()


def release_signals():
    """Let SIGINT and SIGTERM through again (see ``signals_held``)."""
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, _HELD)


def _count(n, noun):
    return f"{n} {noun}{'' if n == 1 else 's'}"
