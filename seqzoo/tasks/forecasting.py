"""Regression on windows: MSE or MAE loss, metrics in the data's own units, naive baseline beside them."""

from __future__ import annotations

import inspect
from typing import Any

import lightning.pytorch as pl
import torch
from torch import Tensor, nn
from torchmetrics import MeanAbsoluteError, MeanSquaredError, MetricCollection

from seqzoo.errors import SeqzooError
from seqzoo.inference import check_task_arguments, forecast, persistence
from seqzoo.nn.recurrent import RecurrentEncoder
from seqzoo.registry import model_spec
from seqzoo.tasks.base import SeqzooTask

LOSSES = {"mse": nn.MSELoss, "mae": nn.L1Loss, "huber": nn.HuberLoss}


class ForecastingTask(SeqzooTask):
    """Predict the target `delay` steps after a window (or one value per step, many-to-many).

    Metrics are reported in original units (`val_mae`, `test_mae`, ...) next to the naive
    persistence forecast on exactly the same windows (`test_naive_mae`): the last observed value
    of the target. `predict_delta` makes the network predict the change from that last value.
    `tbptt_steps` trains with truncated backpropagation through time: the recurrent state is carried
    across chunks of that many steps and gradients stop at chunk borders (one optimizer step per
    chunk, gradients clipped by norm to `tbptt_clip`, or to the Trainer's `gradient_clip_val` under
    `seqzoo fit`; Lightning itself cannot clip in this manual mode).
    """

    task_name = "forecasting"
    default_arch = "gru"
    output_kwargs = ("predict_delta",)
    monitor = "val_mae"

    def __init__(
        self,
        arch: str | None = None,
        arch_kwargs: dict[str, Any] | None = None,
        loss: str = "mse",
        predict_delta: bool = False,
        tbptt_steps: int | None = None,
        tbptt_clip: float | None = None,
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
        if loss not in LOSSES:
            raise SeqzooError(f"loss must be one of {sorted(LOSSES)}, got {loss!r}")
        check_task_arguments(self.task_name, {"predict_delta": predict_delta})
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
        outputs = (self.hparams.arch_kwargs or {}).get("output_size", 1)
        if outputs != 1:  # the loss would broadcast (batch, n) against (batch,) targets
            raise SeqzooError(
                f"a forecaster outputs one value per window (or per step): output_size must be 1, got "
                f"{outputs!r}; leave output_size out of arch_kwargs"
            )
        if tbptt_steps is not None and tbptt_steps < 1:
            raise SeqzooError(f"tbptt_steps must be >= 1 or None, got {tbptt_steps}")
        if tbptt_steps is not None:
            self._refuse_dropout_under_tbptt()
        self.loss_fn = LOSSES[loss]()
        self.automatic_optimization = tbptt_steps is None
        metrics = MetricCollection({"mae": MeanAbsoluteError(), "mse": MeanSquaredError()})
        self.metrics = nn.ModuleDict(
            {
                f"{split}_{who}": metrics.clone(prefix=f"{split}_{'naive_' if who == 'naive' else ''}")
                for split in ("val", "test")
                for who in ("model", "naive")
            }
        )

    def _refuse_dropout_under_tbptt(self) -> None:
        """TBPTT trains through `forward_chunk`, which applies neither dropout nor recurrent dropout: a
        network built with them would silently train without. Carrying each sequence's masks across
        chunks would need the masked cell loop to start from a carried state, so it is refused instead."""
        rates = {
            name: getattr(module, name)
            for module in self.net.modules()
            if isinstance(module, RecurrentEncoder)
            for name in ("dropout", "recurrent_dropout")
            if getattr(module, name) > 0
        }
        if rates:
            given = ", ".join(f"{name}={rate}" for name, rate in rates.items())
            raise SeqzooError(
                f"tbptt_steps trains without dropout, but the {self.hparams.arch!r} network has {given}; set "
                "arch_kwargs.dropout and arch_kwargs.recurrent_dropout to 0, or leave tbptt_steps out"
            )

    def setup(self, stage: str) -> None:
        super().setup(stage)
        self._check_input_size()
        self._check_window_length()

    def _check_input_size(self) -> None:
        """A network built for another number of inputs fails with a raw matrix-shape error at the first
        step: compare it with the data's inputs (named, as Jena's, or else its window's features)."""
        if not self.preprocessing:
            return
        inputs = getattr(self.preprocessor, "inputs", None)
        shape = getattr(self.preprocessor, "window_shape", None)
        given = len(inputs) if inputs is not None else shape[1] if shape is not None else None
        built = self._built_input_size()
        if given is not None and built is not None and built != given:
            named = f": {inputs}" if inputs is not None else ""
            raise SeqzooError(
                f"the network reads {built} inputs (arch_kwargs.input_size), but the data gives "
                f"{given}{named}"
            )

    def _built_input_size(self) -> int | None:
        """The network's input width: arch_kwargs.input_size, else its architecture's default (None for a
        token network, whose embedding decides its width)."""
        kwargs = self.hparams.arch_kwargs or {}
        if kwargs.get("vocab_size"):
            return None
        if "input_size" in kwargs:
            return kwargs["input_size"]
        param = inspect.signature(model_spec(self.hparams.arch).factory).parameters.get("input_size")
        return None if param is None or param.default is param.empty else param.default

    def _check_window_length(self) -> None:
        """A network that reads a fixed number of steps (the dense baseline) fails with a matrix-shape
        error on windows of another length: say so before training, naming the data's geometry."""
        fixed = getattr(self.net, "steps", None)
        shape = getattr(self.preprocessor, "window_shape", None) if self.preprocessing else None
        if fixed is not None and shape is not None and shape[0] != fixed:
            geometry = {k: getattr(self.preprocessor, k) for k in getattr(self.preprocessor, "geometry", ())}
            raise SeqzooError(
                f"the {self.hparams.arch!r} network reads windows of exactly {fixed} steps "
                f"(arch_kwargs.steps), but the data gives {shape[0]} ({geometry}); give the data a geometry "
                f"of {fixed} steps, or train a recurrent or convolutional network, which reads any length"
            )

    def adopt_gradient_clipping(self, trainer: pl.Trainer) -> None:
        """Clip TBPTT chunks with the Trainer's `gradient_clip_val` and take it off the Trainer: every
        recipe sets it, and Lightning refuses it for a model that steps its optimizer itself."""
        value, own = trainer.gradient_clip_val, self.hparams.tbptt_clip
        algorithm = getattr(trainer.gradient_clip_algorithm, "value", "norm")  # an enum, or None: norm
        if algorithm != "norm" or own not in (None, value):
            raise SeqzooError(
                f"tbptt_steps clips each chunk's gradients by norm at tbptt_clip={own}, which conflicts with "
                f"the trainer's gradient_clip_val={value} (gradient_clip_algorithm={algorithm}); set one of "
                "trainer.gradient_clip_val (by norm) or model.init_args.tbptt_clip"
            )
        self.hparams.tbptt_clip = value
        trainer.gradient_clip_val = None

    def _predict_normalised(self, x: Tensor) -> Tensor:
        return forecast(self.net, x, self.preprocessor.target_index if self.hparams.predict_delta else None)

    def _naive(self, x: Tensor, y: Tensor) -> Tensor:
        return persistence(x, self.preprocessor.target_index, y.ndim == 2)

    def training_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> Tensor:
        x, y = batch
        if self.hparams.tbptt_steps is not None:
            return self._tbptt_step(x, y)
        loss = self.loss_fn(self._predict_normalised(x), y)
        self.log_train_loss(loss, len(x))
        return loss

    def _tbptt_step(self, x: Tensor, y: Tensor) -> Tensor:
        opt, k = self.optimizers(), self.hparams.tbptt_steps
        state = self.net.init_state(len(x), x.device)
        losses = []
        for start in range(0, x.shape[1], k):
            chunk = x[:, start : start + k]
            out, state = self.net.forward_chunk(chunk, state)
            state = [tuple(t.detach() for t in s) if isinstance(s, tuple) else s.detach() for s in state]
            out = out.squeeze(-1)
            if self.hparams.predict_delta:
                out = out + chunk[..., self.preprocessor.target_index]
            if y.ndim == 2:
                loss = self.loss_fn(out, y[:, start : start + k])
            elif start + k >= x.shape[1]:
                loss = self.loss_fn(out[:, -1], y)
            else:
                continue  # a many-to-one target only lies after the last chunk; earlier chunks carry state
            opt.zero_grad()
            self.manual_backward(loss)
            if self.hparams.tbptt_clip:
                self.clip_gradients(
                    opt, gradient_clip_val=self.hparams.tbptt_clip, gradient_clip_algorithm="norm"
                )
            opt.step()
            losses.append(loss.detach())
        loss = torch.stack(losses).mean()
        self.log("train_loss", loss, prog_bar=True, batch_size=len(x))
        return loss

    def on_train_epoch_end(self) -> None:
        """Manual optimization (TBPTT) steps its epoch schedulers itself; a plateau schedule steps on the
        monitored metric, which the epoch's validation has just logged (it waits while there is none)."""
        scheduler = self.lr_schedulers() if not self.automatic_optimization else None
        if scheduler is None:
            return
        if not isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
            scheduler.step()
            return
        metric = self.trainer.callback_metrics.get(self.monitor)
        if metric is not None:
            scheduler.step(metric)

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
