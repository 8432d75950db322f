# Two commands from a fresh clone:
#   make lab    create .venv (once), install the course, open JupyterLab on notebooks/
#   make test   the same set-up, then the package's tests and every notebook under nbval
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
PORT   ?= 8888

.PHONY: setup lab test test-package test-notebooks test-grading clean test-browser

setup: $(STAMP)

# torch is installed first and pinned by constraints.txt, so pip never resolves it to a CUDA build.
# pip's own byte-compiling is serial; compileall -j 0 does the same work on every core afterwards
# (bytecode must exist up front where PYTHONDONTWRITEBYTECODE=1, as on CI). ~1m45s instead of ~2m15s.
$(STAMP): pyproject.toml constraints.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --no-compile -c constraints.txt torch==2.13.0
	$(PY) -m pip install --quiet --no-compile -c constraints.txt -e ".[lab,test]"
	@echo "byte-compiling the environment on all cores (a cache: kernels start faster)"
	@$(PY) -m compileall -q -j 0 "$$($(PY) -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')" > /dev/null || true
	@touch $(STAMP)
	@echo "course environment ready in $(VENV)"

# --allow-root only where you are root (containers, CI machines); a normal account never needs it.
lab: setup
	$(VENV)/bin/jupyter lab --ServerApp.root_dir=notebooks --ServerApp.port=$(PORT) \
		$(if $(filter 0,$(shell id -u)),--allow-root) notebooks/00_start_here.ipynb

test: setup
	$(PY) -m pytest --durations=5

test-package: setup
	$(PY) -m pytest tests

test-notebooks: setup
	$(PY) -m pytest notebooks

# Slow (runs every notebook twice): every course notebook grades "pass" on each exercise, and its
# student version "not attempted". CI runs it after `make test`.
test-grading: setup
	VAE_COURSE_SLOW=1 $(PY) -m pytest tests/test_grading.py -k every_course_notebook -v

clean:
	rm -rf $(VENV) .pytest_cache

# End to end as a learner sees it: JupyterLab in headless Chromium runs notebooks, checks figures,
# widgets and that a slider redraws its figure (tests/browser/). Needs the system Chromium
# (`apt-get install -y chromium`); screenshots land in artifacts/browser/.
BROWSER_STAMP := $(VENV)/.browser-installed

$(BROWSER_STAMP): $(STAMP) tests/browser/requirements.txt
	$(PY) -m pip install --quiet -c constraints.txt -r tests/browser/requirements.txt
	@touch $@

test-browser: $(BROWSER_STAMP)
	VAE_COURSE_BROWSER=1 timeout -k 30 600 $(PY) -m pytest tests/browser -p no:cacheprovider -v -s
