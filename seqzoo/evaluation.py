"""Re-measure a model on its test split, rebuilding the test data from the recipe it carries."""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import torch
import yaml

from seqzoo.data.base import SeqzooDataModule
from seqzoo.errors import ArtifactError, InputError
from seqzoo.inference import input_placement, persistence

if TYPE_CHECKING:
    import lightning.pytorch as pl

    from seqzoo.ensembles import Ensemble
    from seqzoo.tasks.base import SeqzooTask


def datamodule_from_recipe(recipe: str, data_dir: str | None = None) -> SeqzooDataModule:
    """Instantiate the recipe's DataModule; only seqzoo's own classes are imported (artifacts are data)."""
    data = (yaml.safe_load(recipe) or {}).get("data") or {}
    class_path = data.get("class_path", "")
    if not class_path.startswith("seqzoo.data."):
        raise ArtifactError(f"recipe data.class_path must name a seqzoo DataModule, found {class_path!r}")
    module_name, _, class_name = class_path.rpartition(".")
    cls = getattr(importlib.import_module(module_name), class_name, None)
    if not (inspect.isclass(cls) and issubclass(cls, SeqzooDataModule)):
        raise ArtifactError(f"recipe data.class_path {class_path!r} is not a seqzoo DataModule")
    init_args = dict(data.get("init_args") or {})
    if data_dir is not None:
        accepted = [p for p in ("data_dir", "path") if p in inspect.signature(cls).parameters]
        if not accepted:
            raise InputError(f"{class_name} generates its data; --data does not apply to it")
        init_args[accepted[0]] = data_dir
    return cls(**init_args)


SPLITS = {"test": "test", "val": "validate"}


@contextmanager
def full_float32_precision() -> Iterator[None]:
    """Float32 products without TF32 while measuring, restored after: cards are measured in full float32,
    and on a GPU cuDNN's recurrent and convolution kernels default to TF32 (10-bit products), which moved
    seq2seq.addition's exact match from 0.1214 to 0.1204 on an H100. Nothing changes on a CPU."""
    cudnn, matmul = torch.backends.cudnn, torch.get_float32_matmul_precision()
    per_operator = hasattr(cudnn, "rnn")  # torch >= 2.9; its settings must not be mixed with `allow_tf32`
    saved = (cudnn.rnn.fp32_precision, cudnn.conv.fp32_precision) if per_operator else cudnn.allow_tf32
    if per_operator:
        cudnn.rnn.fp32_precision = cudnn.conv.fp32_precision = "ieee"
    else:
        cudnn.allow_tf32 = False
    torch.set_float32_matmul_precision("highest")
    try:
        yield
    finally:
        torch.set_float32_matmul_precision(matmul)
        if per_operator:
            cudnn.rnn.fp32_precision, cudnn.conv.fp32_precision = saved
        else:
            cudnn.allow_tf32 = saved


# Lightning's precision for a model moved to another float dtype: it casts the batches to match.
PRECISIONS = {torch.float64: "64-true", torch.float16: "16-true", torch.bfloat16: "bf16-true"}


def evaluate(
    model, data_dir: str | None = None, accelerator: str = "cpu", split: str = "test"
) -> tuple[dict[str, float], dict[str, Any]]:
    """Metrics of `model` on the split (`test` or `val`) its recipe names, and a description of the data.

    An `Ensemble` is measured on the test split with `evaluate_ensemble`.
    """
    if split not in SPLITS:
        raise InputError(f"split must be one of {sorted(SPLITS)}, found {split!r}")
    from seqzoo.ensembles import Ensemble

    if isinstance(model, Ensemble):
        if split != "test":
            raise InputError("ensembles are measured on the test split only (their members chose on val)")
        return evaluate_ensemble(model, data_dir, accelerator)
    if not model.recipe:
        raise ArtifactError("the model carries no recipe.yaml, so its test data cannot be rebuilt")
    datamodule = datamodule_from_recipe(model.recipe, data_dir)
    datamodule.preprocessing = model.preprocessing
    _, dtype = input_placement(model)
    trainer = measuring_trainer(accelerator, PRECISIONS.get(dtype, "32-true"))  # casts batches to match
    run = getattr(trainer, SPLITS[split])
    with full_float32_precision():
        (results,) = run(model, datamodule=datamodule, verbose=False)
    wanted = [k for k in sorted(results) if k.startswith(f"{split}_") and k != f"{split}_loss"]
    metrics = {k: float(results[k]) for k in wanted}
    return metrics, datamodule.describe()


