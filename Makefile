# Developer menu. `make test` is what CI runs (through .ci/run, in a fresh venv).
PYTHON ?= python3

.PHONY: compile debug test test-hostile test-pure test-sanitized fuzz bench clean

compile:  ## build the extension in place (--force: replaces a sanitizer build too)
	$(PYTHON) setup.py build_ext --inplace --force

debug:  ## unoptimised build with C asserts and fastcore/_parser.html (Cython annotation)
	FASTCORE_DEBUG=1 $(PYTHON) setup.py build_ext --inplace --force

test:
	pytest

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
