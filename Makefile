# Two commands set up everything on a fresh machine:
#   make demo   the shipped int8 model on a photo + the whole train -> int8 -> parity chain on generated faces
#   make test   the test suite (full install), then the runtime tests in a TensorFlow-free install
PYTHON ?= python3
VENV ?= .venv
BASE_VENV ?= .venv-base
PY := $(VENV)/bin/python
BASE_PY := $(BASE_VENV)/bin/python

.PHONY: demo test test-full test-base check-base-deps clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[train,torch,faces,dev]'
	touch $@

$(BASE_VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(BASE_VENV)
	$(BASE_PY) -m pip install -q --upgrade pip
	$(BASE_PY) -m pip install -q -e . pytest
	touch $@

demo: $(VENV)/.installed
	$(VENV)/bin/edgefer predict examples/astronaut.jpg --faces
	$(VENV)/bin/edgefer bench default --threads 1 --runs 200
	rm -rf runs/demo
	$(VENV)/bin/edgefer demo --out runs/demo

test: test-full test-base check-base-deps

test-full: $(VENV)/.installed
	$(PY) -m pytest -q

test-base: $(BASE_VENV)/.installed
	$(BASE_PY) -c "import importlib.util as u, sys; sys.exit(u.find_spec('tensorflow') is not None)"
	$(BASE_PY) -m pytest -q tests/test_runtime*.py tests/test_base_install.py

# `pip install edgefer` must never pull TensorFlow: resolve the base install and look.
check-base-deps: $(BASE_VENV)/.installed
	$(BASE_PY) -m pip install -q --dry-run --ignore-installed --report $(BASE_VENV)/report.json .
	$(BASE_PY) -c "import json, sys; names = {i['metadata']['name'].lower() for i in json.load(open('$(BASE_VENV)/report.json'))['install']}; bad = names & {'tensorflow', 'tf-keras', 'keras', 'tensorflow-cpu'}; print('base install resolves to:', ', '.join(sorted(names))); sys.exit(f'TensorFlow in the base install: {bad}' if bad else 0)"

clean:
	rm -rf $(VENV) $(BASE_VENV) build *.egg-info
