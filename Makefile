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

.PHONY: install lock demo pretrain test test-slow bench lint clean browser

install: $(STAMP)

# pip with patience: a CI run lost the 79 MB ray wheel to a network that dropped it six times in a row
# (pip's default 5 resumes), so each install resumes many times and, failing that, starts again.
# The venv's own pip (23.2 with Python 3.11.7) predates --resume-retries: only the upgraded pip gets it.
PIP = $(BIN)/pip install -q --retries 10
PIP_INSTALL = $(PIP) --resume-retries 40
PIP_TRIES ?= 3
# constraints.txt pins every package the tests passed with, dependencies of dependencies included, so
# a fresh clone installs the stack that was tested, not whatever PyPI resolves that day (`make lock`).
CONSTRAINTS ?= -c constraints.txt
retry = for try in $$(seq $(PIP_TRIES)); do $(1) && break; \
          if [ $$try = $(PIP_TRIES) ]; then echo "install failed $(PIP_TRIES) times; giving up" >&2; exit 1; fi; \
          echo "install failed (try $$try of $(PIP_TRIES)); trying again in 20 s" >&2; sleep 20; done

# Idempotent: re-runs only when pyproject.toml or constraints.txt changes. torch first, so nothing
# pulls another build.
$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(call retry,$(PIP) --upgrade pip "setuptools==80.9.0" wheel)
	$(call retry,$(PIP_INSTALL) $(CONSTRAINTS) torch==2.14.1 torchvision==0.29.1)
	$(call retry,$(PIP_INSTALL) $(CONSTRAINTS) -e '.[dev]')
	$(call retry,$(PIP_INSTALL) $(CONSTRAINTS) --no-deps face-alignment==1.5.0 syncnet-python==0.2.3)
	$(BIN)/python -c "import torch, torchvision, cv2, ray, deepspeed, dlib, av, librosa; print('installed: torch', torch.__version__, 'ray', ray.__version__, 'deepspeed', deepspeed.__version__)"
	touch $(STAMP)

# After changing a pin in pyproject.toml: install without the old lock, then write the new one.
lock:
	$(MAKE) --always-make install CONSTRAINTS=
	{ echo "# Written by \`make lock\` from .venv after \`make install\`; every install is constrained to it."; \
	  $(BIN)/pip freeze --exclude-editable; } > constraints.txt

# Debian's Chromium, for the report's screenshot test (root on these machines; skipped if present).
browser:
	@command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium >/dev/null)

# The whole pipeline on synthtalk, step by step; every step is resumable, so a re-run skips done work.
# Each step's wall time is printed at the end (and kept in $(RUNS)/demo_timings.tsv).
REPORT ?= report
CKPT = $(RUNS)/audio_expression/final.pt
INIT ?= pretrained:tiny_synthtalk_eg
EXPERTS ?= pretrained:tiny_synthtalk_loss_experts
# the synthtalk judges: the shipped pair (every clone scores with the same judges), or JUDGES=train
JUDGES ?= pretrained:tiny_synthtalk_judges
# rendered people of no split that the frames-only stages (eg_pretrain, mouth_pose, expression) also
# train on; the audio stages keep to the train split (edtalk.train --extra-identities)
EXTRA_PEOPLE ?= 64
demo: install
	@set -euo pipefail; mkdir -p $(RUNS); : > $(RUNS)/demo_timings.tsv; \
	step() { local name="$$1"; shift; echo; echo "=== demo: $$name"; local t0=$$SECONDS rc=0; "$$@" || rc=$$?; \
	         printf '%s\t%ss\n' "$$name" "$$((SECONDS - t0))" >> $(RUNS)/demo_timings.tsv; return $$rc; }; \
	step "1 generate synthtalk (tiny)" $(BIN)/python -m edtalk.data.synthtalk --out $(DATA) --preset tiny --seed 0; \
	cat $(DATA)/card.md; echo "contact sheet: $(DATA)/contact_sheet.png"; \
	if [ -f $(RUNS)/judges/zoo_results.json ] && judged=$$($(BIN)/python -m eval.zoo check --data $(DATA) 2> /dev/null) \
	   && { [ "$(JUDGES)" != train ] || ! grep -q "is the shipped one" <<< "$$judged"; }; \
	then echo "judges already installed ($(RUNS)/judges; delete it to install or train them again)"; \
	     tail -n 1 <<< "$$judged"; \
	elif [ "$(JUDGES)" = train ]; then step "2 train the synthtalk judges" $(BIN)/python -m eval.zoo train --data $(DATA) --out $(RUNS)/judges; \
	else step "2 install the shipped synthtalk judges (JUDGES=train trains them, about 7 minutes)" \
	       $(BIN)/python -m eval.zoo install --from $(JUDGES) --data $(DATA) --out $(RUNS)/judges --no-progress \
	  || { rc=$$?; [ $$rc -eq 3 ] || exit $$rc; \
	       step "2 train the synthtalk judges (the shipped ones do not fit $(DATA))" \
	       $(BIN)/python -m eval.zoo train --data $(DATA) --out $(RUNS)/judges; }; fi; \
	step "3 train the tiny EDTalk chain (stage 1 from the shipped init, shipped loss experts)" $(BIN)/python -m edtalk.train --stages all --preset tiny --data synthtalk:$(DATA) --workers 2 --out $(RUNS) --resume --parent $(INIT) --experts $(EXPERTS) --extra-identities $(EXTRA_PEOPLE); \
	step "3b proof: does it disentangle? (test identities)" $(BIN)/python -m eval.proof --ckpt $(CKPT) --data $(DATA) --out $(RESULTS)/proof.json --no-progress; \
	step "3c probe: what E and the navigation weights carry (train -> test identities)" $(BIN)/python -m eval.probe --ckpt $(CKPT) --data $(DATA) --out $(RESULTS)/probe.json --no-progress; \
	step "4 score gt,static" $(BIN)/python -m eval.run --dataset synthtalk --root $(DATA) --split test --method gt,static --protocol synthtalk --out $(RESULTS); \
	step "4 score edtalk_v,edtalk_a" $(BIN)/python -m eval.run --dataset synthtalk --root $(DATA) --split test --method edtalk_v,edtalk_a --ckpt $(CKPT) --protocol synthtalk --out $(RESULTS); \
	step "5 bank-size sweep (smoke)" $(BIN)/python sweeps/bank_size.py --smoke-test --root $(DATA) --parent $(RUNS) --out $(RESULTS) --resume; \
	step "6 render the report" $(BIN)/python -m eval.report $(RESULTS) --out $(REPORT); \
	echo; echo "=== demo: wall time by step"; cat $(RUNS)/demo_timings.tsv; \
	echo "report: $$(pwd)/$(REPORT)/index.html"

