# fusion_moe: the two commands are `make demo` and `make test`; both set up .venv first if needed.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
# Tests and the demo pin their own thread counts; this caps the BLAS pools of helper processes.
export OMP_NUM_THREADS ?= 2

.PHONY: setup test demo bench bench-setup clean-demo help

help:
	@echo "make setup   create $(VENV) and install the pinned stack (idempotent)"
	@echo "make test    set up if needed, then run the test suite (CPU, offline)"
	@echo "make demo    set up if needed, then synthetic data -> train -> evaluate -> report"
	@echo "make bench   install the bench extra, run every benchmarks/*.py (benchmarks/results/*.json)"

setup:
	@bash tools/setup_env.sh

test: setup
	$(PY) -m pytest -q $(PYTEST_ARGS)

demo: setup
	$(PY) tools/demo.py $(DEMO_ARGS)

# The published MoE packages moe_layer.py --peers compares against (the `bench` extra), with
# torch/numpy held at the project's pins so no peer can move them.
bench-setup: setup
	$(PY) -m pip install -q -c requirements/pins.txt -r requirements/bench.txt

# Every benchmarks/*.py except helpers (_*.py), each with --json and the arguments its header
# names on a '# make-bench-args: ...' line; then the headline table of benchmarks/README.md.
bench: bench-setup
	@mkdir -p benchmarks/results
	@for b in benchmarks/[!_]*.py; do \
	  n=$$(basename $$b .py); \
	  extra=$$(sed -n 's/^# make-bench-args: //p' $$b | head -n1); \
	  echo "== $$b $$extra (load: $$(cut -d' ' -f1-3 /proc/loadavg))"; \
	  $(PY) $$b --json benchmarks/results/$$n.json $$extra || exit $$?; \
	done
	$(PY) benchmarks/_summary.py benchmarks/results

clean-demo:
	rm -rf work_dirs/demo
