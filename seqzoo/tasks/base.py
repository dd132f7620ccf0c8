"""What every task LightningModule shares: the architecture by name, optimizers as configuration,
and the preprocessing that travels with the weights. No architecture code lives here."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import torch
from torch import Tensor

from seqzoo.errors import InputError, SeqzooError
from seqzoo.preprocessing import Preprocessor, preprocessor_from_config
from seqzoo.registry import create_model

OPTIMIZERS = {
    "adam": torch.optim.Adam,
    "adamw": torch.optim.AdamW,
    "rmsprop": torch.optim.RMSprop,
    "sgd": torch.optim.SGD,
}
SCHEDULERS = {
    "step": torch.optim.lr_scheduler.StepLR,
    "cosine": torch.optim.lr_scheduler.CosineAnnealingLR,
    "plateau": torch.optim.lr_scheduler.ReduceLROnPlateau,
}


class SeqzooTask(pl.LightningModule):
    """Base of the task modules. Subclasses set `task_name` and define the steps and `predict`."""

    task_name: str = ""
    monitor: str = "val_loss"
    monitor_mode: str = "min"

    def __init__(
        self,
        arch: str,
        arch_kwargs: dict[str, Any] | None = None,
        optimizer: str = "adam",
        lr: float = 1e-3,
        weight_decay: float = 0.0,
        momentum: float = 0.9,
        scheduler: str | None = None,
        scheduler_kwargs: dict[str, Any] | None = None,
        preprocessing: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        if optimizer not in OPTIMIZERS:
            raise SeqzooError(f"optimizer must be one of {sorted(OPTIMIZERS)}, got {optimizer!r}")
        if scheduler is not None and scheduler not in SCHEDULERS:
            raise SeqzooError(f"scheduler must be one of {sorted(SCHEDULERS)} or None, got {scheduler!r}")
        self.save_hyperparameters(ignore=["preprocessing"])
        self.net = create_model(arch, **(arch_kwargs or {}))
        self._preprocessing = preprocessing
        self.recipe: str | None = None  # the resolved LightningCLI config that trained this model
        self.recipe_meta: dict[str, Any] = {}  # its path and seed, for provenance

    # -- preprocessing -------------------------------------------------------------------------
    @property
    def preprocessing(self) -> dict[str, Any] | None:
        return self._preprocessing

    @preprocessing.setter
    def preprocessing(self, config: dict[str, Any] | None) -> None:
        self._preprocessing = config
        self.__dict__.pop("preprocessor", None)

    @cached_property
    def preprocessor(self) -> Preprocessor:
        if self._preprocessing is None:
            raise SeqzooError(
                "this model has no fitted preprocessing: train it with a DataModule or load an artifact"
            )
        return preprocessor_from_config(self._preprocessing)

    def setup(self, stage: str) -> None:
        """Share one preprocessing with the DataModule: a pretrained model's wins, else the data's."""
        datamodule = getattr(self.trainer, "datamodule", None) if self._trainer is not None else None
        if datamodule is None or not hasattr(datamodule, "preprocessing"):
            return
        if self.preprocessing is None:
            self.preprocessing = datamodule.preprocessing
        else:
            datamodule.preprocessing = self.preprocessing

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["seqzoo"] = {
            "task": self.task_name,
            "preprocessing": self.preprocessing,
            "recipe": self.recipe,
            "recipe_meta": self.recipe_meta,
        }

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        extra = checkpoint.get("seqzoo", {})
        if extra.get("preprocessing") is not None:
            self.preprocessing = extra["preprocessing"]
        self.recipe = extra.get("recipe", self.recipe)
        self.recipe_meta = extra.get("recipe_meta", self.recipe_meta)

    # -- training configuration ----------------------------------------------------------------
    def forward(self, x: Tensor, lengths: Tensor | None = None) -> Tensor:
        return self.net(x) if lengths is None else self.net(x, lengths=lengths)

    def configure_optimizers(self):
        h = self.hparams
        extra = {"momentum": h.momentum} if h.optimizer in ("sgd", "rmsprop") else {}
        opt = OPTIMIZERS[h.optimizer](self.parameters(), lr=h.lr, weight_decay=h.weight_decay, **extra)
        if h.scheduler is None:
            return opt
        kwargs = dict(h.scheduler_kwargs or {})
        if h.scheduler == "plateau":
            kwargs.setdefault("mode", self.monitor_mode)  # accuracy-like metrics plateau from below
        sched = SCHEDULERS[h.scheduler](opt, **kwargs)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "monitor": self.monitor}}

    @staticmethod
    def init_kwargs(hparams: dict[str, Any]) -> dict[str, Any]:
        """Constructor arguments from saved hyperparameters (LightningCLI adds private `_class_path`)."""
        return {k: v for k, v in hparams.items() if not k.startswith("_")}

    # -- using the model -----------------------------------------------------------------------
    @property
    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def forward_for_predict(self, *inputs: Tensor) -> Tensor:
        """What `predict` runs on encoded inputs; tasks whose output needs more than `forward` override it."""
        return self(*inputs)

    def predict(self, raw: Any, batch_size: int = 4096, **options: Any) -> Any:
        """Raw task-native inputs -> task-native outputs, with the stored preprocessing.

        `options` are the preprocessor's own (e.g. `rolling=True` for Jena forecasts).
        """
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise InputError(f"batch_size must be an integer >= 1, got {batch_size!r}")
        pre = self.preprocessor
        allowed = getattr(pre, "predict_options", ())
        unknown = sorted(set(options) - set(allowed))
        if unknown:
            raise InputError(
                f"unknown predict options {unknown}; this model accepts {list(allowed) or 'none'}"
            )
        encoded = pre.encode(raw, **options)
        inputs = encoded if isinstance(encoded, tuple) else (encoded,)
        was_training = self.training
        self.eval()
        try:
            with torch.inference_mode():
                outputs = [
                    self.forward_for_predict(*(t[i : i + batch_size].to(self.device) for t in inputs))
                    for i in range(0, max(len(inputs[0]), 1), batch_size)
                ]
        finally:
            self.train(was_training)
        output = torch.cat(outputs).cpu()
        return pre.decode(output, raw, **options) if options else pre.decode(output)

    def save_pretrained(self, directory: str | Path, **card: Any) -> Path:
        """Write this model as an artifact folder (config, safetensors weights, recipe, model card)."""
        from seqzoo.artifact import save_pretrained

        return save_pretrained(self, directory, **card)

    def push_to_hub(
        self,
        repo_id: str,
        *,
        revision: str | None = None,
        private: bool | None = None,
        token: str | None = None,
        commit_message: str | None = None,
        endpoint: str | None = None,
        **card: Any,
    ) -> str:
        """Publish this model as a Hub repo: `save_pretrained` into a temporary folder, then upload it
        with `seqzoo.hub.push`, so what goes up is exactly what `seqzoo.load` reads back.

        `card` (name, metrics, data, limitations) goes to `save_pretrained`; returns the commit URL.
        """
        import tempfile

        from seqzoo.hub import push

        with tempfile.TemporaryDirectory(prefix="seqzoo-push-") as tmp:
            folder = self.save_pretrained(Path(tmp) / repo_id.rsplit("/", 1)[-1], **card)
            return push(
                folder,
                repo_id,
                revision=revision,
                private=private,
                token=token,
                commit_message=commit_message,
                endpoint=endpoint,
            )
