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
        raise ArtifactError(
            f"{path}: refused to load; it holds objects beyond plain tensors and containers "
            f"({str(err).splitlines()[0]})"
        ) from err
    except (RuntimeError, EOFError, OSError, ValueError) as err:
        raise ArtifactError(f"{path}: not a readable checkpoint ({err})") from err
    extra: dict[str, Any] = ckpt.get("seqzoo") or {}
    if "task" not in extra or "hyper_parameters" not in ckpt:
        raise ArtifactError(
            f"{path}: not a seqzoo training checkpoint (no 'seqzoo' section or hyper_parameters)"
        )
    try:
        cls = task_class(extra["task"])
        task = cls(**cls.init_kwargs(ckpt["hyper_parameters"]))
        task.load_state_dict(ckpt["state_dict"], strict=True)
    except (SeqzooError, RuntimeError, TypeError) as err:
        raise ArtifactError(f"{path}: checkpoint does not rebuild its model ({err})") from err
    task.on_load_checkpoint(ckpt)
    return task.eval()


def export(
    ckpt_path: str | Path,
    out_dir: str | Path,
    name: str | None = None,
    evaluate_test: bool = True,
    limitations: str | None = None,
) -> tuple[Path, dict[str, float]]:
    """Checkpoint -> artifact folder, with test metrics measured now (unless `evaluate_test=False`)."""
    from seqzoo.artifact import save_pretrained
    from seqzoo.evaluation import evaluate

    task = load_checkpoint(ckpt_path)
    metrics, data = evaluate(task) if evaluate_test else ({}, {})
    return save_pretrained(
        task, out_dir, name=name, metrics=metrics, data=data, limitations=limitations
    ), metrics
