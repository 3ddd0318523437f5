# Developer menu. `make test` is what CI runs (through .ci/run, in a fresh venv).
PYTHON ?= python3

.PHONY: build-tools compile debug test test-hostile test-pure test-sanitized fuzz bench clean

build-tools:  ## what pyproject.toml's build-system asks for (a venv's setuptools may be older)
	$(PYTHON) -m pip install --quiet "Cython>=3" "setuptools>=77"

compile: build-tools  ## build the extension in place (--force: replaces a sanitizer build too)
	FASTCORE_REQUIRE_EXTENSIONS=1 $(PYTHON) setup.py build_ext --inplace --force

debug: build-tools  ## unoptimised build with C asserts and fastcore/_parser.html (Cython annotation)
	FASTCORE_REQUIRE_EXTENSIONS=1 FASTCORE_DEBUG=1 $(PYTHON) setup.py build_ext --inplace --force

test:
	pytest -n 4

test-hostile:  ## the server under hostile load (a few minutes; FASTCORE_HOSTILE_SCALE scales it)
	pytest -m hostile -s

test-pure:
	FASTCORE_NO_EXTENSIONS=1 pytest

test-sanitized:  ## the whole suite on an ASan/UBSan build (needs clang); then `make compile`
	bash -c '. fuzz/sanitize.sh && python -m pytest tests/'

fuzz:  ## each atheris target for 60 s on the sanitizer build (needs clang, atheris)
	bash fuzz/run.sh 60

bench:
	pytest benchmarks/ --benchmark-only

clean:
	rm -rf build dist *.egg-info fastcore/_parser.c fastcore/_parser.html fastcore/*.so
