"""What every task LightningModule shares: the architecture by name, optimizers as configuration,
and the preprocessing that travels with the weights. No architecture code lives here."""

from __future__ import annotations

import copy
import inspect
import math
import numbers
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import lightning.pytorch as pl
import torch
from lightning.pytorch.trainer.states import TrainerFn
from lightning.pytorch.utilities import rank_zero_warn
from torch import Tensor

from seqzoo import rng
from seqzoo.errors import SeqzooError
from seqzoo.inference import evaluating, output_step, run_network, run_predict, vocabulary_mismatch
from seqzoo.preprocessing import (
    Preprocessor,
    adopt_geometry,
    geometry_differences,
    preprocessor_from_config,
)
from seqzoo.registry import create_model

if TYPE_CHECKING:
    from seqzoo.finetune import Pretrained

OPTIMIZERS = {
    "adam": torch.optim.Adam,
    "adamw": torch.optim.AdamW,
    "rmsprop": torch.optim.RMSprop,
    "sgd": torch.optim.SGD,
}
FINETUNE_ARGS = ("pretrained", "pretrained_revision", "freeze", "new_head")
SCHEDULERS = {
    "step": torch.optim.lr_scheduler.StepLR,
    "cosine": torch.optim.lr_scheduler.CosineAnnealingLR,
    "plateau": torch.optim.lr_scheduler.ReduceLROnPlateau,
}


def check_optimizer_numbers(lr: Any, weight_decay: Any, momentum: Any) -> None:
    """Refuse optimizer settings before any data loads: torch rejects a negative lr only when the
    optimizer is built, and accepts an lr of 0, which trains nothing while looking like a run."""
    checks = {
        "lr": (lr, lambda v: v > 0, "> 0"),
        "weight_decay": (weight_decay, lambda v: v >= 0, ">= 0"),
        "momentum": (momentum, lambda v: 0 <= v <= 1, "in [0, 1]"),
    }
    for name, (value, ok, expected) in checks.items():
        real = isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)
        if not real or not ok(value):
            raise SeqzooError(f"{name} must be a finite number {expected}, got {value!r}")


def _throwaway_optimizer(lr: float) -> torch.optim.Optimizer:
    return torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=lr)


def build_scheduler(
    name: str, optimizer: torch.optim.Optimizer, kwargs: dict[str, Any]
) -> torch.optim.lr_scheduler.LRScheduler | torch.optim.lr_scheduler.ReduceLROnPlateau:
    """SCHEDULERS[name] on `optimizer`, with bad `scheduler_kwargs` as a SeqzooError saying what it takes:
    switching a recipe's scheduler on the command line keeps the recipe's kwargs for the old one."""
    cls = SCHEDULERS[name]
    try:
        return cls(optimizer, **kwargs)
    except (TypeError, ValueError) as err:
        params = [p for p in inspect.signature(cls).parameters.values() if p.name != "optimizer"]
        unknown = sorted(set(kwargs) - {p.name for p in params})
        takes = ", ".join(p.name if p.default is p.empty else f"{p.name}={p.default!r}" for p in params)
        problem = f"it does not take {unknown}" if unknown else str(err)
        raise SeqzooError(
            f"scheduler {name!r} ({cls.__name__}) cannot be built from scheduler_kwargs {kwargs}: {problem}; "
            f"it takes {takes} (those without a default are required)"
        ) from err


