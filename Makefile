# SAR offset tracking: set-up, tests, demo and plugin package on Debian 12.
#
#   make demo      install what is missing, then run the main job on the bundled data
#   make accuracy  issue 7's accuracy checks on the demo's results (after make demo)
#   make test      install what is missing, then ruff and the whole pytest suite
#   make package   build dist/sar_offset_tracking.zip (QGIS "Install from ZIP")
#   make lint      ruff check + ruff format --check
#   make format    ruff format + ruff check --fix
#   make deps      only install (Debian packages, then the test venv); idempotent
#
# Everything runs on Debian's /usr/bin/python3: QGIS, GDAL, numpy and scipy come from apt.

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

PY := /usr/bin/python3
VENV := .venv
VPY := $(VENV)/bin/python
RUFF := $(VENV)/bin/ruff
DIST_DIR ?= dist
DEMO_OUT ?= demo_output
DEMO_ARGS ?=
PYTEST_ARGS ?=
# The suite's files spread over one process per core (pytest-xdist); a file stays on one process,
# so its module fixtures are built once. PYTEST_JOBS=0 runs everything in this process.
PYTEST_JOBS ?= auto

# Headless Qt for QGIS (tests, qgis_process).
export QT_QPA_PLATFORM := offscreen

.PHONY: help deps system-deps test lint format demo accuracy package clean

help:
	@sed -n 's/^#   make /make /p' $(firstword $(MAKEFILE_LIST))

system-deps:
	@scripts/setup.sh system

deps:
	@scripts/setup.sh all

# Both run even when ruff finds something, so one run reports everything; either fails the target.
test: deps
	@status=0; \
	echo "+ ruff check ."; $(RUFF) check . || status=1; \
	echo "+ pytest -n $(PYTEST_JOBS) --dist loadfile $(PYTEST_ARGS)"; \
	$(VPY) -m pytest -n $(PYTEST_JOBS) --dist loadfile $(PYTEST_ARGS) || status=1; \
	exit $$status

lint: deps
	@status=0; \
	echo "+ ruff check ."; $(RUFF) check . || status=1; \
	echo "+ ruff format --check ."; $(RUFF) format --check . || status=1; \
	exit $$status

format: deps
	$(RUFF) format .
	$(RUFF) check --fix .

# DEMO_ARGS: extra options of `processing_core demo`, e.g. --scenario small (a quick look).
demo: system-deps
	$(PY) -m processing_core demo --out $(DEMO_OUT) $(DEMO_ARGS)
	$(PY) scripts/write_project.py $(DEMO_OUT)/stack

# Not part of `make test`: the 28-scene demo takes ~10 minutes.
accuracy:
	$(PY) scripts/check_accuracy.py $(DEMO_OUT)/stack

package: system-deps
	$(PY) scripts/build_package.py --out $(DIST_DIR)/sar_offset_tracking.zip

clean:
	rm -rf $(DIST_DIR) $(DEMO_OUT) .pytest_cache .ruff_cache
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +
