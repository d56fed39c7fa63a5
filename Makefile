# The README's two commands: `make demo` and `make test`. Both create .venv when missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-dev

.PHONY: demo test lint clean bench bench-collect docs

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/ddaudit demo --output ddaudit-demo

test: $(STAMP) lint
	sh scripts/ensure-postgres.sh
	sh scripts/ensure-chromium.sh
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check scanner rules reports tests $(wildcard bench)
	$(BIN)/mypy
	$(BIN)/mypy --strict bench/collect.py bench/ours.py bench/peer.py bench/simproc.py bench/faults.py \
		bench/rules.py bench/figures.py bench/all.py bench/notify.py bench/trends.py bench/report.py

# docs/rules.md is generated from rules/pack/*.yaml; a test fails when it is out of date.
docs: $(STAMP)
	$(BIN)/ddaudit rules list --format markdown > docs/rules.md.tmp
	mv docs/rules.md.tmp docs/rules.md

# Every bench at its default size, one table of figure / target / measured / ratio.
bench: $(STAMP)
	$(BIN)/python -m bench.all

bench-collect: $(STAMP)
	$(BIN)/python bench/collect.py

clean:
	rm -rf $(VENV) ddaudit-demo ddaudit-out *.db
