# The two commands a newcomer needs: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip

.PHONY: demo test smoke bench clean lint image kube-smoke

# Scratch directory of the container image build and of podman's store (helm/image/build.sh, tests/helm/kube_smoke.py).
HDS_IMAGE_WORK ?= $(or $(TMPDIR),/tmp)/hds-image
export HDS_IMAGE_WORK
# The podman smoke joins `make test` where podman is installed (it skips with its reason otherwise).
HDS_KUBE_SMOKE ?= $(if $(shell command -v podman 2>/dev/null),1,0)

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
	HDS_KUBE_SMOKE=$(HDS_KUBE_SMOKE) $(PY) -m pytest $(PYTEST_ARGS)

# The container image, built without any registry (debootstrap + podman import); needs root, debootstrap, podman.
# Exit 77 from either script means "cannot run on this machine": the reason is printed and the target skips.
image: $(VENV)/.installed
	@PYTHON=$(PY) helm/image/build.sh; rc=$$?; if [ $$rc = 77 ]; then echo "make image: skipped (reason above)"; exit 0; fi; exit $$rc

# The chart's development deployment played as pods with podman and checked end to end (builds the image if missing).
kube-smoke: $(VENV)/.installed-dev
	@$(PY) tests/helm/kube_smoke.py; rc=$$?; if [ $$rc = 77 ]; then echo "make kube-smoke: skipped (reason above)"; exit 0; fi; exit $$rc

bench: $(VENV)/.installed
	$(VENV)/bin/hds bench deid
	$(VENV)/bin/hds bench pipeline

lint: $(VENV)/.installed-dev
	$(VENV)/bin/lint-imports

clean:
	rm -rf $(VENV) .hds build *.egg-info
