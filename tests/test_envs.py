"""The install's files in envs/: two complete, marker-aware locks compiled from their inputs, and the data
packages installed --no-deps. Checked without network (the public-index install itself is measured in
CI, which installs with pip's local configuration ignored)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from packaging.markers import Marker
from packaging.requirements import Requirement

REPO = Path(__file__).resolve().parents[1]
ENVS = REPO / "envs"
LOCKS = {"cpu": ENVS / "requirements.lock", "gpu": ENVS / "requirements-gpu.lock"}
LINUX_X86 = {
    "sys_platform": "linux",
    "platform_system": "Linux",
    "platform_machine": "x86_64",
    "python_full_version": "3.11.7",
    "python_version": "3.11",
    "implementation_name": "cpython",
    "platform_python_implementation": "CPython",
    "os_name": "posix",
}
MACOS_ARM = {**LINUX_X86, "sys_platform": "darwin", "platform_system": "Darwin", "platform_machine": "arm64"}


def norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_lines(path: Path) -> list[str]:
    return [
        line.split(" #", 1)[0].strip()
        for line in path.read_text().splitlines()
        if line.strip() and not line.lstrip().startswith(("#", "-r"))
    ]


def pins(path: Path, environment: dict) -> dict[str, str]:
    """name -> version of the lock's lines that apply on ``environment``."""
    out = {}
    for line in requirement_lines(path):
        req = Requirement(line)
        if req.marker is not None and not req.marker.evaluate(environment):
            continue
        spec = str(req.specifier)
        assert spec.startswith("==") and "," not in spec, f"{path.name}: {line!r} is not an exact pin"
        assert norm(req.name) not in out, f"{path.name}: {req.name} pinned twice for one platform"
        out[norm(req.name)] = spec[2:]
    return out


@pytest.mark.parametrize("kind", LOCKS)
def test_lock_pins_every_input_and_torch_dependencies_on_linux(kind):
    lock = pins(LOCKS[kind], LINUX_X86)
    inputs = requirement_lines(ENVS / "requirements.in") + (["vllm==0.33.0"] if kind == "gpu" else [])
    for line in inputs:
        assert norm(Requirement(line).name) in lock, f"{LOCKS[kind].name} lacks {line}"
    # the public index's Linux torch is the CUDA build: its libraries must come with it
    for cuda_library in ("nvidia-cudnn-cu13", "nvidia-cublas", "nvidia-nccl-cu13", "triton"):
        assert cuda_library in lock, f"{LOCKS[kind].name}: {cuda_library} missing for Linux x86_64"
    if kind == "cpu":  # the GPU lock is for Linux only (vLLM's CUDA wheels)
        assert pins(LOCKS[kind], MACOS_ARM).keys().isdisjoint({"nvidia-cudnn-cu13", "nvidia-cublas", "triton"})


def test_gpu_lock_differs_from_the_cpu_lock_only_where_vllm_requires():
    cpu, gpu = pins(LOCKS["cpu"], LINUX_X86), pins(LOCKS["gpu"], LINUX_X86)
    overrides = {
        norm(Requirement(line).name): str(Requirement(line).specifier)[2:]
        for line in requirement_lines(ENVS / "gpu-overrides.txt")
    }
    assert {k: gpu[k] for k in overrides} == overrides
    differ = {name for name in cpu if gpu.get(name) != cpu[name]}
    # torch's own stack follows torch; certifi: vllm asks for a newer CA bundle
    allowed = set(overrides) | {"triton", "certifi"} | {n for n in cpu if n.startswith("nvidia-")}
    assert differ <= allowed, f"versions that differ beyond vLLM's needs: {sorted(differ - allowed)}"


def test_data_packages_are_pinned_and_not_in_the_locks():
    lines = requirement_lines(ENVS / "data-packages.txt")
    assert lines and all(re.fullmatch(r"[A-Za-z0-9_.-]+==[0-9][\w.]*", line) for line in lines)
    names = {norm(line.split("==")[0]) for line in lines}
    for lock in LOCKS.values():
        assert names.isdisjoint(pins(lock, LINUX_X86)), f"{lock.name} resolves a data package's dependencies"


def test_locks_carry_no_local_paths_or_indexes():
    for lock in LOCKS.values():
        text = lock.read_text()
        assert "file://" not in text and "/opt/" not in text and "--find-links" not in text
        assert "--index-url" not in text and "--extra-index-url" not in text


def test_markers_in_locks_parse():
    for lock in LOCKS.values():
        for line in requirement_lines(lock):
            if ";" in line:
                Marker(line.split(";", 1)[1])
