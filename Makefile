# cityhub — developer commands. `make demo` runs the hub; `make test` runs every check.
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
PORT   ?= 1026
DATA   ?= ./cityhub-data

.PHONY: setup setup-test demo serve test lint typecheck pytest bench docs audit clean web web-test

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

setup: $(BIN)/python  ## install cityhub into .venv
	$(BIN)/pip install --quiet -e .

setup-test: $(BIN)/python  ## install cityhub with the test tools
	$(BIN)/pip install --quiet -e '.[test]'
	@# the dashboard's browser tests drive Debian's Chromium (Playwright downloads no browser)
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 \
	  && echo "installing Chromium for the dashboard's browser tests (apt-get install chromium chromium-driver)…" >&2 \
	  && apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; } \
	  || echo "no Chromium: the dashboard's browser tests will skip (under CI they fail)" >&2
	@# the dashboard's own logic is tested with Node.js (node --test)
	@command -v node >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 \
	  && echo "installing Node.js for the dashboard's tests (apt-get install nodejs)…" >&2 \
	  && apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs >/dev/null; } \
	  || echo "no Node.js: make web-test cannot run" >&2

demo: setup  ## install and start the hub with the demo city on its embedded SQLite database
	$(BIN)/cityhub demo --port $(PORT) --data-dir $(DATA)

serve: setup  ## install and start an empty hub on its embedded SQLite database
	$(BIN)/cityhub serve --port $(PORT) --data-dir $(DATA)

lint: setup-test  ## ruff lint + format check
	$(BIN)/ruff check cityhub tests bench
	$(BIN)/ruff format --check cityhub tests bench

typecheck: setup-test  ## mypy (strict) on the package
	$(BIN)/mypy

pytest: setup-test  ## the test suite (SQLite and PostgreSQL)
	bash scripts/ensure-postgres.sh
	bash scripts/ensure-mosquitto.sh
	$(BIN)/pytest -q -p no:cacheprovider

test: lint typecheck web-test pytest  ## everything CI runs

web:  ## rebuild the dashboard (web/) into cityhub/web/static from package-lock.json
	cd web && npm ci --no-audit --no-fund && npm run build

web-test: setup-test  ## the dashboard's pure logic (node --test; needs no npm install)
	node --test web/test/

bench: setup-test  ## benchmarks, printed as tables
	$(BIN)/python bench/run.py

audit: setup  ## known vulnerabilities in cityhub's dependencies (asks PyPI's vulnerability API)
	$(PYTHON) -m venv .venv-audit
	.venv-audit/bin/pip install --quiet pip-audit==2.10.1
	.venv-audit/bin/pip-audit --strict --path "$$($(BIN)/python -c 'import site; print(site.getsitepackages()[0])')"

docs: setup  ## regenerate docs/configuration.md from the settings
	$(BIN)/cityhub settings --markdown > docs/configuration.md

clean:
	rm -rf $(VENV) .venv-audit build *.egg-info .pytest_cache .mypy_cache .ruff_cache
