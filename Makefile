# EDTalk-Bench. The README's two commands: `make demo` and `make test`.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DATA ?= data/synthtalk
RUNS ?= runs
RESULTS ?= results
export RAY_AUTH_MODE ?= disabled
export DS_ACCELERATOR ?= cpu
export DS_BUILD_OPS ?= 0
export HF_HUB_OFFLINE ?= 1
export TOKENIZERS_PARALLELISM ?= false
export RAY_USAGE_STATS_ENABLED ?= 0

.PHONY: install demo test test-slow bench lint clean browser

install: $(STAMP)

# Idempotent: re-runs only when pyproject.toml changes. torch first, so nothing pulls another build.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip "setuptools==80.9.0" wheel
	$(BIN)/pip install -q torch==2.14.1 torchvision==0.29.1
	$(BIN)/pip install -q -e '.[dev]'
	$(BIN)/pip install -q --no-deps face-alignment==1.5.0 syncnet-python==0.2.3
	$(BIN)/python -c "import torch, torchvision, cv2, ray, deepspeed, dlib, av, librosa; print('installed: torch', torch.__version__, 'ray', ray.__version__, 'deepspeed', deepspeed.__version__)"
	touch $(STAMP)

# Debian's Chromium, for the report's screenshot test (root on these machines; skipped if present).
browser:
	@command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium >/dev/null)

demo: install
	$(BIN)/python -m edtalk.demo --data $(DATA) --runs $(RUNS) --results $(RESULTS)

test: install
	$(BIN)/python -m pytest -q

test-slow: install
	$(BIN)/python -m pytest -q -m slow

bench: install
	$(BIN)/python -m benchmarks.eval_throughput

lint: install
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) data/synthtalk runs results report
