"""The package's boundaries: each layer imports only from those below it, and
no module uses another module's underscored names.

Both are read from the source (``ast``), so a violation fails here however
rarely its line runs. The layers are the ones ``docs/architecture.md`` lists.
"""

import ast
import pathlib

import pytest

import fastcore

PACKAGE = pathlib.Path(fastcore.__file__).parent

# Lowest first: a module may import from its own layer and those below it.
LAYERS = [
    ("rules", ["fastcore.parser", "fastcore._parser", "fastcore._parser_py", "fastcore._grammar",
               "fastcore.errors", "fastcore.limits", "fastcore.cycle"]),
    ("io", ["fastcore.io"]),
    ("wsgi", ["fastcore.wsgi", "fastcore.stopping"]),
    ("server", ["fastcore.server"]),
    ("front", ["fastcore.serving", "fastcore.cli", "fastcore.demo", "fastcore.patch",
               "fastcore.gunicorn", "fastcore.django", "fastcore.live", "fastcore.reload",
               "fastcore.__main__", "fastcore"]),
]
# The parser's facade picks one of its twins, which share a grammar: the
# only modules that import a private module.
PARSER_FAMILY = {"fastcore.parser", "fastcore._parser_py"}


def _modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        yield ".".join(parts), path


MODULES = dict(_modules())


def _layer(module):
    """The index in LAYERS of the layer ``module`` belongs to (the longest
    prefix that names it)."""
    best = None
    for index, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            if module == prefix or module.startswith(prefix + "."):
                if best is None or len(prefix) > best[1]:
                    best = (index, len(prefix))
    assert best is not None, f"{module} is in no layer: add it to LAYERS (and to the docs)"
    return best[0]


def _imports(tree):
    """(imported module, names taken from it) for each import of a fastcore
    module in ``tree`` (fastcore's own imports are absolute)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "fastcore":
                    yield alias.name, []
        elif isinstance(node, ast.ImportFrom):
            assert not node.level, f"line {node.lineno}: a relative import"
            if (node.module or "").split(".")[0] == "fastcore":
                yield node.module, [alias.name for alias in node.names]


def _is_module(name):
    return name in MODULES or any(key.startswith(name + ".") for key in MODULES)


@pytest.mark.parametrize("module", sorted(MODULES))
def test_a_layer_imports_only_from_itself_and_below(module):
    tree = ast.parse(MODULES[module].read_text())
    mine = _layer(module)
    for source, names in _imports(tree):
        targets = [f"{source}.{name}" if _is_module(f"{source}.{name}") else source
                   for name in names] or [source]
        for target in targets:
            if target == "fastcore":  # the package itself: its __version__
                continue
            assert _layer(target) <= mine, (
                f"{module} ({LAYERS[mine][0]}) imports {target} ({LAYERS[_layer(target)][0]})")


def _private(name):
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _defined_privates(tree):
    """The underscored names a module defines: its functions, classes and
    assignments at any depth, attributes it sets on anything, and slots."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, (ast.Store, ast.Del)):
            names.add(node.attr)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            names.add(node.value)  # a slot, or a name set with setattr()
        elif isinstance(node, ast.alias):
            names.add(node.asname or node.name.split(".")[0])
    return {name for name in names if _private(name)}


TREES = {module: ast.parse(path.read_text()) for module, path in MODULES.items()}
DEFINED = {module: _defined_privates(tree) for module, tree in TREES.items()}


def _violations(module, tree, defined):
    """What ``module`` (parsed: ``tree``) uses of other modules' underscored
    names, ``defined`` giving each module's (see the test below)."""
    own = defined.get(module, set())
    others = set().union(*(names for name, names in defined.items() if name != module))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and _private(node.attr):
            holder = node.value
            if isinstance(holder, ast.Name) and holder.id in ("self", "cls"):
                continue
            if node.attr not in own and node.attr in others:
                found.append(f"line {node.lineno}: .{node.attr}")
    for source, names in _imports(tree):
        if module in PARSER_FAMILY and source.startswith("fastcore._"):
            continue
        if _private(source.rsplit(".", 1)[-1]):
            found.append(f"import of {source}")
        found += [f"{name} from {source}" for name in names
                  if _private(name) and not (module in PARSER_FAMILY and _is_module(
                      f"{source}.{name}"))]
    return found


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_module_uses_another_s_underscored_names(module):
    """An underscored attribute read off anything but ``self`` or ``cls``
    must be one this module defines; a name imported from another fastcore
    module must not be underscored (the parser's facade may import its
    twins). Underscored names of other projects (``os._exit``) are not
    fastcore's to judge: the Werkzeug ones have a test of their own."""
    found = _violations(module, TREES[module], DEFINED)
    assert not found, f"{module} uses other modules' underscored names: {found}"


def test_the_check_finds_what_it_looks_for():
    """The check above, on code that breaks each rule (and on code that
    keeps them, the same names used as their owner would)."""
    defined = {"fastcore.io.loop": {"_settle"}, "fastcore.wsgi.handler": {"_refused"}}
    bad = ast.parse("def f(loop, handler):\n"
                    "    loop._settle(None)\n"
                    "    super()._refused\n"
                    "from fastcore.io.loop import _settle\n"
                    "import fastcore._grammar\n")
    assert len(_violations("fastcore.server", bad, defined)) == 4
    good = ast.parse("def f(self):\n    self._settle(None)\n    return loop._settle\n")
    assert _violations("fastcore.io.loop", good, defined) == []
    assert _violations("fastcore.server", ast.parse("import os\nos._exit(0)\n"), defined) == []


def test_the_layer_check_finds_an_import_from_above():
    assert _layer("fastcore.io.loop") < _layer("fastcore.wsgi.exchange") < _layer("fastcore.server")
    assert _layer("fastcore.cycle") == 0 and _layer("fastcore.gunicorn.worker") == len(LAYERS) - 1
    upward = [source for source, _ in _imports(ast.parse("from fastcore.wsgi.exchange import Exchange"))
              if _layer(source) > _layer("fastcore.io.loop")]
    assert upward == ["fastcore.wsgi.exchange"]


def test_the_layers_are_what_the_docs_list():
    """docs/architecture.md names every layer and every module in it."""
    doc = pathlib.Path(__file__).resolve().parent.parent / "docs" / "architecture.md"
    if not doc.exists():
        pytest.skip("no docs beside the tests")
    text = doc.read_text()
    for name, prefixes in LAYERS:
        for prefix in prefixes:
            if prefix != "fastcore":
                assert f"`{prefix}`" in text, f"docs/architecture.md does not list {prefix}"
