# Two commands from a fresh clone:
#   make lab    create .venv (once), install the course, open JupyterLab on notebooks/
#   make test   the same set-up, then the package's tests and every notebook under nbval
# for self-study:
#   make exercises   your workbook: the notebooks with solutions stubbed, in exercises/ (never overwritten)
# and one for maintainers:
#   make constraints   regenerate constraints.txt (the exact tested versions) from pyproject.toml
PYTHON ?= $(shell command -v python3.11 || command -v python3)
# The course needs Python 3.10 or newer (pyproject.toml); refuse an older one with a clear message.
PYTHON_OK = $(shell $(PYTHON) -c 'import sys; print(int(sys.version_info >= (3, 10)))' 2>/dev/null)
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
PORT   ?= 8888
# torch's version is written once, in constraints.txt; every install reads it from there.
TORCH  := $(shell grep -m1 -E '^torch==' constraints.txt | cut -d' ' -f1)
PIP    := pip==26.3

.PHONY: help setup lab exercises notebooks zh test-zh test lint test-params params-readme exercises-readme test-seeds test-package test-notebooks test-grading clean test-browser constraints

help:  ## this list
	@awk -F':.*## ' '/^[a-z-]+:.*## / {printf "  make %-16s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

setup: $(STAMP)  ## create .venv and install the course with the pinned versions (once)

# A current pip first (about 1 s; it resolves this set in about half the time of Python 3.11's own
# pip), then one pip call for torch and the course, every version pinned by constraints.txt. The pin
# fixes torch's version, not its build: pip takes whatever build of that version its index offers
# (here pip's configuration offers a CPU wheel; from PyPI alone, Linux gets the multi-GB CUDA build).
# A torch of that version already in $(VENV) is kept, so users elsewhere install the CPU build first
# (README). -qq: errors only (-q still shows setuptools' notice about editable installs).
# pip's own byte-compiling is serial; compileall -j 0 does the same work on every core afterwards
# (bytecode must exist up front where PYTHONDONTWRITEBYTECODE=1, as on CI), skipping what no kernel
# imports: the packages' own test suites, torch's test helpers (one holds Python 3.12 syntax) and sympy
# (a third of the source). A file that fails to compile fails the set-up.
$(STAMP): pyproject.toml constraints.txt
	@test -x $(PY) || test "$(PYTHON_OK)" = 1 || { echo "error: $(PYTHON) is not Python 3.10 or newer; run make PYTHON=/path/to/python3.10+" >&2; exit 1; }
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -qq --no-compile $(PIP)
	$(PY) -m pip install -qq --no-compile -c constraints.txt $(TORCH) -e ".[lab,classroom,test]"
	@echo "byte-compiling the environment on all cores (a cache: kernels start faster)"
	@$(PY) -m compileall -q -j 0 -x 'site-packages/(sympy/|torch/testing/_internal/|.*/tests?/)' \
		"$$($(PY) -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')" > /dev/null
	@touch $(STAMP)
	@echo "course environment ready in $(VENV)"

# --allow-root only where you are root (containers, CI machines); a normal account never needs it.
lab: setup  ## open JupyterLab on the notebooks
	$(VENV)/bin/jupyter lab --ServerApp.root_dir=notebooks --ServerApp.port=$(PORT) \
		$(if $(filter 0,$(shell id -u)),--allow-root) notebooks/00_start_here.ipynb

# The self-study workbook: every notebook with its solutions replaced by stubs, written to exercises/
# (git-ignored). A workbook notebook that already holds your work is kept, never overwritten: delete it
# (or the folder) to start afresh. The course notebooks in notebooks/ are the answer key.
WORKBOOK ?= exercises

exercises: setup  ## your workbook: the notebooks with solutions stubbed, in exercises/
	$(VENV)/bin/vae-course student notebooks $(WORKBOOK)
	@echo "workbook ready: open it with  $(VENV)/bin/jupyter lab $(WORKBOOK)/00_start_here.ipynb"

# After editing a notebook: run it again top to bottom and save it with clean outputs (no saved progress
# bars; refused on an error, a warning or a failing claim), its slide metadata re-applied
# (lecture/execute_notebooks.py). All notebooks by default, or NB="notebooks/01_autoencoder.ipynb ...".
NB ?= $(sort $(wildcard notebooks/[0-9][0-9]_*.ipynb))
notebooks: setup  ## re-run notebooks and save them (NB="notebooks/01_autoencoder.ipynb ...")
	$(PY) -m lecture.execute_notebooks --jobs 2 $(NB)

