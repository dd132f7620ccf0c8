"""Sequence-to-sequence: teacher-forced cross-entropy for training, exact match of free-running greedy
decoding as the reported metric."""

from __future__ import annotations

from typing import Any

from torch import Tensor, nn
from torchmetrics import MeanMetric

from seqzoo.errors import SeqzooError
from seqzoo.tasks.base import SeqzooTask


class Seq2SeqTask(SeqzooTask):
    """Batches are `(source ids, target ids)`; the target starts with the start token, which the decoder
    reads first. `teacher_forcing` is the probability of feeding the true previous token; with
    `teacher_forcing_final` it moves linearly to that value over `max_epochs` (scheduled sampling).
    """

    task_name = "seq2seq"
    default_arch = "seq2seq"
    monitor = "val_exact_match"
    monitor_mode = "max"

    def __init__(
        self,
        arch: str | None = None,
        arch_kwargs: dict[str, Any] | None = None,
        teacher_forcing: float = 1.0,
        teacher_forcing_final: float | None = None,
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
        for value in (teacher_forcing, teacher_forcing_final):
            if value is not None and not 0 <= value <= 1:
                raise SeqzooError(f"teacher forcing ratios must be in [0, 1], got {value}")
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
        self.loss_fn = nn.CrossEntropyLoss()
        self.metrics = nn.ModuleDict(
            {
                f"{split}_{name}": MeanMetric()
                for split in ("val", "test")
                for name in ("exact_match", "token_accuracy")
            }
        )

    @property
    def teacher_forcing_ratio(self) -> float:
        h = self.hparams
        if h.teacher_forcing_final is None or self._trainer is None or not self.trainer.max_epochs:
            return h.teacher_forcing
        progress = min(1.0, self.current_epoch / max(1, self.trainer.max_epochs - 1))
        return h.teacher_forcing + progress * (h.teacher_forcing_final - h.teacher_forcing)

    def training_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> Tensor:
        src, tgt = batch
        logits = self.net(src, tgt[:, :-1], self.teacher_forcing_ratio)
        loss = self.loss_fn(logits.flatten(0, 1), tgt[:, 1:].flatten())
        self.log_train_loss(loss, len(src))
        return loss

    def per_example_metrics(
        self, batch: tuple[Tensor, Tensor], logits: Tensor | None = None
    ) -> dict[str, Tensor]:
        """Exact match of greedy decoding and teacher-forced token accuracy, one value per example."""
        src, tgt = batch
        truth = tgt[:, 1:]
        greedy, _ = self.net.generate(src, start_id=int(tgt[0, 0]), steps=truth.shape[1])
        forced = (self.net(src, tgt[:, :-1]) if logits is None else logits).argmax(-1)
        return {
            "exact_match": (greedy == truth).all(1).float(),
            "token_accuracy": (forced == truth).float().mean(1),
        }

    def _evaluate(self, batch: tuple[Tensor, Tensor], split: str) -> None:
        src, tgt = batch
        logits = self.net(src, tgt[:, :-1])
        loss = self.loss_fn(logits.flatten(0, 1), tgt[:, 1:].flatten())
        self.log(f"{split}_loss", loss, batch_size=len(src), sync_dist=True)
        for name, values in self.per_example_metrics(batch, logits).items():
            self.metrics[f"{split}_{name}"].update(values)
        for name in ("exact_match", "token_accuracy"):
            self.log(f"{split}_{name}", self.metrics[f"{split}_{name}"], batch_size=len(src), prog_bar=True)

    def validation_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> None:
        self._evaluate(batch, "val")

    def test_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> None:
        self._evaluate(batch, "test")

    def predict_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> Tensor:
        src, tgt = batch
        return self.net.generate(src, start_id=int(tgt[0, 0]), steps=tgt.shape[1] - 1)[0]
