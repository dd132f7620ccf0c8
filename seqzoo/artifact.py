"""The pretrained artifact folder: config.json + model.safetensors + recipe.yaml + README.md.

No pickle anywhere: configs are JSON, weights are safetensors loaded with strict key and shape checks.
"""

from __future__ import annotations

import json
import subprocess
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

import seqzoo
from seqzoo.card import render_card
from seqzoo.errors import ArtifactError, SeqzooError
from seqzoo.fsutil import atomic_folder

FORMAT_VERSION = 1
SUPPORTED_FORMAT_VERSIONS = (1,)
CONFIG, WEIGHTS, RECIPE, CARD = "config.json", "model.safetensors", "recipe.yaml", "README.md"
OBJECT_KEYS = ("task", "architecture", "preprocessing", "metrics", "provenance")
CONFIG_KEYS = {
    "format_version",
    "seqzoo_version",
    "name",
    "task",
    "architecture",
    "preprocessing",
    "num_parameters",
    "metrics",
    "provenance",
    "usage",
    "limitations",
}


def git_sha() -> str | None:
    """The commit of the working tree, when there is one (provenance only)."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5, cwd=Path(__file__).parent
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def build_config(
    task,
    name: str | None = None,
    metrics: dict[str, float] | None = None,
    data: dict[str, Any] | None = None,
    limitations: str | None = None,
) -> dict[str, Any]:
    """config.json's content for `task`: everything needed to rebuild it and to say where it came from."""
    hparams = task.init_kwargs(task.hparams)
    arch = {"name": hparams.pop("arch"), "kwargs": hparams.pop("arch_kwargs") or {}}
    recipe_meta = task.recipe_meta
    return {
        "format_version": FORMAT_VERSION,
        "seqzoo_version": seqzoo.__version__,
        "name": name,
        "task": {"name": task.task_name, "kwargs": hparams},
        "architecture": arch,
        "preprocessing": task.preprocessing,
        "num_parameters": task.num_parameters,
        "metrics": {k: float(v) for k, v in (metrics or {}).items()},
        "provenance": {
            "recipe_path": recipe_meta.get("path"),
            "seed": recipe_meta.get("seed"),
            "git_sha": git_sha(),
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "data": data or {},
        },
        "usage": getattr(task.preprocessor, "usage", None),
        "limitations": limitations,
    }


def save_pretrained(
    task,
    directory: str | Path,
    *,
    name: str | None = None,
    metrics: dict[str, float] | None = None,
    data: dict[str, Any] | None = None,
    limitations: str | None = None,
) -> Path:
    """Write `task` as an artifact folder, atomically: readers see the old folder or the new one."""
    dest = Path(directory)
    if dest.exists() and any(dest.iterdir()) and not (dest / CONFIG).exists():
        raise ArtifactError(f"{dest} is a non-empty folder without {CONFIG}; refusing to replace it")
    state = {k: v.detach().cpu().contiguous() for k, v in task.state_dict().items()}
    bad = [k for k, v in state.items() if v.is_floating_point() and not torch.isfinite(v).all()]
    if bad:
        raise ArtifactError(f"refusing to save non-finite weights in {bad[:5]}")
    config = build_config(task, name, metrics, data, limitations)
    with atomic_folder(dest) as tmp:
        (tmp / CONFIG).write_text(json.dumps(config, indent=2) + "\n")
        save_file(
            state, str(tmp / WEIGHTS), metadata={"format": "pt", "seqzoo_format_version": str(FORMAT_VERSION)}
        )
        if task.recipe:
            (tmp / RECIPE).write_text(task.recipe)
        (tmp / CARD).write_text(render_card(config))
    return dest


