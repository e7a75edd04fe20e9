# make demo: set up and crawl the bundled sample site; make test: set up and run the tests.
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: install demo test lint format bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/newsalign demo

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format .

bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[bench]'
	$(BIN)/python bench/ingest.py
	$(BIN)/python -m bench.extract_eval
	$(BIN)/python -m bench.discovery_eval
	$(BIN)/python bench/align_eval.py
	$(BIN)/python bench/review_actions.py
	$(BIN)/python bench/crawl.py
	$(BIN)/python bench/recrawl.py
	$(BIN)/python bench/db_scale.py --editions 20000

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis newsalign-demo.db*
