"""seqzoo: a PyTorch Lightning model zoo of recurrent and convolutional sequence models.

import seqzoo
model = seqzoo.load("gru.synthetic")
model.predict(windows)            # (n, 10) raw values -> (n,) next values
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from seqzoo.errors import ArtifactError, DataError, InputError, InputWarning, SeqzooError, UnknownNameError

__version__ = "0.1.0"

if TYPE_CHECKING:
    from seqzoo.ensembles import Ensemble
    from seqzoo.serving import Predictor
    from seqzoo.tasks.base import SeqzooTask


def load(
    name_or_path: str | Path, revision: str | None = None, local_files_only: bool = False
) -> SeqzooTask | Ensemble:
    """Load a pretrained model: a bundled name (`"gru.synthetic"`), an artifact folder, or a Hub
    repo id (`"org/repo"`, optionally at a `revision`). Returns the task module in eval mode, or an
    `Ensemble` for a folder that `Ensemble.save_pretrained` wrote.

    Raises `UnknownNameError` (with the closest catalogue names) for a name that is none of these,
    and `ArtifactError` naming the file for a missing, corrupt or mismatched artifact.
    """
    from seqzoo.hub import load_folder, resolve

    return load_folder(resolve(name_or_path, revision=revision, local_files_only=local_files_only))


def predictor(
    name_or_path: str | Path,
    revision: str | None = None,
    local_files_only: bool = False,
    runtime: str = "torch",
) -> Predictor:
    """Load a pretrained model for serving: the network and its preprocessing without Lightning, so a
    fresh process starts about as fast as `import torch` (`load` gives the LightningModule, for training).

    Takes what `load` takes, except ensemble folders; `.predict` answers as `load(...).predict` does.
    `runtime="onnxruntime"` runs the artifact's model.onnx with ONNX Runtime instead of PyTorch (forecasting
    models; `pip install 'seqzoo[onnx]'`): a GRU window in a tenth of the time on CPU, same answers to
    float32 rounding. Artifacts without model.onnx get one from `export_onnx`.
    """
    from seqzoo.artifact import load_predictor
    from seqzoo.hub import is_ensemble, resolve

    folder = resolve(name_or_path, revision=revision, local_files_only=local_files_only)
    if is_ensemble(folder):
        raise InputError(f"{folder} is an ensemble; load it with seqzoo.load, which averages its members")
    return load_predictor(folder, runtime=runtime)


def export_onnx(folder: str | Path) -> Path:
    """Write `folder/model.onnx` (an artifact folder's forecasting network as ONNX, checked against PyTorch
    on random windows) for `predictor(folder, runtime="onnxruntime")`; returns its path."""
    from seqzoo.onnx_serving import export_onnx as _export_onnx

    return _export_onnx(folder)


def ensemble(models: list[str | Path | SeqzooTask]) -> Ensemble:
    """Average the predictions of compatible checkpoints (same task and input/output protocol):
    names, folders or Hub ids as `load` takes them, or loaded models. Classifiers soft-vote.

    `.predict(raw, **options)` returns the mean of the members' predictions; `.save_pretrained(dir)`
    writes a folder that `load(dir)` turns back into the ensemble. Incompatible members raise
    `InputError` naming what differs.
    """
    from seqzoo.ensembles import ensemble as _ensemble

    return _ensemble(models)


def list_models(pattern: str = "*") -> list[str]:
    """Registered architecture names matching a shell-style wildcard."""
    from seqzoo.registry import list_models as _list_models

    return _list_models(pattern)


def list_pretrained(pattern: str = "*") -> list[str]:
    """Published checkpoint names (`arch.dataset`, e.g. `gru.jena`) matching a shell-style wildcard."""
    from seqzoo.catalog import list_pretrained as _list_pretrained

    return _list_pretrained(pattern)


def create_model(name: str, **kwargs):
    """Build a registered architecture (a plain `torch.nn.Module`) by name."""
    from seqzoo.registry import create_model as _create_model

    return _create_model(name, **kwargs)


__all__ = [
    "ArtifactError",
    "DataError",
    "InputError",
    "InputWarning",
    "SeqzooError",
    "UnknownNameError",
    "__version__",
    "create_model",
    "ensemble",
    "export_onnx",
    "list_models",
    "list_pretrained",
    "load",
    "predictor",
]
