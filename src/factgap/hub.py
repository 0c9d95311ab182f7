"""Hugging Face Hub models and datasets a config names: fetched once, pinned to a commit.

A cluster's compute nodes often cannot reach the Hub, and a Hub name without a commit may point at
other weights tomorrow. So every Hub item of a config (``hub_items``) is downloaded by one local
job, ``prefetch_hub_item`` (``make prefetch CONFIG=...`` runs only those, on the login node), into
the Hugging Face cache (``HF_HOME``); the job records the commit SHA and the snapshot folder. Later
jobs load that folder, never the Hub: the model manifest's ``load_from`` is the snapshot and its
``revision`` the SHA, and dataset loaders read the snapshot (``use_records`` / ``snapshot_for``).

Stdlib only at import time: the Snakefile calls ``hub_items`` while it builds the DAG.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

PACKAGE_PREFIX = "pkg:"
# Hub ids as the Hub allows them: "name" or "owner/name" (letters, digits, '-', '_', '.')
_HUB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*(/[A-Za-z0-9][A-Za-z0-9_.-]*)?$")
_SHA = re.compile(r"^[0-9a-f]{40}$")


@dataclass(frozen=True)
class HubItem:
    kind: str  # "model" or "dataset"
    repo_id: str
    revision: str | None  # commit, tag or branch; None = the Hub's default branch, pinned at prefetch
    config_key: str  # where the config names it, for error messages

    @property
    def name(self) -> str:
        """File-name form, as the Hugging Face cache names repositories (``model--owner--name``), with
        ``@<revision>`` when one is asked for: one repository at two revisions is two items."""
        name = f"{self.kind}--{self.repo_id.replace('/', '--')}"
        return f"{name}@{self.revision}" if self.revision else name


def is_hub_id(path: str) -> bool:
    """A model or dataset location that names a Hub repository rather than a local file or folder.

    Anything that exists locally, starts with '/', '.', '~' or 'pkg:', or has more than one '/' is
    local: a missing local folder then fails as a missing folder, not as an unknown Hub repository.
    """
    path = str(path)
    if path.startswith((PACKAGE_PREFIX, "/", ".", "~")) or Path(path).exists():
        return False
    return bool(_HUB_ID.match(path))


def hub_items_by_key(cfg: Mapping[str, Any]) -> dict[str, HubItem]:
    """The Hub item behind each config key that names one (``models.<name>.path``, ``datasets.<name>``,
    ``s4.mmlu``, ...) of a validated config. Keys naming the same repository at the same revision share
    one item (one download), carrying the first such key for its messages."""
    from factgap.data.loaders import mc_loader, qa_loader

    studies = set(cfg.get("studies", []))
    shared: dict[tuple[str, str, str | None], HubItem] = {}
    by_key: dict[str, HubItem] = {}

    def add(kind: str, repo_id: str, revision: str | None, key: str) -> None:
        by_key[key] = shared.setdefault((kind, repo_id, revision), HubItem(kind, repo_id, revision, key))

    for section in ("models", "helper_models"):
        for name, spec in sorted(cfg.get(section, {}).items()):
            if spec["source"] == "hf" and is_hub_id(spec["path"]):
                add("model", spec["path"], spec.get("revision"), f"{section}.{name}.path")
    analysis = cfg.get("analysis", {})
    needs_similarity = "s2" in studies and any(d.get("ood_relations") for d in cfg.get("datasets", {}).values())
    if needs_similarity and is_hub_id(analysis.get("embedding_model", "")):
        add("model", analysis["embedding_model"], analysis.get("embedding_model_revision"), "analysis.embedding_model")
    if {"s1", "s2"} & studies:
        for name, spec in sorted(cfg.get("datasets", {}).items()):
            hub_id = qa_loader(spec["loader"]).hub_id
            if hub_id and not spec.get("path"):
                add("dataset", spec.get("hf_id") or hub_id, spec.get("revision"), f"datasets.{name}")
    s4 = cfg.get("s4", {})
    # S3 scores MMLU with S4's pipeline and s4.mmlu's data
    for key, used in (("dataset", "s4" in studies), ("mmlu", bool({"s3", "s4"} & studies))):
        spec = s4.get(key, {})
        hub_id = mc_loader(spec["loader"]).hub_id if "loader" in spec else None
        if used and hub_id and not spec.get("path"):
            add("dataset", hub_id, spec.get("revision"), f"s4.{key}")
    return by_key


def hub_items(cfg: Mapping[str, Any]) -> list[HubItem]:
    """Every Hub model and dataset that a (validated) config uses, each once, in a stable order."""
    unique = {item.name: item for item in hub_items_by_key(cfg).values()}
    return sorted(unique.values(), key=lambda i: (i.kind, i.repo_id, i.revision or ""))


# ---- the prefetch job (online) ---------------------------------------------------------------------
def default_download(repo_id: str, repo_type: str, revision: str | None) -> str:
    from huggingface_hub import snapshot_download

    return snapshot_download(repo_id=repo_id, repo_type=repo_type, revision=revision)


def prefetch_item(
    item: Mapping[str, Any] | HubItem,
    out_path: str | os.PathLike,
    download: Callable[[str, str, str | None], str] = default_download,
) -> dict:
    """Download one item into the Hugging Face cache and write its record: the commit SHA and the
    snapshot folder. ``download`` returns the snapshot folder (``.../snapshots/<sha>``)."""
    from factgap.io import write_json

    item = item if isinstance(item, HubItem) else HubItem(**item)
    try:
        snapshot = Path(download(item.repo_id, item.kind, item.revision))
    except Exception as err:  # gated, renamed, offline: the user needs the name, the key and what to do
        raise RuntimeError(
            f"config key '{item.config_key}': could not download {item.kind} {item.repo_id!r} "
            f"(revision {item.revision or 'default branch'}) from the Hugging Face Hub: {type(err).__name__}: {err}. "
            "Run prefetch where the Hub is reachable; gated models (Llama) need HF_TOKEN or `hf auth login` "
            "and the licence accepted on the model's page."
        ) from err
    sha = snapshot.name
    if not _SHA.match(sha):
        raise RuntimeError(f"{item.repo_id}: the download returned {snapshot}, not a snapshot folder named by a commit")
    if item.revision and _SHA.match(item.revision) and item.revision != sha:
        raise RuntimeError(f"config key '{item.config_key}': asked for commit {item.revision}, got {sha}")
    record = {**asdict(item), "sha": sha, "snapshot": str(snapshot.resolve())}
    write_json(record, out_path)
    return record


# ---- jobs (offline) ----------------------------------------------------------------------------------
def checked_snapshot(record: Mapping[str, Any]) -> Path:
    """The snapshot folder of a prefetch record, which must still be there (same HF_HOME, not pruned)."""
    snapshot = Path(record["snapshot"])
    if not snapshot.is_dir() or not any(snapshot.iterdir()):
        raise FileNotFoundError(
            f"{record['kind']} {record['repo_id']!r} (config key '{record['config_key']}', commit {record['sha']}) "
            f"is not in the Hugging Face cache: {snapshot} is missing or empty. Run `make prefetch CONFIG=<your config>` "
            "on a machine with Hub access (the login node), with the HF_HOME that the jobs see."
        )
    return snapshot


_SNAPSHOTS: dict[tuple[str, str], Path] = {}


def use_records(paths) -> None:
    """Register the prefetch records a job got as inputs, so dataset loaders read those snapshots."""
    for path in paths:
        record = json.loads(Path(path).read_text(encoding="utf-8"))
        _SNAPSHOTS[(record["kind"], record["repo_id"])] = checked_snapshot(record)


def snapshot_for(repo_id: str, kind: str = "dataset") -> Path | None:
    return _SNAPSHOTS.get((kind, repo_id))


def prefetch_table(record_paths) -> str:
    """Tab-separated kind, repository, requested revision, commit and snapshot folder of each record."""
    rows = ["kind\trepo_id\trequested\tsha\tsnapshot\tconfig_key"]
    for path in record_paths:
        r = json.loads(Path(path).read_text(encoding="utf-8"))
        rows.append(
            "\t".join(
                [r["kind"], r["repo_id"], r["revision"] or "(default branch)", r["sha"], r["snapshot"], r["config_key"]]
            )
        )
    return "\n".join(rows) + "\n"
