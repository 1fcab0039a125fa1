# Kernel Kiln: set-up, demo and tests. README's two commands are `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.kiln-installed
PYTEST_ARGS ?=

.PHONY: setup demo verify-example test test-fast lint clean images

setup: $(STAMP)

# torch comes from the pinned CPU wheel (constraints.txt); a looser spec would pull CUDA packages.
$(STAMP): pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Kernel Kiln needs Python 3.11 or newer (set PYTHON=python3.11)")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --disable-pip-version-check -q --upgrade pip
	$(BIN)/python -m pip install --disable-pip-version-check -c constraints.txt torch==2.13.0
	$(BIN)/python -m pip install --disable-pip-version-check -c constraints.txt -e '.[dev,ray]'
	scripts/install-sandbox-tools
	touch $@

# the main job on embedded defaults: start `kiln serve`, submit a built-in large-kernel convolution task,
# stream its progress and print the verified kernel and its report (scripts/demo.py)
demo: setup
	$(BIN)/python scripts/demo.py

# the verifier alone on the bundled example kernel
verify-example: setup
	$(BIN)/kiln verify --reference verifier/examples/dwconv7x7_reference.py --candidate verifier/examples/dwconv7x7_triton.py

# Docker Engine (installed from Debian and started when missing), a base image built from Debian
# packages, kernelkiln/worker:cpu (the docker sandbox's image) and kernelkiln/service:latest
images: setup
	scripts/ensure-docker --service

# two passes: everything not bound by wall-clock time on both cores (pytest-xdist), then the tests
# whose assertions are latencies or time budgets (marked `serial`) alone
test: setup
	scripts/ensure-services
	$(BIN)/python -m pytest -q -n 2 -m "not serial" $(PYTEST_ARGS)
	$(BIN)/python -m pytest -q -m serial $(PYTEST_ARGS)

test-fast: setup
	$(BIN)/python -m pytest -q -m "not slow and not postgres" $(PYTEST_ARGS)

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache build *.egg-info
