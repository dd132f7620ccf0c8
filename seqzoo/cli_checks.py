"""What the `seqzoo` training commands check before anything is trained or written: the recipe files, a
--ckpt_path and whether it fits the recipe's model, a `last` with nothing to resume, settings Lightning
accepts and fails on later, and the run folder a failed command leaves behind."""

from __future__ import annotations

import importlib
import shutil
from pathlib import Path
from typing import Any

RUN_CONFIG_FILES = {"config.yaml", "hparams.yaml"}  # what a run folder holds before anything is logged
TASK_METRIC_PREFIXES = ("train_", "val_", "test_")  # names a task logs itself; callbacks may log others


def read_recipe(path: str | Path, label: str = "--config") -> dict[str, Any]:
    """A recipe file as a dict; a missing file, or one that is no YAML mapping, is a one-line `SeqzooError`
    naming it (jsonargparse's own message names neither the file nor, for bytes, what is wrong)."""
    import yaml

    from seqzoo.errors import SeqzooError

    if not Path(path).is_file():
        raise SeqzooError(f"{label} {path}: recipe file not found")
    try:
        config = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (UnicodeDecodeError, yaml.YAMLError) as err:
        reason = " ".join(str(err).split())
        raise SeqzooError(f"{label} {path}: not a YAML recipe ({reason})") from err
    if not isinstance(config, dict):
        raise SeqzooError(f"{label} {path}: not a recipe (a YAML mapping of trainer, model, data, ...)")
    return config


def config_files(args: list[str]) -> list[str]:
    """The existing files named by -c/--config on a LightningCLI command line (jsonargparse reads a value
    that is no file as the configuration itself, and says so where it is neither)."""
    values = []
    for i, arg in enumerate(args):
        name, eq, value = arg.partition("=")
        if name in ("-c", "--config"):
            values.append(value if eq else args[i + 1] if i + 1 < len(args) else "")
    return [value for value in values if Path(value).is_file()]


def check_ckpt_path(ckpt_path: str | None) -> dict[str, Any] | None:
    """Refuse a --ckpt_path that is missing or no seqzoo checkpoint before anything is built or written;
    Lightning would find out only once training or evaluation starts, with a traceback.

    Lightning's special values ("last", "hpc", "registry[:name]") and remote URLs are left to Lightning
    ("last" to `_check_last_checkpoint`), unless a local file of that name exists (which Lightning then
    reads too). "best" means the best checkpoint of a fit earlier in the same process: never so for a
    command. Returns the checkpoint read, for `check_ckpt_fits`.
    """
    from seqzoo.checkpoint import read_checkpoint
    from seqzoo.errors import SeqzooError

    if not ckpt_path:
        return None
    path = str(ckpt_path)
    special = path in ("best", "last", "hpc") or path.lower().split(":", 1)[0] == "registry" or "://" in path
    if Path(path).is_file() or not special:
        return read_checkpoint(path, f"--ckpt_path {path}")
    if path == "best":
        raise SeqzooError(
            "--ckpt_path best: names the best checkpoint of a fit earlier in the same process, and each "
            "seqzoo command is a process of its own; give the file (e.g. runs/NAME/VERSION/checkpoints/"
            "best.ckpt)"
        )
    return None


def recipe_model(config: Any) -> tuple[str, str | None] | None:
    """(task name, architecture) of the configuration's model, before it is built; the architecture is
    None where a fine-tune takes it from its `pretrained` checkpoint. None for a model of no seqzoo task."""
    from seqzoo.tasks import SeqzooTask

    model = config.get("model")
    module, _, name = (getattr(model, "class_path", None) or "").rpartition(".")
    try:
        cls = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError, ValueError):
        return None
    if not (isinstance(cls, type) and issubclass(cls, SeqzooTask)):
        return None
    init_args = getattr(model, "init_args", None) or {}
    default = None if init_args.get("pretrained") else cls.default_arch
    return cls.task_name, init_args.get("arch") or default


def check_ckpt_fits(ckpt: dict[str, Any], label: str, model: tuple[str, str | None] | None) -> None:
    """Refuse a checkpoint of another task or architecture than the recipe's model: LightningCLI would
    build the checkpoint's model and run it on the recipe's data, which fails deep inside (token indices
    of the wrong dtype, shapes that differ) or measures a model the recipe does not describe."""
    from seqzoo.errors import SeqzooError

    if model is None:
        return
    task, arch = model
    ckpt_task, ckpt_arch = ckpt["seqzoo"]["task"], ckpt["hyper_parameters"].get("arch")
    if ckpt_task == task and (arch is None or ckpt_arch is None or arch == ckpt_arch):
        return
    trained_with = (ckpt["seqzoo"].get("recipe_meta") or {}).get("path")
    raise SeqzooError(
        f"{label}: a checkpoint of a {ckpt_task} model ({ckpt_arch!r} network), but the recipe's model is "
        f"a {task} model ({arch!r} network); give the recipe that trained it"
        + (f" (--config {trained_with})" if trained_with else "")
    )


