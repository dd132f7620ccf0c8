"""Regression on windows: MSE or MAE loss, metrics in the data's own units, naive baseline beside them."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn
from torchmetrics import MeanAbsoluteError, MeanSquaredError, MetricCollection

from seqzoo.errors import SeqzooError
from seqzoo.tasks.base import SeqzooTask

LOSSES = {"mse": nn.MSELoss, "mae": nn.L1Loss, "huber": nn.HuberLoss}


class ForecastingTask(SeqzooTask):
    """Predict the target `delay` steps after a window (or one value per step, many-to-many).

    Metrics are reported in original units (`val_mae`, `test_mae`, ...) next to the naive
    persistence forecast on exactly the same windows (`test_naive_mae`): the last observed value
    of the target.
    """

    task_name = "forecasting"
    monitor = "val_mae"

    def __init__(
        self,
        arch: str = "gru",
        arch_kwargs: dict[str, Any] | None = None,
        loss: str = "mse",
        optimizer: str = "adam",
        lr: float = 1e-3,
        weight_decay: float = 0.0,
        momentum: float = 0.9,
        scheduler: str | None = None,
        scheduler_kwargs: dict[str, Any] | None = None,
        preprocessing: dict[str, Any] | None = None,
    ) -> None:
        if loss not in LOSSES:
            raise SeqzooError(f"loss must be one of {sorted(LOSSES)}, got {loss!r}")
        super().__init__(
            arch,
            arch_kwargs,
            optimizer,
            lr,
            weight_decay,
            momentum,
            scheduler,
            scheduler_kwargs,
            preprocessing,
        )
        self.loss_fn = LOSSES[loss]()
        metrics = MetricCollection({"mae": MeanAbsoluteError(), "mse": MeanSquaredError()})
        self.metrics = nn.ModuleDict(
            {
                f"{split}_{who}": metrics.clone(prefix=f"{split}_{'naive_' if who == 'naive' else ''}")
                for split in ("val", "test")
                for who in ("model", "naive")
            }
        )

    def _predict_normalised(self, x: Tensor) -> Tensor:
        return self(x).squeeze(-1)

    def _naive(self, x: Tensor, y: Tensor) -> Tensor:
        target = x[..., self.preprocessor.target_index]
        return target if y.ndim == 2 else target[:, -1]

    def training_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> Tensor:
        x, y = batch
        loss = self.loss_fn(self._predict_normalised(x), y)
        if not torch.isfinite(loss):
            raise SeqzooError(f"non-finite training loss {loss.item()} at global step {self.global_step}")
        self.log("train_loss", loss, prog_bar=True, batch_size=len(x))
        return loss

    def _evaluate(self, batch: tuple[Tensor, Tensor], split: str) -> None:
        x, y = batch
        pred = self._predict_normalised(x)
        self.log(f"{split}_loss", self.loss_fn(pred, y), batch_size=len(x), sync_dist=True)
        to_units = self.preprocessor.denormalize
        truth = to_units(y)
        self.metrics[f"{split}_model"].update(to_units(pred), truth)
        self.metrics[f"{split}_naive"].update(to_units(self._naive(x, y)), truth)
        for who in ("model", "naive"):
            self.log_dict(self.metrics[f"{split}_{who}"], batch_size=len(x), prog_bar=who == "model")

    def validation_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> None:
        self._evaluate(batch, "val")

    def test_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> None:
        self._evaluate(batch, "test")

    def predict_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> Tensor:
        return self.preprocessor.denormalize(self._predict_normalised(batch[0]))
