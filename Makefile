# Two commands set everything up on a fresh machine with Python 3.11+ and make:
#   make run    creates .venv, installs the pinned dependencies, runs every asset on the committed sample
#   make test   same environment, then the test suite
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export SUBWH_LANDING_DIR ?= $(CURDIR)/sample_data/landing
export SUBWH_WAREHOUSE_PATH ?= $(CURDIR)/data/warehouse.duckdb

.PHONY: run test test-spark dev lint rebuild clean

$(BIN)/.installed: pyproject.toml requirements.lock
	@$(PYTHON) -c 'import sys; sys.exit("Python 3.11+ is required, found " + sys.version.split()[0]) if sys.version_info < (3, 11) else None'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	@touch $@

run: $(BIN)/.installed
	$(BIN)/subwh run

test: $(BIN)/.installed
	$(BIN)/python -m pytest -n 2 -q

# The dbt project on Spark in local mode (pyspark, dbt-spark; Java 17+) against DuckDB, value for value
$(BIN)/.installed-spark: $(BIN)/.installed requirements-spark.lock
	$(BIN)/python -m pip install --quiet -r requirements-spark.lock
	@touch $@

test-spark: $(BIN)/.installed-spark
	SUBWH_TEST_SPARK=1 $(BIN)/python -m pytest tests/spark -q

# The UI on the warehouse above, with its own Dagster home beside it (orchestration/instance.py).
dev: $(BIN)/.installed
	$(BIN)/subwh dev

lint: $(BIN)/.installed
	$(BIN)/ruff check .

rebuild: $(BIN)/.installed
	$(BIN)/subwh run --full-rebuild

clean:
	rm -rf data .dagster_home
