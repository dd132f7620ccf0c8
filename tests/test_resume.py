"""What a checkpoint brings back: `last.ckpt` is the last point a run reached, and a model restored with
`ckpt_path` reads its data with its own preprocessing, not what the data module fitted meanwhile."""

from __future__ import annotations

import csv
from typing import Any

import lightning.pytorch as pl
import pytest
import torch
from lightning.pytorch.callbacks import ModelCheckpoint

from seqzoo.callbacks import BestAndLastCheckpoint
from seqzoo.data.synthetic import SyntheticDataModule
from seqzoo.loggers import ResumableCSVLogger
from seqzoo.tasks import ForecastingTask

from .conftest import quiet_trainer

SMALL = {"train_series": 2, "val_series": 1, "test_series": 1, "series_length": 120}


def tiny_task() -> ForecastingTask:
    torch.manual_seed(0)
    return ForecastingTask(arch="gru", arch_kwargs={"hidden_size": 4}, lr=0.01)


def trainer(epochs: int, *callbacks: pl.Callback, **overrides: Any) -> pl.Trainer:
    """Two training and one validation batch per epoch; checkpoints only through `callbacks`."""
    return quiet_trainer(
        epochs, limit_train_batches=2, limit_val_batches=1, callbacks=list(callbacks),
        enable_checkpointing=bool(callbacks), **overrides,
    )  # fmt: skip


@pytest.mark.parametrize("kind", [BestAndLastCheckpoint, ModelCheckpoint])
def test_last_ckpt_follows_every_epoch_even_when_the_monitored_metric_stops_improving(tmp_path, kind):
    """`mode="max"` on a falling val_mae: only epoch 0 is ever the best. Lightning's own class then
    keeps last.ckpt at epoch 0 (a resume would redo two epochs); the recipes' class follows the run."""
    checkpoint = kind(dirpath=tmp_path, monitor="val_mae", mode="max", filename="best", save_last=True)
    trainer(3, checkpoint).fit(tiny_task(), SyntheticDataModule(**SMALL))
    best = torch.load(tmp_path / "best.ckpt", weights_only=True)
    last = torch.load(tmp_path / "last.ckpt", weights_only=True)
    assert best["global_step"] == 2
    assert last["global_step"] == (6 if kind is BestAndLastCheckpoint else 2)


def test_a_restored_model_reads_the_data_with_its_own_statistics(tmp_path):
    """Testing a checkpoint with a data module that fitted other statistics (another train split, say):
    the batches are scaled with the checkpoint's, so the naive baseline, which does not depend on the
    model, and the model score exactly as on the original data module."""
    task, data = tiny_task(), SyntheticDataModule(**SMALL)
    run = trainer(1)
    run.fit(task, data)
    run.save_checkpoint(tmp_path / "run.ckpt")
    (expected,) = trainer(1).test(task, data, verbose=False)
    other = SyntheticDataModule(**SMALL)  # the same series, with statistics fitted otherwise
    other.preprocessing = {**task.preprocessing, "mean": 3.0, "std": 7.0}
    restoring = trainer(1)
    (restored,) = restoring.test(tiny_task(), other, ckpt_path=tmp_path / "run.ckpt", verbose=False)
    assert other.preprocessing == task.preprocessing
    assert restored["test_naive_mae"] == pytest.approx(expected["test_naive_mae"], rel=1e-6)
    assert restored["test_mae"] == pytest.approx(expected["test_mae"], rel=1e-6)


def test_a_resumed_run_keeps_the_metrics_it_logged_before(tmp_path):
    """Lightning's CSVLogger deletes metrics.csv when the run's folder exists, so a run resumed with
    `--ckpt_path last` kept only its last epoch's rows. The recipes' logger continues the file; rows
    of steps the resumed run redoes would give way to the new ones."""

    def run(epochs: int, ckpt_path: str | None) -> None:
        logger = ResumableCSVLogger(tmp_path, name="run", version="named")
        checkpoint = BestAndLastCheckpoint(monitor="val_mae", filename="best", save_last=True)
        fitting = trainer(epochs, checkpoint, logger=logger, log_every_n_steps=1)
        fitting.fit(tiny_task(), SyntheticDataModule(**SMALL), ckpt_path=ckpt_path)

    run(2, None)
    run(3, "last")
    rows = list(csv.DictReader((tmp_path / "run" / "named" / "metrics.csv").open()))
    validated = [(int(row["epoch"]), int(row["step"])) for row in rows if row["val_mae"]]
    assert validated == [(0, 1), (1, 3), (2, 5)]
    trained = [int(row["step"]) for row in rows if row["train_loss"]]
    assert trained == sorted(set(trained)) and trained[0] == 0 and trained[-1] == 5
