"""Write the test vectors as seed corpora: fuzz/seeds/parse and fuzz/seeds/chunked."""

import hashlib
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests"))

import vectors  # noqa: E402


def write(folder, items):
    path = os.path.join(HERE, "seeds", folder)
    os.makedirs(path, exist_ok=True)
    for raw in items:
        name = hashlib.sha1(raw).hexdigest()[:16]
        with open(os.path.join(path, name), "wb") as f:
            f.write(raw)
    return len(items)


heads = [v["raw"] for v in vectors.VALID + vectors.INVALID]
bodies = [v["raw"] for v in vectors.CHUNKED_VALID + vectors.CHUNKED_INVALID]
print("parse seeds:", write("parse", heads), " chunked seeds:", write("chunked", bodies))
