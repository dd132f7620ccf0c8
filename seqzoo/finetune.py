"""Fine-tuning: a task that starts from a pretrained checkpoint instead of random weights.

A recipe names the checkpoint in the task's own arguments, so `seqzoo fit` needs nothing new:

    model:
      class_path: seqzoo.tasks.ForecastingTask
      init_args:
        pretrained: gru.jena      # bundled name, artifact folder or Hub repo id, as seqzoo.load takes
        freeze: encoder           # or embedding, or a list of parameter-name prefixes of the network
        new_head: false           # true: a freshly initialised head (implied when its size changes)

What comes from the checkpoint and what from the recipe:
- the architecture and its kwargs come from the checkpoint; a recipe that gives a different `arch` or
  a different value for one of its kwargs is an error (only `output_size` may change: a new head);
- the task's training settings (loss, optimizer, learning rate, scheduler) come from the recipe, but
  settings that change what the head's output means (`ForecastingTask.output_kwargs`, e.g.
  `predict_delta`) must agree with the checkpoint's unless the head is new;
- the preprocessing comes from the checkpoint (its vocabulary and normalisation statistics are what
  the weights were trained on), except its window geometry (`Preprocessor.geometry`, e.g. Jena's
  lookback/step/delay), which the recipe's data decides: see `seqzoo.preprocessing.adopt_geometry`.
The exported artifact records where it started in `provenance.pretrained`.
"""

from __future__ import annotations

import contextlib
import copy
import inspect
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lightning.pytorch.core.mixins import hparams_mixin
from torch import nn

from seqzoo.download import sha256_file
from seqzoo.errors import SeqzooError
from seqzoo.registry import model_spec

if TYPE_CHECKING:
    from seqzoo.tasks.base import SeqzooTask

HEAD = "head"  # SequenceNet's output layer; the only part a fine-tune may resize


def _effective_kwargs(arch: str, kwargs: dict[str, Any]) -> dict[str, Any]:
    """The factory's defaults overlaid with `kwargs`: what the network was really built with."""
    params = inspect.signature(model_spec(arch).factory).parameters.values()
    defaults = {p.name: p.default for p in params if p.default is not inspect.Parameter.empty}
    return {**defaults, **kwargs}


def freeze_prefixes(freeze: str | list[str] | None) -> list[str]:
    """`freeze` as a list of parameter-name prefixes (`"encoder"` -> `["encoder"]`)."""
    if freeze is None:
        return []
    prefixes = [freeze] if isinstance(freeze, str) else list(freeze)
    if not prefixes or not all(isinstance(p, str) and p.strip(".") for p in prefixes):
        raise SeqzooError(f"freeze must be a module name or a non-empty list of them, got {freeze!r}")
    return [p.strip(".") for p in prefixes]


def freeze_parameters(net: nn.Module, prefixes: list[str]) -> list[str]:
    """Stop gradients for every parameter under one of `prefixes`; returns the frozen names."""
    names = [name for name, _ in net.named_parameters()]
    unmatched = [p for p in prefixes if not any(n == p or n.startswith(p + ".") for n in names)]
    if unmatched:
        modules = sorted({n.split(".")[0] for n in names})
        raise SeqzooError(
            f"freeze {unmatched}: no parameter of {type(net).__name__} starts with that; its modules are "
            f"{modules} (deeper names look like {names[0]!r})"
        )
    frozen = []
    for name, param in net.named_parameters():
        if any(name == p or name.startswith(p + ".") for p in prefixes):
            param.requires_grad_(False)
            frozen.append(name)
    if len(frozen) == len(names):
        raise SeqzooError(f"freeze {prefixes} freezes every parameter: nothing would train")
    return frozen


@contextlib.contextmanager
def _own_hyperparameters() -> Iterator[None]:
    """Let a model built inside another's constructor record its own hyperparameters.

    LightningCLI builds the recipe's model with its configuration in a context variable, which every
    `save_hyperparameters` call in that time takes instead of the caller's arguments: the checkpoint
    loaded for a fine-tune would get the recipe's `predict_delta` and the like, and the checks that
    compare the two would compare the recipe with itself."""
    given = getattr(hparams_mixin, "_given_hyperparameters", None)
    token = given.set(None) if given is not None else None
    try:
        yield
    finally:
        if token is not None:
            given.reset(token)


