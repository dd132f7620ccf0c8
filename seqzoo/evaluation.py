"""Re-measure a model on its test split, rebuilding the test data from the recipe it carries."""

from __future__ import annotations

import importlib
import inspect
from typing import Any

import yaml

from seqzoo.data.base import SeqzooDataModule
from seqzoo.errors import ArtifactError, InputError


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


def evaluate(
    model, data_dir: str | None = None, accelerator: str = "cpu", split: str = "test"
) -> tuple[dict[str, float], dict[str, Any]]:
    """Metrics of `model` on the split (`test` or `val`) its recipe names, and a description of the data."""
    if split not in SPLITS:
        raise InputError(f"split must be one of {sorted(SPLITS)}, found {split!r}")
    import lightning.pytorch as pl

    if not model.recipe:
        raise ArtifactError("the model carries no recipe.yaml, so its test data cannot be rebuilt")
    datamodule = datamodule_from_recipe(model.recipe, data_dir)
    datamodule.preprocessing = model.preprocessing
    trainer = pl.Trainer(
        accelerator=accelerator,
        devices=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    run = getattr(trainer, SPLITS[split])
    (results,) = run(model, datamodule=datamodule, verbose=False)
    wanted = [k for k in sorted(results) if k.startswith(f"{split}_") and k != f"{split}_loss"]
    metrics = {k: float(results[k]) for k in wanted}
    return metrics, datamodule.describe()