def measuring_trainer(accelerator: str, precision: str = "32-true") -> pl.Trainer:
    """A quiet Trainer on one device; an accelerator that does not exist here is an `InputError`."""
    import lightning.pytorch as pl
    from lightning.fabric.utilities.exceptions import MisconfigurationException

    try:
        return pl.Trainer(
            accelerator=accelerator,
            devices=1,
            precision=precision,
            logger=False,
            enable_checkpointing=False,
            enable_progress_bar=False,
            enable_model_summary=False,
        )
    except (MisconfigurationException, ValueError, ImportError) as err:  # no such device, name or backend
        raise InputError(f"cannot evaluate on accelerator {accelerator!r}: {err}") from err


def _test_outputs(
    member: SeqzooTask, data_dir: str | None, device: torch.device
) -> tuple[Any, dict[str, torch.Tensor]]:
    """One member over its recipe's test split in file order, read through its own preprocessing and run
    on `device` in the member's float dtype: forecasts, truth and the naive forecast in the data's
    units, or class probabilities and labels. The member goes back where it was afterwards."""
    if not member.recipe:
        raise ArtifactError("an ensemble member carries no recipe.yaml, so its test data cannot be rebuilt")
    datamodule = datamodule_from_recipe(member.recipe, data_dir)
    datamodule.preprocessing = member.preprocessing
    datamodule.setup("test")
    pre, parts = member.preprocessor, {"output": [], "truth": [], "naive": []}
    home, dtype = input_placement(member)
    member.eval().to(device)
    try:
        with torch.inference_mode(), full_float32_precision():
            for i, batch in enumerate(datamodule.predict_dataloader()):
                placed = [_placed(t, device, dtype) for t in batch]
                parts["output"].append(member.predict_step(placed, i).double().cpu())
                if member.task_name == "forecasting":
                    x, y = batch
                    parts["truth"].append(pre.denormalize(y.double()))
                    naive = persistence(x, pre.target_index, y.ndim == 2)
                    parts["naive"].append(pre.denormalize(naive.double()))
                else:
                    parts["truth"].append(batch[-1])
    finally:
        member.to(home)
    return datamodule, {k: torch.cat(v) for k, v in parts.items() if v}


def _placed(batch_part: torch.Tensor, device: torch.device, dtype: torch.dtype | None) -> torch.Tensor:
    """On the member's device; floating tensors also in its float dtype (token ids stay integers)."""
    if dtype is not None and batch_part.is_floating_point():
        return batch_part.to(device, dtype)
    return batch_part.to(device)


def _scores(task: str, output: torch.Tensor, truth: torch.Tensor, num_classes: int) -> dict[str, float]:
    if task == "forecasting":
        error = output - truth
        return {"test_mae": error.abs().mean().item(), "test_mse": error.square().mean().item()}
    from seqzoo.tasks.classification import class_metrics

    metrics = class_metrics(num_classes).clone(prefix="test_")
    metrics.update(output.float(), truth.long())
    return {k: float(v) for k, v in metrics.compute().items()}


def evaluate_ensemble(
    ensemble: Ensemble, data_dir: str | None = None, accelerator: str = "cpu"
) -> tuple[dict[str, float], dict[str, Any]]:
    """The ensemble's test metrics, each member's on the same examples (`NAME:test_mae`, ...), and the
    naive forecast's for forecasters.

    Each member reads the test split through its own preprocessing, rebuilt from its own recipe; the
    members share the task protocol, so they see the same examples in the same order, which is checked:
    their targets must agree. Outputs combine as `Ensemble.predict` combines them (the mean).
    """
    device = measuring_trainer(accelerator).strategy.root_device  # checked as `evaluate` checks it
    first = ensemble.members[0]
    datamodule, reference = _test_outputs(first, data_dir, device)
    outputs = [reference["output"]]
    for member, name in zip(ensemble.members[1:], ensemble.names[1:], strict=True):
        _, seen = _test_outputs(member, data_dir, device)
        truth = seen["truth"]
        if truth.shape != reference["truth"].shape or not torch.allclose(
            truth.double(), reference["truth"].double(), atol=1e-3
        ):
            raise InputError(
                f"member {name!r} reads other test examples than {ensemble.names[0]!r} (targets differ); "
                "ensemble members must be trained on the same data"
            )
        outputs.append(seen["output"])
    classes = first.hparams.get("num_classes", 2)
    truth = reference["truth"]
    metrics = _scores(first.task_name, torch.stack(outputs).mean(0), truth, classes)
    if "naive" in reference:
        naive = _scores("forecasting", reference["naive"], truth, classes)
        metrics.update({k.replace("test_", "test_naive_"): v for k, v in naive.items()})
    for name, output in zip(ensemble.names, outputs, strict=True):
        metrics.update(
            {f"{name}:{k}": v for k, v in _scores(first.task_name, output, truth, classes).items()}
        )
    return metrics, datamodule.describe()