# The shipped stage-1 init (edtalk/pretrained, the demo's starting point, as EDTalk starts from LIA):
# 20 000 eg_pretrain steps on synthtalk's train identities (about 80 minutes on 2 CPU cores), then
# 4000 more that also see 64 rendered people of no split (--extra-identities; about 20 minutes), so
# E and G meet more than 12 faces. Resumable. It rewrites edtalk/pretrained/tiny_synthtalk_eg.pt and
# prints the sha256 to record in its registry.
# First the shipped loss experts (face analyser 2000 steps, SyncNet 600, train split, about 7 minutes)
# and the shipped synthtalk judges (judge split, eval.zoo's defaults, about 7 minutes): record the
# sha256 of their manifest.json that `python -m edtalk.pretrained list` prints.
PRETRAIN_RUNS ?= runs_pretrain
pretrain: install
	$(BIN)/python -m edtalk.data.synthtalk --out $(DATA) --preset tiny --seed 0
	$(BIN)/python -m edtalk.experts train --data $(DATA) --split train --face-steps 2000 --sync-steps 600 \
	  --out edtalk/pretrained/tiny_synthtalk_loss_experts
	$(BIN)/python -m eval.zoo train --data $(DATA) --out edtalk/pretrained/tiny_synthtalk_judges --no-eval
	$(BIN)/python -m edtalk.train --stage eg_pretrain --preset tiny --data synthtalk:$(DATA) --workers 2 \
	  --out $(PRETRAIN_RUNS) --max-steps 20000 --checkpoint-every 1000 --resume
	$(BIN)/python -m edtalk.train --stage eg_pretrain --preset tiny --data synthtalk:$(DATA) --workers 2 \
	  --out $(PRETRAIN_RUNS)/more_people --parent $(PRETRAIN_RUNS)/eg_pretrain/final.pt \
	  --extra-identities 64 --max-steps 4000 --checkpoint-every 1000 --resume
	$(BIN)/python -m edtalk.pretrained export --ckpt $(PRETRAIN_RUNS)/more_people/eg_pretrain/final.pt --data $(DATA)
	$(BIN)/python -m edtalk.pretrained list

test: install browser
	$(BIN)/python -m pytest -q

test-slow: install
	$(BIN)/python -m pytest -q -m slow

# The data first (kept when already there, as in demo): without it eval_throughput and drive_video
# fall back to synthetic frames.
bench: install
	$(BIN)/python -m edtalk.data.synthtalk --out $(DATA) --preset tiny --seed 0
	$(BIN)/python -m benchmarks.eval_throughput --data $(DATA) \
	  --json benchmarks/results/eval_throughput.json --txt benchmarks/results/eval_throughput.txt
	$(BIN)/python -m benchmarks.drive_video --data $(DATA) --out benchmarks/results/drive_video.json
	$(BIN)/python -m benchmarks.frame_cache --data $(DATA) --out benchmarks/results/frame_cache.json
	$(BIN)/python -m benchmarks.face_crop --out benchmarks/results/face_crop.json
	$(BIN)/python -m benchmarks.stage_step --repeats 40 --data synthtalk:$(DATA) --cache $(RUNS)/cache \
	  --out benchmarks/results/stage_step.json
	$(BIN)/python -m benchmarks.multi_method --data $(DATA) --out benchmarks/results/multi_method.json

lint: install
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) data/synthtalk runs results report ray_results
