"""Lightning checkpoints are training state; `export` turns one into a pickle-free artifact folder."""

from __future__ import annotations

import pickle
import pickletools
from pathlib import Path
from typing import Any

import torch

from seqzoo.errors import ArtifactError, SeqzooError

PICKLE_OPCODES = {ord(op.code) for op in pickletools.opcodes}


def read_checkpoint(path: str | Path, label: str | None = None) -> dict[str, Any]:
    """The dict a `seqzoo fit` checkpoint holds, read with `weights_only=True` (no code runs).

    Anything else is an `ArtifactError` naming the file (as `label`, if given) and what was expected:
    on bytes that are no checkpoint, torch's unpickler fails in many ways (KeyError, IndexError, EOFError,
    RuntimeError, ...), none of which says so.
    """
    label = label or str(path)
    if not Path(path).is_file():
        raise ArtifactError(f"{label}: checkpoint file not found")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        if _not_a_pickle(err):
            raise _unreadable(label, err) from err
        raise refused_pickle(label, err) from err
    except Exception as err:  # whatever torch raised, the file is no checkpoint it can read
        raise _unreadable(label, err) from err
    if not isinstance(ckpt, dict):
        kind = type(ckpt).__name__
        raise ArtifactError(f"{label}: not a seqzoo training checkpoint (a {kind}, not a dict)")
    sections = [ckpt.get(key) for key in ("seqzoo", "hyper_parameters", "state_dict")]
    if not all(isinstance(section, dict) for section in sections) or "task" not in sections[0]:
        raise ArtifactError(
            f"{label}: not a seqzoo training checkpoint (expected the 'seqzoo' section with its 'task', "
            "'hyper_parameters' and 'state_dict' that `seqzoo fit` writes)"
        )
    return ckpt


def load_checkpoint(path: str | Path):
    """Rebuild the task module from a `.ckpt`, reading it with `weights_only=True` (no code runs)."""
    from seqzoo.tasks import task_class

    ckpt = read_checkpoint(path)
    try:
        cls = task_class(ckpt["seqzoo"]["task"])
        task = cls(**cls.init_kwargs(ckpt["hyper_parameters"]))
        task.load_state_dict(ckpt["state_dict"], strict=True)
        task.on_load_checkpoint(ckpt)
        if task.preprocessing is not None:
            task.preprocessor  # noqa: B018 - a corrupt preprocessing fails here, not at the first predict
    except (SeqzooError, RuntimeError, TypeError, KeyError, AttributeError, ValueError) as err:
        reason = f"{type(err).__name__}: {err}"
        raise ArtifactError(f"{path}: checkpoint does not rebuild its model ({reason})") from err
    return task.eval()


def _not_a_pickle(err: pickle.UnpicklingError) -> bool:
    """Whether torch's unpickler stopped at a byte that is no pickle opcode (junk), rather than at a
    pickle's request for more than tensors and plain containers (a class, a function, a protocol-5 frame)."""
    operand = _unpickler_reason(err).removeprefix("Unsupported operand ")
    return operand.isdigit() and int(operand) not in PICKLE_OPCODES


def _unreadable(label: str, err: Exception) -> ArtifactError:
    """The error for a file torch cannot read as a checkpoint, with torch's reason in one line."""
    if isinstance(err, pickle.UnpicklingError):
        reason = _unpickler_reason(err)
    else:
        first = next((line.strip() for line in str(err).splitlines() if line.strip()), "")
        reason = f"{type(err).__name__}: {first.split('. ', 1)[0]}" if first else type(err).__name__
    return ArtifactError(
        f"{label}: not a readable Lightning checkpoint ({reason}); expected a .ckpt file that `seqzoo fit` "
        "writes"
    )


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
    after = text.partition("WeightsUnpickler error:")[2]  # on the same line, or on the next non-empty one
    reason = next((line.strip() for line in after.splitlines() if line.strip()), "")
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
    onnx: bool = False,
) -> tuple[Path, dict[str, float]]:
    """Checkpoint -> artifact folder, with test and validation metrics measured now (unless
    `evaluate_test=False`); `training` adds facts only the trainer knows (seconds, device).
    With `weights_dtype="float16"` the weights are rounded to float16 first, so the metrics are those
    of the artifact as `load` gives it back. `onnx=True` adds model.onnx (see `export_onnx`); a model
    it does not cover is refused before anything is measured or written."""
    from seqzoo.artifact import round_to_storage, save_pretrained
    from seqzoo.evaluation import evaluate
    from seqzoo.onnx_serving import check_onnx_export, export_onnx

    task = load_checkpoint(ckpt_path)
    if onnx:
        check_onnx_export(task.task_name)
    round_to_storage(task, weights_dtype)
    metrics, data = evaluate(task) if evaluate_test else ({}, {})
    training = dict(training or {})
    if evaluate_test:
        training["validation"] = evaluate(task, split="val")[0]
    path = save_pretrained(
        task,
        out_dir,
        name=name,
        metrics=metrics,
        data=data,
        limitations=limitations,
        training=training,
        weights_dtype=weights_dtype,
    )
    if onnx:
        export_onnx(path)
    return path, metrics
