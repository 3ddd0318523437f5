"""The WSGI layer: the request handler users subclass, the exchange that runs
one request through the app (PEP 3333), ``wsgi.input`` and the access log.
It does its I/O through a ``fastcore.io`` connection and asks
``fastcore.cycle`` how to frame a response and whether the connection goes
on. ``docs/architecture.md`` lists who may call whom.
"""