# The Chinese edition (issue 29; i18n/README.md): notebooks/zh/, written from the English notebooks and
# i18n/zh/notebooks/*.json (markdown translated, code cells byte-identical), then run by the course's
# executor with VAE_COURSE_LANG=zh. Refuses, naming notebook and cell, a missing or stale translation.
# All notebooks by default, or ZH="03_denoising_autoencoder ...".
ZH ?=
zh: setup  ## write and run the Chinese notebooks in notebooks/zh/ (ZH="03_denoising_autoencoder ...")
	$(PY) -m lecture.i18n build $(ZH) --jobs 2

# The Chinese notebooks under nbval, 2 workers (not part of `make test`, whose time budget is full).
test-zh: setup  ## the Chinese notebooks under nbval (2 workers)
	$(PY) -m pytest -n 2 --dist loadfile -p no:cacheprovider notebooks/zh

# One pytest worker per core (pytest-xdist). --dist loadfile sends each file whole to one worker: all
# cells of a notebook run there, on one kernel, as nbval requires (its docs name loadscope, the same
# grouping for notebooks), and a test module's module-scoped fixtures are built once, never per class.
XDIST := -n auto --dist loadfile

# The tests marked slow, tamper or browser are deselected by pyproject.toml's addopts (-m), so this is
# plain `pytest` on every core; `make test-grading` and `make test-browser` run those.
test: setup lint  ## lint, the package tests and every notebook under nbval (not slow/tamper/browser)
	$(PY) -m pytest $(XDIST) --durations=5

# ruff: lint and format check of all the Python code (configured in pyproject.toml).
LINTED := vae_course tests benchmarks lecture site
lint: setup  ## ruff check and format check
	$(VENV)/bin/ruff check $(LINTED)
	$(VENV)/bin/ruff format --check $(LINTED)

# Every notebook with each value its parameters cell offers, with another seed, and with all its other
# values changed at once, as a learner would run it (claims are notices); fails on a traceback, or on a
# claim that fails with another seed. Writes the table to build/test-params.md (CI changes no tracked
# file); `make params-readme` copies it into README.md (tests/run_params.py).
test-params: setup  ## every notebook with each parameter value, another seed, and all values changed
	$(PY) -m tests.run_params --jobs 2 --table build/test-params.md

params-readme:  ## copy build/test-params.md into the README's table
	$(PY) -m tests.run_params --readme README.md --from-table build/test-params.md

exercises-readme:  ## rewrite the README's exercise table (kinds, misconceptions) from the registry
	$(PY) -m vae_course.exercises.catalogue --readme README.md

# A benchmark, not a CI step (about 15 minutes): every notebook under the course's settings with
# SEED = 0..4, and each claim's margin on each seed, worst first (build/test-seeds.md).
test-seeds: setup  ## benchmark: every claim's margin on SEED 0-4, worst first
	$(PY) -m tests.run_params --jobs 2 --seeds 0 1 2 3 4 --table build/test-seeds.md

test-package: setup  ## the package tests only (tests/, as in make test: no notebooks under nbval)
	$(PY) -m pytest $(XDIST) tests

test-notebooks: setup  ## the notebooks only, under nbval
	$(PY) -m pytest $(XDIST) notebooks

# Slow (runs every notebook twice), the tests marked `slow`: every course notebook grades "pass" on each
# exercise, and its student version "not attempted"; the built wheel installed in a clean venv copies the
# notebooks out, runs one, builds its student version and grades it. Then the tests marked `tamper`
# (tests/tamper/):
# submissions that forge results, rebind check, monkeypatch, read classmates' and the teacher's
# files, use the network, loop, hog memory, exit, signal, leave daemons or lose messages, and what
# the report says of each; the fault tests (tests/test_grading_resume.py: SIGKILL the grader at random
# moments in a class of about 20 submissions, several times, resume, compare with an uninterrupted run).
# CI runs it after `make test`. Two workers, one test file each at a time (--dist loadfile keeps a file's
# module fixtures on one worker): the four long files (every-notebook grading, the SIGKILL resume test, the
# clean-venv wheel, the tamper suite) each run one kernel or one build at a time, so two of them share the
# two cores of CI's machine.
test-grading: setup  ## slow: every notebook graded, fault tests, the wheel in a clean venv, the tamper suite
	$(PY) -m pytest tests -m "slow or tamper" -v --durations=10 -n 2 --dist loadfile

clean:  ## remove .venv, the pip-tools environment and the pytest cache
	rm -rf $(VENV) $(TOOLS) .pytest_cache

