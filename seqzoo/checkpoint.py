"""Lightning checkpoints are training state; `export` turns one into a pickle-free artifact folder."""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import torch

from seqzoo.errors import ArtifactError, SeqzooError


def load_checkpoint(path: str | Path):
    """Rebuild the task module from a `.ckpt`, reading it with `weights_only=True` (no code runs)."""
    from seqzoo.tasks import task_class

    path = Path(path)
    if not path.is_file():
        raise ArtifactError(f"{path}: checkpoint file not found")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        raise refused_pickle(path, err) from err
    except (RuntimeError, EOFError, OSError, ValueError) as err:
        raise ArtifactError(f"{path}: not a readable checkpoint ({err})") from err
    if not isinstance(ckpt, dict):
        raise ArtifactError(f"{path}: not a seqzoo training checkpoint (a {type(ckpt).__name__}, not a dict)")
    extra: dict[str, Any] = ckpt.get("seqzoo") or {}
    if not isinstance(extra, dict) or "task" not in extra or "hyper_parameters" not in ckpt:
        raise ArtifactError(
            f"{path}: not a seqzoo training checkpoint (no 'seqzoo' section or hyper_parameters)"
        )
    try:
        cls = task_class(extra["task"])
        task = cls(**cls.init_kwargs(ckpt["hyper_parameters"]))
        task.load_state_dict(ckpt["state_dict"], strict=True)
        task.on_load_checkpoint(ckpt)
        if task.preprocessing is not None:
            task.preprocessor  # noqa: B018 - a corrupt preprocessing fails here, not at the first predict
    except (SeqzooError, RuntimeError, TypeError, KeyError, AttributeError, ValueError) as err:
        reason = f"{type(err).__name__}: {err}"
        raise ArtifactError(f"{path}: checkpoint does not rebuild its model ({reason})") from err
    return task.eval()


def refused_pickle(path: str | Path, err: pickle.UnpicklingError) -> ArtifactError:
    """The error for a checkpoint that `torch.load(weights_only=True)` refused, without torch's advice to
    retry with `weights_only=False` (which would run whatever code the file holds)."""
    return ArtifactError(
        f"{path}: refused to load; its pickle asks for code or objects beyond tensors and plain "
        f"containers ({_unpickler_reason(err)}). A checkpoint written by `seqzoo fit` never does, "
        "and unpickling such a file can run any code in it, so seqzoo does not"
    )


def _unpickler_reason(err: Exception) -> str:
    """torch's refusal without its advice to retry with `weights_only=False` (which would run the code)."""
    text = str(err).replace("\x1b[1m", "").replace("\x1b[0m", "")
    for line in text.splitlines():
        if "WeightsUnpickler error:" in line:
            reason = line.split("WeightsUnpickler error:", 1)[1].strip()
            if reason:
                return reason.split(". Please use", 1)[0]
    lines = [line.strip() for line in text.splitlines()]
    return next((line for line in lines if line.startswith("Unsupported")), "torch refused it")


def export(
    ckpt_path: str | Path,
    out_dir: str | Path,
    name: str | None = None,
    evaluate_test: bool = True,
    limitations: str | None = None,
    training: dict[str, Any] | None = None,
    weights_dtype: str = "float32",
) -> tuple[Path, dict[str, float]]:
    """Checkpoint -> artifact folder, with test and validation metrics measured now (unless
    `evaluate_test=False`); `training` adds facts only the trainer knows (seconds, device).
    With `weights_dtype="float16"` the weights are rounded to float16 first, so the metrics are those
    of the artifact as `load` gives it back."""
    from seqzoo.artifact import round_to_storage, save_pretrained
    from seqzoo.evaluation import evaluate

    task = load_checkpoint(ckpt_path)
    round_to_storage(task, weights_dtype)
    metrics, data = evaluate(task) if evaluate_test else ({}, {})
    training = dict(training or {})
    if evaluate_test:
        training["validation"] = evaluate(task, split="val")[0]
    return save_pretrained(
        task,
        out_dir,
        name=name,
        metrics=metrics,
        data=data,
        limitations=limitations,
        training=training,
        weights_dtype=weights_dtype,
    ), metrics
