# Tendero: `make run` serves the demo store, `make test` runs every test.
# Needs only Python 3.11+ and make: uv (pinned) is installed into .tools/ on first use,
# and it installs the locked dependencies into .venv/.

PYTHON ?= python3
UV_VERSION := 0.13.9
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8080
export UV_PYTHON_DOWNLOADS := never
export UV_COMPILE_BYTECODE := 1
# Byte-code caches make every `tendero` start (and every CLI test) seconds faster.
unexport PYTHONDONTWRITEBYTECODE
export UV_PYTHON := $(shell command -v $(PYTHON))

PROJECT_FILES := pyproject.toml uv.lock core/pyproject.toml web/pyproject.toml \
	$(wildcard plugins/*/pyproject.toml)

.PHONY: install run test bench soak lint format clean

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

$(VENV)/.installed: $(UV) $(PROJECT_FILES)
	$(UV) sync --frozen --all-packages
	@touch $@

install: $(VENV)/.installed

run: install
	$(BIN)/tendero db upgrade
	$(BIN)/tendero demo --if-empty
	$(BIN)/tendero serve --host $(HOST) --port $(PORT)

test: install
	$(BIN)/pytest $(PYTEST_ARGS)

bench: install
	$(BIN)/python benchmarks/run.py $(BENCH_ARGS)

# The 10-minute soak of benchmarks/README.md (not part of `make test`, which runs a
# 20-second version of it); e.g. make soak SOAK_ARGS="--conversations 3000 --minutes 5"
soak: install
	$(BIN)/python benchmarks/soak.py $(SOAK_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) $(TOOLS) .pytest_cache .ruff_cache
