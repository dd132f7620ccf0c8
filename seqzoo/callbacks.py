"""Training callbacks recipes can name."""

from __future__ import annotations

from pathlib import Path

import lightning.pytorch as pl
import numpy as np
import torch
from lightning.pytorch.callbacks import BasePredictionWriter, ModelCheckpoint


class TestCurve(pl.Callback):
    """Log test-split metrics after every epoch as `epoch_test_*`, for learning curves next to a paper's.

    Reporting only: checkpoints are selected on validation metrics, never on these.
    """

    def on_train_epoch_end(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
        datamodule = trainer.datamodule
        if datamodule is None or trainer.sanity_checking:
            return
        totals: dict[str, float] = {}
        count = 0
        was_training = module.training
        module.eval()
        with torch.inference_mode():
            for batch in datamodule.test_dataloader():
                batch = [t.to(module.device) for t in batch]
                for name, values in module.per_example_metrics(batch).items():
                    totals[name] = totals.get(name, 0.0) + float(values.sum())
                count += len(batch[0])
        module.train(was_training)
        for name, total in totals.items():
            module.log(f"epoch_test_{name}", total / count, on_epoch=True, sync_dist=True)


class PredictionWriter(BasePredictionWriter):
    """Save what `seqzoo predict` computes: one `.npy` array per process (no pickle), in prediction order.

        seqzoo predict --config RECIPE --ckpt_path CKPT \\
            --trainer.callbacks+=seqzoo.callbacks.PredictionWriter --trainer.callbacks.output_path preds.npy
    """

    def __init__(self, output_path: str = "predictions.npy") -> None:
        super().__init__(write_interval="epoch")
        self.output_path = Path(output_path)

    def write_on_epoch_end(self, trainer: pl.Trainer, module: pl.LightningModule, predictions, batch_indices):
        path = self.output_path
        if trainer.world_size > 1:
            path = path.with_name(f"{path.stem}.rank{trainer.global_rank}{path.suffix}")
        path.parent.mkdir(parents=True, exist_ok=True)
        np.save(path, torch.cat([p.cpu() for p in predictions]).numpy())


class BestAndLastCheckpoint(ModelCheckpoint):
    """`ModelCheckpoint` whose `last.ckpt` follows every point where it could save, better or not.

    Lightning 2.6 writes `last.ckpt` only when it writes a top-k checkpoint at the same step: once the
    monitored metric stops improving, `last.ckpt` stays at the last improvement, and `--ckpt_path last`
    resumes a crashed run from there instead of from where it stopped. Every recipe uses this class.
    """

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        super().on_train_epoch_end(trainer, pl_module)
        if self._should_save_on_train_epoch_end(trainer):
            self._keep_last_current(trainer)

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        super().on_validation_end(trainer, pl_module)
        if not self._should_save_on_train_epoch_end(trainer):
            self._keep_last_current(trainer)

    def _keep_last_current(self, trainer: pl.Trainer) -> None:
        """Write `last.ckpt` unless a checkpoint (and with it `last.ckpt`) was written at this step."""
        if self.save_last and not self._should_skip_saving_checkpoint(trainer):
            self._save_last_checkpoint(trainer, self._monitor_candidates(trainer))
