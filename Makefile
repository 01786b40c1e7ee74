# Ervaringswijzer: `make run` for a first look, `make test` for the whole suite.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 5000
TEST_DATABASE_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/test
export TEST_DATABASE_URL

.PHONY: install run test lint format translations clean bench bench-quick lock

# Installs from requirements.lock (every package pinned, the same on every machine); the project
# itself goes in editable, without resolving again. pyproject.toml keeps the lower bounds.
$(STAMP): pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	# deduce builds its name and place lookup structures once per install (over a minute);
	# do it here, so no request and no test waits for it.
	$(BIN)/python -m survey.quotes.deidentify --prepare
	touch $(STAMP)

install: $(STAMP) translations

# Compile the nl/en catalogues (the .mo files are build output, not committed).
translations: $(STAMP)
	$(BIN)/pybabel -q compile -d survey/translations

# A first look: install, migrate, load the synthetic demo region once, serve on 127.0.0.1:5000.
# ERVARINGSWIJZER_DEMO labels every page as demo data and allows running without a SECRET_KEY.
run: export ERVARINGSWIJZER_DEMO = 1
run: export REQUIRE_MFA = 0
run: install
	$(BIN)/ervaringswijzer db upgrade
	$(BIN)/ervaringswijzer demo --if-empty
	exec $(BIN)/ervaringswijzer run --host $(HOST) --port $(PORT)

# The suite runs on both cores (pytest-xdist; a module's tests stay on one worker, so its shared
# fixtures are built once). The single sign-on tests need a real OpenID Connect provider: the
# `oidc-provider` package from npm (tests/oidc), installed here when npm is there.
test: install oidc-provider
	$(BIN)/python -m pytest -n 2 --dist loadscope --durations=30

OIDC_PROVIDER := tests/oidc/node_modules/.package-lock.json
.PHONY: oidc-provider
oidc-provider:
	@if command -v npm >/dev/null 2>&1; then \
		[ "$(OIDC_PROVIDER)" -nt tests/oidc/package-lock.json ] || \
		npm ci --prefix tests/oidc --no-audit --no-fund --loglevel=error; \
	else echo "npm not found: the single sign-on tests will be skipped"; fi

# Benchmarks against the limits (issue 8): ratios to a baseline measured in the same run, written
# to bench/results.json. The full size fills a million responses per backend and takes long.
bench: install
	$(BIN)/python -m bench.run --size full

bench-quick: install
	$(BIN)/python -m bench.run --size quick

# Exact pins of every runtime dependency, transitively: the wheel built from this checkout,
# installed with its dependencies in a clean venv, then `pip freeze`. Run after changing the
# [project] dependencies in pyproject.toml and review the diff. The build directory goes to a
# temporary folder (DIST_EXTRA_CONFIG), not build/ in the checkout.
.PHONY: constraints
constraints: $(STAMP)
	@set -e; tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	printf '[build]\nbuild_base = %s/build\n' "$$tmp" > "$$tmp/build.cfg"; \
	DIST_EXTRA_CONFIG="$$tmp/build.cfg" $(BIN)/python -m pip wheel --quiet --no-deps \
		--no-build-isolation -w "$$tmp/dist" .; \
	$(BIN)/python -m venv "$$tmp/venv"; \
	"$$tmp/venv/bin/python" -m pip install --quiet "$$tmp"/dist/ervaringswijzer-*.whl; \
	version=$$("$$tmp/venv/bin/python" -c 'import platform; print(platform.python_version())'); \
	{ \
	echo "# Exact versions of every runtime dependency of the ervaringswijzer wheel, transitively."; \
	echo "# Made by \`make constraints\`: the wheel built from the checkout, installed with its"; \
	echo "# dependencies in a clean venv (Python $$version, Linux), then"; \
	echo "# \`pip freeze --exclude ervaringswijzer\`. Regenerate it the same way after changing the"; \
	echo "# dependencies in pyproject.toml, and review the diff."; \
	echo "# Use: pip install --constraint deploy/constraints.txt ervaringswijzer-<version>-py3-none-any.whl"; \
	"$$tmp/venv/bin/python" -m pip freeze --exclude ervaringswijzer; \
	} > "$$tmp/constraints.txt"; \
	mkdir -p deploy; mv "$$tmp/constraints.txt" deploy/constraints.txt; \
	echo "wrote deploy/constraints.txt"

# Style, the import contracts of pyproject.toml ([tool.importlinter]) and the type checker.
lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/mypy

# Pin every package anew from the lower bounds in pyproject.toml (then commit requirements.lock).
lock: install
	$(BIN)/pip-compile --quiet --extra dev --strip-extras --allow-unsafe --no-emit-index-url \
		--no-emit-find-links --output-file requirements.lock pyproject.toml

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) instance .pytest_cache .ruff_cache tests/oidc/node_modules
