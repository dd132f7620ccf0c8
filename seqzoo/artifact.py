"""The pretrained artifact folder: config.json + model.safetensors + recipe.yaml + README.md
(+ tokenizer.json for text models).

No pickle anywhere: configs are JSON, weights are safetensors loaded with strict key, shape and dtype
checks. A text model's preprocessing holds its tokenizer's JSON in memory (and in Lightning
checkpoints); an artifact writes that JSON to tokenizer.json and config.json names the file, so
config.json stays small and tokenizer.json is the Hugging Face `tokenizers` file itself.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

import seqzoo
from seqzoo.card import render_card
from seqzoo.errors import ArtifactError, InputError, SeqzooError
from seqzoo.fsutil import atomic_folder, check_replaceable, destination_folder
from seqzoo.hub import ARTIFACT_FILES
from seqzoo.inference import check_task_arguments, vocabulary_mismatch

if TYPE_CHECKING:
    from seqzoo.serving import Predictor

FORMAT_VERSION = 1
SUPPORTED_FORMAT_VERSIONS = (1,)
CONFIG, WEIGHTS, RECIPE, CARD = "config.json", "model.safetensors", "recipe.yaml", "README.md"
TOKENIZER = "tokenizer.json"
# Weights are stored as float32, the dtype models compute in, unless a save opts into float16 (half the
# bytes); the safetensors metadata says so, and only then does loading upcast float16 to float32.
WEIGHTS_DTYPES = {"float32": torch.float32, "float16": torch.float16}
WEIGHTS_DTYPE_KEY = "seqzoo_weights_dtype"
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


def git_sha(where: Path = Path(__file__).parent) -> str | None:
    """The commit of the working tree holding `where` (seqzoo's own by default), with `-dirty` appended
    when tracked files differ from it or untracked ones exist: then the commit alone does not reproduce
    the training. None outside a git checkout (provenance only)."""

    def git(*args: str) -> str | None:
        try:
            out = subprocess.run(["git", *args], capture_output=True, text=True, timeout=5, cwd=where)
        except (OSError, subprocess.SubprocessError):
            return None
        return out.stdout.strip() if out.returncode == 0 else None

    sha, changes = git("rev-parse", "HEAD"), git("status", "--porcelain")
    if not sha:
        return None
    return f"{sha}-dirty" if changes is None or changes else sha


def build_config(
    task,
    name: str | None = None,
    metrics: dict[str, float] | None = None,
    data: dict[str, Any] | None = None,
    limitations: str | None = None,
    training: dict[str, Any] | None = None,
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
            "training": training or {},
            **({"pretrained": task.pretrained_from} if task.pretrained_from else {}),
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
    training: dict[str, Any] | None = None,
    weights_dtype: str = "float32",
) -> Path:
    """Write `task` as an artifact folder, atomically: readers see the old folder or the new one.

    `weights_dtype="float16"` stores float32 weights as float16 (half the size; `load` upcasts them),
    so the loaded model predicts with the weights rounded to float16 (see `round_to_storage`).
    """
    dest = destination_folder(directory, "artifact")
    keep = check_replaceable(dest, ARTIFACT_FILES, "artifact")
    given = {k: v.detach().cpu().contiguous() for k, v in task.state_dict().items()}
    bad = [k for k, v in given.items() if v.is_floating_point() and not torch.isfinite(v).all()]
    if bad:
        raise ArtifactError(f"refusing to save non-finite weights in {bad[:5]}")
    state = {k: _as_float32(v) for k, v in given.items()}
    overflow = [k for k, v in state.items() if v.is_floating_point() and not torch.isfinite(v).all()]
    if overflow:  # float64 weights beyond float32's range
        raise ArtifactError(f"refusing to save: {overflow[:5]} exceed float32's range, the format's dtype")
    mismatch = vocabulary_mismatch(task.net, task.preprocessing)
    if mismatch:  # `load` would refuse the folder: refuse to write it
        raise ArtifactError(
            f"refusing to save: the tokenizer has {mismatch[0]} tokens but the embedding has {mismatch[1]} "
            "rows; build the model with arch_kwargs.vocab_size equal to the tokenizer's vocab_size"
        )
    stored, metadata = _stored_weights(state, weights_dtype)
    card = {"name": name, "metrics": metrics, "data": data, "limitations": limitations, "training": training}
    loaded = _unchanged_since_load(task)
    config = build_config(task, **(card if loaded is None else _kept_card(loaded, card)))
    if loaded is not None:  # the same model: it keeps where it came from, and what the caller gives
        given = {k: config["provenance"][k] for k in ("data", "training") if card[k] is not None}
        config["provenance"] = {**loaded["provenance"], **given}
    tokenizer = _take_tokenizer(config)
    with atomic_folder(dest, keep) as tmp:
        (tmp / CONFIG).write_text(json.dumps(config, indent=2) + "\n")
        if tokenizer is not None:
            (tmp / TOKENIZER).write_text(tokenizer, encoding="utf-8")
        save_file(stored, str(tmp / WEIGHTS), metadata=metadata)
        if task.recipe:
            (tmp / RECIPE).write_text(task.recipe)
        (tmp / CARD).write_text(render_card(config))
    return dest


def model_digest(task) -> str:
    """A fingerprint of what a model computes: its weights (as stored, float32), task, architecture and
    preprocessing. `load` records it, so a later save can tell whether the model is still the one loaded."""
    digest = hashlib.sha256()
    described = [task.task_name, task.init_kwargs(task.hparams), task.preprocessing]
    digest.update(json.dumps(described, sort_keys=True, default=str).encode())
    for key, tensor in sorted(task.state_dict().items()):
        digest.update(f"{key}{tuple(tensor.shape)}".encode())
        digest.update(_as_float32(tensor.detach()).cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def _unchanged_since_load(task) -> dict[str, Any] | None:
    """The config.json `task` was loaded from, if it still computes what it did then; else None."""
    loaded = getattr(task, "artifact_config", None)
    if loaded is None or getattr(task, "artifact_digest", None) != model_digest(task):
        return None
    return loaded


def _kept_card(loaded: dict[str, Any], given: dict[str, Any]) -> dict[str, Any]:
    """A loaded model saved again unchanged keeps its card (name, metrics, data, limitations, training);
    what the caller gives replaces it. A model trained further gets a new card, saying only what is known."""
    provenance = loaded["provenance"]
    kept = {
        "name": loaded.get("name"),
        "metrics": loaded.get("metrics"),
        "data": provenance.get("data"),
        "limitations": loaded.get("limitations"),
        "training": provenance.get("training"),
    }
    return {key: kept[key] if value is None else value for key, value in given.items()}


def _as_float32(tensor: torch.Tensor) -> torch.Tensor:
    """A model moved to float64 or half precision is stored as the format's float32, which `load`
    expects (a float64 weight is rounded to float32, a half one is exact)."""
    return tensor.float() if tensor.is_floating_point() else tensor


def _stored_weights(
    state: dict[str, torch.Tensor], weights_dtype: str
) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """The tensors as written to model.safetensors, and its metadata saying how they are stored."""
    dtype = _storage_dtype(weights_dtype)
    metadata = {"format": "pt", "seqzoo_format_version": str(FORMAT_VERSION)}
    if dtype == torch.float32:
        return state, metadata
    stored = {k: v.to(dtype) if v.dtype == torch.float32 else v for k, v in state.items()}
    overflow = [k for k, v in stored.items() if v.is_floating_point() and not torch.isfinite(v).all()]
    if overflow:
        raise ArtifactError(f"refusing to store weights as {weights_dtype}: {overflow[:5]} exceed its range")
    return stored, {**metadata, WEIGHTS_DTYPE_KEY: weights_dtype}


def round_to_storage(task, weights_dtype: str) -> None:
    """Round `task`'s float32 weights through `weights_dtype` in place: exactly what `load` will give
    back from an artifact saved with it, so metrics measured afterwards are the artifact's."""
    dtype = _storage_dtype(weights_dtype)
    with torch.no_grad():
        for tensor in task.state_dict().values():  # detached views of the parameters and buffers
            if tensor.dtype == torch.float32:
                tensor.copy_(tensor.to(dtype))


def _storage_dtype(weights_dtype: str) -> torch.dtype:
    if weights_dtype not in WEIGHTS_DTYPES:
        raise ArtifactError(f"weights_dtype must be one of {sorted(WEIGHTS_DTYPES)}, got {weights_dtype!r}")
    return WEIGHTS_DTYPES[weights_dtype]


def _take_tokenizer(config: dict[str, Any]) -> str | None:
    """Move a text model's tokenizer JSON out of config.json's preprocessing: it becomes tokenizer.json."""
    preprocessing = config["preprocessing"]
    if not isinstance(preprocessing, dict) or "tokenizer" not in preprocessing:
        return None
    config["preprocessing"] = {**preprocessing, "tokenizer": TOKENIZER}
    return preprocessing["tokenizer"]


def _with_tokenizer(folder: Path, preprocessing: dict[str, Any]) -> dict[str, Any]:
    """config.json's preprocessing with tokenizer.json's text in place of the file name it gives."""
    from seqzoo.preprocessing import preprocessor_from_config

    if "tokenizer" not in preprocessing:
        return preprocessing
    named, path = preprocessing["tokenizer"], folder / TOKENIZER
    if named != TOKENIZER:
        found = repr(named) if len(repr(named)) < 60 else f"{repr(named)[:60]}..."
        raise ArtifactError(
            f"{folder / CONFIG}: preprocessing.tokenizer must be {TOKENIZER!r}, found {found}"
        )
    if not path.is_file():
        raise ArtifactError(f"{path}: missing; config.json's preprocessing needs this tokenizer")
    try:
        joined = {**preprocessing, "tokenizer": path.read_text(encoding="utf-8")}
        preprocessor_from_config(joined)
    except UnicodeDecodeError as err:
        raise ArtifactError(f"{path}: not UTF-8 text ({err})") from err
    except ArtifactError as err:
        raise ArtifactError(f"{path}: corrupt or not a seqzoo tokenizer ({err})") from err
    return joined


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


def _read_weights(path: Path, expected: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The tensors of model.safetensors; float16-stored ones upcast to the float32 `expected` holds."""
    if not path.is_file():
        raise ArtifactError(f"{path}: missing; a seqzoo artifact folder must hold {WEIGHTS}")
    try:
        with safe_open(str(path), framework="pt") as file:
            weights, metadata = file.get_tensors(), file.metadata() or {}
    except (SafetensorError, OSError, ValueError) as err:
        raise ArtifactError(f"{path}: corrupt or truncated safetensors file ({err})") from err
    stored = metadata.get(WEIGHTS_DTYPE_KEY, "float32")
    if stored not in WEIGHTS_DTYPES:
        raise ArtifactError(
            f"{path}: metadata {WEIGHTS_DTYPE_KEY}={stored!r}; expected one of {sorted(WEIGHTS_DTYPES)}"
        )
    if stored == "float32":
        return weights
    storage = WEIGHTS_DTYPES[stored]
    return {
        k: v.float() if v.dtype == storage and k in expected and expected[k].dtype == torch.float32 else v
        for k, v in weights.items()
    }


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


def _load_weights(folder: Path, module: torch.nn.Module, preprocessing: dict[str, Any]) -> None:
    """Fill `module` (the network under `net`) from model.safetensors, checking it against the config.

    The module is made float32 first, the dtype the format stores: under
    `torch.set_default_dtype(torch.float64)` it was built in float64, and the weights would not fit."""
    module.float()
    mismatch = vocabulary_mismatch(module.net, preprocessing)
    if mismatch:
        raise ArtifactError(
            f"{folder / TOKENIZER}: its vocabulary has {mismatch[0]} tokens but the model's embedding "
            f"(config.json architecture.kwargs.vocab_size) has {mismatch[1]} rows"
        )
    weights_path = folder / WEIGHTS
    weights = _read_weights(weights_path, module.state_dict())
    _check_weights(weights_path, module.state_dict(), weights)
    module.load_state_dict(weights, strict=True)


def load_predictor(directory: str | Path, runtime: str = "torch") -> Predictor:
    """Build a Lightning-free `Predictor` from an artifact folder, with the checks `load_artifact` makes.

    `runtime="onnxruntime"` answers with the folder's model.onnx (see `seqzoo.onnx_serving`) instead of
    the PyTorch network; the preprocessing and the steps around the network are the same.
    """
    from seqzoo.registry import create_model
    from seqzoo.serving import RUNTIMES, Predictor

    if runtime not in RUNTIMES:
        raise SeqzooError(f"runtime must be one of {list(RUNTIMES)}, got {runtime!r}")
    folder = Path(directory)
    config = read_config(folder)
    preprocessing = _with_tokenizer(folder, config["preprocessing"])
    onnx_net = None
    if runtime == "onnxruntime":  # imported only here: serving with PyTorch starts without it
        from seqzoo.onnx_serving import load_onnx_network

        kind = config["task"].get("name")
        if kind != "forecasting":  # before the hint to export one, which only forecasters can
            raise InputError(
                f"runtime='onnxruntime' serves forecasting models only; {folder} is a {kind} model: "
                "use runtime='torch'"
            )

        onnx_net = load_onnx_network(folder)
    try:
        net = create_model(config["architecture"]["name"], **config["architecture"]["kwargs"])
        task, task_kwargs = config["task"]["name"], config["task"]["kwargs"]
        predictor = Predictor(task, net if onnx_net is None else onnx_net, preprocessing, task_kwargs, config)
    except (SeqzooError, TypeError, KeyError) as err:
        raise ArtifactError(f"{folder / CONFIG}: cannot build the model it describes ({err})") from err
    if onnx_net is None:
        _load_weights(folder, predictor, preprocessing)
    return predictor


def load_artifact(directory: str | Path):
    """Build the task module from an artifact folder, in eval mode, ready for `predict`."""
    from seqzoo.tasks import task_class

    folder = Path(directory)
    config = read_config(folder)
    preprocessing = _with_tokenizer(folder, config["preprocessing"])
    try:
        cls = task_class(config["task"]["name"])
        check_task_arguments(config["task"]["name"], config["task"]["kwargs"])
        task = cls(
            arch=config["architecture"]["name"],
            arch_kwargs=config["architecture"]["kwargs"],
            preprocessing=preprocessing,
            **config["task"]["kwargs"],
        )
        task.preprocessor  # noqa: B018 - validates the preprocessing config now, not at first predict
    except (SeqzooError, TypeError, KeyError) as err:
        raise ArtifactError(f"{folder / CONFIG}: cannot build the model it describes ({err})") from err
    _load_weights(folder, task, preprocessing)
    recipe = folder / RECIPE
    task.recipe = recipe.read_text() if recipe.is_file() else None
    task.recipe_meta = {
        "path": config["provenance"].get("recipe_path"),
        "seed": config["provenance"].get("seed"),
    }
    task.pretrained_from = config["provenance"].get("pretrained")
    task.artifact_config = config
    task.artifact_digest = model_digest(task)  # a save of the unchanged model keeps this card
    return task.eval()