class SeqzooTask(pl.LightningModule):
    """Base of the task modules. Subclasses set `task_name` and define the steps and `predict`."""

    task_name: str = ""
    default_arch: str = ""
    monitor: str = "val_loss"
    monitor_mode: str = "min"
    # Task arguments that change what the head's output means: a fine-tune keeping the head keeps them.
    output_kwargs: tuple[str, ...] = ()

    def __init__(
        self,
        arch: str | None = None,
        arch_kwargs: dict[str, Any] | None = None,
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
        """`pretrained` starts from a checkpoint instead of random weights (see `seqzoo.finetune`):
        its architecture, weights and preprocessing; `freeze` lists parameter-name prefixes of the
        network to keep fixed (`encoder`, `embedding`, ...); `new_head` re-initialises the head.
        These four are not hyperparameters of the result: a checkpoint or artifact of the fine-tuned
        model rebuilds without them and records them in `provenance.pretrained`.
        """
        super().__init__()
        if optimizer not in OPTIMIZERS:
            raise SeqzooError(f"optimizer must be one of {sorted(OPTIMIZERS)}, got {optimizer!r}")
        if scheduler is not None and scheduler not in SCHEDULERS:
            raise SeqzooError(f"scheduler must be one of {sorted(SCHEDULERS)} or None, got {scheduler!r}")
        check_optimizer_numbers(lr=lr, weight_decay=weight_decay, momentum=momentum)
        if scheduler is None and scheduler_kwargs:
            raise SeqzooError(
                f"scheduler_kwargs {scheduler_kwargs} apply to no scheduler; name one (scheduler: "
                f"{' | '.join(SCHEDULERS)}) or leave scheduler_kwargs out"
            )
        if scheduler is not None:  # on a throwaway optimizer: bad scheduler_kwargs fail before data loads
            build_scheduler(
                scheduler, _throwaway_optimizer(lr), self._scheduler_kwargs(scheduler, scheduler_kwargs)
            )
        self.save_hyperparameters(ignore=["preprocessing", *FINETUNE_ARGS])
        self.pretrained_from: dict[str, Any] | None = None  # provenance.pretrained of what this started from
        self.adopts_data_geometry = False  # a fine-tune takes its window geometry from the data (setup)
        source = None
        if pretrained is not None:
            from seqzoo.finetune import Pretrained

            if preprocessing is not None:
                raise SeqzooError("give pretrained or preprocessing, not both: a checkpoint brings its own")
            source = Pretrained.open(pretrained, pretrained_revision)
            arch, arch_kwargs = source.architecture(arch, arch_kwargs)
            preprocessing = copy.deepcopy(source.model.preprocessing)
        elif freeze is not None or new_head or pretrained_revision is not None:
            raise SeqzooError("freeze, new_head and pretrained_revision need pretrained (a checkpoint)")
        # the resolved architecture, so checkpoints and logged hparams rebuild it without the checkpoint
        self.save_hyperparameters({"arch": arch or self.default_arch, "arch_kwargs": arch_kwargs})
        self.net = create_model(self.hparams["arch"], **(arch_kwargs or {}))
        self._preprocessing = preprocessing
        self.recipe: str | None = None  # the resolved LightningCLI config that trained this model
        self.recipe_meta: dict[str, Any] = {}  # its path and seed, for provenance
        if source is not None:
            self._start_from(source, freeze, new_head)

    def _start_from(self, source: Pretrained, freeze: str | list[str] | None, new_head: bool) -> None:
        from seqzoo.finetune import freeze_parameters, freeze_prefixes

        prefixes = freeze_prefixes(freeze)
        source.check_task(self)
        new_head = source.load_into(self.net, new_head)
        source.check_outputs(self, new_head)
        freeze_parameters(self.net, prefixes)
        self.pretrained_from = source.provenance(prefixes, new_head)
        self.adopts_data_geometry = True

    # -- preprocessing -------------------------------------------------------------------------
    @property
    def preprocessing(self) -> dict[str, Any] | None:
        return self._preprocessing

    @preprocessing.setter
    def preprocessing(self, config: dict[str, Any] | None) -> None:
        mismatch = self.vocabulary_mismatch(config)
        if mismatch:
            raise SeqzooError(
                f"the data's vocabulary has {mismatch[0]} tokens but the model's embedding has {mismatch[1]} "
                "rows; make the model's arch_kwargs.vocab_size and the data's vocab_size agree"
            )
        self._preprocessing = config
        self.__dict__.pop("preprocessor", None)

    def vocabulary_mismatch(self, config: dict[str, Any] | None) -> tuple[int, int] | None:
        """(tokens in the vocabulary of `config`, rows of this model's embedding) when they differ."""
        return vocabulary_mismatch(self.net, config)

    @cached_property
    def preprocessor(self) -> Preprocessor:
        if self._preprocessing is None:
            raise SeqzooError(
                "this model has no fitted preprocessing: train it with a DataModule or load an artifact"
            )
        return preprocessor_from_config(self._preprocessing)

    def setup(self, stage: str) -> None:
        """Share one preprocessing with the DataModule: a pretrained model's wins, else the data's.

        A fine-tune (`pretrained=`) keeps the checkpoint's fitted statistics and vocabulary but takes
        the window geometry of the data it is trained on (`adopt_geometry`), so a recipe can move a
        forecaster to a new horizon; a loaded model being tested keeps its whole protocol.
        """
        datamodule = getattr(self.trainer, "datamodule", None) if self._trainer is not None else None
        if datamodule is None or not hasattr(datamodule, "preprocessing"):
            return
        if self.preprocessing is None:
            self.preprocessing = datamodule.preprocessing
            return
        if self.adopts_data_geometry and datamodule.preprocessing is not None:
            self.preprocessing = adopt_geometry(self.preprocessing, datamodule.preprocessing)
        elif datamodule.preprocessing is not None:
            self._warn_kept_geometry(geometry_differences(self.preprocessing, datamodule.preprocessing))
        datamodule.preprocessing = self.preprocessing

    def _warn_kept_geometry(self, differ: dict[str, tuple]) -> None:
        """A loaded model replaces the data's window geometry with its own: say so where they differ,
        since the user built the data with other values (`pretrained=` takes the data's instead)."""
        if differ:
            described = ", ".join(
                f"{k} {model!r} instead of the data's {data!r}" for k, (model, data) in differ.items()
            )
            rank_zero_warn(
                f"the model keeps its own window geometry ({described}): a loaded model keeps the protocol "
                "it was trained and evaluated with. To train on the data's geometry, start a new task from "
                "the checkpoint with pretrained=NAME (see the fine-tuning guide)"
            )

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["seqzoo"] = {
            "task": self.task_name,
            "preprocessing": self.preprocessing,
            "recipe": self.recipe,
            "recipe_meta": self.recipe_meta,
            "pretrained": self.pretrained_from,
        }
        if self._trainer is not None:
            checkpoint["seqzoo"]["rng"] = rng.capture(self.trainer.strategy.root_device)

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        extra = checkpoint.get("seqzoo", {})
        if extra.get("preprocessing") is not None:
            self.preprocessing = extra["preprocessing"]
            self._share_restored_preprocessing()
        self.recipe = extra.get("recipe", self.recipe)
        self.recipe_meta = extra.get("recipe_meta", self.recipe_meta)
        self.pretrained_from = extra.get("pretrained", self.pretrained_from)
        if self._trainer is not None and self.trainer.state.fn == TrainerFn.FITTING:
            self._resume_random_state(extra.get("rng"))

    def _share_restored_preprocessing(self) -> None:
        """`--ckpt_path` restores the checkpoint after the DataModule has fitted its own preprocessing
        (`setup` runs first) and before any dataloader exists: hand the checkpoint's to the data, or
        its batches would be scaled with other statistics (or cut to another geometry) than the model
        decodes with."""
        datamodule = getattr(self.trainer, "datamodule", None) if self._trainer is not None else None
        if datamodule is None or not hasattr(datamodule, "preprocessing"):
            return
        if datamodule.preprocessing is not None:
            self._warn_kept_geometry(geometry_differences(self.preprocessing, datamodule.preprocessing))
        datamodule.preprocessing = self.preprocessing

    def _resume_random_state(self, state: dict[str, Tensor] | None) -> None:
        """Resuming a fit: continue the random streams where the checkpoint left them (see seqzoo.rng)."""
        if state is None:
            rank_zero_warn(
                "this checkpoint holds no random state (written before seqzoo stored it): training resumes "
                "with the same weights and counters, but shuffles and drops out differently from a run "
                "that was never interrupted"
            )
            return
        rng.restore(state, self.trainer.strategy.root_device)

    def on_fit_start(self) -> None:
        """On CPU, train with subnormal floats flushed to zero, as TensorFlow does by default: gradients
        through long recurrences underflow into subnormals, which cost the CPU many cycles each. A GRU(32)
        over 240 Jena steps trained about 3x faster (benchmarks/peers.py); only values below 1e-38 change.
        The setting is the process's, so it is switched back off when fitting ends.

        Lightning trains modules in the mode it finds them, and `seqzoo.load` leaves the whole model in
        eval mode (for predict): trained so, it would train without dropout. A model entirely in eval
        mode is put in train mode; modules set to eval among others were set so on purpose and stay."""
        self._flushing_denormals = self.device.type == "cpu" and torch.set_flush_denormal(True)
        if not any(module.training for module in self.modules()):
            self.train()

    def on_fit_end(self) -> None:
        if getattr(self, "_flushing_denormals", False):
            torch.set_flush_denormal(False)
            self._flushing_denormals = False

    # -- training configuration ----------------------------------------------------------------
    def forward(self, x: Tensor, lengths: Tensor | None = None) -> Tensor:
        return run_network(self.net, x, lengths)

    def log_train_loss(self, loss: Tensor, batch_size: int) -> None:
        """Log `train_loss` on the steps the logger writes (every `log_every_n_steps` optimizer steps).

        Lightning's `self.log` costs ~1.6 ms per call on CPU, as much as a whole dense.jena step, and
        on every other step its value would go nowhere: the logger skips those steps and the progress
        bar keeps the last logged value.
        """
        trainer = self._trainer  # None outside a Trainer (Fabric, a step called by hand): log as before
        if trainer is not None and not trainer.fast_dev_run:
            every = trainer.log_every_n_steps
            if not every or (self.global_step + 1) % every:
                return
        self.log("train_loss", loss, prog_bar=True, batch_size=batch_size)

    def on_before_backward(self, loss: Tensor) -> None:
        """Stop at the first non-finite loss (every task, automatic or manual optimization): training on
        would only spread NaN through the weights, and the step number says where to look."""
        if not torch.isfinite(loss).all():
            raise SeqzooError(
                f"non-finite training loss {loss.item()} at global step {self.global_step} (epoch "
                f"{self.current_epoch}); lower the learning rate or clip gradients "
                "(trainer.gradient_clip_val)"
            )

    def make_optimizer(self) -> torch.optim.Optimizer:
        """The optimizer the hyperparameters name, over the trainable parameters only (frozen parts stay
        bit-identical); also what benchmarks/fit_overhead.py's hand-written loop steps."""
        h = self.hparams
        extra = {"momentum": h.momentum} if h.optimizer in ("sgd", "rmsprop") else {}
        trainable = [p for p in self.parameters() if p.requires_grad]
        return OPTIMIZERS[h.optimizer](trainable, lr=h.lr, weight_decay=h.weight_decay, **extra)

    def configure_optimizers(self):
        h, opt = self.hparams, self.make_optimizer()
        if h.scheduler is None:
            return opt
        sched = build_scheduler(h.scheduler, opt, self._scheduler_kwargs(h.scheduler, h.scheduler_kwargs))
        if not self.automatic_optimization:  # the task steps it itself (TBPTT); Lightning warns at a monitor
            return {"optimizer": opt, "lr_scheduler": {"scheduler": sched}}
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "monitor": self.monitor}}

    def _scheduler_kwargs(self, scheduler: str, given: dict[str, Any] | None) -> dict[str, Any]:
        """`scheduler_kwargs` as the scheduler gets them; a plateau follows the monitored metric's direction
        (accuracy-like metrics plateau from below). A copy: the saved hyperparameters stay as given."""
        kwargs = dict(given or {})
        if scheduler == "plateau":
            kwargs.setdefault("mode", self.monitor_mode)
        return kwargs

    @staticmethod
    def init_kwargs(hparams: dict[str, Any]) -> dict[str, Any]:
        """Constructor arguments from saved hyperparameters (LightningCLI adds private `_class_path`)."""
        return {k: v for k, v in hparams.items() if not k.startswith("_")}

    # -- using the model -----------------------------------------------------------------------
    @property
    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def forward_for_predict(self, *inputs: Tensor) -> Tensor:
        """What `predict` runs on encoded inputs: forecasts, class probabilities or greedy answers.
        Classifiers need no preprocessing here, so a bare network (tests, a custom loop) can run it."""
        pre = self.preprocessor if self.preprocessing is not None else None
        return output_step(self.task_name, self.net, pre, self.hparams)(*inputs)

    def predict(self, raw: Any, batch_size: int = 4096, **options: Any) -> Any:
        """Raw task-native inputs -> task-native outputs, with the stored preprocessing.

        `options` are the preprocessor's own (e.g. `rolling=True` for Jena forecasts). The same steps
        as `seqzoo.predictor(...).predict`, which serves without importing Lightning.
        """
        with evaluating(self, self.net):
            return run_predict(
                self.forward_for_predict, self.preprocessor, raw, batch_size, self.net, options
            )

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

        from seqzoo.hub import check_repo_id, push

        check_repo_id(repo_id)
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
