"""Choosing and building a generation/scoring backend: transformers (CPU or GPU) or vLLM (GPU).

``choose_backend`` is pure: ``"auto"`` picks vLLM when CUDA and vLLM are both there, else HF.
``make_backend`` builds it from a model manifest (``factgap.models``; keys ``load_from``,
``revision``, ``dtype``). Both backends have ``greedy`` and ``greedy_and_samples``; scoring is
``factgap.scoring.*(model, tokenizer, ...)`` on HF and ``VLLMBackend.<method>`` on vLLM (use
``score_with`` for one call that works on both).

``for_scoring=True`` builds a vLLM engine with prefix caching off (prompt log-probabilities vary with
request order under prefix caching, vLLM issue #42019); generation engines keep it on.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import sys
from collections.abc import Mapping, Sequence
from typing import Any

log = logging.getLogger(__name__)

BACKENDS = ("hf", "vllm", "auto")


INSTALL_HINT = "install the GPU environment (make install-gpu: the workflow plus vLLM)"


def choose_backend(requested: str, cuda_available: bool, vllm_installed: bool) -> str:
    """'hf' or 'vllm' for a requested 'hf' | 'vllm' | 'auto' (pure)."""
    requested = str(requested).strip().lower()
    if requested not in BACKENDS:
        raise ValueError(f"config key 'backend': {requested!r} is not one of {', '.join(BACKENDS)}")
    if requested == "hf":
        return "hf"
    if requested == "vllm":
        missing = [
            what for what, ok in (("a CUDA GPU", cuda_available), ("the vllm package", vllm_installed)) if not ok
        ]
        if missing:
            raise RuntimeError(
                f"config key 'backend': 'vllm' requested but {' and '.join(missing)} "
                f"{'is' if len(missing) == 1 else 'are'} not available on this machine; "
                + ("" if vllm_installed else INSTALL_HINT + ", or ")
                + "use backend 'hf' (or 'auto', which falls back to it)"
            )
        return "vllm"
    return "vllm" if cuda_available and vllm_installed else "hf"


def nvidia_gpu_visible(environ: Mapping[str, str] = os.environ, driver_dir: str = "/proc/driver/nvidia/gpus") -> bool:
    """Whether this process could see an NVIDIA GPU, without importing torch (the Snakefile checks
    config with it): a GPU the driver lists, not hidden by CUDA_VISIBLE_DEVICES."""
    visible = environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None and visible.strip() in ("", "-1", "none", "NoDevFiles"):
        return False
    return os.path.isdir(driver_dir) and any(os.scandir(driver_dir))


def check_backend_config(requested: str, vllm_importable: bool, gpu_visible: bool, jobs_get_gpus: bool) -> None:
    """Before any job: ``backend: vllm`` needs vLLM in this environment, and a GPU here unless the
    jobs run elsewhere with GPUs of their own (a cluster executor). Raises naming the key."""
    if requested != "vllm":
        return
    if not vllm_importable:
        raise ValueError(
            f"config key 'backend': 'vllm' needs the vllm package, which this environment "
            f"({sys.prefix}) does not have: {INSTALL_HINT}, or set backend: auto (vLLM where "
            "it can run, else transformers) or backend: hf"
        )
    if not gpu_visible and not jobs_get_gpus:
        raise ValueError(
            "config key 'backend': 'vllm' needs a CUDA GPU and none is visible on this machine "
            "(no NVIDIA driver, or CUDA_VISIBLE_DEVICES hides them): run on a GPU node or with a "
            "cluster profile whose GPU rules get a GPU, or set backend: auto or hf"
        )


# What produced this process's model outputs: set by make_backend, written into every parquet file's
# metadata (factgap.io.write_parquet) and from there into each table's provenance.
_BACKEND_USED: dict[str, str] = {}


def backend_used() -> dict[str, str]:
    return dict(_BACKEND_USED)


def _record_backend(kind: str) -> None:
    from importlib import metadata

    package = "vllm" if kind == "vllm" else "transformers"
    _BACKEND_USED.update(backend=kind, package=package, version=metadata.version(package))


def vllm_installed() -> bool:
    return importlib.util.find_spec("vllm") is not None


def cuda_available() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return bool(torch.cuda.is_available())


def vllm_dtype(manifest_dtype: str | None) -> str:
    """Manifest dtype -> vLLM ``dtype`` argument (same names; missing = 'auto')."""
    return str(manifest_dtype or "auto")


def make_backend(
    requested: str,
    manifest_path: str | os.PathLike | Mapping[str, Any],
    adapter=None,
    stop: Sequence[str] = ("\n",),
    show_progress: bool = True,
    tensor_parallel_size: int | None = None,
    *,
    for_scoring: bool = False,
    vllm_options: Mapping[str, Any] | None = None,
):
    """HFBackend (model moved to CUDA when there is one) or VLLMBackend for a model manifest."""
    from factgap.io import read_json

    kind = choose_backend(requested, cuda_available(), vllm_installed())
    manifest = manifest_path if isinstance(manifest_path, Mapping) else read_json(manifest_path)
    _record_backend(kind)
    if kind == "vllm":
        from factgap.models import hub_revision
        from factgap.vllm_backend import VLLMBackend

        return VLLMBackend(
            manifest["load_from"],
            adapter,
            revision=hub_revision(manifest),
            dtype=vllm_dtype(manifest.get("dtype")),
            tensor_parallel_size=tensor_parallel_size,
            enable_prefix_caching=not for_scoring,
            stop=stop,
            show_progress=show_progress,
            **dict(vllm_options or {}),
        )
    from factgap.generation import HFBackend
    from factgap.models import load_causal_lm

    if tensor_parallel_size not in (None, 1):
        log.warning("tensor_parallel_size=%s ignored by the HF backend", tensor_parallel_size)
    model, tokenizer = load_causal_lm(manifest, adapter)
    if cuda_available():
        model = model.to("cuda")
    return HFBackend(model, tokenizer, stop=stop, show_progress=show_progress)


SCORING_METHODS = ("option_logprobs", "letter_probabilities", "token_ranks", "token_logprobs_and_ranks")


def score_with(backend, method: str, *args, **kwargs):
    """Run a scoring method on either backend: ``VLLMBackend.<method>`` or ``factgap.scoring.<method>``."""
    if method not in SCORING_METHODS:
        raise ValueError(f"unknown scoring method {method!r}; one of {SCORING_METHODS}")
    if getattr(backend, "name", None) == "vllm":
        return getattr(backend, method)(*args, **kwargs)
    from factgap import scoring

    return getattr(scoring, method)(backend.model, backend.tokenizer, *args, **kwargs)
