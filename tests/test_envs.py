"""Lint of the conda environment files in envs/ (no conda needed: channels are not reachable here).

Every dependency is pinned, pip pins use ==, and a package pinned both here and in
envs/requirements.txt has the same version in both places.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
ENVS = REPO / "envs"
ENV_FILES = sorted(ENVS.glob("*.yaml"))
EXPECTED = {"data.yaml", "torch.yaml", "report.yaml"}
# conda-forge name -> PyPI name, where they differ
CONDA_TO_PYPI = {"pytorch": "torch", "huggingface_hub": "huggingface-hub"}
CONDA_PIN = re.compile(r"^([A-Za-z0-9_.\-]+)\s*==?\s*([0-9][A-Za-z0-9_.+!*\-]*)(=[A-Za-z0-9_.*]+)?$")
PIP_PIN = re.compile(r"^([A-Za-z0-9_.\-]+)(\[[A-Za-z0-9_,\-]+\])?==([0-9][A-Za-z0-9_.+!\-]*)$")


def norm(name: str) -> str:
    """PEP 503 normalised name."""
    return re.sub(r"[-_.]+", "-", name).lower()


def requirements_pins() -> dict[str, str]:
    pins = {}
    for line in (ENVS / "requirements.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        m = re.match(r"^([A-Za-z0-9_.\-]+)(\[[^\]]*\])?\s*==\s*(\S+)$", line)
        if m:
            pins[norm(m.group(1))] = m.group(3)
    return pins


def parse_env(path: Path) -> tuple[dict, dict[str, str], dict[str, str], list[str]]:
    """(yaml document, conda pins, pip pins, editable/local pip lines)."""
    doc = yaml.safe_load(path.read_text())
    conda, pip, local = {}, {}, []
    for dep in doc.get("dependencies") or []:
        if isinstance(dep, dict):
            assert set(dep) == {"pip"}, f"{path.name}: unexpected mapping {dep}"
            for line in dep["pip"]:
                line = str(line).strip()
                if line.startswith(("-e ", "--editable ")) or line.startswith((".", "/")):
                    local.append(line)
                    continue
                m = PIP_PIN.match(line)
                assert m, f"{path.name}: pip dependency not pinned with ==: {line!r}"
                name = norm(m.group(1))
                assert name not in pip, f"{path.name}: {name} listed twice"
                pip[name] = m.group(3)
        else:
            m = CONDA_PIN.match(str(dep).strip())
            assert m, f"{path.name}: conda dependency not pinned (name=version): {dep!r}"
            name = norm(CONDA_TO_PYPI.get(m.group(1), m.group(1)))
            assert name not in conda, f"{path.name}: {name} listed twice"
            conda[name] = m.group(2)
    return doc, conda, pip, local


def test_expected_env_files_exist():
    assert EXPECTED <= {p.name for p in ENV_FILES}


@pytest.mark.parametrize("path", ENV_FILES, ids=lambda p: p.name)
def test_env_file_is_valid_and_pinned(path):
    doc, conda, pip, local = parse_env(path)
    assert isinstance(doc, dict) and doc.get("name"), f"{path.name}: needs a name"
    assert doc.get("channels"), f"{path.name}: needs channels"
    assert "defaults" not in doc["channels"], f"{path.name}: the anaconda defaults channel needs a licence"
    assert "python" in conda, f"{path.name}: pin python"
    assert not set(conda) & set(pip), f"{path.name}: in both conda and pip: {set(conda) & set(pip)}"
    if pip or local:
        assert "pip" in conda, f"{path.name}: a pip section needs pip pinned as a conda dependency"
    # no local install: Snakemake copies env files elsewhere, so `-e ../` would point nowhere; the
    # workflow puts src/ on PYTHONPATH for its jobs instead
    assert not local, f"{path.name}: local installs {local} break under --use-conda"


@pytest.mark.parametrize("path", ENV_FILES, ids=lambda p: p.name)
def test_env_versions_agree_with_requirements(path):
    req = requirements_pins()
    _, conda, pip, _ = parse_env(path)
    disagree = {name: (version, req[name]) for name, version in {**conda, **pip}.items()
                if name in req and req[name] != version}
    assert not disagree, f"{path.name} vs envs/requirements.txt (env, requirements): {disagree}"


def test_shared_packages_agree_across_envs():
    seen: dict[str, tuple[str, str]] = {}
    for path in ENV_FILES:
        _, conda, pip, _ = parse_env(path)
        for name, version in {**conda, **pip}.items():
            if name in seen:
                assert seen[name][1] == version, f"{name}: {seen[name][0]} has {seen[name][1]}, {path.name} {version}"
            else:
                seen[name] = (path.name, version)


def test_torch_env_has_the_model_stack():
    _, _, pip, _ = parse_env(ENVS / "torch.yaml")
    for name in ("torch", "transformers", "peft", "trl", "accelerate"):
        assert name in pip, f"torch.yaml lacks {name}"
    assert pip["transformers"].startswith("5.23") and pip["peft"] == "0.21.2" and pip["trl"] == "1.16.0"


def test_linter_rejects_unpinned(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nchannels: [conda-forge]\ndependencies:\n  - python=3.11\n  - pip=23.2.1\n"
                   "  - pip:\n      - pandas>=2\n")
    with pytest.raises(AssertionError, match="not pinned"):
        parse_env(bad)
    bad.write_text("name: x\nchannels: [conda-forge]\ndependencies:\n  - numpy\n")
    with pytest.raises(AssertionError, match="not pinned"):
        parse_env(bad)
