"""Config rules that the JSON schema cannot express; each error names the offending key."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def config_error(key: str, problem: str) -> ValueError:
    return ValueError(f"config key '{key}': {problem}")


def check_output_folders(cfg: Mapping) -> None:
    """results_dir and models_dir must be folders (or not exist yet): a file there fails naming the key."""
    from pathlib import Path

    for key in ("results_dir", "models_dir"):
        value = cfg.get(key)
        if value and Path(value).exists() and not Path(value).is_dir():
            raise config_error(
                key,
                f"{value!r} is a file, not a folder: point {key} at a folder (it is created "
                "if missing) or move the file away",
            )


def config_value(cfg: Mapping, key: str) -> Any:
    """The value under a dotted key (``s4.mmlu.path``), or None where any part is missing. A name that holds
    dots itself (``models.llama-3.1-8b.path``) is matched whole: the longest run of parts that is a key."""
    parts = key.split(".")
    value: Any = cfg
    start = 0
    while start < len(parts):
        if not isinstance(value, Mapping):
            return None
        for end in range(len(parts), start, -1):
            name = ".".join(parts[start:end])
            if name in value:
                value, start = value[name], end
                break
        else:
            return None
    return value


def local_paths_of(cfg: Mapping, *keys: str) -> list[tuple[str, str]]:
    """(key, path) of the dotted keys that name a local file or folder (not null or empty, not a ``pkg:`` file)."""
    from factgap.hub import PACKAGE_PREFIX

    found = [(key, config_value(cfg, key)) for key in keys]
    return [
        (key, path) for key, path in found if isinstance(path, str) and path and not path.startswith(PACKAGE_PREFIX)
    ]


def local_data_paths(cfg: Mapping) -> list[tuple[str, str]]:
    """(config key, path) of every local dataset file or folder the config names (null = built in / Hub)."""
    keys = [f"datasets.{name}.path" for name in cfg.get("datasets", {})] + ["s4.dataset.path", "s4.mmlu.path"]
    return local_paths_of(cfg, *keys)


def check_local_data_paths(cfg: Mapping) -> None:
    """Every local dataset the config names exists (run before any job: a typo fails at once, naming the key)."""
    from pathlib import Path

    for key, path in local_data_paths(cfg):
        if not Path(path).expanduser().exists():
            raise config_error(
                key,
                f"{path!r} does not exist (from {Path.cwd()}): point it at the released files "
                "(docs/configuration.md), or set it to null where the loader reads the Hub",
            )


def check_semantics(cfg: Mapping) -> None:
    check_output_folders(cfg)
    for study in ("s1", "s2"):
        uses = [d for d, spec in cfg["datasets"].items() if study in spec["studies"]]
        bios_only = study == "s2" and cfg["s2"]["wikibios"]["enabled"]
        if study in cfg["studies"] and not uses and not bios_only:
            raise config_error("datasets", f"study {study} needs at least one QA dataset (datasets.<name>.studies)")
    known, unknown = cfg["splits"]["known_categories"], cfg["splits"]["unknown_categories"]
    if overlap := sorted(set(known) & set(unknown)):
        raise config_error("splits.known_categories", f"{overlap} also listed in splits.unknown_categories")
    if overlap_names := sorted(set(cfg["models"]) & set(cfg["helper_models"])):
        raise config_error("helper_models", f"names {overlap_names} are already used in models")
    rationale = cfg["evaluation"]["rationale_model"]
    if rationale is not None and rationale not in {**cfg["models"], **cfg["helper_models"]}:
        raise config_error("evaluation.rationale_model", f"{rationale!r} is not a name in models or helper_models")
    for name, spec in cfg["datasets"].items():
        if spec["loader"] == "entityquestions" and not spec["path"]:
            raise config_error(
                f"datasets.{name}.path", "EntityQuestions needs the path of dataset.zip or its unpacked folder"
            )
        fractions = spec["split_fractions"]
        if fractions.get("dev", 0) + fractions.get("test", 0) >= 1:
            raise config_error(f"datasets.{name}.split_fractions", "dev + test must leave room for train")
        if both := sorted(set(spec["relations"]) & set(spec["ood_relations"])):
            raise config_error(f"datasets.{name}.ood_relations", f"{both} are also in-distribution relations")
    if "s2" in cfg["studies"] and cfg["s2"]["wikibios"]["enabled"]:
        people = cfg["s3"]["people"]["name"]
        if people in cfg["datasets"]:
            raise config_error("s3.people.name", f"{people!r} is also a QA dataset: S2 on bios trains under that name")
        if not cfg["s3"]["people"]["split_fractions"].get("dev", 0.2):
            raise config_error("s3.people.split_fractions.dev", "S2 on bios needs dev people to stop early")
    s1 = cfg["s1"]
    if "s1" in cfg["studies"] and s1["dynamics_percentage"] not in s1["unknown_percentages"]:
        raise config_error("s1.dynamics_percentage", f"{s1['dynamics_percentage']} is not in s1.unknown_percentages")


def science_config(cfg: Mapping) -> dict:
    """The config sections a result depends on (recorded in every table's provenance)."""
    keys = (
        "seed",
        "models",
        "helper_models",
        "datasets",
        "probe",
        "splits",
        "training",
        "evaluation",
        "analysis",
        "backend",
        "deterministic",
        "s3",
        "s4",
    )
    return {k: cfg[k] for k in keys if k in cfg}
