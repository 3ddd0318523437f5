"""fastcore.parser: HTTP/1.1 request parsing, usable without the server.

Exports the compiled implementation (``fastcore._parser``) when it imports,
else the pure-Python twin (``fastcore._parser_py``), which behaves the same.
Setting ``FASTCORE_NO_EXTENSIONS`` (to any non-empty value) forces the pure one.
``COMPILED`` says which is in use.

    >>> from fastcore.parser import parse_request, build_environ
    >>> head = parse_request(b"GET /a%20b?x=1 HTTP/1.1\\r\\nHost: example.com\\r\\n\\r\\n")
    >>> head.method, head.path, head.query, head.size
    ('GET', '/a b', 'x=1', 46)
    >>> build_environ(head)["HTTP_HOST"]
    'example.com'
"""

import os

if os.environ.get("FASTCORE_NO_EXTENSIONS"):
    from fastcore._parser_py import *  # noqa: F403
    from fastcore._parser_py import __all__  # noqa: F401  (re-exported)
else:
    try:
        from fastcore._parser import *  # noqa: F403
        from fastcore._parser import __all__  # noqa: F401  (re-exported)
    except ImportError:
        from fastcore._parser_py import *  # noqa: F403
        from fastcore._parser_py import __all__  # noqa: F401  (re-exported)
