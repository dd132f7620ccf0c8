"""The synthetic task's preprocessing: one series standardised with its train split's statistics.

Kept apart from the DataModule (and Lightning) so that serving a model imports only what `predict` needs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch
from torch import Tensor

from seqzoo.errors import InputError
from seqzoo.preprocessing import register_preprocessor


@register_preprocessor
@dataclass
class SeriesScaler:
    """Standardise a univariate series with the train split's mean and std."""

    kind: ClassVar[str] = "series_window"
    window: int
    mean: float
    std: float
    sequence_targets: bool = False
    target_index: ClassVar[int] = 0
    geometry: ClassVar[tuple[str, ...]] = ("window",)  # a fine-tune may change it
    protocol: ClassVar[tuple[str, ...]] = ("window", "sequence_targets")  # ensemble members share these
    usage: ClassVar[str] = (
        "import numpy as np\n"
        "windows = np.sin(np.arange(10.0) / 3).reshape(1, 10)  # (n, 10) raw values\n"
        "print(model.predict(windows))  # (n,) the value after each window"
    )

    def to_config(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "window": self.window,
            "mean": self.mean,
            "std": self.std,
            "sequence_targets": self.sequence_targets,
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> SeriesScaler:
        unknown = set(config) - {"kind", "window", "mean", "std", "sequence_targets"}
        if unknown:
            raise ValueError(f"unexpected keys {sorted(unknown)}")
        window, mean, std = config["window"], float(config["mean"]), float(config["std"])
        sequence_targets = config.get("sequence_targets", False)
        # A corrupt config must fail here, not turn every prediction into nonsense or infinity later.
        if isinstance(window, bool) or not isinstance(window, int) or window < 1:
            raise ValueError(f"window must be an integer >= 1, got {window!r}")
        if not (math.isfinite(mean) and math.isfinite(std) and std > 0):
            raise ValueError(f"mean must be finite and std finite and > 0, got mean={mean}, std={std}")
        if not isinstance(sequence_targets, bool):
            raise ValueError(f"sequence_targets must be true or false, got {sequence_targets!r}")
        return cls(window, mean, std, sequence_targets)

    @property
    def window_shape(self) -> tuple[int, int]:
        """(steps, inputs) of one encoded window: what an exported network is traced with."""
        return self.window, 1

    def normalize(self, values: Tensor) -> Tensor:
        return (values - self.mean) / self.std

    def denormalize(self, values: Tensor) -> Tensor:
        return values * self.std + self.mean

    def encode(self, raw: Any) -> Tensor:
        """Raw windows `(n, window)` -> normalised model input `(n, window, 1)`."""
        expected = f"a real-valued array of shape (n, {self.window})"
        if np.ma.is_masked(raw):  # np.asarray would silently predict from the hidden values
            raise InputError(f"expected {expected}; got a masked array with masked (missing) values")
        try:
            array = np.asarray(raw)
        except (ValueError, TypeError, RuntimeError) as err:  # ragged lists, tensors that require grad
            raise InputError(f"expected {expected}; could not read it as an array: {err}") from err
        if array.dtype.kind not in "iuf":
            raise InputError(f"expected {expected}; got dtype {array.dtype}")
        if array.ndim != 2 or array.shape[1] != self.window:
            hint = " (for a single window use x.reshape(1, -1))" if array.ndim == 1 else ""
            raise InputError(f"expected {expected}; got shape {array.shape}{hint}")
        values = torch.from_numpy(np.array(array, dtype=np.float64, order="C"))  # copy: read-only input ok
        if not torch.isfinite(values).all():
            raise InputError(f"expected {expected} of finite values; got NaN or infinity")
        scaled = self.normalize(values).float()
        if not torch.isfinite(scaled).all():
            raise InputError(f"expected {expected}; values too large for float32 after scaling")
        return scaled.unsqueeze(-1)

    def decode(self, output: Tensor) -> np.ndarray:
        """Model output -> raw units: `(n,)`, or `(n, window)` for many-to-many models."""
        return self.denormalize(output.squeeze(-1).double()).numpy()
