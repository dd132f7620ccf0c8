"""Jena's preprocessing: columns, derived inputs, train-split statistics and window geometry.

Kept apart from the DataModule (and Lightning) so that serving a model imports only what `predict` needs.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import torch
from torch import Tensor

from seqzoo.data.jena_files import (
    CLASSIC_FEATURES,
    DataError,
    clean_names,
    column_values,
    feature_values,
    repeated_columns,
    station_clock,
    time_values,
    timestamps,
)
from seqzoo.data.jena_readings import cell_problem, row_problem, usable_windows
from seqzoo.data.windows import first_input_offset, sampled_steps
from seqzoo.errors import InputError, InputWarning
from seqzoo.preprocessing import register_preprocessor


def derive_inputs(frame: pd.DataFrame, wind_vector: bool, time_encoding: bool) -> pd.DataFrame:
    """Optional derived inputs: wind as a vector instead of speed + direction; time of day and of year."""
    values, names = frame.to_numpy(), list(frame.columns)
    columns = _derived_columns(values, names, station_clock(frame.index), wind_vector, time_encoding)
    return pd.DataFrame(columns, index=frame.index)


def _derived_columns(
    values: np.ndarray, names: list[str], times: np.ndarray, wind_vector: bool, time_encoding: bool
) -> dict[str, np.ndarray]:
    """The named columns of `values` with the derived inputs, as arrays (`times` as datetime64):
    `predict` runs this on every call, and building a DataFrame column by column costs more than the
    arithmetic."""
    out = {name: values[:, i] for i, name in enumerate(names)}
    if wind_vector:
        angle = np.deg2rad(out.pop("wd (deg)"))
        for speed in ("wv (m/s)", "max. wv (m/s)"):
            value = out.pop(speed)
            prefix = "max " if speed.startswith("max") else ""
            out[f"{prefix}Wx"], out[f"{prefix}Wy"] = value * np.cos(angle), value * np.sin(angle)
    if time_encoding:
        seconds = times.astype("datetime64[s]").astype(np.int64).astype(np.float64)
        for name, period in (("day", 24 * 3600.0), ("year", 365.2425 * 24 * 3600.0)):
            out[f"{name} sin"] = np.sin(2 * math.pi * seconds / period)
            out[f"{name} cos"] = np.cos(2 * math.pi * seconds / period)
    return out


@register_preprocessor
@dataclass
class JenaScaler:
    """Columns, train-split statistics and window geometry; turns raw readings into model input."""

    kind: ClassVar[str] = "jena_weather"
    inputs: list[str]
    mean: list[float]
    std: list[float]
    target: str = "T (degC)"
    lookback: int = 1440
    step: int = 6
    delay: int = 144
    interval_minutes: int = 10
    wind_vector: bool = False
    time_encoding: bool = False
    columns: list[str] = field(default_factory=lambda: list(CLASSIC_FEATURES))
    # Each option's accepted types: `check_predict_options` refuses others, so "false" is not truthy.
    predict_options: ClassVar[dict[str, tuple[type, ...]]] = {"rolling": (bool, np.bool_)}
    geometry: ClassVar[tuple[str, ...]] = ("lookback", "step", "delay")  # a fine-tune may change these
    # What raw input it takes and what its output means: ensemble members must agree on these.
    protocol: ClassVar[tuple[str, ...]] = ("columns", "target", "lookback", "delay", "interval_minutes")

    def to_config(self) -> dict[str, Any]:
        fields = (
            "inputs",
            "mean",
            "std",
            "target",
            "lookback",
            "step",
            "delay",
            "interval_minutes",
            "wind_vector",
            "time_encoding",
            "columns",
        )
        return {"kind": self.kind, **{k: getattr(self, k) for k in fields}}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> JenaScaler:
        scaler = cls(**{k: v for k, v in config.items() if k != "kind"})
        scaler.validate()
        return scaler

    def validate(self) -> None:
        """Reject a corrupt config when it is loaded, not with a shape error or infinities at `predict`."""
        names = (self.inputs, self.columns)
        if not all(isinstance(n, list) and n and all(isinstance(c, str) for c in n) for n in names):
            raise ValueError("inputs and columns must be non-empty lists of column names")
        stats = (self.mean, self.std)
        if not all(isinstance(v, list) and len(v) == len(self.inputs) for v in stats):
            raise ValueError(f"mean and std must be lists of {len(self.inputs)} numbers, one per input")
        values = np.asarray([self.mean, self.std], dtype=np.float64)
        if not (np.isfinite(values).all() and (values[1] > 0).all()):
            raise ValueError("mean must be finite and std finite and > 0 for every input")
        if self.target not in self.inputs:
            raise ValueError(f"target {self.target!r} is not one of the inputs {self.inputs}")
        sizes = (self.lookback, self.step, self.delay, self.interval_minutes)
        if any(isinstance(n, bool) or not isinstance(n, int) or n < 1 for n in sizes):
            raise ValueError(f"lookback, step, delay, interval_minutes must be integers >= 1, got {sizes}")

    @property
    def target_index(self) -> int:
        return self.inputs.index(self.target)

    @property
    def interval(self) -> pd.Timedelta:
        return pd.Timedelta(minutes=self.interval_minutes)

    @property
    def window_shape(self) -> tuple[int, int]:
        """(steps, inputs) of one encoded window: what an exported network is traced with."""
        return sampled_steps(self.lookback, self.step), len(self.inputs)

    @property
    def usage(self) -> str:
        """The card's snippet; the horizon is this model's own (a fine-tune may have changed it)."""
        hours = self.delay * self.interval_minutes / 60
        return (
            "import pandas as pd\n"
            "# a raw station export; the station writes unit signs in latin-1\n"
            'readings = pd.read_csv("jena_roof_2024-06-09_2024-10-20_10min.csv.gz", encoding="latin-1")\n'
            f"print(model.predict(readings))  # degC, {hours:g} h after the last row\n"
            "print(model.predict(readings, rolling=True).tail())  # one forecast per window, by target time"
        )

    def denormalize(self, values: Tensor) -> Tensor:
        return values * self.std[self.target_index] + self.mean[self.target_index]

    def normalize(self, frame: pd.DataFrame) -> Tensor:
        """Rows of `frame` (the station columns, indexed by time) -> the model's scaled inputs."""
        return self._scaled(frame.to_numpy(), list(frame.columns), station_clock(frame.index))

    def _scaled(self, values: np.ndarray, names: list[str], times: np.ndarray) -> Tensor:
        columns = _derived_columns(values, names, times, self.wind_vector, self.time_encoding)
        inputs = np.stack([columns[name] for name in self.inputs], axis=1).astype(np.float64, copy=False)
        inputs -= self.mean
        inputs /= self.std
        return torch.from_numpy(inputs).float()  # too large for float32 -> inf, which `encode` refuses

    def readings(self, raw: Any, rolling: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """Validate raw 10-minute readings (a DataFrame with timestamps and the named columns) and
        return them as arrays (values with `self.columns` in order, times as datetime64), with, for a
        rolling forecast, which windows it can answer (`usable_windows`). `predict` runs this on
        every call, and pandas costs per operation.

        One forecast reads only the last `lookback` rows, so only those are read and checked: an
        export with a hole earlier on still forecasts. A rolling forecast answers the windows that are
        complete and evenly spaced, and refuses input with none.

        Tz-aware times are returned as the station's clock shows them (`station_clock`), so they
        encode as the station's own naive timestamps do; spacing is checked on the instants."""
        if not isinstance(raw, pd.DataFrame):
            raise InputError(f"expected a pandas DataFrame of 10-minute readings, got {type(raw).__name__}")
        if not rolling and len(raw) > self.lookback:
            raw = raw.iloc[-self.lookback :]
        names = clean_names(raw)
        self._check_columns(raw, names)
        try:
            values = feature_values(raw, self.columns, "input", names)
            instants, times = time_values(raw, "input", names)
        except DataError as err:
            raise InputError(str(err)) from err
        if len(values) < self.lookback:
            raise InputError(f"expected at least {self.lookback} rows (the lookback), got {len(values)}")
        if not rolling:
            problem = row_problem(values, instants, self.interval_minutes, self.columns)
            self._refuse(raw, problem, f"the last {self.lookback} rows (the window the forecast reads) have")
            return values, times, None
        self._refuse(raw, cell_problem(values, self.columns, "infinite values"), "input has")  # not a hole
        usable = usable_windows(values, instants, self.interval_minutes, self.lookback)
        if not usable.any():
            problem = row_problem(values, instants, self.interval_minutes, self.columns)
            self._refuse(raw, problem, f"no {self.lookback} complete, evenly spaced rows: input has")
        return values, times, usable

    @staticmethod
    def _refuse(raw: pd.DataFrame, problem: tuple[str, int] | None, subject: str) -> None:
        """Raise an InputError naming the problem and the time of its first row, if there is one."""
        if problem is not None:
            what, row = problem
            raise InputError(f"{subject} {what}, first at {timestamps(raw, 'input')[row]}")

    def windows(self, values: Tensor) -> Tensor:
        """Every window of normalised rows `(time, inputs)` ending at each row from the lookback on:
        `(n, steps, inputs)`, strided views."""
        view = values.unfold(0, self.lookback, 1)  # (n, inputs, lookback)
        first = first_input_offset(self.lookback, self.step)  # a slice, not a gather: stays a view
        return view[:, :, first :: self.step].transpose(1, 2)

    def _check_columns(self, raw: pd.DataFrame, names: list[str]) -> None:
        """Each needed column once, holding real numbers (or text of them, as read from a CSV).

        Booleans, complex numbers, dates and durations would otherwise be converted to numbers silently.
        """
        wanted = set(self.columns)
        twice = repeated_columns(names, wanted)
        if twice:
            raise InputError(f"input has the columns {twice} more than once; expected each once")
        for position, name in enumerate(names):
            if name not in wanted:
                continue
            dtype = column_values(raw, position).dtype  # `raw.dtypes` builds a Series: 4 times the cost
            if isinstance(dtype, np.dtype) and dtype.kind in "iuf":
                continue
            if pd.api.types.is_string_dtype(dtype):  # text or Python objects: what do they parse to?
                try:
                    dtype = pd.to_numeric(raw.iloc[:, position], errors="coerce").dtype  # unparsable -> NaN
                except (TypeError, ValueError):
                    continue  # feature_values names the offending values
            if pd.api.types.is_bool_dtype(dtype) or getattr(dtype, "kind", "O") not in "iuf":
                raise InputError(f"column {name!r} holds {dtype} values; expected real numbers")

    def encode(self, raw: Any, rolling: bool = False) -> Tensor:
        values, times, usable = self.readings(raw, rolling)
        if not rolling and self._surely_fit_float32(values):  # scale only the rows the model reads
            rows = slice(first_input_offset(self.lookback, self.step), None, self.step)
            return self._scaled(values[rows], self.columns, times[rows]).unsqueeze(0)
        scaled = self._scaled(values, self.columns, times)  # every row checked, read by the model or not
        if np.isinf(scaled.numpy()).any():  # numpy: a tenth of torch's per-call cost here; holes stay NaN
            raise InputError("input values are too large for float32 after normalisation")
        windows = self.windows(scaled)  # strided views of the rows: no copy per window
        if not rolling:
            return windows[-1:]
        if not usable.all():
            self._warn_unusable(raw, usable)
        return windows  # all of them, as views: `decode` sets the unusable ones' forecasts to NaN

    def _warn_unusable(self, raw: pd.DataFrame, usable: np.ndarray) -> None:
        first = timestamps(raw, "input")[self.lookback - 1 + int(np.argmin(usable))]
        warnings.warn(
            f"{len(usable) - usable.sum()} of {len(usable)} windows hold missing readings or readings not "
            f"{self.interval_minutes} minutes apart (a gap, a repeated or an unsorted time), the first one "
            f"ending at {first}; their forecasts are NaN",
            InputWarning,
            stacklevel=5,  # the caller of predict (predict -> run_predict -> encode -> here)
        )

    def _surely_fit_float32(self, values: np.ndarray) -> bool:
        """Whether all of `values` (finite readings) scale into float32, from a bound instead of scaling
        every row: each input is a reading, a wind component no larger than its speed, or a time
        encoding within [-1, 1]. When the bound fails, `encode` scales every row and checks exactly."""
        largest, smallest_std = max(-values.min(), values.max(), 1.0), min(self.std)
        return smallest_std > 0 and (largest + max(map(abs, self.mean))) / smallest_std < 1e38  # < 3.4e38

    def decode(self, output: Tensor, raw: Any = None, rolling: bool = False) -> float | pd.Series:
        degrees = self.denormalize(output.squeeze(-1).double()).numpy()
        if not rolling:
            return float(degrees[0])
        ends = timestamps(raw, "input")[self.lookback - 1 :]
        degrees[~self.readings(raw, rolling=True)[2]] = np.nan  # windows with holes: no forecast
        return pd.Series(degrees, index=ends + self.delay * self.interval, name=f"{self.target} forecast")
