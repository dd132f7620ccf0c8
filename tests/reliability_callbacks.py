"""Test-only Lightning callbacks for tests/test_reliability_training.py, named from the command line as
`--trainer.callbacks+=tests.reliability_callbacks.NAME` (the `seqzoo fit` subprocess runs in the
repository root, so `tests` is importable). Each does nothing unless its environment variable is set.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import torch


class PauseAtStep(pl.Callback):
    """At global step `$SEQZOO_TEST_PAUSE_AT_STEP`, write `$SEQZOO_TEST_PAUSE_FILE` and stop moving, so
    the test can SIGKILL the process at a known point in the middle of an epoch. With
    `$SEQZOO_TEST_PAUSE_RANK` only that rank stalls (a hung worker, as opposed to a dead one)."""

    def on_train_batch_end(self, trainer: pl.Trainer, *args: Any) -> None:
        step = os.environ.get("SEQZOO_TEST_PAUSE_AT_STEP")
        rank = os.environ.get("SEQZOO_TEST_PAUSE_RANK")
        if rank is not None and trainer.global_rank != int(rank):
            return
        if step is not None and trainer.global_step == int(step):
            Path(os.environ["SEQZOO_TEST_PAUSE_FILE"]).write_text(
                f"{trainer.current_epoch} {trainer.global_step}"
            )
            time.sleep(600)  # killed long before this ends


class DieOnRank(pl.Callback):
    """On rank `$SEQZOO_TEST_DIE_RANK`, at global step `$SEQZOO_TEST_DIE_AT_STEP`, exit at once without
    any cleanup (as a crashed or OOM-killed worker does), leaving the other ranks waiting on it. The
    time of death goes to `$SEQZOO_TEST_DIE_FILE`."""

    def on_train_batch_end(self, trainer: pl.Trainer, *args: Any) -> None:
        rank, step = os.environ.get("SEQZOO_TEST_DIE_RANK"), os.environ.get("SEQZOO_TEST_DIE_AT_STEP", "1")
        if rank is not None and trainer.global_rank == int(rank) and trainer.global_step >= int(step):
            if os.environ.get("SEQZOO_TEST_DIE_FILE"):
                Path(os.environ["SEQZOO_TEST_DIE_FILE"]).write_text(repr(time.time()))
            os._exit(13)


class RestoreRngState(pl.Callback):
    """Save torch's global RNG in checkpoints and restore it on resume.

    The train DataLoader draws its shuffling seed from the global RNG at the start of every epoch;
    without this, a run resumed at an epoch boundary shuffles the next epoch differently from the
    uninterrupted run. (Only a tensor is stored, so `weights_only` loading still accepts the file.)
    """

    def state_dict(self) -> dict[str, Any]:
        return {"torch_rng": torch.get_rng_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        torch.set_rng_state(state["torch_rng"])