def read_config(folder: Path) -> dict[str, Any]:
    """Read and validate config.json; every problem names the file and what was expected."""
    path = folder / CONFIG
    if not folder.is_dir():
        raise ArtifactError(f"{folder}: not a folder; expected a seqzoo artifact folder holding {CONFIG}")
    if not path.is_file():
        raise ArtifactError(f"{path}: missing; a seqzoo artifact folder must hold {CONFIG} and {WEIGHTS}")
    try:
        config = json.loads(path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ArtifactError(f"{path}: not valid JSON ({err})") from err
    if not isinstance(config, dict):
        raise ArtifactError(f"{path}: expected a JSON object, found {type(config).__name__}")
    version = config.get("format_version")
    if version not in SUPPORTED_FORMAT_VERSIONS:
        raise ArtifactError(
            f"{path}: format_version {version!r} is not supported by seqzoo "
            f"{seqzoo.__version__} (supported: {SUPPORTED_FORMAT_VERSIONS}); upgrade seqzoo"
        )
    missing, extra = CONFIG_KEYS - set(config), set(config) - CONFIG_KEYS
    if missing or extra:
        raise ArtifactError(f"{path}: missing keys {sorted(missing)}, unexpected keys {sorted(extra)}")
    not_objects = [k for k in OBJECT_KEYS if not isinstance(config[k], dict)]
    if not_objects:
        raise ArtifactError(
            f"{path}: {not_objects} must be JSON objects, found "
            f"{[type(config[k]).__name__ for k in not_objects]}"
        )
    return config


def _read_weights(path: Path) -> dict[str, torch.Tensor]:
    if not path.is_file():
        raise ArtifactError(f"{path}: missing; a seqzoo artifact folder must hold {WEIGHTS}")
    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError) as err:
        raise ArtifactError(f"{path}: corrupt or truncated safetensors file ({err})") from err


def _check_weights(path: Path, expected: dict[str, torch.Tensor], found: dict[str, torch.Tensor]) -> None:
    missing, extra = expected.keys() - found.keys(), found.keys() - expected.keys()
    shapes = [
        f"{k}: expected {tuple(expected[k].shape)}, found {tuple(found[k].shape)}"
        for k in sorted(expected.keys() & found.keys())
        if expected[k].shape != found[k].shape
    ]
    if missing or extra or shapes:
        raise ArtifactError(
            f"{path}: weights do not match config.json's architecture; missing "
            f"{sorted(missing)[:5]}, unexpected {sorted(extra)[:5]}, mis-sized {shapes[:5]}"
        )
    dtypes = [
        f"{k}: expected {expected[k].dtype}, found {found[k].dtype}"
        for k in sorted(found)
        if found[k].dtype != expected[k].dtype
    ]  # load_state_dict would cast silently
    if dtypes:
        raise ArtifactError(f"{path}: weights of the wrong dtype: {dtypes[:5]}")
    non_finite = [
        k for k in sorted(found) if found[k].is_floating_point() and not torch.isfinite(found[k]).all()
    ]
    if non_finite:
        raise ArtifactError(f"{path}: non-finite (NaN or infinite) weights in {non_finite[:5]}")


def load_artifact(directory: str | Path):
    """Build the task module from an artifact folder, in eval mode, ready for `predict`."""
    from seqzoo.tasks import task_class

    folder = Path(directory)
    config = read_config(folder)
    try:
        cls = task_class(config["task"]["name"])
        task = cls(
            arch=config["architecture"]["name"],
            arch_kwargs=config["architecture"]["kwargs"],
            preprocessing=config["preprocessing"],
            **config["task"]["kwargs"],
        )
        task.preprocessor  # noqa: B018 - validates the preprocessing config now, not at first predict
    except (SeqzooError, TypeError, KeyError) as err:
        raise ArtifactError(f"{folder / CONFIG}: cannot build the model it describes ({err})") from err
    weights_path = folder / WEIGHTS
    weights = _read_weights(weights_path)
    _check_weights(weights_path, task.state_dict(), weights)
    task.load_state_dict(weights, strict=True)
    recipe = folder / RECIPE
    task.recipe = recipe.read_text() if recipe.is_file() else None
    task.recipe_meta = {
        "path": config["provenance"].get("recipe_path"),
        "seed": config["provenance"].get("seed"),
    }
    task.artifact_config = config
    return task.eval()
