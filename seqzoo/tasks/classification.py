"""Sequence classification: binary (one logit, sigmoid, BCE) or multiclass (softmax, cross-entropy),
with torchmetrics accuracy, F1 and AUROC."""

from __future__ import annotations

from typing import Any

from torch import Tensor, nn
from torchmetrics import MetricCollection
from torchmetrics.classification import (
    BinaryAccuracy,
    BinaryAUROC,
    BinaryF1Score,
    MulticlassAccuracy,
    MulticlassAUROC,
    MulticlassF1Score,
)

from seqzoo.errors import SeqzooError
from seqzoo.inference import binary_classes, class_logits, class_probabilities
from seqzoo.tasks.base import SeqzooTask


def class_metrics(num_classes: int) -> MetricCollection:
    """Accuracy, F1 and AUROC: binary for two classes, else micro accuracy, macro F1, one-vs-rest AUROC."""
    if num_classes == 2:
        return MetricCollection({"accuracy": BinaryAccuracy(), "f1": BinaryF1Score(), "auroc": BinaryAUROC()})
    return MetricCollection(
        {
            "accuracy": MulticlassAccuracy(num_classes, average="micro"),
            "f1": MulticlassF1Score(num_classes, average="macro"),
            "auroc": MulticlassAUROC(num_classes),
        }
    )


class ClassificationTask(SeqzooTask):
    """Batches are `(inputs, labels)` or `(tokens, lengths, labels)` for right-padded token input.

    `predict` returns the positive-class probability (binary) or class probabilities (multiclass).
    """

    task_name = "classification"
    default_arch = "lstm"
    monitor = "val_accuracy"
    monitor_mode = "max"

    def __init__(
        self,
        arch: str | None = None,
        arch_kwargs: dict[str, Any] | None = None,
        num_classes: int = 2,
        optimizer: str = "adam",
        lr: float = 1e-3,
        weight_decay: float = 0.0,
        momentum: float = 0.9,
        scheduler: str | None = None,
        scheduler_kwargs: dict[str, Any] | None = None,
        preprocessing: dict[str, Any] | None = None,
        pretrained: str | None = None,
        pretrained_revision: str | None = None,
        freeze: str | list[str] | None = None,
        new_head: bool = False,
    ) -> None:
        binary = binary_classes(num_classes)
        arch_kwargs = {"output_size": 1 if num_classes == 2 else num_classes, **(arch_kwargs or {})}
        super().__init__(  # by keyword: a reordered base signature must not swap values silently
            arch=arch,
            arch_kwargs=arch_kwargs,
            optimizer=optimizer,
            lr=lr,
            weight_decay=weight_decay,
            momentum=momentum,
            scheduler=scheduler,
            scheduler_kwargs=scheduler_kwargs,
            preprocessing=preprocessing,
            pretrained=pretrained,
            pretrained_revision=pretrained_revision,
            freeze=freeze,
            new_head=new_head,
        )
        self.binary = binary
        self.loss_fn = nn.BCEWithLogitsLoss() if self.binary else nn.CrossEntropyLoss()
        self.metrics = nn.ModuleDict(
            {s: class_metrics(num_classes).clone(prefix=f"{s}_") for s in ("val", "test")}
        )

    def setup(self, stage: str) -> None:
        """Refuse data with another number of classes than the head has (a data module that says how
        many it has): a 3-class model trained on binary labels would train without an error."""
        super().setup(stage)
        datamodule = getattr(self.trainer, "datamodule", None) if self._trainer is not None else None
        given = getattr(datamodule, "num_classes", None)
        if given is not None and given != self.hparams.num_classes:
            raise SeqzooError(
                f"num_classes is {self.hparams.num_classes}, but the data has {given} classes; set "
                f"model.init_args.num_classes to {given}"
            )

    @staticmethod
    def _split(batch) -> tuple[Tensor, Tensor | None, Tensor]:
        return (batch[0], None, batch[1]) if len(batch) == 2 else tuple(batch)

    def _logits(self, x: Tensor, lengths: Tensor | None) -> Tensor:
        return class_logits(self.net, x, lengths, self.binary)

    def _loss(self, logits: Tensor, y: Tensor) -> Tensor:
        return self.loss_fn(logits, y.float() if self.binary else y.long())

    def probabilities(self, logits: Tensor) -> Tensor:
        return class_probabilities(logits, self.binary)

    def training_step(self, batch, batch_idx: int) -> Tensor:
        x, lengths, y = self._split(batch)
        loss = self._loss(self._logits(x, lengths), y)
        self.log_train_loss(loss, len(y))
        return loss

    def _evaluate(self, batch, split: str) -> None:
        x, lengths, y = self._split(batch)
        logits = self._logits(x, lengths)
        self.log(f"{split}_loss", self._loss(logits, y), batch_size=len(y), sync_dist=True)
        self.metrics[split].update(self.probabilities(logits), y.long())
        self.log_dict(self.metrics[split], batch_size=len(y), prog_bar=True)

    def validation_step(self, batch, batch_idx: int) -> None:
        self._evaluate(batch, "val")

    def test_step(self, batch, batch_idx: int) -> None:
        self._evaluate(batch, "test")

    def predict_step(self, batch, batch_idx: int) -> Tensor:
        x, lengths, _ = self._split(batch) if len(batch) > 1 else (batch[0], None, None)
        return self.probabilities(self._logits(x, lengths))
