"""Multi-GPU training: relaunch a training script under ``accelerate launch`` with FSDP.

A rule asks for GPUs through its resources (``gpu``, set per rule in the SLURM profile). With more
than one GPU the training script re-executes itself under ``accelerate launch`` with one process
per GPU and PyTorch FSDP (full sharding, transformer-block wrapping), so models that do not fit
one GPU train sharded. With one GPU or none nothing changes.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping

LAUNCHED_FLAG = "FACTGAP_ACCELERATE_CHILD"


def accelerate_command(
    script: str,
    n_processes: int,
    python: str = sys.executable,
    transformer_layer: str | None = None,
    main_port: int | None = None,
) -> list[str]:
    """``accelerate launch`` argv for ``script`` with FSDP over ``n_processes`` GPUs (pure)."""
    if n_processes < 2:
        raise ValueError("FSDP launch needs at least 2 processes")
    cmd = [
        python,
        "-m",
        "accelerate.commands.launch",
        "--num_processes",
        str(n_processes),
        "--num_machines",
        "1",
        "--mixed_precision",
        "bf16",
        "--use_fsdp",
        "--fsdp_sharding_strategy",
        "FULL_SHARD",
        "--fsdp_auto_wrap_policy",
        "TRANSFORMER_BASED_WRAP",
        "--fsdp_state_dict_type",
        "SHARDED_STATE_DICT",
        "--fsdp_use_orig_params",
        "true",
        "--fsdp_cpu_ram_efficient_loading",
        "true",
        "--fsdp_sync_module_states",
        "true",
    ]
    if transformer_layer:
        cmd += ["--fsdp_transformer_layer_cls_to_wrap", transformer_layer]
    if main_port:
        cmd += ["--main_process_port", str(main_port)]
    return [*cmd, script]


def requested_gpus(resources: Mapping) -> int:
    value = resources.get("gpu", 0) if resources else 0
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0


def relaunch_with_accelerate(script: str, gpus: int, env: Mapping[str, str] | None = None, exec_fn=os.execvpe) -> None:
    """Replace this process by an FSDP launch of ``script`` when ``gpus`` > 1 (once: children run on)."""
    env = dict(os.environ if env is None else env)
    if gpus < 2 or env.get(LAUNCHED_FLAG) == "1":
        return
    env[LAUNCHED_FLAG] = "1"
    cmd = accelerate_command(script, gpus, main_port=29500 + (os.getpid() % 1000))
    exec_fn(cmd[0], cmd, env)


def is_main_process(env: Mapping[str, str] | None = None) -> bool:
    env = os.environ if env is None else env
    return env.get("RANK", env.get("LOCAL_RANK", "0")) in ("0", "")


def world_size(env: Mapping[str, str] | None = None) -> int:
    env = os.environ if env is None else env
    return int(env.get("WORLD_SIZE", "1") or 1)
