# The two commands a newcomer needs: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip

.PHONY: demo test smoke bench clean lint

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q -e .
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed pyproject.toml
	$(PIP) install -q -e '.[dev]'
	touch $@

demo: $(VENV)/.installed
	$(VENV)/bin/hds demo $(ARGS)

smoke: $(VENV)/.installed
	$(VENV)/bin/hds demo --smoke

test: $(VENV)/.installed-dev
	$(PY) -m pytest $(PYTEST_ARGS)

bench: $(VENV)/.installed
	$(VENV)/bin/hds bench deid
	$(VENV)/bin/hds bench pipeline

lint: $(VENV)/.installed-dev
	$(VENV)/bin/lint-imports

clean:
	rm -rf $(VENV) .hds build *.egg-info
