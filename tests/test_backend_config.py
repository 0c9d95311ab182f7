"""backend: vllm is checked before any job (vLLM importable, a GPU here or on the jobs), and the backend
that produced model outputs reaches each table's provenance. Runs in both environments: the main one
(no vLLM) and the GPU one (make test-vllm: vLLM, no GPU on this machine)."""

from __future__ import annotations

import json

import pyarrow as pa
import pytest
from conftest import edited_default_config, run_snakemake

from factgap import backends
from factgap.io import backend_of, write_parquet


def test_vllm_without_vllm_names_the_key_and_the_install():
    with pytest.raises(ValueError, match=r"config key 'backend'.*vllm package.*make install-gpu"):
        backends.check_backend_config("vllm", vllm_importable=False, gpu_visible=True, jobs_get_gpus=False)


def test_vllm_without_gpu_fails_unless_jobs_get_their_own():
    with pytest.raises(ValueError, match=r"config key 'backend'.*needs a CUDA GPU.*none is visible"):
        backends.check_backend_config("vllm", vllm_importable=True, gpu_visible=False, jobs_get_gpus=False)
    # a cluster executor: the login node has no GPU, the jobs get one
    backends.check_backend_config("vllm", vllm_importable=True, gpu_visible=False, jobs_get_gpus=True)
    for other in ("auto", "hf"):
        backends.check_backend_config(other, vllm_importable=False, gpu_visible=False, jobs_get_gpus=False)


@pytest.mark.parametrize(
    "environ, has_driver, expected",
    [
        ({}, True, True),
        ({}, False, False),
        ({"CUDA_VISIBLE_DEVICES": ""}, True, False),
        ({"CUDA_VISIBLE_DEVICES": "-1"}, True, False),
        ({"CUDA_VISIBLE_DEVICES": "0,1"}, True, True),
    ],
)
def test_gpu_visibility_without_torch(tmp_path, environ, has_driver, expected):
    driver = tmp_path / "gpus"
    if has_driver:
        (driver / "0000:00:04.0").mkdir(parents=True)
    assert backends.nvidia_gpu_visible(environ, str(driver)) is expected


def test_choose_backend_error_names_the_key():
    with pytest.raises(RuntimeError, match=r"config key 'backend'"):
        backends.choose_backend("vllm", cuda_available=False, vllm_installed=backends.vllm_installed())


def test_workflow_with_backend_vllm_fails_before_any_job(tmp_path):
    """A dry-run already fails (no job scheduled), naming the key; on this machine there is no GPU,
    so in the GPU environment it is the GPU that is named, in the main one the missing vllm."""
    config = edited_default_config(tmp_path / "c.yaml", lambda cfg: cfg.update(backend="vllm"))
    proc = run_snakemake("-n", "--configfile", str(config), cwd=tmp_path, check=False, timeout=120)
    assert proc.returncode != 0
    out = proc.stdout + proc.stderr
    assert "config key 'backend'" in out
    assert ("needs a CUDA GPU" if backends.vllm_installed() else "make install-gpu") in out
    assert not (tmp_path / "results").exists()


def test_parquet_records_the_backend_and_its_version(tmp_path, monkeypatch):
    table = pa.table({"x": [1, 2]})
    monkeypatch.setattr(backends, "_BACKEND_USED", {})
    write_parquet(table, tmp_path / "none.parquet")
    assert backend_of(tmp_path / "none.parquet") is None
    backends._record_backend("hf")
    write_parquet(table, tmp_path / "hf.parquet")
    from importlib import metadata

    assert backend_of(tmp_path / "hf.parquet") == f"hf (transformers {metadata.version('transformers')})"
    # the numbers are untouched, and equal tables still give equal bytes
    write_parquet(table, tmp_path / "hf2.parquet")
    assert (tmp_path / "hf.parquet").read_bytes() == (tmp_path / "hf2.parquet").read_bytes()


def test_table_provenance_lists_the_backends_of_its_inputs(tmp_path, monkeypatch):
    from factgap.reports.common import provenance_summary, table_provenance

    monkeypatch.setattr(backends, "_BACKEND_USED", {"backend": "vllm", "package": "vllm", "version": "0.33.0"})
    write_parquet(pa.table({"x": [1]}), tmp_path / "predictions.parquet")
    (tmp_path / "other.json").write_text(json.dumps({}))
    record = table_provenance(
        {"seed": 0}, [], [], [str(tmp_path / "predictions.parquet"), str(tmp_path / "other.json")]
    )
    assert record["backends"] == ["vllm (vllm 0.33.0)"]
    assert "inference: vllm (vllm 0.33.0)" in provenance_summary(record)


def test_deterministic_flag_reaches_jobs_and_torch(monkeypatch):
    import torch

    from factgap import runtime

    environ = {}
    runtime.deterministic_environment(True, environ)
    assert environ == {runtime.DETERMINISTIC_ENV: "1", "CUBLAS_WORKSPACE_CONFIG": ":4096:8"}
    runtime.deterministic_environment(False, environ)
    assert runtime.DETERMINISTIC_ENV not in environ
    monkeypatch.setenv(runtime.DETERMINISTIC_ENV, "1")
    try:
        assert runtime.apply_deterministic_torch(torch)
        assert torch.are_deterministic_algorithms_enabled() and torch.backends.cudnn.deterministic
    finally:
        torch.use_deterministic_algorithms(False)
        torch.backends.cudnn.deterministic = False
    monkeypatch.delenv(runtime.DETERMINISTIC_ENV)
    assert not runtime.apply_deterministic_torch(torch)


def test_deterministic_is_recorded_in_provenance(default_config):
    from factgap.configuration import science_config

    assert science_config({**default_config, "deterministic": True})["deterministic"] is True
