"""Atomic parquet/JSON writing, file hashing and run provenance."""

from __future__ import annotations

import glob
import hashlib
import json
import os
import platform
import tempfile
from collections.abc import Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

TRACKED_PACKAGES = (
    "factgap",
    "torch",
    "transformers",
    "peft",
    "trl",
    "datasets",
    "pyarrow",
    "numpy",
    "pandas",
    "matplotlib",
    "snakemake",
    "vllm",
)


def _atomic_target(path: Path) -> tuple[int, str]:
    """A temporary file beside ``path``, renamed over it once written. The temporary files a killed writer
    of ``path`` left are removed first (Snakemake runs one job per output, so no live writer owns them)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    for stale in path.parent.glob(f".{glob.escape(path.name)}.*.tmp"):
        stale.unlink(missing_ok=True)
    return tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)


def fsync_file(path: str | os.PathLike) -> None:
    """The file's bytes on disk before it is renamed over its target: after a crash (or on a network
    filesystem) the target is the old file or the whole new one, never a renamed, half-flushed one."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_parquet(table: pa.Table, path: str | os.PathLike) -> None:
    """Write ``table`` so that ``path`` either holds the whole table or does not exist.

    Parquet metadata carries no timestamps, so equal tables give byte-identical files. A process that
    ran a model records its backend and version there (``backend_of`` reads it back).
    """
    from factgap.backends import backend_used

    if used := backend_used():
        table = table.replace_schema_metadata(
            {**(table.schema.metadata or {}), BACKEND_METADATA_KEY: json.dumps(used, sort_keys=True)}
        )
    path = Path(path)
    fd, tmp = _atomic_target(path)
    os.close(fd)
    try:
        pq.write_table(table, tmp, compression="zstd")
        fsync_file(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


BACKEND_METADATA_KEY = b"factgap.backend"


def backend_of(path: str | os.PathLike) -> str | None:
    """'hf (transformers 5.23.0)' / 'vllm (vllm 0.33.0)' for a parquet file a model job wrote, else None."""
    metadata = pq.read_schema(path).metadata or {}
    if BACKEND_METADATA_KEY not in metadata:
        return None
    used = json.loads(metadata[BACKEND_METADATA_KEY])
    return f"{used['backend']} ({used['package']} {used['version']})"


def write_text(text: str, path: str | os.PathLike) -> None:
    path = Path(path)
    fd, tmp = _atomic_target(path)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json(obj: Any, path: str | os.PathLike) -> None:
    write_text(json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n", path)


def read_json(path: str | os.PathLike) -> Any:
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def sha256_tree(path: str | os.PathLike) -> str:
    """Hash of every file under a directory (relative names and contents), order-independent."""
    root = Path(path)
    if root.is_file():
        return sha256_file(root)
    digest = hashlib.sha256()
    for file in sorted(p for p in root.rglob("*") if p.is_file()):
        digest.update(str(file.relative_to(root)).encode())
        digest.update(sha256_file(file).encode())
    return digest.hexdigest()


def package_versions(names: tuple[str, ...] = TRACKED_PACKAGES) -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def provenance(config_values: Mapping[str, Any], inputs: Mapping[str, str | os.PathLike]) -> dict:
    """What produced an artefact: the config values it depends on, input hashes, versions."""
    return {
        "config": dict(config_values),
        "inputs": {name: {"path": str(p), "sha256": sha256_tree(p)} for name, p in inputs.items()},
        "packages": package_versions(),
    }
