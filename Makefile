# One command to set up and test, one to set up and run the demo (see README).
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
STAMP := $(VENV)/.installed

.PHONY: setup test lint typecheck pytest demo clean

$(PY):
	python3 -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

# Reinstall when the project's metadata changes; the editable install picks up code changes by itself.
$(STAMP): pyproject.toml | $(PY)
	$(PIP) install --quiet -e '.[local,dev,examples]'
	touch $(STAMP)

setup: $(STAMP)

lint: setup
	$(VENV)/bin/ruff check sdk workflows activities worker cluster tests examples bench
	$(VENV)/bin/ruff format --check sdk workflows activities worker cluster tests examples bench

typecheck: setup
	$(VENV)/bin/mypy sdk workflows activities worker cluster

pytest: setup
	$(VENV)/bin/pytest -q -ra

test: lint typecheck pytest

demo: setup
	$(VENV)/bin/kaptain demo

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
