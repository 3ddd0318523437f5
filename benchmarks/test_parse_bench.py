"""Raw request bytes -> complete WSGI environ, fastcore against its peers.

Run: pytest benchmarks/ --benchmark-only
Each implementation's environ is checked equal to Werkzeug's once, outside
the timed loop; the summary at the end prints each peer's time as a ratio to
fastcore's compiled parser, measured in this same run.
"""

import pytest

import peers
from corpus import MANY_FIELDS, REQUESTS


def _implementations():
    from fastcore import _parser_py
    impls = {"fastcore": None, "fastcore_pure": peers.fastcore_environ(_parser_py),
             "werkzeug": peers.werkzeug_environ()}
    try:
        from fastcore import _parser
        impls["fastcore"] = peers.fastcore_environ(_parser)
    except ImportError:
        del impls["fastcore"]
    for name, factory in (("httptools", peers.httptools_environ), ("h11", peers.h11_environ)):
        try:
            impls[name] = factory()
        except ImportError:
            pass
    return impls


IMPLS = _implementations()
CASES = {**REQUESTS, "many_fields_50": MANY_FIELDS}


@pytest.mark.parametrize("impl", list(IMPLS))
@pytest.mark.parametrize("request_name", list(CASES))
def test_environ(benchmark, request_name, impl):
    raw = CASES[request_name]
    make_environ = IMPLS[impl]
    expected = peers.request_keys(IMPLS["werkzeug"](raw))
    assert peers.request_keys(make_environ(raw)) == expected, f"{impl} built a different environ"
    benchmark.group = f"environ:{request_name}"
    benchmark(make_environ, raw)
