# mmmlab — the two commands: `make demo` and `make test`.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test chromium test-slow test-peers test-peers-pymc test-peers-meridian param-recovery lint format bench bench-recovery gpu-wheels clean

$(BIN)/python:
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "need $(PYTHON) on PATH (or run: make PYTHON=python3 ...)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/mmmlab bench run --out runs/demo

# The report's browser test drives the system Chromium (through Playwright, no browser download):
# installed from the system package manager when none is on PATH. A skip fails `make test`.
CHROMIUM_NAMES := chromium chromium-browser google-chrome headless_shell

chromium:
	@for name in $(CHROMIUM_NAMES); do command -v $$name >/dev/null 2>&1 && exit 0; done; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "installing Chromium for the report's browser test: apt-get install -y chromium"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium \
			>/dev/null && command -v chromium >/dev/null; \
	else \
		echo "make test needs Chromium for the report's browser test; none of"; \
		echo "'$(CHROMIUM_NAMES)' is on PATH and, not root with apt-get, it cannot"; \
		echo "install one: install Chromium (Debian: apt-get install chromium), then rerun."; \
		exit 1; \
	fi

# --max-worker-restart=0: a worker that crashes fails the run at once, naming its test (with
# --dist loadgroup, pytest-xdist 3.8 waits forever for a replaced worker's group).
test: $(STAMP) chromium
	$(BIN)/python -m pytest -n 2 --dist loadgroup --max-worker-restart=0

test-slow: $(STAMP)
	$(BIN)/python -m pytest -n 2 --dist loadgroup --max-worker-restart=0 -m slow

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks examples
	$(BIN)/ruff format --check src tests benchmarks examples

format: $(STAMP)
	$(BIN)/ruff format src tests benchmarks examples
	$(BIN)/ruff check --fix src tests benchmarks examples

# Peer libraries run in their own environments so they never enter .venv or `make test`:
# .venv-EXTRA holds mmmlab with the optional extra EXTRA.
.venv-%/.installed: pyproject.toml
	@test -x .venv-$*/bin/python || $(PYTHON) -m venv .venv-$*
	.venv-$*/bin/python -m pip install --quiet --upgrade pip
	.venv-$*/bin/python -m pip install --quiet -e '.[dev,$*]'
	@touch $@

MERIDIAN_VENV := .venv-meridian

test-peers-meridian: $(MERIDIAN_VENV)/.installed
	$(MERIDIAN_VENV)/bin/python -m pytest -m peers tests/peers/test_meridian.py

PYMC_VENV := .venv-pymc

test-peers-pymc: $(PYMC_VENV)/.installed
	$(PYMC_VENV)/bin/python -m pytest -m peers tests/peers/test_pymc_marketing.py

test-peers: test-peers-pymc test-peers-meridian

# The parameter-recovery study: mmmlab here, each peer in its own environment (built if missing).
# Narrow it with ONLY=..., e.g. make param-recovery ONLY=small_business
PARAM_RECOVERY_OUT ?= runs/param-recovery
param-recovery: $(STAMP) $(PYMC_VENV)/.installed $(MERIDIAN_VENV)/.installed
	$(BIN)/mmmlab bench run param-recovery --out $(PARAM_RECOVERY_OUT) $(if $(ONLY),--only $(ONLY))

bench: $(STAMP)
	$(BIN)/python benchmarks/fit_speed.py

bench-recovery: $(STAMP)
	$(BIN)/python benchmarks/synth_recovery.py

# The wheels benchmarks/gpu.py needs on a lent GPU machine beyond its image (which has JAX with
# CUDA, NumPyro, pandas, matplotlib, ...; not pydantic): into .whl/, carried there (docs/gpu.md).
GPU_WHEELS := pydantic==2.14.4 pydantic-core==2.50.5 annotated-types==0.8.0 typing-inspection==0.4.5
gpu-wheels:
	$(PYTHON) -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 \
		--implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
		--platform manylinux2014_x86_64 -d .whl $(GPU_WHEELS)
	@ls .whl

clean:
	rm -rf $(VENV) runs .pytest_cache
