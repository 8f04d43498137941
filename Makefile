# The two commands of the quick start are `make run` and `make test`.
# Both bootstrap a virtual environment in .venv first (`make install`).

PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: install run test lint unit browser bench fixtures clean

install: $(STAMP)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "wattbridge needs Python 3.11 or newer")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $(STAMP)

run: install
	$(BIN)/wattbridge serve --dev --host 127.0.0.1 --port 8000

lint: install
	$(BIN)/ruff check core plugins tests bench scripts
	$(BIN)/mypy

unit: install
	$(BIN)/pytest -q

test: lint unit

# Headless Chromium for the scan report's browser test: Debian's package, installed
# only when no `chromium` is on the PATH (as root, or through sudo).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
		if [ "$$(id -u)" = 0 ]; then sudo=; else sudo=sudo; fi; \
		$$sudo apt-get update -q && \
		$$sudo env DEBIAN_FRONTEND=noninteractive \
			apt-get install -y -q --no-install-recommends chromium; }
	@chromium --version

bench: install
	@for f in bench/bench_*.py; do echo "== $$f"; $(BIN)/python $$f || exit 1; done

# Regenerate the 20 sandbox fixtures by running the live solver on their canonical
# inputs (docs/data.md). `make fixtures FIXTURES_FLAGS=--check` compares instead.
fixtures: install
	$(BIN)/python -m wattbridge_fixtures.generate $(FIXTURES_FLAGS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
