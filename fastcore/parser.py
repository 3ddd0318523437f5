"""fastcore.parser: HTTP/1.1 request parsing, usable without the server.

Exports the compiled implementation (``fastcore._parser``) when it imports,
else the pure-Python twin (``fastcore._parser_py``), which behaves the same.
Setting ``FASTCORE_NO_EXTENSIONS`` (to any non-empty value) forces the pure one.
``COMPILED`` says which is in use, and ``PURE_REASON`` why it is the pure one
(None when compiled).

    >>> from fastcore.parser import parse_request, build_environ
    >>> head = parse_request(b"GET /a%20b?x=1 HTTP/1.1\\r\\nHost: example.com\\r\\n\\r\\n")
    >>> head.method, head.path, head.query, head.size
    ('GET', '/a b', 'x=1', 46)
    >>> build_environ(head)["HTTP_HOST"]
    'example.com'
"""

import os
from typing import TYPE_CHECKING, Optional

PURE_REASON: Optional[str] = None

if TYPE_CHECKING:  # both implementations have the types of _parser.pyi
    from fastcore._parser import *  # noqa: F403
    from fastcore._parser import __all__  # noqa: F401
elif os.environ.get("FASTCORE_NO_EXTENSIONS"):
    from fastcore._parser_py import *  # noqa: F403
    from fastcore._parser_py import __all__  # noqa: F401  (re-exported)

    PURE_REASON = "FASTCORE_NO_EXTENSIONS is set"
else:
    try:
        from fastcore._parser import *  # noqa: F403
        from fastcore._parser import __all__  # noqa: F401  (re-exported)
    except ImportError as error:
        from fastcore._parser_py import *  # noqa: F403
        from fastcore._parser_py import __all__  # noqa: F401  (re-exported)

        PURE_REASON = f"the compiled module did not import: {error}"
        # setup.py leaves the cause here when it could not build the module.
        _failure = os.path.join(os.path.dirname(__file__), "_build_failure.txt")
        if os.path.exists(_failure):
            with open(_failure) as f:
                PURE_REASON = f"it was not built: {f.read().strip()}"
