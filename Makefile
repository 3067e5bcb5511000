# fusion_moe: the two commands are `make demo` and `make test`; both set up .venv first if needed.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
# Tests and the demo pin their own thread counts; this caps the BLAS pools of helper processes.
export OMP_NUM_THREADS ?= 2

.PHONY: setup test demo bench clean-demo help

help:
	@echo "make setup   create $(VENV) and install the pinned stack (idempotent)"
	@echo "make test    set up if needed, then run the test suite (CPU, offline)"
	@echo "make demo    set up if needed, then synthetic data -> train -> evaluate -> report"
	@echo "make bench   run the speed benchmarks in benchmarks/ (writes benchmarks/results/*.json)"

setup:
	@bash tools/setup_env.sh

test: setup
	$(PY) -m pytest -q $(PYTEST_ARGS)

demo: setup
	$(PY) tools/demo.py $(DEMO_ARGS)

bench: setup
	@mkdir -p benchmarks/results
	@for b in benchmarks/*.py; do \
	  n=$$(basename $$b .py); echo "== $$b"; \
	  $(PY) $$b --json benchmarks/results/$$n.json || exit $$?; \
	done

clean-demo:
	rm -rf work_dirs/demo
