# Customer segmentation warehouse. `make` lists the targets.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# The SQL engines the exported scoring queries are tested on (pyspark, psycopg): `make engines`.
ENGINES_STAMP := $(VENV)/.engines-installed
# DuckDB 1.x, as bundled by many BI drivers: the tests check it opens the published file.
OLD_DUCKDB := .venv-duckdb1

.DEFAULT_GOAL := help
.PHONY: help install engines run test quick lint sample bench bench-scoring stress fuzz clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-13s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	@echo "Installing the project and its tools (DuckDB, pandas, scikit-learn, matplotlib, pytest, sqlfluff, ruff, mypy)"
	@echo "into $(VENV): half a minute to a minute, once (again only when pyproject.toml changes)."
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

$(OLD_DUCKDB)/.installed:
	@echo "Installing DuckDB 1.1.3 into $(OLD_DUCKDB) (the tests check it opens the warehouse): a few seconds, once."
	$(PYTHON) -m venv $(OLD_DUCKDB)
	$(OLD_DUCKDB)/bin/python -m pip install --quiet 'duckdb==1.1.3'
	touch $@

install: $(STAMP) $(OLD_DUCKDB)/.installed ## create .venv (and .venv-duckdb1 for the tests) and install

$(ENGINES_STAMP): $(STAMP)
	@echo "Installing pyspark and psycopg into $(VENV) for the engine tests (pyspark is large): a minute or more, once."
	$(BIN)/python -m pip install --quiet -e '.[dev,engines]'
	touch $@

engines: $(ENGINES_STAMP) ## add pyspark and psycopg to .venv: the engine tests run instead of skipping

run: $(STAMP) ## build warehouse/mall.duckdb and reports/, from the bundled sample or INPUT=path/to/customers.csv
	$(BIN)/python pipeline.py $(if $(INPUT),--input "$(INPUT)")

test: lint $(OLD_DUCKDB)/.installed ## lint the SQL, then run the whole test suite (engine tests need make engines)
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || [ -n "$$CHROMIUM" ] \
		|| echo "note: no Chromium found: the browser test of the report is SKIPPED (apt-get install chromium)"
	$(BIN)/python -m pytest -n auto

quick: $(STAMP) ## the tests that build no whole warehouse and start no command: about a minute, while editing
	$(BIN)/python -m pytest -n auto -m "not slow"

lint: $(STAMP) ## sqlfluff on sql/ (on every core), ruff (lint and format) and mypy on the Python
	$(BIN)/sqlfluff lint sql --processes 0
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

sample: $(STAMP) ## regenerate the bundled sample data (customers and their orders)
	$(BIN)/python -m segmentation.sample_data data/sample_customers.csv
	$(BIN)/python -m segmentation.sample_data data/sample_orders.csv --orders

bench: $(STAMP) ## time and memory by input size, e.g. make bench BENCH="--sizes 200,1000000"
	$(BIN)/python benchmarks/bench.py $(BENCH)

bench-scoring: $(ENGINES_STAMP) ## the exported scoring SQL on DuckDB, Spark, PostgreSQL: agreement and seconds
	$(BIN)/python benchmarks/scoring_engines.py $(BENCH)

stress: $(STAMP) ## readers and a read-write holder in a loop while the pipeline rebuilds 50 times
	$(BIN)/python benchmarks/stress_readers.py --rebuilds 50 --writer

fuzz: $(STAMP) ## throw random paths, options and files at the command (FUZZ_EXAMPLES=300)
	FUZZ_RANDOM=1 FUZZ_EXAMPLES=$${FUZZ_EXAMPLES:-300} $(BIN)/python -m pytest tests/test_fuzz.py -q

clean: ## remove the built warehouse and reports (the files a build wrote, never yours) and caches
	@if [ -x $(BIN)/python ]; then $(BIN)/python -m segmentation.clean; fi
	rm -rf .reports.building .reports.lock .pytest_cache
