"""Reading Jena weather-station exports as they come: gzip or not, UTF-8 or latin-1, quoted or padded
headers, `Date Time` (dd.mm.YYYY) or `date` (ISO) timestamps, duplicated rows, -9999 placeholders."""

from __future__ import annotations

import gzip
import io
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from seqzoo.errors import DataError

CLASSIC_FEATURES = [
    "p (mbar)", "T (degC)", "Tpot (K)", "Tdew (degC)", "rh (%)", "VPmax (mbar)", "VPact (mbar)",
    "VPdef (mbar)", "sh (g/kg)", "H2OC (mmol/mol)", "rho (g/m**3)", "wv (m/s)", "max. wv (m/s)", "wd (deg)",
]  # fmt: skip
TIME_COLUMNS = {"Date Time": "%d.%m.%Y %H:%M:%S", "date": "%Y-%m-%d %H:%M:%S"}
PLACEHOLDER = -9999.0


def _text(path: Path) -> str:
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")  # older station exports write unit signs in latin-1


# Where each field of a fixed-width timestamp (19 characters, every field zero-padded) is written.
FIELD_SLICES = {
    "%d.%m.%Y %H:%M:%S": {"day": (0, 2), "month": (3, 5), "year": (6, 10)},
    "%Y-%m-%d %H:%M:%S": {"year": (0, 4), "month": (5, 7), "day": (8, 10)},
}
_CLOCK_SLICES = {"hour": (11, 13), "minute": (14, 16), "second": (17, 19)}
_WIDTH = 19


def _fixed_width_times(text: pd.Series, fmt: str) -> pd.DatetimeIndex | None:
    """Timestamps written exactly as the station writes them, read as digits with numpy in one pass.

    `predict` parses every reading's time on every call: this takes a fraction of what Arrow's
    strptime takes (which also rolls 31.02. over to 02.03., so its result needs checking field by
    field) and of pandas' parser. A field out of range makes the whole column an error (31.02., 24:00,
    a minute 60); None for any other text: pandas then parses it or says what is wrong."""
    try:
        array = pa.array(text, type=pa.string())  # no copy for pandas' Arrow-backed strings
    except (pa.ArrowException, TypeError):
        return None
    if isinstance(array, pa.ChunkedArray):  # long columns come in chunks
        array = array.combine_chunks()
    if array.null_count or not len(array):
        return None
    offsets = np.frombuffer(array.buffers()[1], np.int32)[array.offset : array.offset + len(array) + 1]
    if (np.diff(offsets) != _WIDTH).any():
        return None
    chars = np.frombuffer(array.buffers()[2], np.uint8)[offsets[0] : offsets[-1]].reshape(-1, _WIDTH)
    slices = {**FIELD_SLICES[fmt], **_CLOCK_SLICES}
    place_values = np.zeros((_WIDTH, len(slices)))  # digits (n, 19) @ this = the fields (n, 6)
    for column, (a, b) in enumerate(slices.values()):
        place_values[a:b, column] = 10.0 ** np.arange(b - a - 1, -1, -1)
    is_digit = place_values.any(axis=1)
    example = np.frombuffer(pd.Timestamp(2000, 1, 1).strftime(fmt).encode(), np.uint8)  # the separators
    if (chars[:, ~is_digit] != example[~is_digit]).any() or ((chars[:, is_digit] - ord("0")) > 9).any():
        return None  # uint8 arithmetic: a byte below "0" wraps around to above 9 as well
    values = ((chars - ord("0")) @ place_values).astype(np.int64)
    fields = dict(zip(slices, values.T, strict=True))
    months = (fields["year"] - 1970) * 12 + fields["month"] - 1
    first_day = months.astype("datetime64[M]").astype("datetime64[D]")
    days = first_day + (fields["day"] - 1)
    valid = (
        (fields["month"] >= 1) & (fields["month"] <= 12) & (fields["day"] >= 1)
        & (days.astype("datetime64[M]") == months.astype("datetime64[M]"))
        & (fields["hour"] < 24) & (fields["minute"] < 60) & (fields["second"] < 60)
    )  # fmt: skip
    if not valid.all():
        raise ValueError(f"impossible date or time {text.iloc[int(np.argmin(valid))]!r}")
    seconds = fields["hour"] * 3600 + fields["minute"] * 60 + fields["second"]
    times = days.astype("datetime64[s]") + seconds.astype("timedelta64[s]")
    return pd.DatetimeIndex(times.astype("datetime64[us]"), name=text.name)


