"""Process set-up shared by every workflow script: logging, threads, seeds, runtime line."""

from __future__ import annotations

import logging
import os
import random
import socket
import sys


def setup_logging(log_path: str | os.PathLike | None = None, level: int = logging.INFO) -> logging.Logger:
    """Log to the rule's log file (and stderr), in a format a person can read."""
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if log_path:
        handlers.append(logging.FileHandler(log_path, mode="w", encoding="utf-8"))
    logging.basicConfig(
        level=level, handlers=handlers, force=True, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    for noisy in ("httpx", "urllib3", "filelock"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    return logging.getLogger("factgap")


DETERMINISTIC_ENV = "FACTGAP_DETERMINISTIC"


def deterministic_environment(enabled: bool, environ=os.environ) -> None:
    """Set by the Snakefile from config key ``deterministic``; every job inherits it (also on SLURM).
    cuBLAS reads its workspace setting when CUDA starts, so it must be in the environment before."""
    if enabled:
        environ[DETERMINISTIC_ENV] = "1"
        environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    else:
        environ.pop(DETERMINISTIC_ENV, None)


def apply_deterministic_torch(torch_module) -> bool:
    """In a job: deterministic kernels when the workflow asked for them (``deterministic: true``)."""
    if os.environ.get(DETERMINISTIC_ENV) != "1":
        return False
    torch_module.use_deterministic_algorithms(True)
    torch_module.backends.cudnn.deterministic = True
    torch_module.backends.cudnn.benchmark = False
    return True


def runtime_line(threads: int) -> str:
    """Where a job ran; cluster tests read this line back from rule logs."""
    env = os.environ
    return (
        f"runtime: host={socket.gethostname()} slurm_job_id={env.get('SLURM_JOB_ID', '-')} "
        f"cuda_visible_devices={env.get('CUDA_VISIBLE_DEVICES', '-')} threads={threads}"
    )


def init_job(log_path: str | os.PathLike | None, threads: int, seed: int | None = None) -> logging.Logger:
    """Call first in every script: logging, thread count, offline Hub settings, seeds."""
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    logger = setup_logging(log_path)
    logger.info(runtime_line(threads))

    def log_uncaught(exc_type, exc, tb):
        # the rule's log file should say why the job failed, not only Snakemake's console
        logger.error("job failed: %s: %s", exc_type.__name__, exc, exc_info=(exc_type, exc, tb))

    sys.excepthook = log_uncaught
    if "torch" in sys.modules or _torch_importable():
        import torch

        torch.set_num_threads(max(1, int(threads)))
        if apply_deterministic_torch(torch):
            logger.info("deterministic: torch.use_deterministic_algorithms(True), cuDNN deterministic")
        if seed is not None:
            torch.manual_seed(seed)
    if seed is not None:
        random.seed(seed)
    return logger


def _torch_importable() -> bool:
    import importlib.util

    return importlib.util.find_spec("torch") is not None


def device_name() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def progress(items, desc: str, show: bool = True, log_every_s: float = 30.0):
    """tqdm on the console, plus a line in the job log at most every ``log_every_s`` seconds
    (Snakemake sends a job's stderr to the console, not to its log file)."""
    import time

    from tqdm.auto import tqdm

    logger = logging.getLogger("factgap.progress")
    items = list(items)
    start = last = time.monotonic()
    for i, item in enumerate(tqdm(items, desc=desc, disable=not show, mininterval=5), start=1):
        yield item
        now = time.monotonic()
        if now - last >= log_every_s or i == len(items):
            rate = (now - start) / i
            logger.info(
                "%s: %d/%d done, %.0f s elapsed, ~%.0f s left",
                desc,
                i,
                len(items),
                now - start,
                rate * (len(items) - i),
            )
            last = now
