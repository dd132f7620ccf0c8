"""Training callbacks recipes can name."""

from __future__ import annotations

import lightning.pytorch as pl
import torch


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
