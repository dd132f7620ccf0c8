"""Test-only Lightning callbacks for the tests that run `seqzoo fit` as a subprocess, named from the
command line as `--trainer.callbacks+=tests.reliability_callbacks.NAME` (the subprocess runs in the
repository root, so `tests` is importable). Each does nothing unless its environment variable is set.
"""

from __future__ import annotations

import json
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


class GradNormProbe(pl.Callback):
    """Write the largest total gradient norm of any optimizer step to `$SEQZOO_TEST_GRAD_NORM_FILE`.

    Measured just before each step: under manual optimization (TBPTT) after the model's own clipping,
    under automatic optimization before Lightning's."""

    def __init__(self) -> None:
        self.largest = 0.0

    def on_before_optimizer_step(self, trainer: pl.Trainer, module: pl.LightningModule, optimizer) -> None:
        out = os.environ.get("SEQZOO_TEST_GRAD_NORM_FILE")
        norms = [p.grad.norm() for p in module.parameters() if p.grad is not None]
        if out and norms:
            self.largest = max(self.largest, float(torch.stack(norms).norm()))
            Path(out).write_text(repr(self.largest))


class MetricsProbe(pl.Callback):
    """When fitting ends, write the optimizer steps taken and every metric the run logged, as numbers, to
    `$SEQZOO_TEST_METRICS_FILE` (JSON; NaN stays NaN), and where the module ran: how a test knows the run
    trained and validated, and on which device."""

    device = "none"  # where the module trained (at the fit's end Lightning has moved it back to the CPU)

    def on_train_start(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
        self.device = module.device.type

    def on_fit_end(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
        out = os.environ.get("SEQZOO_TEST_METRICS_FILE")
        if out and trainer.is_global_zero:
            metrics = {name: float(value) for name, value in trainer.callback_metrics.items()}
            run = {"global_step": trainer.global_step, "metrics": metrics, "device": self.device}
            Path(out).write_text(json.dumps(run))


class PoisonAtStep(pl.Callback):
    """From global step `at_step` on, fill the network's first weight with NaN before each batch, as an
    overflowing update would: the next loss is NaN whatever the task."""

    def __init__(self, at_step: int) -> None:
        self.at_step = at_step

    def on_train_batch_start(self, trainer: pl.Trainer, module: pl.LightningModule, *args: Any) -> None:
        if trainer.global_step >= self.at_step:
            with torch.no_grad():
                next(module.net.parameters()).fill_(float("nan"))
