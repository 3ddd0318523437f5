"""The I/O core: sockets, the loop that owns connections between requests,
its timers, poller and threads. It moves bytes and runs requests; what the
bytes mean and when a connection goes on is ``fastcore.cycle``'s to say, and
running a request is the server's (``fastcore.wsgi``). Nothing here imports
the WSGI layer. ``docs/architecture.md`` lists who may call whom.
"""