# constraints.txt is generated, never edited by hand: pip-tools' pip-compile resolves pyproject.toml
# with every extra, keeping the pins already in constraints.txt wherever the ranges still allow them
# (`make constraints UPGRADE=--upgrade` moves everything to the newest allowed releases).
# pip-compile runs from its own small environment ($(TOOLS)), not the course's. Where torch comes from a
# build-specific wheel (a local label such as +cpu), its pin is written without the label, so the file accepts
# whichever build of that version a user installs.
TOOLS     := .venv-tools
PIP_TOOLS := pip-tools==7.6.2
UPGRADE   :=

constraints:  ## regenerate constraints.txt from pyproject.toml (pip-tools, network)
	@test -x $(TOOLS)/bin/python || $(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/python -m pip install --quiet $(PIP_TOOLS)
	CUSTOM_COMPILE_COMMAND="make constraints" $(TOOLS)/bin/pip-compile --quiet $(UPGRADE) \
		--all-extras --strip-extras --allow-unsafe --annotation-style=line \
		--no-emit-index-url --no-emit-find-links --no-emit-trusted-host \
		--upgrade-package $(TORCH) --output-file constraints.txt pyproject.toml
	sed -i -E 's/^torch==([^+ ]+)\+[^ ]+/torch==\1/' constraints.txt

# End to end as a learner sees it: JupyterLab in headless Chromium runs notebooks, checks figures,
# widgets and that a slider redraws its figure, by mouse and by keyboard; the decks and the site
# (built first if stale) open offline, their live explorers (a notebook's decoder exported as JSON, run
# in the page) redraw, by mouse and by keyboard, what torch's decoder draws, and axe-core (npm,
# hash-pinned) finds no WCAG 2.1 A/AA violation on any site page or deck (tests/browser/). Needs the system Chromium
# (`apt-get install -y chromium`); screenshots and axe reports land in artifacts/browser/.
BROWSER_STAMP := $(VENV)/.browser-installed

# Its Python packages (Playwright, greenlet) are the course's `browser` extra, pinned in constraints.txt.
$(BROWSER_STAMP): $(STAMP)
	$(PY) -m pip install -qq -c constraints.txt -e ".[browser]"
	@touch $@

test-browser: $(BROWSER_STAMP)  ## JupyterLab in headless Chromium (needs the system chromium)
	timeout -k 30 900 $(PY) -m pytest tests/browser -m browser -p no:cacheprovider -v -s --durations=10

# Lecture mode and the website. The notebooks in notebooks/ are for learners and hold no speaker notes;
# `make lecture` writes the lecture edition, build/lecture/ (git-ignored): the same notebooks with the
# notes of lecture/speaker_notes.json (keyed by the id of the cell each follows) as RISE notes cells
# (lecture/build_lecture.py; no re-execution). `make present`: JupyterLab on the lecture edition, for
# RISE (View > Render as slideshow, or Alt+R; the speaker view shows the notes). Both of the
# following build from it. `make slides`: offline reveal.js decks, one per notebook, in build/slides/
# (open build/slides/index.html); reveal.js and MathJax are fetched once from the npm registry with
# `npm pack` into build/vendor/ and copied next to the decks. `make site`: the static course website in
# build/site/ (Sphinx + myst-nb from the `docs` extra; every warning is an error). Where notebooks/zh/
# exists (`make zh`), each also writes the Chinese edition beside the English one: build/lecture/zh/,
# build/slides/zh/, build/site/zh/, every page and deck of both with a language switch (lecture/languages.py).
# Slide metadata: `$(PY) -m lecture.slide_metadata notebooks/*.ipynb` (tests/test_lecture.py).
SITE_STAMP := $(VENV)/.site-installed

.PHONY: lecture present slides site

lecture: setup  ## the lecture edition (notebooks + speaker notes) in build/lecture/
	$(PY) -m lecture.build_lecture

present: lecture  ## JupyterLab on the lecture edition, for RISE slideshows
	$(VENV)/bin/jupyter lab --ServerApp.root_dir=build/lecture --ServerApp.port=$(PORT) \
		$(if $(filter 0,$(shell id -u)),--allow-root) 00_start_here.ipynb

$(SITE_STAMP): $(STAMP)
	$(PY) -m pip install --quiet -c constraints.txt -e ".[docs]"
	@touch $@

slides: lecture  ## offline reveal.js decks in build/slides/ (from the lecture edition)
	$(PY) -m lecture.build_slides

site: $(SITE_STAMP) lecture  ## the static course website in build/site/ (from the lecture edition)
	$(PY) -m lecture.build_site
