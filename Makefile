# Two commands set up everything on a fresh machine:
#   make demo   the shipped int8 model on a photo + the whole train -> int8 -> parity chain on generated faces
#               (installs the `train` extra only: the demo uses neither torch nor OpenCV)
#   make test   the test suite (full install: + torch, faces, dev), then the runtime tests in a TensorFlow-free install
#   make wheel  dist/edgefer-VERSION-py3-none-any.whl: the device install, shipped models and the page's files inside
# pip runs without -q so that the minutes of downloading show progress.
PYTHON ?= python3
VENV ?= .venv
BASE_VENV ?= .venv-base
PY := $(VENV)/bin/python
BASE_PY := $(BASE_VENV)/bin/python

# setuptools' editable installs end with a boxed note about same-named folders in the working
# directory; a checkout is exactly that case, so the box says nothing here.
EDITABLE := PYTHONWARNINGS='ignore:Editable installation' $(PY) -m pip install -e

.PHONY: demo test test-full test-base check-base-deps app-deps wheel clean

# The full install also serves the demo, so it touches the demo's stamp too.
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade pip
	$(EDITABLE) '.[train,torch,faces,dev]'
	touch $@ $(VENV)/.installed-demo

$(VENV)/.installed-demo: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade pip
	$(EDITABLE) '.[train]'
	touch $@

$(BASE_VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(BASE_VENV)
	$(BASE_PY) -m pip install --upgrade pip
	PYTHONWARNINGS='ignore:Editable installation' $(BASE_PY) -m pip install -e . pytest
	touch $@

demo: $(VENV)/.installed-demo
	$(VENV)/bin/edgefer predict examples/astronaut.jpg --faces
	$(VENV)/bin/edgefer bench default --threads 1 --runs 200
	rm -rf runs/demo
	$(VENV)/bin/edgefer demo --out runs/demo

test: app-deps test-full test-base check-base-deps

# pytest's default output names each test file as it starts it (-q would not), so a slow
# file never looks hung.
test-full: $(VENV)/.installed
	$(PY) -m pytest

test-base: $(BASE_VENV)/.installed
	$(BASE_PY) -c "import importlib.util as u, sys; sys.exit(u.find_spec('tensorflow') is not None)"
	$(BASE_PY) -m pytest tests/test_runtime*.py tests/test_base_install.py

# `pip install edgefer` must never pull TensorFlow: resolve the base install and look.
check-base-deps: $(BASE_VENV)/.installed
	$(BASE_PY) -m pip install -q --dry-run --ignore-installed --report $(BASE_VENV)/report.json .
	$(BASE_PY) -c "import json, sys; names = {i['metadata']['name'].lower() for i in json.load(open('$(BASE_VENV)/report.json'))['install']}; bad = names & {'tensorflow', 'tf-keras', 'keras', 'tensorflow-cpu'}; print('base install resolves to:', ', '.join(sorted(names))); sys.exit(f'TensorFlow in the base install: {bad}' if bad else 0)"

# What the app-runtime tests run against (tests/test_app_runtimes.py, tests/test_web.py):
# MediaPipe Tasks for Python, @mediapipe/tasks-vision for the page, and Debian's Chromium.
# mediapipe goes in without its dependencies (the same pin as pyproject's `mediapipe` extra):
# its opencv-contrib-python would shadow the OpenCV 4 of the faces extra, whose Haar
# cascades OpenCV 5 dropped; absl-py is the one it needs that the full install lacks.
# apt's few hundred lines of unpacking go to a log; its tail is shown only if the install fails.
app-deps: $(VENV)/.installed-mediapipe web/node_modules/.installed
	command -v chromium >/dev/null || (echo "installing Chromium with apt-get (log: $(VENV)/apt-chromium.log)" \
		&& (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) \
		> $(VENV)/apt-chromium.log 2>&1) \
		|| (tail -n 20 $(VENV)/apt-chromium.log; \
			echo "Chromium could not be installed: the browser tests skip (and fail under CI=true)")

$(VENV)/.installed-mediapipe: $(VENV)/.installed
	$(PY) -m pip install --no-deps 'mediapipe==1.2.2' 'absl-py~=2.3'
	touch $@

web/node_modules/.installed: web/package.json web/package-lock.json
	(npm ci --prefix web --no-audit --no-fund && touch $@) \
		|| echo "npm ci failed: the browser tests skip (and fail under CI=true)"

# A fresh build/ each time: setuptools would otherwise pack files left there by an earlier build.
wheel:
	rm -rf build
	$(PYTHON) -m pip wheel --no-deps --wheel-dir dist .
	@ls -l dist/edgefer-*.whl

clean:
	rm -rf $(VENV) $(BASE_VENV) build dist *.egg-info web/node_modules
