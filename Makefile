# Two set-up commands: `make demo` and `make test`. Both create .venv and install what they need.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck pytest debian-deps clean fault fuzz

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

debian-deps:
	@bash scripts/debian-deps.sh

demo: $(STAMP)
	$(BIN)/bodyworn demo

lint: $(STAMP)
	$(BIN)/ruff check src tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP) debian-deps
	$(BIN)/pytest

test: lint typecheck pytest

fault: $(STAMP) debian-deps
	BODYWORN_FAULT_TRIALS=200 $(BIN)/pytest tests/controller/offload/test_faults.py -k random
	BODYWORN_FAULT_TRIALS=200 $(BIN)/pytest tests/controller/offload/test_kill9.py -k random_moments
	BODYWORN_POWERCUT_TRIALS=50 BODYWORN_POWERCUT_MAX_CUTS=3 $(BIN)/pytest tests/controller/offload/test_powercut.py -k random_moments

# The fuzzers of every API (controller REST with its links, dock link both sides, the
# embedded CD's Swift API) with random inputs for FUZZ_MINUTES in all; `make test` runs
# the same tests derandomized. Every 5xx found is a line in .fuzz/findings.jsonl.
FUZZ_MINUTES ?= 10

fuzz: $(STAMP)
	rm -f .fuzz/findings.jsonl .fuzz/summary.jsonl
	BODYWORN_FUZZ_SECONDS=$$(( $(FUZZ_MINUTES) * 60 )) $(BIN)/pytest -m fuzz -q -p no:cacheprovider; \
	status=$$?; cat .fuzz/summary.jsonl 2>/dev/null; \
	echo "fuzz: $$(cat .fuzz/findings.jsonl 2>/dev/null | wc -l) server errors (5xx) found"; \
	exit $$status

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .fuzz
