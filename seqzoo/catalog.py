"""The catalogue of published checkpoints: the one list behind `list_pretrained`, `seqzoo list` and the docs.

It is read from the bundled artifacts themselves (`seqzoo/zoo/<name>/config.json`), so names, metrics
and parameter counts can never drift from the weights they describe.
"""

from __future__ import annotations

import fnmatch
import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from seqzoo.errors import UnknownNameError, check_name

ZOO_DIR = Path(__file__).parent / "zoo"
PRIMARY_METRIC = {"forecasting": "test_mae", "classification": "test_accuracy", "seq2seq": "test_exact_match"}
NAIVE_METRIC = {"forecasting": "test_naive_mae"}
# Evaluation is deterministic on one machine; other BLAS builds and CPUs round differently.
RELATIVE_TOLERANCE = 1e-3


@dataclass(frozen=True)
class CatalogEntry:
    """One published checkpoint as `seqzoo list` and the docs' zoo table show it."""

    name: str
    task: str
    architecture: str
    dataset: str
    num_parameters: int
    metrics: dict[str, float]
    artifact_bytes: int
    recipe: str | None
    path: Path
    training: dict[str, Any] = field(default_factory=dict)  # validation metrics, seconds, device

    @property
    def metric_name(self) -> str:
        return PRIMARY_METRIC[self.task]

    @property
    def metric(self) -> float | None:
        return self.metrics.get(self.metric_name)

    @property
    def naive(self) -> float | None:
        key = NAIVE_METRIC.get(self.task)
        return self.metrics.get(key) if key else None

    @property
    def gain_percent(self) -> float | None:
        """How much lower the error is than the naive baseline's on the same windows (forecasting)."""
        return 100 * (1 - self.metric / self.naive) if self.metric is not None and self.naive else None

    def row(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "task": self.task,
            "architecture": self.architecture,
            "dataset": self.dataset,
            "params": self.num_parameters,
            "metric": self.metric_name,
            "value": self.metric,
            "naive": self.naive,
            "artifact_bytes": self.artifact_bytes,
            "recipe": self.recipe,
        }


@lru_cache(maxsize=1)
def catalog() -> dict[str, CatalogEntry]:
    """Every bundled artifact by name, read once per process from its config.json."""
    entries = {}
    for config_path in sorted(ZOO_DIR.glob("*/config.json")):
        config = json.loads(config_path.read_text())
        folder = config_path.parent
        entries[folder.name] = CatalogEntry(
            name=folder.name,
            task=config["task"]["name"],
            architecture=config["architecture"]["name"],
            dataset=config["provenance"].get("data", {}).get("name", "unknown"),
            num_parameters=config["num_parameters"],
            metrics=config["metrics"],
            artifact_bytes=sum(f.stat().st_size for f in folder.iterdir() if f.is_file()),
            recipe=config["provenance"].get("recipe_path"),
            path=folder,
            training=config["provenance"].get("training") or {},
        )
    return entries


def list_pretrained(pattern: str = "*") -> list[str]:
    """Names (`arch.dataset`, e.g. `gru.jena`) of the published checkpoints matching a shell-style
    wildcard, sorted."""
    check_name("pattern", pattern, "gru.*")
    return sorted(n for n in catalog() if fnmatch.fnmatchcase(n, pattern))


def pretrained_path(name: str) -> Path:
    """The bundled folder of a catalogue name; unknown names raise UnknownNameError with suggestions."""
    if name not in catalog():
        raise UnknownNameError("pretrained checkpoint", name, list(catalog()))
    return catalog()[name].path