def timestamps(frame: pd.DataFrame, source: str) -> pd.DatetimeIndex:
    """The readings' times from a `Date Time` or `date` column (or a DatetimeIndex)."""
    if isinstance(frame.index, pd.DatetimeIndex):
        return frame.index
    for column, fmt in TIME_COLUMNS.items():
        if column in frame.columns:
            text = frame[column].astype(str).str.strip()
            try:
                fast = _fixed_width_times(text, fmt)
                if fast is not None:
                    return fast
                return pd.DatetimeIndex(pd.to_datetime(text, format=fmt))
            except (ValueError, TypeError) as err:
                raise DataError(
                    f"{source}: column {column!r} does not hold {fmt} timestamps ({err})"
                ) from err
    raise DataError(
        f"{source}: expected a 'Date Time' or 'date' column (or a DatetimeIndex), found "
        f"{list(frame.columns)[:5]}..."
    )


def select_features(frame: pd.DataFrame, columns: list[str], source: str) -> pd.DataFrame:
    """The named columns as float64, placeholders as NaN; missing columns are named in the error."""
    frame = frame.rename(columns=lambda c: str(c).strip())
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise DataError(f"{source}: missing columns {missing}; expected at least {columns}")
    selected = frame[columns]
    try:
        if all(dtype.kind in "iuf" for dtype in selected.dtypes):  # numbers already: no parsing per column
            values = selected.astype(np.float64)
        else:
            values = selected.apply(pd.to_numeric, errors="raise").astype(np.float64)
    except (ValueError, TypeError) as err:
        raise DataError(f"{source}: non-numeric values in the feature columns ({err})") from err
    array = values.to_numpy(dtype=np.float64, copy=True)  # not DataFrame.mask: predict runs this per call
    array[array == PLACEHOLDER] = np.nan
    return pd.DataFrame(array, index=values.index, columns=values.columns)


def read_station_file(path: str | Path, columns: list[str] = CLASSIC_FEATURES) -> pd.DataFrame:
    """One export -> float frame of `columns`, indexed by time, sorted, duplicates dropped."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: Jena station file not found")
    try:
        # index_col=False: some exports have one more value per row than header names (an unnamed CO2 column)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", pd.errors.ParserWarning)  # that extra value is expected
            frame = pd.read_csv(io.StringIO(_text(path)), index_col=False, skipinitialspace=True)
    except (pd.errors.ParserError, ValueError) as err:
        raise DataError(f"{path}: not a readable CSV ({err})") from err
    times = timestamps(frame, str(path))
    values = select_features(frame, columns, str(path))
    values.index = times
    return values[~values.index.duplicated(keep="first")].sort_index()


def read_station_files(paths: list[Path], columns: list[str] = CLASSIC_FEATURES) -> pd.DataFrame:
    """Several exports -> one frame; a reading present in two files is kept once."""
    if not paths:
        raise DataError("no Jena station files given")
    frame = pd.concat([read_station_file(p, columns) for p in paths]).sort_index()
    return frame[~frame.index.duplicated(keep="first")]


def contiguous_segments(frame: pd.DataFrame, interval: pd.Timedelta) -> list[pd.DataFrame]:
    """Split at every gap in time and at every row with a missing value: windows never span either."""
    complete = frame.dropna()
    if complete.empty:
        return []
    gaps = np.asarray((complete.index[1:] - complete.index[:-1]) != interval)
    breaks = [0, *(np.flatnonzero(gaps) + 1), len(complete)]
    return [complete.iloc[a:b] for a, b in zip(breaks, breaks[1:], strict=False) if b > a]
