# Two self-sufficient commands: `make demo` (the main job) and `make test` (the test suite).
# Each creates .venv when missing and installs torch first (TORCH_SPEC), then seqzoo with its extras.
PYTHON ?= python3
VENV ?= .venv
TORCH_SPEC ?= torch==2.13.0
BIN := $(VENV)/bin
STAMP := $(VENV)/.seqzoo-installed
# The suite runs in two pytest-xdist workers, whole files to a worker (module fixtures and reports stay
# in one process), each with one thread for torch and tokenizers, subprocesses included. On 2 cores:
# 4.3 minutes, against 6.7 in one process with two threads, and 15 in two workers with two threads
# each (four times the CPU time: threads contending for the cores).
TEST_WORKERS ?= 2
TEST_THREADS := OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 RAYON_NUM_THREADS=1

.PHONY: install demo test lint docs bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q $(TORCH_SPEC)
	$(BIN)/python -m pip install -q -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/seqzoo demo

test: $(STAMP)
	$(TEST_THREADS) $(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist loadfile --durations=15

lint: $(STAMP)
	$(BIN)/ruff check .

docs: $(STAMP)
	$(BIN)/python -m pip install -q -e ".[docs]"
	$(BIN)/mkdocs build --strict

# The benchmarks page's numbers and figure (about 15 minutes on 2 CPU cores; see docs/benchmarks.md).
# On cores shared with other work: make bench BENCH_ARGS="--threads 1 --clock cpu"
bench: $(STAMP)
	$(BIN)/python -m pip install -q -e ".[docs]"
	$(BIN)/python benchmarks/run.py $(BENCH_ARGS) --json docs/benchmarks.json --markdown runs/benchmarks.md
	$(BIN)/python scripts/plot_benchmarks.py --json docs/benchmarks.json --out docs/img

clean:
	rm -rf $(VENV) runs site test-output