@dataclass
class Pretrained:
    """A loaded checkpoint to start from, with what identifies it for provenance."""

    name: str
    model: SeqzooTask
    weights_sha256: str
    revision: str | None

    @classmethod
    def open(cls, name: str, revision: str | None = None) -> Pretrained:
        """Resolve and load `name` exactly as `seqzoo.load` does."""
        from seqzoo.artifact import WEIGHTS, load_artifact
        from seqzoo.hub import ENSEMBLE_MEMBERS, is_ensemble, resolve

        folder = resolve(name, revision=revision)
        if is_ensemble(folder):
            raise SeqzooError(
                f"pretrained {name!r} is an ensemble; a fine-tune starts from one model: give one of its "
                f"member folders ({folder / ENSEMBLE_MEMBERS}/...)"
            )
        # A Hub download lives in .../snapshots/<commit>: record the commit, not a moving branch name.
        commit = folder.name if folder.parent.name == "snapshots" else revision
        with _own_hyperparameters():
            model = load_artifact(folder)
        return cls(str(name), model, sha256_file(Path(folder) / WEIGHTS), commit)

    def architecture(
        self, arch: str | None, arch_kwargs: dict[str, Any] | None
    ) -> tuple[str, dict[str, Any]]:
        """The checkpoint's architecture, with the recipe's `output_size` if it gives one.

        Anything else the recipe states must agree with the checkpoint: a silently ignored
        `hidden_size: 64` would train something other than the recipe says.
        """
        base_arch = self.model.hparams.arch
        base_kwargs = copy.deepcopy(self.model.hparams.arch_kwargs or {})
        if arch is not None and arch != base_arch:
            raise SeqzooError(
                f"pretrained {self.name!r} is a {base_arch!r} network, but the recipe says arch {arch!r}; "
                "leave arch out (it comes from the checkpoint) or start from a matching checkpoint"
            )
        given = dict(arch_kwargs or {})
        effective = _effective_kwargs(base_arch, base_kwargs)
        conflicts = {
            k: (effective[k], v)
            for k, v in given.items()
            if k != "output_size" and k in effective and effective[k] != v
        }
        if conflicts:
            described = ", ".join(f"{k}: checkpoint {a!r}, recipe {b!r}" for k, (a, b) in conflicts.items())
            raise SeqzooError(
                f"arch_kwargs conflict with pretrained {self.name!r} ({described}); the architecture comes "
                "from the checkpoint, so leave arch_kwargs out or give only output_size (a new head)"
            )
        if "output_size" in given:
            base_kwargs["output_size"] = given["output_size"]
        return base_arch, base_kwargs

    def check_task(self, task: SeqzooTask) -> None:
        """A checkpoint starts a task of its own kind (its preprocessing and head are that task's)."""
        if self.model.task_name != task.task_name:
            raise SeqzooError(
                f"pretrained {self.name!r} is a {self.model.task_name} model; it cannot start a "
                f"{task.task_name} task (use a {type(self.model).__name__} recipe)"
            )

    def check_outputs(self, task: SeqzooTask, new_head: bool) -> None:
        """A kept head must keep meaning what it meant: `task.output_kwargs` agree with the checkpoint's."""
        if new_head:
            return
        differ = {
            k: (self.model.hparams[k], task.hparams[k])
            for k in task.output_kwargs
            if self.model.hparams[k] != task.hparams[k]
        }
        if differ:
            described = ", ".join(f"{k}: checkpoint {a!r}, recipe {b!r}" for k, (a, b) in differ.items())
            raise SeqzooError(
                f"{described}: this changes what the pretrained head of {self.name!r} outputs; set the "
                "checkpoint's value in the recipe, or train a new head with new_head: true"
            )

    def load_into(self, net: nn.Module, new_head: bool) -> bool:
        """Copy the checkpoint's weights into `net`; the head too unless it is new or resized.

        Returns whether the head is new (asked for, or implied by a different output size).
        """
        state = self.model.net.state_dict()
        target = net.state_dict()
        resized = [k for k in state if k in target and state[k].shape != target[k].shape]
        if resized and not all(k.startswith(HEAD + ".") for k in resized):
            raise SeqzooError(f"weights of pretrained {self.name!r} do not fit the network: {resized[:5]}")
        new_head = new_head or bool(resized)
        if new_head:
            if not isinstance(getattr(net, HEAD, None), nn.Module):
                raise SeqzooError(
                    f"{type(net).__name__} has no '{HEAD}' module to replace; new_head applies to "
                    "embedding -> encoder -> head networks (SequenceNet)"
                )
            state = {k: v for k, v in state.items() if not k.startswith(HEAD + ".")}
        missing, unexpected = net.load_state_dict(state, strict=False)
        if unexpected or any(not (new_head and k.startswith(HEAD + ".")) for k in missing):
            raise SeqzooError(
                f"weights of pretrained {self.name!r} do not fit the network: missing {missing[:5]}, "
                f"unexpected {unexpected[:5]}"
            )
        return new_head

    def provenance(self, frozen: list[str], new_head: bool) -> dict[str, Any]:
        """What `provenance.pretrained` of the fine-tuned artifact says."""
        return {
            "name": self.name,
            "revision": self.revision,
            "weights_sha256": self.weights_sha256,
            "freeze": frozen,
            "new_head": new_head,
        }
