"""Shared helpers: run the real `seqzoo` command in a subprocess, find the shared real data."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"
SEQZOO = [sys.executable, "-m", "seqzoo.cli"]


def run_seqzoo(
    *args: str, cwd: Path = ROOT, timeout: float = 300, check: bool = True, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    """Run `seqzoo ARGS...` as a real process; on failure show its output."""
    full_env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
    proc = subprocess.run(
        [*SEQZOO, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout, env=full_env
    )
    if check and proc.returncode != 0:
        raise AssertionError(
            f"seqzoo {' '.join(args)} exited {proc.returncode}\n"
            f"--- stdout ---\n{proc.stdout[-4000:]}\n--- stderr ---\n{proc.stderr[-4000:]}"
        )
    return proc


def require_shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data folder {SHARED_DATA} is absent (a fresh clone); these checks need it")
    return SHARED_DATA


@pytest.fixture(scope="session")
def trained_checkpoint(tmp_path_factory) -> Path:
    """One short real `seqzoo fit` run of the GRU recipe; its best checkpoint is reused by several tests."""
    out = tmp_path_factory.mktemp("fit")
    run_seqzoo(
        "fit",
        "--config",
        "recipes/synthetic/gru.yaml",
        "--trainer.max_epochs",
        "1",
        "--trainer.limit_train_batches",
        "40",
        "--trainer.logger.init_args.save_dir",
        str(out),
        "--trainer.logger.init_args.version",
        "t",
    )
    ckpt = out / "gru.synthetic" / "t" / "checkpoints" / "best.ckpt"
    assert ckpt.is_file(), list(out.rglob("*"))
    return ckpt


def quiet_trainer(epochs: int, **overrides: Any):
    """A CPU Trainer that writes nothing and prints little, for tests that fit tiny models in-process;
    `overrides` are Trainer arguments (batch limits, a logger or callbacks a test looks at)."""
    import lightning.pytorch as pl

    quiet = {
        "logger": False,
        "enable_checkpointing": False,
        "enable_progress_bar": False,
        "enable_model_summary": False,
        "accelerator": "cpu",
        "deterministic": True,
    }
    return pl.Trainer(max_epochs=epochs, **{**quiet, **overrides})