def check_before_running(trainer: Any, model: Any, subcommand: str, ckpt_path: str | None) -> None:
    """Checks that need the built Trainer and model; they run before Lightning writes or trains anything."""
    if ckpt_path == "last" and not Path("last").is_file():
        _check_last_checkpoint(trainer)
    if subcommand == "fit":
        _check_accumulation(trainer, model)
        _check_monitors(trainer, model)


def _check_last_checkpoint(trainer: Any) -> None:
    """`--ckpt_path last` with nothing to resume: Lightning warns and trains a fresh model, in a new
    folder when the run has no named version (the only place it looks is this run's own folder)."""
    from lightning.pytorch.callbacks import ModelCheckpoint, OnExceptionCheckpoint

    from seqzoo.errors import SeqzooError

    savers = [cb for cb in trainer.checkpoint_callbacks if isinstance(cb, ModelCheckpoint)]
    found = set().union(*(cb._find_last_checkpoints(trainer) for cb in savers))
    found |= {cb.ckpt_path for cb in trainer.callbacks if isinstance(cb, OnExceptionCheckpoint)}
    if any(Path(path).is_file() for path in found):
        return
    # Lightning's own rule: the callback's dirpath, else checkpoints/ in the logger's folder of this run
    folders = sorted({str(cb._ModelCheckpoint__resolve_ckpt_dir(trainer)) for cb in savers})
    where = f"no last checkpoint in {', '.join(folders)}" if folders else "no ModelCheckpoint callback"
    raise SeqzooError(
        f"--ckpt_path last: {where}. A run without a named version gets a new folder each time; to resume "
        "one, name it when starting it and again when resuming: --trainer.logger.init_args.version NAME"
    )


def _check_accumulation(trainer: Any, model: Any) -> None:
    """Lightning accepts any integer and fails in the first step on 0 (ZeroDivisionError), trains as if
    it were 1 on a negative one, and refuses accumulation for a model that steps its optimizer itself
    (TBPTT) only once fitting starts."""
    from seqzoo.errors import SeqzooError

    n = trainer.accumulate_grad_batches
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise SeqzooError(
            f"trainer.accumulate_grad_batches must be an integer >= 1 (batches per optimizer step), got {n!r}"
        )
    if n > 1 and not model.automatic_optimization:
        raise SeqzooError(
            f"trainer.accumulate_grad_batches={n}: this model steps its optimizer itself (once per chunk "
            "with model.init_args.tbptt_steps), which Lightning cannot combine with gradient accumulation; "
            "leave it at 1 (a larger data.init_args.batch_size averages over more windows instead)"
        )


def _check_monitors(trainer: Any, model: Any) -> None:
    """An EarlyStopping or ModelCheckpoint watching a metric the task never logs fails only after the first
    epoch, with a traceback. Names outside the task's own (train_/val_/test_) are left: callbacks log them."""
    from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint

    from seqzoo.errors import SeqzooError

    logged = _fit_metrics(model)
    watchers = [cb for cb in trainer.callbacks if isinstance(cb, EarlyStopping | ModelCheckpoint)]
    for callback in watchers:
        monitor = callback.monitor
        if logged and monitor and monitor.startswith(TASK_METRIC_PREFIXES) and monitor not in logged:
            raise SeqzooError(
                f"{type(callback).__name__} monitors {monitor!r}, which a {model.task_name} model does not "
                f"log while fitting; it logs {', '.join(logged)}"
            )


def _fit_metrics(model: Any) -> list[str]:
    """What a seqzoo task logs while fitting: train_loss, val_loss and the validation metrics it keeps in
    `model.metrics` (torchmetrics, logged under their keys). Empty for a model that keeps none there."""
    from torchmetrics import MetricCollection

    metrics = getattr(model, "metrics", None)
    if not metrics:
        return []
    names = {"train_loss", "val_loss"}
    for key, metric in metrics.items():
        names |= set(metric.keys(keep_base=False)) if isinstance(metric, MetricCollection) else {key}
    return sorted(name for name in names if name.startswith(("train_", "val_")))


def new_run_folder(trainer: Any) -> Path | None:
    """The logger's folder for this run when this command is the one to create it (on the main process)."""
    log_dir = getattr(trainer.logger, "log_dir", None) if trainer.is_global_zero else None
    return None if log_dir is None or Path(log_dir).exists() else Path(log_dir)


def remove_unused_run_folder(folder: Path | None) -> None:
    """A command that failed before logging anything leaves its run folder holding only its configuration
    (config.yaml, hparams.yaml): remove it, so `runs/` lists runs, not failed attempts."""
    if folder is None or not folder.is_dir():
        return
    files = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if not p.is_dir()}
    if files <= RUN_CONFIG_FILES:
        shutil.rmtree(folder, ignore_errors=True)
